"""MIPBound-style probabilistic lower bound on the number of regions (after Serra & Ramalingam 2020).

Random parity (XOR) constraints on the binaries of the MILP of :mod:`explorer.count.milp` cut its
solution set into cells; every pattern lands in a given cell of level r with probability exactly 2^−r
(the parities b_j are uniform and independent of the supports), so a cell holds N·2^−r patterns on
average, and by Markov's inequality P[a cell holds ≥ s patterns] ≤ N·2^−r/s.  If at least k of t
independent trials see ≥ s witnesses, N ≥ s·2^(r − α) with confidence P[Bin(t, 2^−α) < k] (spec §4.4,
after MBound, Gomes, Sabharwal & Selman 2006).  Our sound formulation; the paper's exact algorithm is
not public.

Three trial modes (:mod:`explorer.count.trial` and :func:`explorer.count.strata.count_strata` run the work as
plain data, the seam for any executor):

* ``"strata"`` (default; :mod:`explorer.count.strata_bound`): the XORs act on *strata labels*, not on
  the MILP's binaries.  The exact counter's subdivision tree is split, largest subtree first, into strata (whole
  subtrees, N = d₀ + Σ n_s); each stratum gets a random binary label, a cell is the set of strata whose
  labels satisfy the trial's XORs, and it is counted by the compiled walk at the exact counter's speed on
  every worker.  Same Markov/binomial argument, so the bound is on N itself (the regions ``count_exact``
  counts), and every region counted is also certain.  "auto" falls back to the MILP modes below when the
  walk refuses the network (a decision float64 cannot certify).
* ``"count"``: a pilot estimates N and fixes a level r (independent of the trials'
  randomness); each trial draws r dense XORs and counts the witnesses of its one cell — every GF(2)
  solution checked by LP when the cell's solution space is small enough, otherwise FIND with no-good
  cuts under short balanced XORs.  With c_(k) the k-th largest count, N ≥ c_(k)·2^(r − α): the events
  [c_i ≥ s] are nested in s, so choosing s = c_(k) after the fact needs no union bound.
* ``"nested"`` (MBound's 2^r·s variant, spec §4.3 for s = 1): each trial adds XORs while its cell keeps
  s witnesses; with r* the level reached by k trials, N ≥ s·2^(r* − α).

The certain part is the number of distinct patterns proven to be regions (strata counted by the exact walk;
in the MILP modes chord samples with a margin and LP-confirmed solutions); the headline is the larger of the
two, with the guarantee of the one that wins.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from ..errors import ExplorerError
from .confidence import alpha_for, all_feasible_confidence, binomial_tail, majority_error, majority_k
from .milp import ReluMilp, build_milp
from .pool import ready, submitter
from .strata_bound import strata_bound
from .trial import TrialSettings, run_trial, sample_pool, subdivide, trial_problem
from ..net import Network, as_box

__all__ = ["LABEL", "RULES", "MODES", "MipBoundOptions", "MipBoundResult", "mipbound", "tightening_share", "alpha_for",
           "binomial_tail", "all_feasible_confidence", "majority_error", "majority_k"]

LABEL = "MIPBound-style lower bound (after Serra & Ramalingam 2020)"
RULES = ("auto", "all", "majority")
MODES = ("auto", "strata", "count", "nested")
_LOCAL_BELOW = 1.0          # strata mode: time limits (s) below this stay in this process unless the workers are up
_PILOT = 1_000_000          # spawn keys of pilot trials: disjoint from the t trials' keys 0..t-1


@dataclass(frozen=True, kw_only=True)
class MipBoundOptions:
    """Options of :func:`mipbound`; the defaults are the ones ``bench/bench_counting.py`` chose.

    trials : t independent trials (None: chosen by the pilot: 3–32 for strata, 10–40 for counting, 10 for
        nested trials)
    confidence : p in (0, 1)
    rule : "auto" (default: k chosen before the trials from the pilot's estimate), "all" (k = t) or
        "majority" (k = ⌈t(1/2 + δ)⌉; nested trials use it under "auto")
    delta : δ of the majority rule
    mode : "auto" (default: strata, else counting when cells can be enumerated, else subdivision and nested
        trials), "strata", "count" or "nested" (see the module docstring)
    strata_target : strata mode: split the tree into at most about this many strata (more strata give
        less variable cells; splitting stops at 15 % of the time limit)
    cell_solutions : s of the nested mode
    cell_target : counting mode: the pilot picks the level whose cells hold about this many regions
    xor_length : XORs for FIND searches: "dense" or k ≥ 1 binaries (short XORs are sound, spec §4.1)
    encoding : "parity" (convex-hull rows, |S| ≤ 8) or "slack"
    balance_candidates : supports tried per short XOR, keeping the one that splits the pool most evenly
    enumerate_limit : most GF(2) candidates a counting trial may check by LP (else it uses FIND)
    pool_share : share of the time limit for the chord pool (it stops earlier once saturated)
    heuristic_effort, presolve : HiGHS options of FIND
    workers : processes (1: in this process); with an executor, its ``n_workers`` if it has one
    """

    trials: int | None = None
    confidence: float = 0.95
    rule: str = "auto"
    delta: float = 0.2
    mode: str = "auto"
    strata_target: int = 16384
    cell_solutions: int = 1
    cell_target: int = 32
    xor_length: object = 3
    encoding: str = "parity"
    balance_candidates: int = 32
    enumerate_limit: int = 2 ** 14
    pool_share: float = 0.2
    heuristic_effort: float = 0.05
    presolve: bool = True
    workers: int = 2

    def __post_init__(self) -> None:
        if self.trials is not None and (isinstance(self.trials, bool) or not isinstance(self.trials, int)
                                        or not 1 <= self.trials <= 10_000):
            raise ExplorerError(f"MIPBound needs 1–10000 trials; got {self.trials!r}.")
        if not 0.0 < self.confidence < 1.0:
            raise ExplorerError(f"the confidence must lie strictly between 0 and 1; got {self.confidence}.")
        if self.rule not in RULES:
            raise ExplorerError(f"rule must be one of {RULES}; got {self.rule!r}.")
        if self.rule == "majority" and not 0.0 < self.delta <= 0.5:
            raise ExplorerError(f"the majority margin delta must lie in (0, 1/2]; got {self.delta}.")
        if self.mode not in MODES:
            raise ExplorerError(f"mode must be one of {MODES}; got {self.mode!r}.")
        if self.encoding not in ("slack", "parity"):
            raise ExplorerError(f"encoding must be 'slack' or 'parity'; got {self.encoding!r}.")
        object.__setattr__(self, "xor_length", _parse_length(self.xor_length))
        for key, lo in (("strata_target", 1), ("cell_solutions", 1), ("cell_target", 1), ("balance_candidates", 1),
                        ("enumerate_limit", 1), ("workers", 1)):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < lo:
                raise ExplorerError(f"{key} must be an integer ≥ {lo}; got {value!r}.")
        if not 0.0 <= self.pool_share <= 0.9:
            raise ExplorerError(f"pool_share must lie in [0, 0.9]; got {self.pool_share}.")


@dataclass(frozen=True, kw_only=True)
class MipBoundResult:
    """Certain and probabilistic lower bounds on the regions of a network in a box.

    Attributes
    ----------
    lower_bound : int — max(certain, probabilistic): the number to show
    source : "certain" or "probabilistic" — which part gave ``lower_bound`` (its guarantee applies)
    certain_lower_bound : int — distinct patterns proven to be regions (always holds)
    probabilistic_lower_bound : int — ⌈offset + s·2^(r − α)⌉, 0 if no trial found a witness;
        P[it exceeds the count] ≤ 1 − confidence.  Strata mode: the count is N, the exact counter's; the
        MILP modes: |Ω| ≤ N, Ω = the patterns LP confirmation accepts (regions with interior)
    log2_probabilistic : float or None — log2 of offset + s·2^(r − α)
    confidence : float
    mode : "strata", "count" or "nested" (the mode used);  trials : t;  k : trials that had to reach (r, s)
    alpha : slack α, the smallest with P[Bin(t, 2^−α) ≥ k] ≤ 1 − confidence
    level : r — the counted level (strata, count) or r* (nested);  cell_count : s — c_(k) (strata, count) or s
    levels, counts : tuple of int (t,) — each trial's level and witnesses (strata: regions in its cell)
    pool_size : patterns of the chord pool (strata mode: 0);  solves, timeouts : FIND solves (strata: LPs of
        the walk) and timeouts
    epsilon : float — ε of the strict-activity rows;  n_binaries : unstable units
    strata : strata mode: m, the strata the tree was split into (0 otherwise)
    offset : strata mode: d₀ plus the pilot's exactly counted strata (known exactly; 0 otherwise)
    status : "complete" or "time limit" (some trial stopped at its share of the time: the bound stays valid)
    seconds : float;  options : MipBoundOptions;  label : str
    """

    lower_bound: int
    source: str
    certain_lower_bound: int
    probabilistic_lower_bound: int
    log2_probabilistic: float | None
    confidence: float
    mode: str
    trials: int
    k: int
    alpha: float
    level: int
    cell_count: int
    levels: tuple
    counts: tuple
    pool_size: int
    solves: int
    timeouts: int
    epsilon: float
    n_binaries: int
    status: str
    seconds: float
    options: MipBoundOptions
    strata: int = 0
    offset: int = 0
    label: str = LABEL

    @property
    def guarantee(self) -> str:
        """"certain" or "probabilistic, confidence p": the guarantee of ``lower_bound``."""
        return "certain" if self.source == "certain" else f"probabilistic, confidence {self.confidence:g}"


def mipbound(net: Network, box, *, time_limit: float = 30.0, seed: int = 0, options: MipBoundOptions | None = None,
             model: ReluMilp | None = None, executor=None,
             progress: Callable[[float, str], None] | None = None) -> MipBoundResult:
    """Certain and probabilistic lower bounds on the regions of ``net`` in ``box``, using all of ``time_limit``.

    Strata mode (default): split the tree into strata, count a pilot sample, pick the level and the
    trials, count the trial cells on all workers, then further strata with the time left (see
    :mod:`explorer.count.strata_bound`).  MILP modes: a chord pool of certified patterns
    (``options.pool_share`` of the time at most), a pilot that fixes the level r and the number of trials
    (count mode), then t trials sharing the rest of the time (after a subdivision of the box for sparse
    pattern spaces); time the trials leave over goes to the subdivision.  More time gives more strata
    counted, larger counted cells (or deeper levels) and more trials.  ``executor`` is anything with
    ``submit(fn, *args, **kwargs)`` returning a future with ``result()`` (a process pool, a Dask client,
    :meth:`explorer.executor.Executor.as_pool`);
    the default is this process's pool of ``options.workers`` processes (one HiGHS and BLAS thread each),
    started once and kept warm.

    Raises
    ------
    ExplorerError
        A bad box or time limit (options validate themselves); in mode "strata", a network the exact walk
        refuses.

    Notes
    -----
    With ``workers > 1`` a script must guard its entry point with ``if __name__ == "__main__":``.
    """
    start = time.perf_counter()
    opts = MipBoundOptions() if options is None else options
    if not (isinstance(time_limit, (int, float)) and math.isfinite(time_limit) and time_limit > 0):
        raise ExplorerError(f"the time limit must be a positive number of seconds; got {time_limit!r}.")
    box = as_box(box, net.n_inputs)
    submit = submitter(executor, opts.workers)
    workers = max(1, getattr(executor, "n_workers", opts.workers))
    model = build_milp(net, box, deadline=start + tightening_share(opts) * time_limit) if model is None else model
    if model.n_binaries == 0:                      # every unit is stable: the box is one region
        return _result(opts, model, start, certain=1, mode=opts.mode, level=0, cell=1, k=0, alpha=0.0, trials=(),
                       other=(), pool_size=1, log2p=0.0)
    report = progress or (lambda f, m: None)
    if opts.mode in ("auto", "strata"):
        try:
            warm = ready(executor, opts.workers)
            found = strata_bound(net, box, time_limit=time_limit - (time.perf_counter() - start), seed=seed,
                                 confidence=opts.confidence, rule=opts.rule, delta=opts.delta, trials=opts.trials,
                                 target=opts.strata_target, submit=submit, workers=workers,
                                 local=executor is None and (opts.workers <= 1 or (time_limit < _LOCAL_BELOW
                                                                                   and not warm())),
                                 ready=warm, progress=report)
        except ExplorerError:
            if opts.mode == "strata":
                raise
            found = None                           # the walk refuses this network: the MILP modes
        if found is not None and (found.hashed or opts.mode == "strata"):
            return _strata_result(opts, model, start, found)
    return _milp_modes(net, box, opts, model, start, time_limit, seed, submit, report, workers)


def tightening_share(options: MipBoundOptions) -> float:
    """Share of MIPBound's time limit its MILP's bound tightening may take: the strata mode uses the MILP only to
    report ε and the unstable units (and as the fallback), so it leaves the time to the strata."""
    return 0.02 if options.mode in ("auto", "strata") else 0.2


def _milp_modes(net, box, opts, model, start, time_limit, seed, submit, report, workers) -> MipBoundResult:
    """The count and nested modes on the MILP of spec §2 (see the module docstring)."""
    n = model.n_binaries
    left = lambda: max(time_limit - (time.perf_counter() - start), 0.05)  # noqa: E731
    parts = [submit(sample_pool, trial_problem(model), seed=seed, part=i, time_limit=opts.pool_share * left())
             for i in range(workers)]
    pool = np.unique(np.concatenate([p.result().patterns for p in parts]), axis=0)
    problem = trial_problem(model, pool)
    report(0.2, f"{len(pool):,} regions certified by chords")
    plan = _plan(problem, opts, n, len(pool), seed, submit, left, workers)
    report(0.3, f"{plan.mode} trials" + (f" counting cells of level {plan.level}" if plan.mode == "count" else ""))
    slabs = []
    if plan.subdivide:                             # sparse patterns: certify regions by subdivision
        futures = [submit(subdivide, problem, part=i, parts=workers, time_limit=0.9 * left()) for i in range(workers)]
        slabs = [f.result().patterns for f in futures]
        report(0.6, "regions certified by subdivision")
    t = plan.trials
    share = left() * workers / t
    futures = [submit(run_trial, problem, plan.settings, seed=seed, index=i, time_limit=share, level=plan.level)
               for i in range(t)]
    trials = []
    for i, fut in enumerate(futures):
        trials.append(fut.result())
        report(0.6 + 0.4 * (i + 1) / t, f"trial {i + 1}/{t}")
    if left() > 0.1 * time_limit:                  # time left over: more certain regions by subdivision
        futures = [submit(subdivide, problem, part=i, parts=workers, time_limit=left() - 0.05)
                   for i in range(workers)]
        slabs += [f.result().patterns for f in futures]
    found = [pool, *slabs, *(r.witnesses for r in trials + plan.pilots)]
    certain = len(np.unique(np.concatenate(found), axis=0)) if sum(map(len, found)) else 0
    alpha = alpha_for(t, opts.confidence, plan.k)
    if plan.mode == "count":
        cell, level = sorted((r.count for r in trials), reverse=True)[plan.k - 1], plan.level
    else:
        cell, level = plan.settings.cell_solutions, sorted((r.level for r in trials), reverse=True)[plan.k - 1]
    return _result(opts, model, start, certain=max(certain, 1), mode=plan.mode, level=level, cell=cell, k=plan.k,
                   alpha=alpha, trials=tuple(trials), other=plan.pilots, pool_size=len(pool),
                   log2p=None if cell <= 0 else math.log2(cell) + level - alpha)


def _strata_result(opts, model, start, found) -> MipBoundResult:
    value = found.offset + found.cell * 2.0 ** (found.level - found.alpha)
    prob = math.ceil(value - 1e-9) if found.cell > 0 else 0
    certain = max(found.certain, 1)
    return MipBoundResult(
        lower_bound=max(prob, certain), source="probabilistic" if prob > certain else "certain",
        certain_lower_bound=certain, probabilistic_lower_bound=prob,
        log2_probabilistic=math.log2(value) if found.cell > 0 else None, confidence=opts.confidence, mode="strata",
        trials=found.trials, k=found.k, alpha=found.alpha, level=found.level, cell_count=found.cell,
        levels=(found.level,) * found.trials, counts=found.counts, pool_size=0, solves=found.solves, timeouts=0,
        epsilon=model.epsilon, n_binaries=model.n_binaries, status="complete" if found.complete else "time limit",
        seconds=time.perf_counter() - start, options=opts, strata=found.strata, offset=found.offset)


@dataclass(frozen=True)
class _Plan:
    mode: str                 # "count" or "nested"
    level: int | None         # the counted level (count mode)
    trials: int
    k: int
    settings: TrialSettings
    subdivide: bool
    pilots: list


def _plan(problem, opts: MipBoundOptions, n: int, pool_size: int, seed: int, submit, left, workers: int) -> _Plan:
    """How to spend the time: count cells by LP enumeration, or certify by subdivision and run nested trials.

    A probe (its own random stream, so every choice here is independent of the trials' parities)
    enumerates one cell of level n − 10 (≤ 1,024 GF(2) candidates) and estimates N as count·2^r (scaled
    by the share it checked) and the seconds per LP.  With M the regions the trials can afford to meet
    (0.45 of the remaining time at that rate, times the density), counting mode takes t = M/16 trials
    (10 to 40) of the shallowest level that one trial can enumerate, if its cells hold ≥ 2 regions on
    average; the rule "auto" then picks k to maximise the expected bound for Poisson cell counts.  Sparse
    pattern spaces (cells too empty to count, where FIND under XORs rarely finishes either) spend 90 % of
    the time on subdivision, which certifies regions at the exact counter's rate on every worker, and the
    rest on nested trials.
    """
    settings = TrialSettings(xor_length=opts.xor_length, encoding=opts.encoding,
                             balance_candidates=opts.balance_candidates, cell_solutions=opts.cell_solutions,
                             heuristic_effort=opts.heuristic_effort, presolve=opts.presolve,
                             enumerate_limit=opts.enumerate_limit)
    nested_t = opts.trials or 10
    nested_k = {"all": nested_t}.get(opts.rule, majority_k(nested_t, opts.delta))
    if opts.mode == "nested":
        return _Plan("nested", None, nested_t, nested_k, settings, False, [])
    dense = replace(settings, xor_length="dense")
    r_probe = max(0, n - 10)
    probe = submit(run_trial, problem, dense, seed=seed, index=_PILOT, time_limit=0.06 * left(), level=r_probe
                   ).result()
    density = probe.count / max(probe.checked, 1) if probe.checked else 0.0     # regions per GF(2) candidate
    estimate = max(density * 2.0 ** n, pool_size, 1.0)
    lp_seconds = probe.seconds / max(probe.checked, 1)
    affordable = min(0.45 * left() * workers / lp_seconds, 40 * opts.enumerate_limit)  # candidates, all trials
    t = opts.trials or int(min(40, max(10, affordable * density / 16)))
    level = int(min(n, max(0, n - math.floor(math.log2(max(min(affordable / t, opts.enumerate_limit), 1.0))))))
    mu = estimate * 2.0 ** -level
    if mu >= 2 or opts.mode == "count":
        if mu >= 2:
            return _Plan("count", level, t, _count_k(t, opts, mu), dense, False, [probe])
        level = int(min(n, max(0, math.ceil(math.log2(estimate / opts.cell_target)))))
        return _Plan("count", level, t, _count_k(t, opts, opts.cell_target), replace(settings, enumerate_limit=0),
                     False, [probe])
    return _Plan("nested", None, nested_t, nested_k, settings, True, [probe])


def _count_k(t: int, opts: MipBoundOptions, mu: float) -> int:
    """k for counting trials: t ("all"), ⌈t(1/2 + δ)⌉ ("majority"), or ("auto") the k maximising
    E[k-th largest count]·2^−α(k) when the counts are Poisson with mean ``mu`` (a choice made before the
    trials run, so it costs no confidence)."""
    if opts.rule == "all":
        return t
    if opts.rule == "majority":
        return majority_k(t, opts.delta)
    from scipy.stats import poisson

    value = [poisson.ppf((t - k + 0.5) / t, mu) * 2.0 ** -alpha_for(t, opts.confidence, k) for k in range(1, t + 1)]
    return int(np.argmax(value)) + 1


def _result(opts, model, start, *, certain, mode, level, cell, k, alpha, trials, other, pool_size, log2p):
    prob = 0 if log2p is None else math.ceil(2.0 ** log2p - 1e-9)
    source = "probabilistic" if prob > certain else "certain"
    every = tuple(trials) + tuple(other)
    return MipBoundResult(
        lower_bound=max(prob, certain), source=source, certain_lower_bound=certain, probabilistic_lower_bound=prob,
        log2_probabilistic=log2p, confidence=opts.confidence, mode=mode,
        trials=len(trials), k=k, alpha=alpha, level=level, cell_count=cell, levels=tuple(r.level for r in trials),
        counts=tuple(r.count for r in trials), pool_size=pool_size, solves=sum(r.solves for r in every),
        timeouts=sum(r.timeouts for r in every), epsilon=model.epsilon, n_binaries=model.n_binaries,
        status="time limit" if any(r.stopped == "time limit" for r in trials) else "complete",
        seconds=time.perf_counter() - start, options=opts)


# ---- executors -------------------------------------------------------------------------------------------
def _parse_length(xor_length):
    if str(xor_length).strip().lower() == "dense":
        return "dense"
    try:
        k = int(xor_length)
    except (TypeError, ValueError):
        k = 0
    if k < 1:
        raise ExplorerError(f"the XOR length must be 'dense' or a positive integer; got {xor_length!r}.")
    return k
