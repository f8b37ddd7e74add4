"""Analytic upper bounds (spec §5): T1–T3 numbers, DP = enumeration of J, ordering, soundness vs exact counts."""

import itertools
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from explorer.plot.text import format_count
from explorer.count.bounds import (activation_aware_bound, layer_stats, max_active, montufar2017_bound,
                                   serra2018_bound, sound_rank, trivial_bound, upper_bounds, zaslavsky_bound)
from explorer.errors import ExplorerError
from explorer.count.exact import count_exact
from tests.nets import random_network as random_net


def theorem1_by_enumeration(n0, widths):
    """Σ_{j∈J} ∏ C(n_l, j_l), J = {0 ≤ j_l ≤ min(n0, n1 − j1, …, n_{l−1} − j_{l−1}, n_l)}, by brute force."""
    total = 0
    for j in itertools.product(*(range(n + 1) for n in widths)):
        caps = [n0] + [n - jj for n, jj in zip(widths, j)]
        if all(j[l] <= min(min(caps[: l + 1]), widths[l]) for l in range(len(widths))):
            total += math.prod(math.comb(n, jj) for n, jj in zip(widths, j))
    return total


@pytest.mark.parametrize("widths, serra, montufar", [
    ((10, 12), 1_744_436, 4_180_992), ((12, 10), 3_096_514, 4_194_304), ((11, 11), 2_449_868, 4_194_304),
    ((8, 14), 600_370, 3_305_216), ((14, 8), 3_913_704, 4_194_304), ((6, 16), 110_056, 953_152),
    ((16, 6), 4_158_861, 4_194_304)])
def test_t1_mnist_sized_two_layer_nets(widths, serra, montufar):
    assert serra2018_bound(784, widths) == serra == theorem1_by_enumeration(784, widths)
    assert montufar2017_bound(784, widths) == montufar
    assert trivial_bound(sum(widths)) == 4_194_304


@pytest.mark.parametrize("n0, widths, expected", [
    (2, [3], 7), (2, [5], 16), (2, [8], 37), (2, [10, 10], 3_136), (2, [4, 5, 3], 1_232), (1, [3, 3, 3], 64),
    (3, [10, 10], 30_976), (6, [12, 12, 12], 15_813_251_000)])
def test_t2_theorem1_values(n0, widths, expected):
    assert serra2018_bound(n0, widths) == expected


def test_t3_activation_aware_values():
    assert activation_aware_bound(784, (10, 12), (0, 0), max_active=(6, 12)) == 1_574_838
    assert activation_aware_bound(784, (10, 12), (0, 0)) == 1_744_436 == serra2018_bound(784, (10, 12))


def test_t4_n2_bounds():
    assert serra2018_bound(2, (2, 1)) == 7
    assert activation_aware_bound(2, (2, 1), (0, 0), unstable_rank=(1, 1), active_rank=(1, 1)) == 6


@settings(max_examples=200, deadline=None)
@given(n0=st.integers(1, 6), widths=st.lists(st.integers(1, 6), min_size=1, max_size=3))
def test_dynamic_programme_equals_enumeration_of_j(n0, widths):
    assert serra2018_bound(n0, widths) == theorem1_by_enumeration(n0, widths)


def test_closed_forms():
    assert zaslavsky_bound(3, 2) == 7 and zaslavsky_bound(3, 2, rank=1) == 4 and zaslavsky_bound(10, 20) == 2 ** 10
    assert serra2018_bound(2, (8,)) == zaslavsky_bound(8, 2)                  # tight for one layer
    assert serra2018_bound(1, (3, 4, 5)) == 4 * 5 * 6                          # n0 = 1: ∏(n_l + 1)
    assert montufar2017_bound(3, (2, 2)) == 16


