"""The region engine against closed forms, an exact rational oracle, and tiling invariants."""

from math import comb

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import Polygon

import explorer.plane.regions as regions_module
from explorer.errors import ExplorerError
from explorer.net import Network
from explorer.plane.regions import RegionLimitError, enumerate_regions, plane_slice, plane_through
from tests.nets import N1, random_network, tangent_lines
from tests.oracles import contains, exact_regions, polygon_area

def assert_patterns_at(net, points, patterns):
    """The network's pattern at the points equals the claimed one, except for units whose value there is
    within rounding of zero (a unit identically 0 on a region evaluates to ±1e-16 in floats)."""
    h, mag = points, np.abs(points)
    for l, (W, b) in enumerate(zip(net.weights[:-1], net.biases[:-1])):
        g, mag = h @ W.T + b, mag @ np.abs(W).T + np.abs(b)
        lo = sum(net.hidden_widths[:l])
        claimed = patterns[:, lo:lo + len(b)]
        decided = np.abs(g) > 1e-9 * mag
        assert np.array_equal((g > 0)[decided], claimed[decided])
        assert not claimed[~decided].any(), "a unit that is 0 at an interior point must be inactive"
        h, mag = net.act(g), mag


def check_tiling(regions, rng, n_points=2000):
    """Polygons are convex and CCW, tile the domain (areas sum, every point in exactly one interior or on
    a boundary), and the pattern claimed for each region is the network's pattern at its interior point."""
    areas = regions.areas()
    domain_area = Polygon(regions.domain).area
    assert (areas > 0).all()
    assert abs(areas.sum() - domain_area) <= 1e-9 * domain_area
    assert_patterns_at(regions.net, regions.points, regions.patterns)
    assert len(np.unique(regions.packed_patterns, axis=0)) == regions.n_regions
    lo, hi = regions.domain.min(axis=0), regions.domain.max(axis=0)
    pts = rng.uniform(lo, hi, size=(n_points, 2))
    inside = np.stack([contains(regions.polygon(i), pts, strict=True) for i in range(regions.n_regions)])
    assert inside.sum(axis=0).max() <= 1, "two regions overlap"
    closed = np.stack([contains(regions.polygon(i), pts, strict=False) for i in range(regions.n_regions)])
    assert closed.any(axis=0).all(), "a point of the domain lies in no region"
    hit = inside.argmax(axis=0)[inside.any(axis=0)]
    assert_patterns_at(regions.net, pts[inside.any(axis=0)], regions.patterns[hit])


def assert_matches_oracle(net, box):
    ours = enumerate_regions(net, box)
    exact = exact_regions(net, box)
    assert ours.n_regions == len(exact)
    domain_area = (box[1] - box[0]) * (box[3] - box[2])
    for pattern, area in zip(map(tuple, ours.patterns.astype(int)), ours.areas()):
        assert pattern in exact
        assert abs(area - float(polygon_area(exact[pattern]))) <= 1e-9 * domain_area
    return ours


# ---- closed forms ----------------------------------------------------------------------------------
def test_three_generic_lines_make_seven_regions():
    regions = enumerate_regions(N1, (-2, 2, -2, 2))
    assert regions.n_regions == 7
    assert sorted(map(tuple, regions.patterns.astype(int))) == sorted(
        {(a, b, c) for a in (0, 1) for b in (0, 1) for c in (0, 1)} - {(0, 0, 1)})


@pytest.mark.parametrize("n", [1, 2, 5, 8, 13])
def test_lines_in_general_position_follow_zaslavsky(n):
    box = (-12, 12, -12, 12) if n < 13 else (-20, 20, -20, 20)
    assert enumerate_regions(tangent_lines(n), box).n_regions == 1 + n + comb(n, 2)


def test_sub_box_and_corner_cases():
    assert enumerate_regions(N1, (0.1, 2, 0.1, 2)).n_regions == 2  # only x + y = 1 crosses
    assert enumerate_regions(N1, (0, 2, 0, 2)).n_regions == 2  # x = 0, y = 0 lie on the box edges
    assert enumerate_regions(N1, (1, 2, 0, 1)).n_regions == 1  # x + y = 1 touches only the corner (1, 0)


def test_affine_network_is_one_region():
    net = Network(([[2.0, -1.0]],), ([0.5],))
    regions = enumerate_regions(net, (-1, 1, -1, 1))
    assert regions.n_regions == 1 and regions.patterns.shape == (1, 0)
    np.testing.assert_allclose(regions.out_grad[0], [[2.0, -1.0]])


