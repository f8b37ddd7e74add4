"""Classic constructions: exact counts by enumeration equal their closed forms; the geometry is as stated."""

import itertools
import math

import numpy as np
import pytest

from explorer.errors import ExplorerError
from explorer.plane.partition import linear_labels
from explorer.plane.regions import enumerate_regions
from explorer.train.data import make_dataset
from explorer.train.fit import TrainConfig, train
from explorer.train.presets import (BOX, PRESETS, build, concurrent_lines, init_vs_trained, lines, parallel_lines,
                                    parse_spec, sawtooth, zaslavsky)

BOXES = [BOX, (0.0, 1.0, 0.0, 1.0), (-1.3, 2.7, 0.1, 5.0)]


def counts(preset):
    regions = enumerate_regions(preset.net, preset.box)
    return regions.n_regions, int(linear_labels(regions).max()) + 1


def tent_power(s, k):
    """Reference t^k on [0, 1] with t(s) = 2s for s ≤ 1/2 and 2 − 2s otherwise."""
    for _ in range(k):
        s = np.where(s <= 0.5, 2 * s, 2 - 2 * s)
    return s


# ---- one layer: arrangements of lines ------------------------------------------------------------
def test_zaslavsky_small_values():
    assert [zaslavsky(n) for n in range(6)] == [1, 2, 4, 7, 11, 16]


@pytest.mark.parametrize("box", BOXES)
@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 8, 13, 32, 64])
def test_lines_in_general_position_reach_zaslavsky(n, box):
    preset = lines(n, box=box)
    assert preset.closed_form == preset.linear_closed_form == 1 + n + math.comb(n, 2)
    assert counts(preset) == (preset.closed_form, preset.linear_closed_form)


@pytest.mark.parametrize("n", [2, 5, 8, 13])
def test_lines_are_in_general_position_with_every_crossing_inside(n):
    box = (-1.3, 2.7, 0.1, 5.0)
    W, b = lines(n, box=box).net.weights[0], lines(n, box=box).net.biases[0]
    crossings = []
    for i, j in itertools.combinations(range(n), 2):
        A = W[[i, j]]
        assert abs(np.linalg.det(A)) > 1e-6  # no two parallel
        crossings.append(np.linalg.solve(A, -b[[i, j]]))
    crossings = np.array(crossings)
    assert ((crossings[:, 0] > box[0]) & (crossings[:, 0] < box[1]) &
            (crossings[:, 1] > box[2]) & (crossings[:, 1] < box[3])).all()
    dist = np.abs(crossings @ W.T + b)  # (pairs, n): distance of each crossing to each line (unit normals)
    assert ((dist < 1e-9).sum(axis=1) == 2).all()  # no third line through any crossing


@pytest.mark.parametrize("box", BOXES)
@pytest.mark.parametrize("n", [1, 2, 3, 7, 20])
def test_degenerate_arrangements(n, box):
    through_one_point, parallel = concurrent_lines(n, box=box), parallel_lines(n, box=box)
    assert counts(through_one_point) == (2 * n, 2 * n) == (through_one_point.closed_form,) * 2
    assert counts(parallel) == (n + 1, n + 1) == (parallel.closed_form,) * 2


# ---- folding: the sawtooth -----------------------------------------------------------------------
@pytest.mark.parametrize("box", BOXES)
@pytest.mark.parametrize("k", range(1, 7))
def test_sawtooth_counts_are_powers_of_two(k, box):
    one, both = sawtooth(k, box=box), sawtooth(k, both=True, box=box)
    assert one.closed_form == one.linear_closed_form == 2 ** k
    assert both.closed_form == both.linear_closed_form == 4 ** k
    assert counts(one) == (2 ** k, 2 ** k)
    assert counts(both) == (4 ** k, 4 ** k)


@pytest.mark.parametrize("k", range(7, 11))
def test_deep_sawtooth(k):
    assert counts(sawtooth(k)) == (2 ** k, 2 ** k)


@pytest.mark.parametrize("k", [1, 3, 5])
def test_sawtooth_stripes_are_the_dyadic_intervals_and_the_output_is_the_tent_power(k):
    box = (-1.3, 2.7, 0.1, 5.0)
    preset = sawtooth(k, box=box)
    regions = enumerate_regions(preset.net, box)
    s_of = lambda x: (x - box[0]) / (box[1] - box[0])  # noqa: E731
    xs = [regions.polygon(i)[:, 0] for i in range(regions.n_regions)]
    spans = sorted((round(s_of(x.min()) * 2 ** k), round(s_of(x.max()) * 2 ** k)) for x in xs)
    assert spans == [(j, j + 1) for j in range(2 ** k)]
    x = np.random.default_rng(0).uniform([box[0], box[2]], [box[1], box[3]], size=(500, 2))
    np.testing.assert_allclose(preset.net.forward(x)[:, 0], tent_power(s_of(x[:, 0]), k) - 0.5, atol=1e-9)
    folded = sawtooth(k, both=True, box=box)
    t = (x[:, 1] - box[2]) / (box[3] - box[2])
    np.testing.assert_allclose(folded.net.forward(x)[:, 0], tent_power(s_of(x[:, 0]), k) - tent_power(t, k),
                               atol=1e-9)
    assert folded.net.hidden_widths == (4,) * k and preset.net.hidden_widths == (2,) * k


# ---- specs and errors ------------------------------------------------------------------------------
def test_specs_round_trip_and_defaults():
    for name, (_, default, (lo, hi)) in PRESETS.items():
        assert parse_spec(name) == (name, default)
        for n in (lo, hi):
            preset = build(f"{name}:{n}")
            assert preset.spec == f"{name}:{n}" and parse_spec(preset.spec) == (name, n)
            assert preset.formula.endswith(f"= {preset.closed_form}") and preset.explanation


@pytest.mark.parametrize("spec, message", [("circle:3", "unknown preset"), ("lines:x", "must be an integer"),
                                           ("lines:0", "integer in 1–64"), ("sawtooth:11", "integer in 1–10"),
                                           ("folded:7", "integer in 1–6")])
def test_bad_specs(spec, message):
    with pytest.raises(ExplorerError, match=message):
        build(spec)


@pytest.mark.parametrize("bad, message", [((1, 0, 0, 1), "XMIN < XMAX"), ((0, 1, 0, float("nan")), "finite"),
                                          ((0, 1, 2), "LO HI or 4 numbers")])
def test_bad_box(bad, message):
    with pytest.raises(ExplorerError, match=message):
        lines(3, box=bad)
    assert lines(3, box=(0, 1)).box == (0.0, 1.0, 0.0, 1.0)  # LO HI: the same interval on both inputs


def test_bool_is_not_a_count():
    with pytest.raises(ExplorerError, match="integer"):
        lines(True)


# ---- initialisation versus trained -------------------------------------------------------------------
def test_init_vs_trained_uses_the_training_start_and_result():
    dataset = make_dataset("xor", n_points=80, seed=2)
    config = TrainConfig(hidden=(5, 4), epochs=3, seed=7, snapshot_every=1)
    result = train(dataset, config)
    init, trained = init_vs_trained(dataset, config, trained=result.net)
    assert init.net.equals(result.snapshots[0][1]) and trained.net is result.net
    assert init.box == trained.box == tuple(dataset.domain.reshape(-1))
    assert init.closed_form is None and trained.closed_form is None
    _, retrained = init_vs_trained(dataset, config)  # trains itself: deterministic, so the same network
    assert retrained.net.equals(result.net)
    with pytest.raises(ExplorerError, match="configuration gives 2-5-4-1"):
        init_vs_trained(dataset, config, trained=lines(3).net)
