"""Analytic upper bounds (spec §5): T1–T3 numbers, DP = enumeration of J, ordering, soundness vs exact counts."""

import itertools
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from explorer.plot.text import format_count
from explorer.count.bounds import (activation_aware_bound, layer_stats, montufar2017_bound,
                             serra2018_bound, trivial_bound, upper_bounds, zaslavsky_bound)
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