# ---- degenerate networks: exact counts, no warnings -----------------------------------------------
DEGENERATE = {
    "concurrent lines": (Network(([[1., 0.], [0., 1.], [1., 1.]], [[1., 1., 1.]]), ([0., 0., 0.], [0.])), 6),
    "duplicate neurons": (Network(([[1., 1.], [1., 1.], [0., 1.]], [[1., 1., 1.]]), ([0., 0., 0.], [0.])), 4),
    "opposite neurons": (Network(([[1., 1.], [-1., -1.]], [[1., 1.]]), ([0.5, -0.5], [0.])), 2),
    "parallel neurons": (Network(([[1., 0.], [2., 0.], [1., 0.]], [[1., 1., 1.]]), ([0., -1., 1.], [0.])), 4),
    "zero row": (Network(([[0., 0.], [1., 0.]], [[1., 1.]]), ([0., 0.], [0.])), 2),
    "zero row, positive bias": (Network(([[0., 0.], [1., 0.]], [[1., 1.]]), ([1., 0.], [0.])), 2),
    "dead unit": (Network(([[1., 1.], [1., 0.]], [[1., 1.]]), ([-100., 0.], [0.])), 2),
    # layer 2 unit g = h1 - h2 - 1 ... and one through the crossing (0, 0) of layer 1
    "layer-2 line through a layer-1 vertex": (
        Network(([[1., 0.], [0., 1.]], [[1., -1.], [1., 1.]], [[1., 1.]]), ([0., 0.], [0., 0.], [0.])), 5),
    "layer-2 unit equal to a layer-1 unit": (
        Network(([[1., 0.]], [[1.]], [[1.]]), ([0.], [0.], [0.])), 2),
    "box corner on a line": (Network(([[1., 1.]], [[1.]]), ([-4.], [0.])), 1),
}


@pytest.mark.parametrize("name", DEGENERATE)
def test_degenerate_networks_give_exact_counts(name, recwarn):
    net, expected = DEGENERATE[name]
    regions = assert_matches_oracle(net, (-2, 2, -2, 2))
    assert regions.n_regions == expected
    check_tiling(regions, np.random.default_rng(0))
    assert not [w for w in recwarn if "explorer" in str(w.filename)]


small_ints = st.integers(-2, 2).map(float)


@st.composite
def integer_nets(draw):
    """Nets with tiny integer weights: concurrent, duplicate, parallel and zero rows are common."""
    widths = draw(st.lists(st.integers(1, 4), min_size=1, max_size=3))
    ws, bs, n = [], [], 2
    for w in widths + [1]:
        ws.append(draw(st.lists(st.lists(small_ints, min_size=n, max_size=n), min_size=w, max_size=w)))
        bs.append(draw(st.lists(small_ints, min_size=w, max_size=w)))
        n = w
    leaky = draw(st.booleans())
    return Network(tuple(ws), tuple(bs), "leaky_relu" if leaky else "relu", 0.25 if leaky else 0.0)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(integer_nets(), st.sampled_from([(-2, 2, -2, 2), (-1, 3, 0, 2), (-0.5, 1.5, -1.25, 0.75)]))
def test_integer_networks_match_the_rational_oracle(net, box):
    regions = assert_matches_oracle(net, box)
    check_tiling(regions, np.random.default_rng(1), n_points=300)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32 - 1), st.lists(st.integers(1, 6), min_size=1, max_size=3), st.booleans())
def test_random_networks_match_the_rational_oracle(seed, widths, leaky):
    rng = np.random.default_rng(seed)
    net = random_network(widths, seed=rng, fan_in=True, activation="leaky_relu" if leaky else "relu",
                         alpha=0.1 if leaky else 0.0)
    regions = assert_matches_oracle(net, (-2, 2, -2, 2))
    check_tiling(regions, rng, n_points=300)


# ---- the affine maps, invariances, larger nets -----------------------------------------------------
def test_output_maps_reproduce_the_network_on_each_region():
    rng = np.random.default_rng(3)
    net = random_network([12, 12, 12], seed=rng, fan_in=True)
    regions = enumerate_regions(net, (-3, 3, -3, 3))
    check_tiling(regions, rng)
    for i in rng.choice(regions.n_regions, 50, replace=False):
        poly = regions.polygon(i)
        w = rng.dirichlet(np.ones(len(poly)))  # a random point of the closed polygon
        x = w @ poly
        np.testing.assert_allclose(net.forward(x)[0], regions.out_grad[i] @ x + regions.out_bias[i], atol=1e-9)