@settings(max_examples=300, deadline=None)
@given(data=st.data(), n0=st.integers(1, 8), L=st.integers(1, 4))
def test_order_activation_aware_le_serra_le_montufar_le_trivial(data, n0, L):
    widths = data.draw(st.lists(st.integers(1, 10), min_size=L, max_size=L))
    u = [data.draw(st.integers(0, n)) for n in widths]
    a = [data.draw(st.integers(0, n - k)) for n, k in zip(widths, u)]
    A = [data.draw(st.integers(0, k + s)) for k, s in zip(u, a)]
    kappa = [data.draw(st.integers(0, k)) for k in u]
    rho = [data.draw(st.integers(0, k + s)) for k, s in zip(u, a)]
    aware = activation_aware_bound(n0, u, a, max_active=A, unstable_rank=kappa, active_rank=rho)
    assert aware <= serra2018_bound(n0, widths) <= montufar2017_bound(n0, widths) <= trivial_bound(sum(widths))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n0=st.integers(1, 4), widths=st.sampled_from([(3,), (5,), (3, 3), (4, 2), (2, 2, 2)]),
       leaky=st.booleans(), half=st.floats(0.2, 3.0))
def test_every_upper_bound_is_at_least_the_exact_count(seed, n0, widths, leaky, half):
    net = random_net(widths, n0=n0, seed=seed, activation="leaky_relu" if leaky else "relu",
                     alpha=0.2 if leaky else 0.0, scale_bias=1.0)
    exact = count_exact(net, [-half, half]).n_regions
    bounds = {b.name: b.value for b in upper_bounds(net, stats=layer_stats(net, [-half, half]))}
    assert bounds["activation_aware"] >= exact
    assert bounds["montufar2017"] >= exact and bounds["trivial"] >= exact
    assert (bounds["serra2018"] is None) == leaky and (bounds["zaslavsky"] is None) == (len(widths) > 1)
    assert all(v >= bounds["activation_aware"] for v in bounds.values() if v is not None)


def test_layer_stats_measure_the_box():
    net = random_net((8, 6), n0=2, seed=3)
    small, large = layer_stats(net, [-0.05, 0.05]), layer_stats(net, [-5, 5])
    assert (small.unstable <= large.unstable).all() and small.unstable.sum() < large.unstable.sum()
    for s in (small, large):
        assert (s.unstable + s.stably_active <= np.array([8, 6])).all()
        assert (s.max_active <= s.unstable + s.stably_active).all() and (s.max_active >= s.stably_active).all()
        assert (s.unstable_rank <= s.unstable).all() and (s.active_rank <= 2 + 6).all()


def test_format_count_switches_to_log10():
    assert format_count(1_744_436) == "1,744,436"
    assert format_count(10 ** 20) == "10^20.00"
    assert format_count(None) == "n/a"


def test_bad_inputs_raise():
    with pytest.raises(ExplorerError, match="positive"):
        serra2018_bound(0, (3,))
    with pytest.raises(ExplorerError, match="one value per hidden layer"):
        activation_aware_bound(2, (3, 3), (0, 0), max_active=(1,))
    with pytest.raises(ExplorerError, match="non-negative"):
        activation_aware_bound(2, (3, -1), (0, 0))


def test_zaslavsky_uses_the_rank_of_the_first_layer():
    from explorer.net import Network

    parallel = Network(([[1.0, 0.0], [2.0, 0.0], [-1.0, 0.0]], [[1.0, 1.0, 1.0]]), ([0.0, 1.0, 0.5], [0.0]))
    bounds = {b.name: b.value for b in upper_bounds(parallel)}
    assert bounds["zaslavsky"] == 4 >= count_exact(parallel, [-2, 2]).n_regions
    assert "activation_aware" not in bounds     # needs measured statistics


def test_one_layer_bounds_are_attained_in_general_position():
    net = random_net((6,), n0=2, seed=4, scale_bias=0.3)
    box = [-1000, 1000]                           # all 6 lines and their 15 crossings lie inside
    exact = count_exact(net, box).n_regions
    bounds = {b.name: b.value for b in upper_bounds(net, stats=layer_stats(net, box))}
    assert exact == bounds["zaslavsky"] == bounds["serra2018"] == bounds["activation_aware"] == 22


def test_activation_aware_uses_stability_on_a_small_box():
    net = random_net((8, 8), n0=2, seed=6)
    stats = layer_stats(net, [-0.1, 0.1])
    bounds = {b.name: b.value for b in upper_bounds(net, stats=stats)}
    assert bounds["activation_aware"] < bounds["serra2018"]
    assert bounds["activation_aware"] >= count_exact(net, [-0.1, 0.1]).n_regions


