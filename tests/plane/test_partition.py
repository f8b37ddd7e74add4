"""Queries on a partition: adjacency, linear regions, point location, level sets and boundaries."""

import numpy as np
import pytest
from shapely.geometry import LineString, Polygon, box

from explorer.net import Network
from explorer.plane.partition import (adjacency, decision_boundary, layer_boundaries, level_set, linear_labels, locate,
                                unit_boundary)
from explorer.plane.regions import enumerate_regions
from tests.nets import ABS, random_network
from tests.oracles import contains


# ---- adjacency and linear regions ------------------------------------------------------------------
def shapely_adjacency(regions):
    """Pairs whose boundaries share more than 1e-7 of length (within 1e-9, so float gaps don't hide it)."""
    rings = [Polygon(regions.polygon(i)).boundary for i in range(regions.n_regions)]
    near = [ring.buffer(1e-9) for ring in rings]
    return {(i, j) for i in range(len(rings)) for j in range(i + 1, len(rings))
            if rings[j].intersection(near[i]).length > 1e-7}


@pytest.mark.parametrize("seed", range(5))
def test_adjacency_matches_shapely(seed):
    rng = np.random.default_rng(seed)
    regions = enumerate_regions(random_network([6, 6, 4], seed=rng, fan_in=True), (-2, 2, -2, 2))
    assert set(map(tuple, adjacency(regions))) == shapely_adjacency(regions)


def test_linear_regions_merge_neighbours_with_equal_maps():
    assert linear_labels(enumerate_regions(ABS, (-2, 2, -2, 2))).max() + 1 == 2
    # the output ignores unit 2, so its line separates activation regions but not linear ones
    net = Network(([[1., 0.], [0., 1.]], [[1., 0.]]), ([0., 0.], [0.]))
    regions = enumerate_regions(net, (-1, 1, -1, 1))
    assert regions.n_regions == 4 and linear_labels(regions).max() + 1 == 2
    # a dead output weight merges only where the maps coincide: compare with a shapely oracle
    rng = np.random.default_rng(7)
    net = random_network([5, 5], seed=rng, fan_in=True)
    W = [w.copy() for w in net.weights]
    W[-1][0, :3] = 0.0
    regions = enumerate_regions(Network(tuple(W), net.biases), (-2, 2, -2, 2))
    grads = regions.out_grad.reshape(regions.n_regions, -1)
    same = [(i, j) for i, j in shapely_adjacency(regions) if np.allclose(grads[i], grads[j], rtol=0, atol=1e-12)]
    parent = list(range(regions.n_regions))
    find = lambda i: i if parent[i] == i else find(parent[i])
    for i, j in same:
        parent[find(i)] = find(j)
    assert linear_labels(regions).max() + 1 == len({find(i) for i in range(regions.n_regions)})


def test_locate_finds_the_region_containing_a_point():
    rng = np.random.default_rng(8)
    regions = enumerate_regions(random_network([8, 8], seed=rng, fan_in=True), (-2, 2, -2, 2))
    pts = rng.uniform(-2, 2, size=(500, 2))
    idx = locate(regions, pts)
    assert (idx >= 0).all()
    for i, p in zip(idx, pts):
        assert contains(regions.polygon(i), p[None], strict=False)[0]
    assert locate(regions, [[5.0, 5.0]])[0] == -1




def chord_length(poly: np.ndarray, a: np.ndarray, c: float) -> float:
    """Length of {a·x + c = 0} inside a convex polygon, by shapely (independent of the engine)."""
    if not np.any(a):
        return 0.0  # a constant function: no level line (an identically-zero region is not a boundary)
    n = a / np.linalg.norm(a)
    p0 = -c * a / np.dot(a, a)
    far = 1e6 * np.array([-n[1], n[0]])
    return Polygon(poly).intersection(LineString([p0 - far, p0 + far])).length