def test_neuron_permutation_and_positive_rescaling_keep_the_partition():
    rng = np.random.default_rng(4)
    net = random_network([10, 10], seed=rng, fan_in=True)
    perm, scale = rng.permutation(10), rng.uniform(0.1, 10, size=10)
    W1, W2, W3 = net.weights
    b1, b2, b3 = net.biases
    twin = Network(((W1 * scale[:, None])[perm], (W2 / scale)[:, perm], W3), (b1[perm] * scale[perm], b2, b3))
    a, b = enumerate_regions(net, (-3, 3, -3, 3)), enumerate_regions(twin, (-3, 3, -3, 3))
    assert a.n_regions == b.n_regions
    np.testing.assert_allclose(np.sort(a.areas()), np.sort(b.areas()), rtol=1e-9, atol=1e-12)


def test_small_chunks_give_the_same_partition(monkeypatch):
    rng = np.random.default_rng(5)
    net = random_network([16, 16, 16], seed=rng, fan_in=True)
    whole = enumerate_regions(net, (-3, 3, -3, 3))
    monkeypatch.setattr(regions_module, "CHUNK", 7)
    chunked = enumerate_regions(net, (-3, 3, -3, 3))
    assert whole.n_regions == chunked.n_regions
    key = lambda r: sorted(map(bytes, r.packed_patterns))
    assert key(whole) == key(chunked)


def test_convex_polygon_domain():
    triangle = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]])
    net = Network(([[1., 0.], [0., 1.]], [[1., 1.]]), ([-1., -1.], [0.]))
    regions = enumerate_regions(net, triangle)
    assert regions.n_regions == 4
    assert abs(regions.areas().sum() - 8.0) < 1e-12


def test_truncated_network_gives_the_partition_after_each_layer():
    rng = np.random.default_rng(12)
    net = random_network([6, 5, 4], seed=rng, fan_in=True)
    full = enumerate_regions(net, (-2, 2, -2, 2))
    counts = [enumerate_regions(net.truncated(k), (-2, 2, -2, 2)).n_regions for k in range(4)]
    assert counts[0] == 1 and counts[-1] == full.n_regions
    assert counts == sorted(counts)  # later layers only refine
    after_two = enumerate_regions(net.truncated(2), (-2, 2, -2, 2))
    assert {bytes(np.packbits(p)) for p in full.patterns[:, :11]} == {bytes(np.packbits(p)) for p in after_two.patterns}


# ---- slices ----------------------------------------------------------------------------------------
def test_plane_slice_composes_the_plane_into_layer_one():
    rng = np.random.default_rng(9)
    net = random_network([8, 8], seed=rng, fan_in=True, n0=5)
    p = rng.normal(size=(3, 5))
    plane = plane_through(net, *p)
    np.testing.assert_allclose(plane.to_input(plane.anchors), p, atol=1e-12)
    st_ = rng.normal(size=(20, 2))
    np.testing.assert_allclose(plane.net.forward(st_), net.forward(plane.to_input(st_)), atol=1e-12)
    basis = plane.basis
    np.testing.assert_allclose(basis.T @ basis, np.eye(2), atol=1e-12)  # orthonormal: disks stay disks
    regions = enumerate_regions(plane.net, (-3, 3, -3, 3))
    check_tiling(regions, rng)


def test_identity_slice_of_a_2d_net_changes_nothing():
    rng = np.random.default_rng(10)
    net = random_network([10, 10], seed=rng, fan_in=True)
    sliced = plane_slice(net, [0, 0], [1, 0], [0, 1]).net
    assert enumerate_regions(sliced, (-2, 2, -2, 2)).n_regions == enumerate_regions(net, (-2, 2, -2, 2)).n_regions


# ---- bad input and budgets -------------------------------------------------------------------------
def test_bad_requests_raise_one_clear_error():
    with pytest.raises(ExplorerError, match="needs a network with 2 inputs; got 3"):
        enumerate_regions(Network((np.ones((2, 3)), np.ones((1, 2))), (np.zeros(2), np.zeros(1))), (0, 1, 0, 1))
    with pytest.raises(ExplorerError, match="XMIN < XMAX"):
        enumerate_regions(N1, (1, 0, 0, 1))
    with pytest.raises(ExplorerError, match="convex"):
        enumerate_regions(N1, [[0, 0], [2, 0], [1, 0.1], [2, 2], [0, 2]])
    with pytest.raises(ExplorerError, match="collinear"):
        plane_through(random_network([3], seed=0, fan_in=True, n0=3), [0, 0, 0], [1, 1, 1], [2, 2, 2])


def test_budgets_stop_large_enumerations_with_a_message():
    net = random_network([32, 32], seed=11, fan_in=True)
    with pytest.raises(RegionLimitError, match="more than 50 regions"):
        enumerate_regions(net, (-3, 3, -3, 3), max_regions=50)
    seen = []
    enumerate_regions(net, (-3, 3, -3, 3), progress=lambda f, msg: seen.append(f))
    assert seen and seen[-1] == 1.0 and all(0 <= f <= 1 for f in seen)