# ---- sound inputs: exact ranks, checked solver answers (issue 11) ----------------------------------------
def rational_rank(M) -> int:
    """Rank of a float matrix by Gaussian elimination over Fractions (each float read exactly)."""
    from fractions import Fraction

    rows = [[Fraction(float(v)) for v in r] for r in np.asarray(M, dtype=float)]
    rank = 0
    for col in range(len(rows[0]) if rows else 0):
        piv = next((i for i in range(rank, len(rows)) if rows[i][col] != 0), None)
        if piv is None:
            continue
        rows[rank], rows[piv] = rows[piv], rows[rank]
        for i in range(rank + 1, len(rows)):
            f = rows[i][col] / rows[rank][col]
            rows[i] = [a - f * b for a, b in zip(rows[i], rows[rank])]
        rank += 1
    return rank


@st.composite
def awkward_matrices(draw):
    """Small matrices with repeated, proportional, badly scaled and integer rows."""
    m, n = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    kind = draw(st.sampled_from(["gauss", "integer", "low rank", "scaled copies"]))
    if kind == "gauss":
        M = rng.standard_normal((m, n))
    elif kind == "integer":
        M = rng.integers(-2, 3, (m, n)).astype(float)
    elif kind == "low rank":
        M = rng.integers(-3, 4, (m, 2)).astype(float) @ rng.integers(-3, 4, (2, n)).astype(float)
    else:
        M = rng.integers(-3, 4, (1, n)).astype(float).repeat(m, axis=0)
    return M * 10.0 ** rng.integers(-9, 10, (m, 1))            # rows of norms 1e-9 … 1e9


@settings(max_examples=400, deadline=None)
@given(M=awkward_matrices())
def test_sound_rank_is_the_exact_rank(M):
    assert sound_rank(M) == rational_rank(M)


def test_sound_rank_large_matrices():
    rng = np.random.default_rng(0)
    W = rng.standard_normal((40, 784))
    assert sound_rank(W) == 40 and sound_rank(W.T) == 40
    W[7], W[9] = 2.0 * W[2], W[4]                                # exact dependencies
    W[11] = 3.0 * W[3]                                           # rounded: no longer an exact multiple
    assert sound_rank(W) == 38 and sound_rank(W.T) == 38
    assert sound_rank(np.vstack([W[:5], W[:5] * 2.0 ** 40, W[:5] * 2.0 ** -990])) == 5
    with pytest.raises(ExplorerError, match="finite 2-D"):
        sound_rank([[np.nan]])


def badly_scaled_quadrants():
    """W1 = [[1e8, 0], [0, 1e-8]], b1 = 0, W2 = [[1, 1]]: the four quadrants (issue 11)."""
    from explorer.net import Network

    return Network(([[1e8, 0.0], [0.0, 1e-8]], [[1.0, 1.0]], [[1.0]]), ([0.0, 0.0], [0.0], [0.0]))


def test_badly_scaled_example_keeps_every_bound_above_four():
    from explorer.ball.local import local_bounds

    net = badly_scaled_quadrants()
    assert count_exact(net, [-1, 1]).n_regions == 4
    stats = layer_stats(net, [-1, 1])
    assert stats.unstable_rank[0] == stats.active_rank[0] == 2
    assert all(b.value >= 4 for b in upper_bounds(net, stats=stats) if b.value is not None)
    one_layer = badly_scaled_quadrants().truncated(1)
    assert {b.name: b.value for b in upper_bounds(one_layer)}["zaslavsky"] == 4
    ball = local_bounds(net, np.zeros(2), 1.0)
    assert min(ball.bound_a, ball.bound_b, ball.upper_bound) >= ball.n_exact == 4


