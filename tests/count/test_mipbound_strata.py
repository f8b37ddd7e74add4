"""MIPBound's strata mode: strata partition the exact count, parity cells hold each stratum with probability 2^−r,
error rates within the confidence (binomial test on oracle-counted cells), the pipeline's cell counts against the
oracle, the executor seam, anytime behaviour."""

import functools
import math

import numpy as np
import pytest
from scipy.stats import binomtest

from explorer.count.confidence import alpha_for, majority_k
from explorer.count.exact import count_exact
from explorer.count.mipbound import MipBoundOptions, mipbound
from explorer.count.strata import count_strata, draw_cells, order_labels, rank_strata, size_classes, split_strata
from explorer.count.strata_bound import _PILOT, heavy_strata, plan_level
from tests.count.test_mipbound import CountingExecutor
from tests.nets import random_network

BOX = (-1.0, 1.0)
NETS = [random_network(w, n0=n0, seed=s, scale_bias=1.0, activation=act, alpha=a)
        for s, (n0, w, act, a) in enumerate([(3, (8, 8, 6), "relu", 0.0), (4, (10, 8), "relu", 0.0),  # 448, 604,
                                              (3, (12, 10), "leaky_relu", 0.1), (4, (8, 8, 8), "relu", 0.0)],  # 750,
                                             start=40)]                                                       # 964


@functools.lru_cache(maxsize=None)
def oracle(index: int, target: int):
    """(strata, exact count of each stratum, N) of NETS[index] on BOX, computed once per session."""
    net = NETS[index]
    strata = split_strata(net, BOX, target=target, time_limit=60)
    counts = count_strata(net, BOX, strata.cells, time_limit=60)
    assert counts.exact.all()
    return strata, counts.counts, strata.finished + int(counts.counts.sum())


@pytest.mark.parametrize("index", range(len(NETS)))
def test_strata_partition_the_exact_count(index):
    """d₀ + Σ regions below the strata = count_exact, for one-stage and two-stage splits and partial counts below."""
    net = NETS[index]
    exact = count_exact(net, BOX).n_regions
    for target in (1, 5, 64):
        strata, counts, n = oracle(index, target) if target == 64 else (None, None, None)
        if strata is None:
            strata = split_strata(net, BOX, target=target, time_limit=60)
            n = strata.finished + int(count_strata(net, BOX, strata.cells, time_limit=60).counts.sum())
        assert n == exact
        assert len(strata.cells) >= min(target, 2) or strata.finished == exact
    first = split_strata(net, BOX, target=4, time_limit=60)                 # refined in two shares, as workers do
    parts = [split_strata(net, BOX, list(first.cells[w::2]), target=20, time_limit=60) for w in range(2)]
    cells = sum((p.cells for p in parts), ())
    assert first.finished + sum(p.finished for p in parts) + int(count_strata(net, BOX, cells, time_limit=60)
                                                                  .counts.sum()) == exact
    strata, full, _ = oracle(index, 64)
    partial = count_strata(net, BOX, strata.cells, time_limit=1e-4)
    assert (partial.counts <= full).all() and (partial.counts[partial.exact] == full[partial.exact]).all()
    assert ((0 <= partial.done) & (partial.done <= 1)).all()


def test_labels_are_distinct_binary_places():
    order = np.random.default_rng(0).permutation(37)
    labels = order_labels(order)
    assert labels.shape == (37, 6) and len({row.tobytes() for row in labels}) == 37
    assert (labels[order[5]] == [1, 0, 1, 0, 0, 0]).all()


def test_cells_hold_each_stratum_with_probability_two_to_minus_r():
    """Over 3,000 trials, every stratum lies in a level-3 cell at rate 1/8 and pairs at rate 1/64; supports are
    independent, so on labels that fill {0,1}^6 every cell holds exactly 64/8 strata."""
    labels = order_labels(np.random.default_rng(1).permutation(64))
    member, parities = draw_cells(labels, level=3, trials=3000, seed=5)
    rate = member.mean(axis=0)
    assert np.abs(rate - 1 / 8).max() < 5 * math.sqrt(1 / 8 * 7 / 8 / 3000)
    both = (member[:, 0] & member[:, 1]).mean()
    assert abs(both - 1 / 64) < 5 * math.sqrt(1 / 64 / 3000)
    for xors in parities[:200]:
        A = np.zeros((3, 6), np.uint8)
        for row, (S, _) in enumerate(xors):
            A[row, list(S)] = 1
        assert _gf2_rank(A) == 3
    assert (member.sum(axis=1) == 8).all()


