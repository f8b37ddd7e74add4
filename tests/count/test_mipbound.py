"""MIPBound (spec §4): §4.4 worked examples, trials against a brute-force oracle, T6 error rates by binomial test,
the plain-data trial seam, options."""

import functools
import math
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binomtest

from explorer.count.exact import count_exact
from explorer.count.milp import Confirmer, build_milp
from explorer.count.mipbound import (MipBoundOptions, all_feasible_confidence, alpha_for, binomial_tail,
                                     majority_error, majority_k, mipbound)
from explorer.count.trial import (TrialSettings, draw_parity, run_trial, sample_pool, subdivide, trial_problem,
                                  trial_rng)
from explorer.errors import ExplorerError
from explorer.net import Network
from tests.nets import random_network as random_net
from tests.nets import N1

SMALL_NETS = [random_net(w, n0=n0, seed=s, scale_bias=1.0)     # 9–10 unstable units, 34–60 regions in [-1, 1]^n0
              for s, (n0, w) in enumerate([(3, (6, 5)), (4, (5, 5)), (3, (4, 4, 3)), (2, (5, 5))], start=10)]


@functools.lru_cache(maxsize=None)
def _omega(index):
    return _brute_force(SMALL_NETS[index], (-1.0, 1.0))


def omega(net, box):
    """Ω of one of SMALL_NETS on [-1, 1]^n0, computed once per session."""
    return _omega(next(i for i, m in enumerate(SMALL_NETS) if m is net))


def _brute_force(net, box):
    """Ω by brute force: every binary vector of the unstable units that LP confirmation accepts (u ≤ 12)."""
    model = build_milp(net, box)
    confirm, n = Confirmer(model), model.n_binaries
    Z = ((np.arange(2 ** n)[:, None] >> np.arange(n)) & 1).astype(bool)
    return model, Z[[confirm(z) for z in Z]]


def in_cell(patterns, parities):
    keep = np.ones(len(patterns), bool)
    for S, b in parities:
        keep &= patterns[:, list(S)].sum(axis=1) % 2 == b
    return patterns[keep]


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


@pytest.mark.parametrize("index", range(3))
def test_counting_trials_count_their_cell_exactly(index):
    """A counting trial by enumeration reports |{z ∈ Ω : A z = b}| for the XORs it drew (brute-force oracle)."""
    net = SMALL_NETS[index]
    model, patterns = omega(net, [-1, 1])
    pool = sample_pool(trial_problem(model), seed=0, part=0, time_limit=2.0).patterns
    pool_z = np.unpackbits(pool, axis=1, count=model.n_binaries).astype(bool)
    assert {z.tobytes() for z in pool_z} <= {z.tobytes() for z in patterns}    # the pool lies in Ω
    problem = trial_problem(model, pool)
    for level in (1, 2, 3):
        for index_ in range(3):
            res = run_trial(problem, TrialSettings(xor_length="dense"), seed=7, index=index_, time_limit=30,
                            level=level)
            assert len(res.parities) == level and res.stopped == "empty"
            assert res.count == len(in_cell(patterns, res.parities))
            assert res.count >= len(in_cell(pool_z, res.parities))


@pytest.mark.parametrize("s", [1, 3])
def test_nested_trials_reach_only_levels_with_s_witnesses(s):
    net = SMALL_NETS[1]
    model, patterns = omega(net, [-1, 1])
    problem = trial_problem(model)
    for index in range(4):
        res = run_trial(problem, TrialSettings(xor_length=2, cell_solutions=s), seed=3, index=index, time_limit=30)
        assert len(in_cell(patterns, res.parities[:res.level])) >= s
        assert res.stopped in ("empty", "top") and res.timeouts == 0
        if res.stopped == "empty":                      # the next level's cell really has fewer than s
            assert len(in_cell(patterns, res.parities[:res.level + 1])) < s


