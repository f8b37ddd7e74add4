"""Numerics of the exact count that must never lie: exact power-of-two rescaling, huge and tiny magnitudes,
growing boxes, refusals that name the layer, and the certificates behind every decision."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from explorer.count.exact import count_exact
from explorer.count.scaling import rescale
from explorer.count.simplex import dual_bound, point_margin
from explorer.errors import ExplorerError
from explorer.net import Network
from tests.nets import random_network as random_net


def as_set(patterns):
    return {tuple(int(v) for v in p) for p in patterns}


def rescaled(net: Network, exponents, *, input_exponent: int = 0) -> Network:
    """The same regions: unit i of hidden layer l times 2^exponents[l][i], the next layer's column i times 2^−…;
    inputs x = 2^input_exponent·x' (first layer's columns times 2^input_exponent)."""
    weights, biases = [np.ldexp(net.weights[0], input_exponent)], [net.biases[0]]
    for l, e in enumerate(exponents):
        weights[l], biases[l] = np.ldexp(weights[l], e[:, None]), np.ldexp(biases[l], e)
        weights.append(np.ldexp(net.weights[l + 1], -e[None, :]))
        biases.append(net.biases[l + 1])
    return Network(tuple(weights), tuple(biases), net.activation, net.alpha)


def test_layer_two_values_beyond_float_range_keep_the_count():
    net = random_net((6, 5), seed=3, scale_bias=0.2)
    huge = rescaled(net, [np.full(6, 1000), np.full(5, 1023)])       # layer-2 values reach 2^1023·|g| > 1.8e308
    grid = np.random.default_rng(0).uniform(-1, 1, (200, 2))
    with np.errstate(over="ignore", invalid="ignore"):
        assert not np.isfinite(huge.preactivations(grid)[1]).all()
    base = count_exact(net, [-1, 1])
    big = count_exact(huge, [-1, 1])
    assert big.status == "exact" and big.n_regions == base.n_regions > 10
    assert as_set(big.patterns) == as_set(base.patterns)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2 ** 32 - 1), data=st.data(), leaky=st.booleans())
def test_counts_are_invariant_under_power_of_two_rescaling(seed, data, leaky):
    net = random_net((4, 3), n0=3, seed=seed, activation="leaky_relu" if leaky else "relu",
                     alpha=0.3 if leaky else 0.0)
    exponents = [np.array(data.draw(st.lists(st.integers(-500, 500), min_size=n, max_size=n))) for n in (4, 3)]
    k = data.draw(st.integers(-300, 300))
    base = count_exact(net, [-1, 1])
    moved = count_exact(rescaled(net, exponents, input_exponent=k), np.ldexp([-1.0, 1.0], -k))
    assert as_set(moved.patterns) == as_set(base.patterns)
    np.testing.assert_array_equal(net.patterns(np.ldexp(moved.points, k)), moved.patterns)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2 ** 32 - 1), n0=st.integers(1, 3), widths=st.lists(st.integers(1, 5), min_size=1,
       max_size=3))
def test_counts_never_fall_when_the_box_grows(seed, n0, widths):
    net = random_net(tuple(widths), n0=n0, seed=seed)
    previous = set()
    for half in (0.25, 1.0, 4.0, 1e3, 1e6):
        found = as_set(count_exact(net, [-half, half]).patterns)
        assert previous <= found
        previous = found


def test_example_network_keeps_its_regions_in_huge_boxes():
    from explorer.io.files import load_network
    from explorer.plane.regions import enumerate_regions

    net = load_network("assets/moons_2x16.pt")
    counts = [count_exact(net, [-h, h]).n_regions for h in (3, 10, 1e3, 1e6, 1e10)]
    assert counts == sorted(counts) and counts[0] == enumerate_regions(net, (-3, 3, -3, 3)).n_regions
    assert counts[2] == counts[3] == counts[4] == enumerate_regions(net, (-1e3, 1e3, -1e3, 1e3)).n_regions
    with pytest.raises(ExplorerError, match="rounding.*smaller box"):       # beyond float64's resolution
        count_exact(net, [-1e15, 1e15])


def test_rows_spanning_more_than_the_exponent_range_are_refused_by_layer():
    net = Network(([[1.0, 0.0], [0.0, 1.0]], [[1.0, 2.0 ** -1070]], [[1.0]]), ([0.0, 0.0], [0.0], [0.0]))
    with pytest.raises(ExplorerError, match="layer 2, unit 1.*2\\^1070"):
        count_exact(net, [-1, 1])


def test_rescale_is_exact_and_bounded():
    net = random_net((5, 4), n0=3, seed=9)
    huge = rescaled(net, [np.array([700, -300, 0, 3, 500]), np.array([-200, 5, 0, 400])], input_exponent=-40)
    p = rescale(huge, np.ldexp(np.tile([-1.0, 1.0], (3, 1)), 40))
    for W, b in zip(p.weights, p.biases):
        top = np.maximum(np.abs(W).max(axis=1), np.abs(b))
        assert ((top >= 0.5) & (top < 1)).all()
    assert np.abs(p.box).max() <= 1
    x = np.random.default_rng(0).uniform(p.box[:, 0], p.box[:, 1], (500, 3))       # rescaled units
    scaled_net = Network(p.weights + (np.ones((1, 4)),), p.biases + (np.zeros(1),))
    np.testing.assert_array_equal(scaled_net.patterns(x), net.patterns(np.ldexp(p.to_input(x), -40)))


def test_tiny_and_offset_boxes_give_the_counts_of_their_rescaled_copies():
    net = random_net((5, 4), seed=11)
    base = count_exact(net, [-1, 1]).n_regions
    assert count_exact(rescaled(net, [np.zeros(5, int), np.zeros(4, int)], input_exponent=-60),
                       np.ldexp([-1.0, 1.0], 60)).n_regions == base
    assert count_exact(rescaled(net, [np.zeros(5, int), np.zeros(4, int)], input_exponent=60),
                       np.ldexp([-1.0, 1.0], -60)).n_regions == base


# ---- certificates ---------------------------------------------------------------------------------
def exact_value(a, b, x):
    return Fraction(float(b)) + sum(Fraction(float(ai)) * Fraction(float(xi)) for ai, xi in zip(a, x))


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), n=st.integers(1, 8), scale=st.sampled_from([1e-12, 1.0, 1e9]))
def test_point_margin_never_exceeds_the_exact_margin(seed, n, scale):
    rng = np.random.default_rng(seed)
    a, x = rng.standard_normal(n) * scale, rng.standard_normal(n) / scale
    b = -float(a @ x) * (1 + 1e-15 * rng.standard_normal())             # near-cancellation
    for sign in (1.0, -1.0):
        certified = point_margin(a, b, np.zeros(n), 0.0, sign, x)
        assert Fraction(certified) <= sign * exact_value(a, b, x)


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), n=st.integers(1, 4), m=st.integers(0, 4))
def test_dual_bound_is_at_least_the_maximum_over_the_cell(seed, n, m):
    """Any y ≥ 0 gives an upper bound of sign·h over {x ∈ box : signs_i·h_i(x) > lows_i}: checked on samples."""
    rng = np.random.default_rng(seed)
    A, B = rng.standard_normal((m, n)), rng.standard_normal(m)
    a, b = rng.standard_normal(n), float(rng.standard_normal())
    signs, lows = rng.choice([-1.0, 1.0], m), rng.uniform(-0.5, 0.5, m)
    lo, hi = -rng.uniform(0.5, 2, n), rng.uniform(0.5, 2, n)
    y = rng.exponential(1.0, m) * (rng.random(m) < 0.7)
    bound = dual_bound(A, B, np.zeros((m, n)), np.zeros(m), signs, lows, m, a, b, np.zeros(n), 0.0, 1.0, y, lo, hi,
                       np.maximum(np.abs(lo), np.abs(hi)))
    x = rng.uniform(lo, hi, (4000, n))
    inside = ((signs * (x @ A.T + B)) > lows).all(axis=1)
    assert bound >= (x[inside] @ a + b).max(initial=-np.inf)


def test_slivers_as_wide_as_the_margin_are_decided_not_refused():
    """Three layer-1 units share x = −0.5 (weights 2e7, 2e-6, −2e-7) and deeper units make slivers of width 2e-7
    beside it: their margin is the threshold 1e-7 to within rounding, so HiGHS's estimate decides."""
    net = Network(([[2e7], [-2e8], [2e-6], [1e4], [-2e-7]], [[0.0, 2, 2, 0, 0], [-1, 0, -1, 0, -1]],
                   [[-1.0, 1], [-2, 0], [0, -1]], [[-1.0, -1, 0]]),
                  ([1e7, 0, 1e-6, -1e4, -1e-7], [1.0, -1], [1.0, -1, -1], [-1.0]), "leaky_relu", 0.2)
    result = count_exact(net, [-1, 1])
    assert result.status == "exact" and result.n_regions == 6
    np.testing.assert_array_equal(net.patterns(result.points), result.patterns)
    assert np.sort(np.abs(result.points[:, 0] + 0.5))[:2].max() < 2e-7          # the two slivers


def test_boundaries_placed_by_cancellation_below_the_margin_are_refused_by_layer():
    """A first layer of slope 1e-8 feeds integer layers whose biases cancel: a layer-3 boundary's position is
    known only to ~2e-7, above the margin 1e-7, so whether a 5e-9-wide sliver counts cannot be vouched for."""
    net = Network(([[1e-8]], [[2.0], [0], [0], [1], [-1]],
                   [[0.0, -2, -2, -2, -2], [-2, 2, -2, 1, 1], [-1, -1, 0, -1, 2], [-2, 2, 1, 2, -2], [-1, 1, 0, 1, 1]],
                   [[-1.0, -1, 2, -2, -2]]), ([1e-8], [1.0, -1, -1, 0, 0], [0.0, -1, 1, 0, 1], [0.0]))
    with pytest.raises(ExplorerError, match="unit 5 of layer 3.*rounding.*smaller box"):
        count_exact(net, [-3, 3])
    assert count_exact(net, [-0.5, 0.5]).status == "exact"        # away from the cancelling boundary