def test_heavy_strata_are_crowded_cells_most_points_first():
    """Heavy: at least 8 sample points and 4× the mean per stratum, most points first."""
    def cells(*points):
        return [type("Cell", (), {"points": np.zeros((n, 2))})() for n in points]

    assert heavy_strata(cells(*[0] * 14, 30, 100, 9, 60)).tolist() == [15, 17]     # 4 × 199/18 = 44.2
    assert heavy_strata(cells(*[0] * 9, 7)).size == 0                              # above 4× the mean, below 8


def test_systematic_cells_take_one_stratum_per_block():
    """With supports on the low r digits, a level-r cell is every place ≡ w (mod 2^r): exactly one stratum of
    each block of 2^r places, w uniform over 2,000 trials, each stratum in the cell at rate 2^−r."""
    m, r = 100, 3
    labels = order_labels(np.arange(m))
    member, _ = draw_cells(labels, level=r, trials=2000, seed=9, low=r)
    places = [np.flatnonzero(row) for row in member]
    assert all(len(p) in (12, 13) and len(set(p % 8)) == 1 and (np.diff(p) == 8).all() for p in places)
    offsets = np.bincount([p[0] for p in places], minlength=8)
    assert binomtest(int(offsets.min()), 2000, 1 / 8).pvalue > 1e-3 and offsets.sum() == 2000
    assert np.abs(member.mean(axis=0) - 1 / 8).max() < 5 * math.sqrt(1 / 8 * 7 / 8 / 2000)


def test_ranked_places_put_large_classes_first_and_known_last():
    classes = np.array([3, 0, 3, 1, 0, 2])
    known = np.array([False, False, True, False, False, False])
    places = rank_strata(classes, np.array([5, 4, 3, 2, 1, 0]), known)
    assert places.tolist() == [4, 1, 3, 5, 0, 2]     # class 0 (random order: 4 before 1), 1, 2, 3; known last


def _gf2_rank(A):
    rows = [int("".join(map(str, r)), 2) for r in A]
    rank = 0
    for bit in reversed(range(A.shape[1])):
        pivot = next((r for r in rows if r >> bit & 1), None)
        if pivot is None:
            continue
        rows = [r ^ pivot if r >> bit & 1 else r for r in rows if r != pivot]
        rank += 1
    return rank


@pytest.mark.parametrize("index", range(3))
def test_error_rate_within_confidence(index):
    """10,000 oracle-counted cells per net in 1,000 bounds of t = 10: for every rule (and with a fixed quarter of
    the strata moved from the cells to the offset, as the pilot's exact strata are) the share of bounds
    d₀ + c_(k)·2^(r−α) above N is not significantly above 1 − p; the same test rejects the bound without slack
    (largest cell, α = 0)."""
    p, t, groups = 0.95, 10, 1000
    strata, counts, n = oracle(index, 64)
    labels = order_labels(np.argsort(-counts, kind="stable"))       # sorted by size: systematic cells' worst order
    known = np.random.default_rng(4).random(len(counts)) < 0.25     # a pilot's exact strata: fixed before the XORs
    wrong, no_slack = {"all": 0, "majority": 0, "k=3": 0, "pilot in offset": 0}, 0
    for level in (2, 4):
        for g in range(groups // 2):
            member, _ = draw_cells(labels, level=level, trials=t, seed=1000 * index + g, low=level if g % 2 else None)
            ranked = np.sort(member.astype(np.int64) @ counts)[::-1]
            for rule, k in (("all", t), ("majority", majority_k(t, 0.2)), ("k=3", 3)):
                wrong[rule] += strata.finished + ranked[k - 1] * 2.0 ** (level - alpha_for(t, p, k)) > n
            rest = np.sort((member & ~known).astype(np.int64) @ counts)[::-1][t - 1]
            wrong["pilot in offset"] += strata.finished + counts[known].sum() + rest * 2.0 ** (
                level - alpha_for(t, p, t)) > n
            no_slack += strata.finished + ranked[0] * 2.0 ** level > n
    for rule, w in wrong.items():
        assert binomtest(w, groups, 1 - p, alternative="greater").pvalue > 1e-3, (rule, w)
    assert binomtest(no_slack, groups, 1 - p, alternative="greater").pvalue < 1e-3     # the test has power


def test_pipeline_counts_the_oracle_cells():
    """In this process with time to spare, the result's trial counts are the oracle counts of the cells its seed
    draws, and both parts follow from them."""
    index, seed, target = 0, 3, 64
    net = NETS[index]
    strata = split_strata(net, BOX, target=target, time_limit=60, seed=seed)   # the seed's samples steer the split
    counts = count_strata(net, BOX, strata.cells, time_limit=60).counts
    n = strata.finished + int(counts.sum())
    res = mipbound(net, BOX, time_limit=20, seed=seed, options=MipBoundOptions(workers=1, strata_target=target))
    assert res.mode == "strata" and res.status == "complete" and res.strata == len(counts)
    order = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_PILOT,))).permutation(len(counts))
    heavy = heavy_strata(strata.cells)                   # time to spare: the heavy strata, then 64/8 random ones,
    pilot = np.concatenate([heavy, order[~np.isin(order, heavy)][:8]])    # are counted exactly
    known = np.isin(np.arange(len(counts)), pilot)       # ... and they join the offset instead of the cells
    places = rank_strata(size_classes(strata.cells, net.hidden_widths), order, known)
    member, _ = draw_cells(order_labels(places), level=res.level, trials=res.trials, seed=seed, low=res.level)
    member[:, pilot] = False
    assert res.offset == strata.finished + counts[pilot].sum()
    assert res.counts == tuple(int(c) for c in member.astype(np.int64) @ counts)
    assert res.cell_count == sorted(res.counts, reverse=True)[res.k - 1]
    assert res.alpha == pytest.approx(alpha_for(res.trials, 0.95, res.k))
    value = res.offset + res.cell_count * 2.0 ** (res.level - res.alpha)
    assert res.probabilistic_lower_bound == (math.ceil(value - 1e-9) if res.cell_count else 0)
    assert res.certain_lower_bound == n                  # time to spare: every stratum was counted
    assert res.lower_bound == max(res.certain_lower_bound, res.probabilistic_lower_bound)