def replay_counts(patterns, pool, settings, level, trials, seed):
    """Cell counts of ``trials`` counting trials, drawn exactly as run_trial draws them, counted by the oracle."""
    n = patterns.shape[1]
    out = np.zeros(trials, int)
    for i in range(trials):
        rng, known, cell = trial_rng(seed, i), pool, patterns
        for _ in range(level):
            S, b, known = draw_parity(rng, n, settings, known)
            cell = cell[cell[:, S].sum(axis=1) % 2 == b]
        out[i] = len(cell)
    return out


@pytest.mark.parametrize("xor_length", ["dense", 2])
def test_t6_error_rate_within_confidence(xor_length):
    """Spec T6 with a binomial test: 4,000 oracle-counted trials per net in 400 bounds of t = 10; for every rule the
    share of bounds above |Ω| is not significantly above 1 − p, while the test rejects an unsound rule (the largest
    count without slack)."""
    p, t, groups = 0.95, 10, 400
    wrong, no_slack, total = {"all": 0, "majority": 0, "k=8": 0}, 0, 0
    for net in SMALL_NETS:
        model, patterns = omega(net, [-1, 1])
        pool = patterns[::3]                            # any fixed subset of Ω may steer the supports
        settings_ = TrialSettings(xor_length=xor_length)
        level = max(1, int(math.log2(len(patterns))) - 2)
        counts = replay_counts(patterns, pool, settings_, level, t * groups, seed=11).reshape(groups, t)
        assert abs(counts.mean() - len(patterns) * 2.0 ** -level) <= 6 * counts.std() / math.sqrt(counts.size) + 1e-9
        ranked = -np.sort(-counts, axis=1)
        for rule, k in (("all", t), ("majority", majority_k(t, 0.2)), ("k=8", 8)):
            bound = ranked[:, k - 1] * 2.0 ** (level - alpha_for(t, p, k))
            wrong[rule] += int((bound > len(patterns)).sum())
        no_slack += int((ranked[:, 0] * 2.0 ** level > len(patterns)).sum())
        total += groups
    for rule, w in wrong.items():
        assert binomtest(w, total, 1 - p, alternative="greater").pvalue > 1e-3, (rule, w, total)
    assert binomtest(no_slack, total, 1 - p, alternative="greater").pvalue < 1e-3     # the test has power


def test_mipbound_parts_and_guarantees():
    net = SMALL_NETS[2]
    model, patterns = omega(net, [-1, 1])
    exact = count_exact(net, [-1, 1]).n_regions
    res = mipbound(net, [-1, 1], time_limit=4, options=MipBoundOptions(workers=1), model=model)
    assert res.certain_lower_bound <= len(patterns) <= exact
    assert res.lower_bound == max(res.certain_lower_bound, res.probabilistic_lower_bound)
    assert res.source == ("probabilistic" if res.probabilistic_lower_bound > res.certain_lower_bound else "certain")
    assert res.guarantee in ("certain", "probabilistic, confidence 0.95")
    assert len(res.counts) == len(res.levels) == res.trials and 1 <= res.k <= res.trials
    assert res.alpha == pytest.approx(alpha_for(res.trials, 0.95, res.k))
    if res.mode == "count":
        assert res.cell_count == sorted(res.counts, reverse=True)[res.k - 1]
        expected = res.cell_count * 2.0 ** (res.level - res.alpha)
        assert res.probabilistic_lower_bound == (math.ceil(expected - 1e-9) if res.cell_count else 0)
    assert "Serra & Ramalingam 2020" in res.label and res.epsilon > 0 and res.seconds < 8


def test_nested_mode_and_s_variant():
    net = SMALL_NETS[0]
    model, patterns = omega(net, [-1, 1])
    opts = MipBoundOptions(mode="nested", trials=6, cell_solutions=2, rule="all", workers=1)
    res = mipbound(net, [-1, 1], time_limit=5, options=opts, model=model)
    assert res.mode == "nested" and res.cell_count == 2 and res.k == 6
    assert res.level == min(res.levels)
    assert res.probabilistic_lower_bound == math.ceil(2 * 2.0 ** (res.level - res.alpha) - 1e-9)


