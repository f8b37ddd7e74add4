"""MIPBound (spec §4): §4.4 worked examples, exact replay of the trial levels, T6 error rates, options."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from explorer.errors import ExplorerError
from explorer.count.exact import count_exact
from explorer.count.milp import build_milp
from explorer.count.mipbound import (_draw_support, all_feasible_confidence, alpha_for, binomial_tail, majority_error,
                               majority_k, mipbound)
from explorer.net import Network
from tests.nets import random_network as random_net
from tests.count.test_exact import N1

SMALL_NETS = [random_net(w, n0=n0, seed=s, scale_bias=1.0)
              for s, (n0, w) in enumerate([(2, (3, 3)), (3, (4,)), (2, (4, 3)), (2, (2, 2, 2)), (4, (3, 2))])]


def reachable(net, box):
    """N_ε as binaries of the unstable units: every pattern FIND can reach (MILP with no-good cuts)."""
    model = build_milp(net, box)
    return model, count_exact(net, box, method="milp").patterns[:, model.units]


def replay(model, patterns, seed, trials, xor_length="dense"):
    """Levels r_i by the documented protocol: per XOR the support, then b = rng.integers(2)."""
    levels = []
    for child in np.random.SeedSequence(seed).spawn(trials):
        rng, alive, r = np.random.default_rng(child), np.ones(len(patterns), dtype=bool), 0
        while alive.any() and r < model.n_binaries:
            S = _draw_support(rng, model.n_binaries, xor_length)
            alive &= patterns[:, S].sum(axis=1) % 2 == int(rng.integers(2))
            r += bool(alive.any())
        levels.append(r)
    return tuple(levels)


def test_worked_examples_all_feasible_rule():
    assert alpha_for(10, 0.99, 10) == pytest.approx(0.6644, abs=1e-4)
    assert all_feasible_confidence(5, 1.0) == pytest.approx(0.96875)
    assert alpha_for(10, 0.9, 10) == pytest.approx(0.3322, abs=1e-4)
    assert alpha_for(20, 0.95, 20) == pytest.approx(0.2161, abs=1e-4)


@pytest.mark.parametrize("t, alpha, delta, k, chernoff, binomial", [
    (10, 1.0, 0.2, 7, 0.7010, 0.1719), (10, 2.0, 0.2, 7, 0.0667, 0.0035), (20, 2.0, 0.1, 12, 0.0300, 0.00094)])
def test_worked_examples_majority_rule(t, alpha, delta, k, chernoff, binomial):
    assert majority_k(t, delta) == k
    c, b = majority_error(t, alpha, delta)
    assert c == pytest.approx(chernoff, abs=1e-4) and b == pytest.approx(binomial, abs=5e-5)
    assert b <= c                                         # the binomial tail is the sharper bound


@settings(max_examples=200, deadline=None)
@given(t=st.integers(1, 30), p=st.floats(0.5, 0.999), frac=st.floats(0.01, 1.0))
def test_alpha_is_the_smallest_sound_slack(t, p, frac):
    k = max(1, math.ceil(frac * t))
    alpha = alpha_for(t, p, k)
    assert binomial_tail(t, 2.0 ** -alpha, k) <= 1 - p + 1e-12
    if alpha > 1e-6:
        assert binomial_tail(t, 2.0 ** -(alpha - 1e-3), k) > 1 - p


@pytest.mark.parametrize("pool", [True, False])
@pytest.mark.parametrize("index", range(3))
def test_trial_levels_replay_exactly(index, pool):
    net = [N1, *SMALL_NETS][index]
    box = [-2, 2] if net is N1 else [-1, 1]
    model, patterns = reachable(net, box)
    extra = {} if pool else {"n_samples": 0, "chord_points_max": 0}
    for seed in range(3):
        res = mipbound(net, box, trials=6, seed=seed, workers=1, model=model, **extra)
        assert res.timeouts == 0 and res.status == "complete"
        assert res.xors_per_trial == replay(model, patterns, seed, 6)
        assert res.certain_lower_bound <= len(patterns) and res.lower_bound >= res.certain_lower_bound


def test_t6_error_rate_within_confidence():
    """Spec T6: 200 seeds on N1 and five small nets; both rules are scored on the same trial levels."""
    p, seeds, wrong, total = 0.95, 200, {"all": 0, "majority": 0}, 0
    for net in [N1, *SMALL_NETS]:
        box = [-2, 2] if net is N1 else [-1, 1]
        model, patterns = reachable(net, box)
        for seed in range(seeds):
            levels = sorted(mipbound(net, box, trials=10, confidence=p, seed=seed, workers=1,
                                     model=model).xors_per_trial, reverse=True)
            for rule, k in (("all", 10), ("majority", majority_k(10, 0.2))):
                wrong[rule] += 2.0 ** (levels[k - 1] - alpha_for(10, p, k)) > len(patterns)
            total += 1
    sigma = math.sqrt(p * (1 - p) / total)
    assert all(w / total <= 1 - p + 3 * sigma for w in wrong.values()), wrong


def test_encodings_and_xor_lengths_are_interchangeable():
    net = SMALL_NETS[2]
    model, patterns = reachable(net, [-1, 1])
    kw = dict(trials=4, seed=5, workers=1, model=model, n_samples=0, chord_points_max=0)
    for k in ("dense", 1, 3):
        slack = mipbound(net, [-1, 1], xor_length=k, **kw)
        parity = mipbound(net, [-1, 1], xor_length=k, encoding="parity", **kw)
        assert slack.xors_per_trial == parity.xors_per_trial == replay(model, patterns, 5, 4, k)


def test_worker_processes_reproduce_the_in_process_result():
    net = random_net((6, 6), n0=3, seed=1)
    one = mipbound(net, [-1, 1], trials=4, seed=2, workers=1)
    two = mipbound(net, [-1, 1], trials=4, seed=2, workers=2)
    assert sorted(one.xors_per_trial) == sorted(two.xors_per_trial)
    assert one.certain_lower_bound == two.certain_lower_bound


def test_result_fields_and_budget():
    net = random_net((8, 8), n0=3, seed=3)
    res = mipbound(net, [-1, 1], trials=6, confidence=0.9, workers=1)
    assert len(res.xors_per_trial) == 6 and res.k == majority_k(6, 0.2)
    assert res.alpha == pytest.approx(alpha_for(6, 0.9, res.k))
    assert res.lower_bound == max(math.ceil(2 ** res.log2_bound), res.certain_lower_bound)
    assert res.certain_lower_bound <= count_exact(net, [-1, 1]).n_regions
    assert "Serra & Ramalingam 2020" in res.label and res.epsilon > 0
    rushed = mipbound(net, [-1, 1], trials=3, workers=1, time_limit=0.0, n_samples=0)
    assert rushed.status == "time limit" and rushed.lower_bound >= 1


def test_network_with_only_stable_units_has_one_region():
    net = Network(([[1.0, 0.0], [0.0, -1.0]], [[1.0, 1.0]]), ([5.0, -5.0], [0.0]))
    res = mipbound(net, [-1, 1], workers=1)
    assert res.lower_bound == 1 == count_exact(net, [-1, 1]).n_regions and res.n_binaries == 0


@pytest.mark.parametrize("kwargs, match", [
    ({"trials": 0}, "trial"), ({"confidence": 1.0}, "confidence"), ({"rule": "best"}, "rule"),
    ({"delta": 0.0}, "delta"), ({"xor_length": "long"}, "XOR length"), ({"xor_length": 0}, "XOR length"),
    ({"encoding": "bdd"}, "encoding")])
def test_bad_options_raise(kwargs, match):
    with pytest.raises(ExplorerError, match=match):
        mipbound(N1, [-1, 1], workers=1, **kwargs)