def test_strata_work_runs_on_any_executor():
    net = NETS[1]
    executor = CountingExecutor()
    try:
        res = mipbound(net, BOX, time_limit=3, options=MipBoundOptions(trials=4, strata_target=64), executor=executor)
    finally:
        executor.pool.shutdown()
    assert res.mode == "strata" and res.trials == 4 and res.strata > 0
    assert "split_strata" in executor.calls and "count_strata" in executor.calls
    assert res.certain_lower_bound <= oracle(1, 64)[2]


@pytest.mark.parametrize("time_limit", [0.02, 0.3])
def test_anytime_small_budgets_stay_valid(time_limit):
    """However little time it gets, strata mode answers with a certain part inside the exact count."""
    net = NETS[3]
    n = oracle(3, 64)[2]
    res = mipbound(net, BOX, time_limit=time_limit, options=MipBoundOptions(workers=1))
    assert 1 <= res.certain_lower_bound <= n and res.mode == "strata"
    assert res.lower_bound == max(res.certain_lower_bound, res.probabilistic_lower_bound)


def test_plan_fits_the_budget_and_follows_the_rule():
    rng = np.random.default_rng(0)
    sizes, classes = rng.exponential(50, 200), rng.integers(3, size=200)
    kwargs = dict(classes=np.sort(rng.integers(3, size=4000)), sizes=sizes * (1 + classes), size_classes=classes,
                  cost=0.01, confidence=0.95, delta=0.2, trials=None)
    r, t, k = plan_level(budget=4.0, rule="auto", **kwargs)
    assert 4000 * (1 - (1 - 2.0 ** -r) ** t) * 0.01 <= 4.0 * 1.5 and 1 <= k <= t
    assert plan_level(budget=4.0, rule="all", **kwargs)[2] == plan_level(budget=4.0, rule="all", **kwargs)[1]
    r_tight, _, _ = plan_level(budget=0.4, rule="auto", **kwargs)
    assert r_tight >= r                                 # less time: smaller cells
    assert plan_level(budget=4.0, rule="auto", **{**kwargs, "trials": 7})[1] == 7


def test_whole_pipeline_error_rate_over_seeds():
    """200 seeded runs of the whole strata mode (split, pilot, planner, cells) on one net: the share of
    probabilistic parts above the exact count is not significantly above 1 − p, and no certain part is."""
    index, runs = 2, 200
    n = oracle(index, 64)[2]
    results = [mipbound(NETS[index], BOX, time_limit=5, seed=seed, options=MipBoundOptions(workers=1, strata_target=64))
               for seed in range(runs)]
    assert all(r.mode == "strata" and r.certain_lower_bound <= n for r in results)
    wrong = sum(r.probabilistic_lower_bound > n for r in results)
    assert binomtest(wrong, runs, 0.05, alternative="greater").pvalue > 1e-3, wrong
    assert sum(r.probabilistic_lower_bound > 0 for r in results) > runs // 2          # the bounds are not all empty