class CountingExecutor:
    """An executor of the seam's kind (Dask's Client has the same submit/result): here, a process pool that counts."""

    def __init__(self):
        self.pool, self.calls = ProcessPoolExecutor(2), []

    def submit(self, fn, *args, **kwargs):
        self.calls.append(fn.__name__)
        return self.pool.submit(fn, *args, **kwargs)


def test_trials_run_on_any_executor_and_match_in_process_results():
    net = SMALL_NETS[3]
    model = build_milp(net, [-1, 1])
    problem = trial_problem(model, sample_pool(trial_problem(model), seed=1, part=0, time_limit=1).patterns)
    executor = CountingExecutor()
    try:
        remote = executor.submit(run_trial, problem, TrialSettings(), seed=4, index=2, time_limit=20, level=3).result()
        res = mipbound(net, [-1, 1], time_limit=4, options=MipBoundOptions(trials=4, mode="count"), executor=executor)
    finally:
        executor.pool.shutdown()
    local = run_trial(problem, TrialSettings(), seed=4, index=2, time_limit=20, level=3)
    assert (remote.count, remote.parities, remote.level) == (local.count, local.parities, local.level)
    assert executor.calls.count("run_trial") >= 4 and "sample_pool" in executor.calls and res.trials == 4


def test_subdivision_slabs_find_regions_of_the_box():
    net = SMALL_NETS[1]
    model, patterns = omega(net, [-1, 1])
    found = [subdivide(trial_problem(model), part=i, parts=2, time_limit=20).patterns for i in range(2)]
    union = np.unpackbits(np.unique(np.concatenate(found), axis=0), axis=1, count=model.n_binaries).astype(bool)
    assert {z.tobytes() for z in union} == {z.tobytes() for z in patterns}


def test_network_with_only_stable_units_has_one_region():
    net = Network(([[1.0, 0.0], [0.0, -1.0]], [[1.0, 1.0]]), ([5.0, -5.0], [0.0]))
    res = mipbound(net, [-1, 1], options=MipBoundOptions(workers=1))
    assert res.lower_bound == 1 == count_exact(net, [-1, 1]).n_regions and res.n_binaries == 0


@pytest.mark.parametrize("kwargs, match", [
    ({"trials": 0}, "trial"), ({"confidence": 1.0}, "confidence"), ({"rule": "best"}, "rule"),
    ({"rule": "majority", "delta": 0.0}, "delta"), ({"xor_length": "long"}, "XOR length"),
    ({"xor_length": 0}, "XOR length"), ({"encoding": "bdd"}, "encoding"), ({"mode": "guess"}, "mode"),
    ({"cell_solutions": 0}, "cell_solutions"), ({"pool_share": 2.0}, "pool_share")])
def test_bad_options_raise(kwargs, match):
    with pytest.raises(ExplorerError, match=match):
        MipBoundOptions(**kwargs)


def test_options_are_keyword_only_and_bad_time_limit_raises():
    with pytest.raises(TypeError):
        MipBoundOptions(10)                             # noqa: the options object is keyword-only
    with pytest.raises(ExplorerError, match="time limit"):
        mipbound(N1, [-1, 1], time_limit=0)


@pytest.mark.parametrize("seed", range(4))
def test_certain_sources_only_name_true_regions(seed):
    """Chord pool, subdivision slabs and the whole certain part stay inside the exact count's regions."""
    net = random_net((5, 5, 4), n0=2 + seed % 3, seed=100 + seed, scale_bias=1.0)
    model = build_milp(net, [-1, 1])
    exact = count_exact(net, [-1, 1])
    truth = {z.tobytes() for z in exact.patterns[:, model.units]}
    problem = trial_problem(model)
    for found in (sample_pool(problem, seed=seed, part=0, time_limit=1.0).patterns,
                  subdivide(problem, part=1, parts=3, time_limit=5.0).patterns):
        z = np.unpackbits(found, axis=1, count=model.n_binaries).astype(bool)
        assert {row.tobytes() for row in z} <= truth
    res = mipbound(net, [-1, 1], time_limit=1.5, options=MipBoundOptions(workers=1), model=model)
    assert res.certain_lower_bound <= exact.n_regions
