"""The region engine never returns a count it cannot vouch for: power-of-two rescaled networks whose values
overflow, boxes far larger than the network's features, badly scaled and nearly parallel units (issue 11, class 5).

Every count is compared with the exact rational oracle of tests/oracles.py, or must be a refusal.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from explorer.errors import ExplorerError
from explorer.net import Network, rescale_units
from explorer.plane.partition import locate
from explorer.plane.regions import PrecisionLimitError, enumerate_regions
from tests.adversarial import badly_scaled_nets
from tests.nets import random_network
from tests.oracles import exact_regions


def counted_patterns(regions) -> set:
    return set(map(tuple, regions.patterns.astype(int)))


def twin_scaled_by_powers_of_two(net: Network, top: int) -> Network:
    """The same function and regions: every row of layer 2 multiplied by a power of two that brings its largest
    entry to 2^top, the columns of layer 3 divided by it."""
    W1, W2, W3 = net.weights
    b1, b2, b3 = net.biases
    shift = top - np.frexp(np.abs(np.c_[W2, b2]).max(axis=1))[1]
    return Network((W1, np.ldexp(W2, shift[:, None]), np.ldexp(W3, -shift[None, :])), (b1, np.ldexp(b2, shift), b3))


# ---- class 1: the same regions, exactly, whatever the powers of two --------------------------------------
@pytest.mark.parametrize("top", [1022, 1023, -1000])
def test_power_of_two_rescaled_net_whose_layer_2_overflows_keeps_its_regions(top):
    """Before the fix, layer-2 values near 2^1023 overflowed and the count fell from 254 to 122 (top 1022) or
    98 (top 1023)."""
    net = random_network([16, 16], seed=7, fan_in=True)
    twin = twin_scaled_by_powers_of_two(net, top)
    with np.errstate(over="ignore", invalid="ignore"):
        assert not np.isfinite(twin.preactivations(np.array([[3.0, 3.0]]))[1]).all() or top < 0
    plain, scaled = enumerate_regions(net, (-3, 3, -3, 3)), enumerate_regions(twin, (-3, 3, -3, 3))
    assert plain.n_regions == scaled.n_regions == 254
    assert counted_patterns(plain) == counted_patterns(scaled)
    order_a, order_b = np.lexsort(plain.patterns.T), np.lexsort(scaled.patterns.T)
    # the maps are scaled back exactly; the twin's own layer 3 is subnormal for top ≥ 1022, hence the rtol
    np.testing.assert_allclose(plain.out_grad[order_a], scaled.out_grad[order_b], rtol=1e-9, atol=0)
    np.testing.assert_allclose(plain.out_bias[order_a], scaled.out_bias[order_b], rtol=1e-9, atol=1e-300)
    np.testing.assert_array_equal(locate(scaled, scaled.points), np.arange(scaled.n_regions))


def test_rescaling_is_exact_and_idempotent():
    net = random_network([6, 5], seed=3, fan_in=True, activation="leaky_relu", alpha=0.1)
    k = np.random.default_rng(0).integers(-900, 900, size=6)
    W1, W2, W3 = net.weights
    b1, b2, b3 = net.biases
    twin = Network((np.ldexp(W1, k[:, None]), np.ldexp(W2, -k[None, :]), W3), (np.ldexp(b1, k), b2, b3),
                   "leaky_relu", 0.1)
    a, b = rescale_units(net), rescale_units(twin)
    for x, y in zip(a.net.weights + a.net.biases, b.net.weights + b.net.biases):
        np.testing.assert_array_equal(x, y)
    for W, bias in zip(a.net.weights, a.net.biases):
        top = np.abs(np.c_[W, bias]).max(axis=1)
        assert ((top >= 1) & (top < 2)).all()
    x = np.random.default_rng(1).uniform(-2, 2, (200, 2))
    np.testing.assert_array_equal(np.ldexp(a.net.forward(x), a.output_exp), net.forward(x))


def test_rows_beyond_float64_and_overflowing_outputs_are_refused_with_the_layer():
    wide = Network(([[1.0, 0.0], [2.0 ** 600, 2.0 ** -600]], [[1.0, 1.0]]), ([0.0, 0.0], [0.0]))
    with pytest.raises(ExplorerError, match="layer 1, unit 1: .*1e-180 to 1e180"):
        enumerate_regions(wide, (-1, 1, -1, 1))
    loud = Network(([[1e300, 0.0]], [[1e300]]), ([0.0], [0.0]))  # slope 1e600
    with pytest.raises(ExplorerError, match="outputs exceed the range of float64"):
        enumerate_regions(loud, (-1, 1, -1, 1))


# ---- class 2: counts do not decrease when the box grows ------------------------------------------------
def test_growing_the_box_of_the_example_network_never_lowers_the_count(moons_checkpoint):
    """Before the fix: ±1e3, ±1e6, ±1e10 gave 426, 423, 56 (the tolerance grew with the box)."""
    net = moons_checkpoint.net
    counts = [enumerate_regions(net, (-B, B, -B, B)).n_regions for B in (3, 1e3, 1e6, 1e10, 1e300)]
    assert counts == [271, 426, 426, 426, 426]
    assert counted_patterns(enumerate_regions(net, (-1e6, 1e6, -1e6, 1e6))) == set(exact_regions(net, (-1e6, 1e6, -1e6, 1e6)))


def test_an_exact_recount_past_its_budget_is_a_refusal_not_a_count():
    net = random_network([32, 32, 32], seed=0, fan_in=True)
    with pytest.raises(PrecisionLimitError, match="cannot separate.*Shrink the domain"):
        enumerate_regions(net, (-1e12, 1e12, -1e12, 1e12), time_limit=0.3)


# ---- properties: random, nested and adversarial ----------------------------------------------------------
@settings(max_examples=600, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(net=badly_scaled_nets(), log_half=st.integers(-20, 40), centre=st.sampled_from([0.0, 1.0, -3.0]))
def test_badly_scaled_nets_match_the_rational_oracle_or_are_refused(net, log_half, centre):
    half = 2.0 ** log_half
    box = (centre - half, centre + half, -half, half)
    try:
        regions = enumerate_regions(net, box)
    except ExplorerError as exc:  # a refusal names its reason; it is never a silent wrong count
        assert "float64" in str(exc)
        return
    assert counted_patterns(regions) == set(exact_regions(net, box))


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2 ** 32 - 1), widths=st.lists(st.integers(1, 5), min_size=1, max_size=3),
       logs=st.lists(st.integers(-3, 30), min_size=3, max_size=3, unique=True))
def test_counts_never_decrease_on_nested_boxes_and_match_the_oracle(seed, widths, logs):
    net = random_network(widths, seed=seed, fan_in=True)
    counts = []
    for log_half in sorted(logs):
        box = (-(2.0 ** log_half), 2.0 ** log_half, -(2.0 ** log_half) / 3, 2.0 ** log_half)
        regions = enumerate_regions(net, box)
        counts.append(regions.n_regions)
        if log_half <= 3:
            assert counted_patterns(regions) == set(exact_regions(net, box))
    assert counts == sorted(counts)