@pytest.mark.parametrize("seed", range(4))
def test_decision_boundary_is_the_exact_zero_set(seed):
    rng = np.random.default_rng(seed)
    net = random_network([8, 8], seed=rng, fan_in=True)
    regions = enumerate_regions(net, (-2, 2, -2, 2))
    seg = decision_boundary(regions)
    expected = sum(chord_length(regions.polygon(i), regions.out_grad[i, 0], regions.out_bias[i, 0])
                   for i in range(regions.n_regions))
    assert np.hypot(*(seg[:, 1] - seg[:, 0]).T).sum() == pytest.approx(expected, rel=1e-9, abs=1e-12)
    t = rng.uniform(size=(len(seg), 1))
    on = seg[:, 0] + t * (seg[:, 1] - seg[:, 0])
    assert np.abs(net.forward(on)).max(initial=0.0) < 1e-9


def test_multiclass_boundary_is_where_the_top_two_logits_tie():
    # logits (x, y, 0) on [-1, 1]^2: the argmax changes on three rays from the origin
    net = Network(([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]],), ([0.0, 0.0, 0.0],))
    seg = decision_boundary(enumerate_regions(net, (-1, 1, -1, 1)))
    assert np.hypot(*(seg[:, 1] - seg[:, 0]).T).sum() == pytest.approx(2 + np.sqrt(2))
    rng = np.random.default_rng(0)
    net = random_network([6, 6], seed=rng, fan_in=True)
    net = Network(net.weights[:-1] + (rng.normal(size=(3, 6)),), net.biases[:-1] + (rng.normal(size=3),))
    seg = decision_boundary(enumerate_regions(net, (-2, 2, -2, 2)))
    mid = seg.mean(axis=1)
    top2 = np.sort(net.forward(mid), axis=1)[:, -2:]
    assert len(seg) > 0 and np.abs(top2[:, 1] - top2[:, 0]).max() < 1e-9


def test_unit_boundary_is_the_units_zero_set():
    rng = np.random.default_rng(5)
    net = random_network([6, 6], seed=rng, fan_in=True)
    regions = enumerate_regions(net, (-2, 2, -2, 2))
    line = unit_boundary(regions, 0)  # layer 1: a straight line across the box
    w, b = net.weights[0][0], net.biases[0][0]
    assert np.hypot(*(line[:, 1] - line[:, 0]).T).sum() == pytest.approx(
        chord_length(np.array([[-2, -2], [2, -2], [2, 2], [-2, 2]]), w, b), rel=1e-9)
    bent = unit_boundary(regions, 8)  # layer 2, unit 2
    on = bent.reshape(-1, 2)
    assert np.abs(net.preactivations(on)[1][:, 2]).max() < 1e-9
    assert len(layer_boundaries(regions, 1)) > 0


def test_layer_boundaries_cover_every_interior_edge_once():
    rng = np.random.default_rng(6)
    regions = enumerate_regions(random_network([5, 5], seed=rng, fan_in=True), (-2, 2, -2, 2))
    chords = np.concatenate([layer_boundaries(regions, layer) for layer in range(2)])
    inner = regions.edge_units >= 0
    start, end = regions.edges()
    assert np.hypot(*(chords[:, 1] - chords[:, 0]).T).sum() == pytest.approx(
        np.hypot(*(end[inner] - start[inner]).T).sum() / 2, rel=1e-9)
    outline = box(-2, -2, 2, 2).boundary
    assert all(LineString(c).difference(outline).length > 0 for c in chords)


def test_level_set_of_a_flat_region_is_its_edge_once():
    net = Network(([[1.0, 0.0]], [[1.0]]), ([0.0], [0.0]))  # relu(x): identically 0 for x < 0
    regions = enumerate_regions(net, (-1, 1, -1, 1))
    seg = level_set(regions, regions.out_grad[:, 0], regions.out_bias[:, 0])
    assert len(seg) == 1 and np.allclose(np.sort(seg[0], axis=0), [[0, -1], [0, 1]])