def exact_stats(net, patterns):
    """u_l, a_l, A_l and ranks read off the exact regions (the tightest sound inputs of §5.5)."""
    layer = net.unit_layers()
    on = patterns.any(axis=0) if len(patterns) else np.zeros(net.n_hidden, bool)
    always = patterns.all(axis=0) if len(patterns) else np.zeros(net.n_hidden, bool)
    unstable, active = on & ~always, always
    u = [int(unstable[layer == l].sum()) for l in range(len(net.hidden_widths))]
    a = [int(active[layer == l].sum()) for l in range(len(net.hidden_widths))]
    A = [int(patterns[:, layer == l].sum(axis=1).max(initial=0)) for l in range(len(net.hidden_widths))]
    kappa = [sound_rank(W[unstable[layer == l]]) for l, W in enumerate(net.weights[:-1])]
    rho = [sound_rank(W[on[layer == l]]) for l, W in enumerate(net.weights[:-1])]
    full = [sound_rank(W) for W in net.weights[:-1]]
    return u, a, A, kappa, rho, full


@st.composite
def adversarial_nets(draw):
    """Random, integer and badly scaled nets (rows times 10^k, |k| ≤ 8), ReLU or LeakyReLU."""
    from explorer.net import Network

    n0 = draw(st.integers(1, 3))
    dims = [n0] + draw(st.lists(st.integers(1, 5), min_size=1, max_size=3)) + [1]
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    integer = draw(st.booleans())
    weights, biases = [], []
    for a, b in zip(dims[:-1], dims[1:]):
        W = rng.integers(-2, 3, (b, a)).astype(float) if integer else rng.standard_normal((b, a))
        c = rng.integers(-1, 2, b).astype(float) if integer else 0.5 * rng.standard_normal(b)
        k = 10.0 ** rng.integers(-8, 9, b) if draw(st.booleans()) else np.ones(b)
        weights.append(W * k[:, None])
        biases.append(c * k)
    leaky = draw(st.booleans())
    return Network(tuple(weights), tuple(biases), "leaky_relu" if leaky else "relu", 0.2 if leaky else 0.0)


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(net=adversarial_nets(), half=st.sampled_from([0.1, 1.0, 3.0]))
def test_bounds_with_exact_inputs_are_at_least_the_exact_count(net, half):
    try:
        exact = count_exact(net, [-half, half])
    except ExplorerError as err:            # a refusal (rounding beyond the margin) is an allowed answer
        assert "rounding" in str(err)
        assume(False)
    u, a, A, kappa, rho, full = exact_stats(net, exact.patterns)
    aware = activation_aware_bound(net.n_inputs, u, a, max_active=A, unstable_rank=kappa, active_rank=rho,
                                   full_rank=full, activation=net.activation)
    assert aware >= exact.n_regions
    assert montufar2017_bound(net.n_inputs, net.hidden_widths) >= exact.n_regions
    if net.activation == "relu":
        assert serra2018_bound(net.n_inputs, net.hidden_widths) >= exact.n_regions
    if len(net.hidden_widths) == 1:
        assert zaslavsky_bound(net.hidden_widths[0], net.n_inputs, rank=sound_rank(net.weights[0])) >= exact.n_regions


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(net=adversarial_nets(), half=st.sampled_from([0.1, 1.0, 3.0]))
def test_measured_bounds_on_adversarial_nets_are_at_least_the_exact_count(net, half):
    try:
        exact = count_exact(net, [-half, half]).n_regions
    except ExplorerError as err:
        assert "rounding" in str(err)
        assume(False)
    for bound in upper_bounds(net, stats=layer_stats(net, [-half, half], time_limit=1.0)):
        assert bound.value is None or bound.value >= exact, bound.name


def test_max_active_on_timeout_is_never_the_incumbent_or_zero():
    from explorer.count.milp import build_milp

    net = random_net((30, 30), n0=4, seed=1)
    model = build_milp(net, [-1, 1])
    seen = net.patterns(np.random.default_rng(0).uniform(-1, 1, (20_000, 4)))
    layer = net.unit_layers()
    for time_limit in (0.0, 1e-3, 0.2):
        for l in range(2):
            A, status = max_active(model, l, time_limit=time_limit)
            assert status in ("timeout", "unchecked", "optimal")
            assert A >= seen[:, layer == l].sum(axis=1).max() > 0
            if status == "unchecked":
                assert A == int((~model.bounds.stable_inactive[layer == l]).sum())
