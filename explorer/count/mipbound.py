"""MIPBound-style probabilistic lower bound on the number of regions (after Serra & Ramalingam 2020).

Random parity (XOR) constraints on the binaries of the MILP of :mod:`explorer.count.milp` halve its
solution set in expectation; a trial adds XORs until FIND fails, and the levels reached by
independent trials bound the count from below with a stated confidence (spec §4, after MBound,
Gomes, Sabharwal & Selman 2006).  Our sound formulation; the paper's exact algorithm is not public.
"""

from __future__ import annotations

import math
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Callable

import highspy
import numpy as np

from ..errors import ExplorerError
from .exact import chord_points, sample_patterns
from .milp import Confirmer, ReluMilp, as_box, build_milp, find, new_solver
from ..net import Network

__all__ = ["LABEL", "RULES", "MipBoundResult", "mipbound", "alpha_for", "binomial_tail",
           "all_feasible_confidence", "majority_error", "majority_k"]

LABEL = "MIPBound-style lower bound (after Serra & Ramalingam 2020)"
RULES = ("majority", "all")
_EXECUTOR: list = []       # one process pool per process, created on first use


@dataclass(frozen=True)
class MipBoundResult:
    """A lower bound on the number of regions that holds with probability ≥ ``confidence``.

    Attributes
    ----------
    lower_bound : int
        max(⌈2^(r* − α)⌉, certain_lower_bound): the number to show.
    log2_bound : float
        r* − α, the probabilistic bound in bits.
    confidence : float
        P[lower_bound ≤ N_ε] ≥ confidence (N_ε: patterns FIND can reach, ≤ the true count).
    rule : "majority" or "all"
        Level r* reached by ``k`` of the trials (k = t for "all", ⌈t(1/2 + δ)⌉ for "majority").
    k : int
    alpha : float
        Slack α in 2^(r* − α), the smallest with P[Bin(t, 2^−α) ≥ k] ≤ 1 − confidence.
    xors_per_trial : tuple of int (t,)
        XOR constraints each trial survived (r_i).
    certain_lower_bound : int
        Distinct patterns proven to be regions (samples and LP-confirmed solutions).
    timeouts : int
        FIND solves that hit their time limit (counted as infeasible).
    epsilon : float
        ε of the strict-activity rows.
    n_binaries : int
        Unstable units, the length of the XOR-able vector.
    trials : int
    xor_length : "dense" or int
    encoding : "slack" or "parity"
    status : "complete" or "time limit" (some trial stopped at the budget; the bound stays valid)
    seconds : float
    label : str
    """

    lower_bound: int
    log2_bound: float
    confidence: float
    rule: str
    k: int
    alpha: float
    xors_per_trial: tuple
    certain_lower_bound: int
    timeouts: int
    epsilon: float
    n_binaries: int
    trials: int
    xor_length: object
    encoding: str
    status: str
    seconds: float
    label: str = LABEL


def mipbound(net: Network, box, *, trials: int = 10, confidence: float = 0.95, rule: str = "majority",
             delta: float = 0.2, xor_length="dense", encoding: str = "slack", solve_limit: float = 0.5,
             time_limit: float = 300.0, seed: int = 0, workers: int = 2, n_samples: int = 4096,
             chord_points_max: int = 2 ** 22, model: ReluMilp | None = None,
             progress: Callable[[float, str], None] | None = None) -> MipBoundResult:
    """Lower bound 2^(r* − α) on the regions of ``net`` in ``box`` from random XOR trials (spec §4.3).

    Each trial adds random XORs ⊕_{v∈S} z_v = b one at a time; a level counts as survived when a
    solution satisfies every XOR so far: the current solution, a pattern of the certified pool
    (regions met by uniform samples and random chords with every |g| ≥ ε, drawn before any XOR),
    or FIND.  With r_i the levels of trial i, r* is reached by at least k trials and
    P[2^(r* − α) > N_ε] ≤ P[Bin(t, 2^−α) ≥ k] ≤ 1 − confidence (Markov per trial, §4.4).

    Parameters
    ----------
    trials : int
        t independent trials, seeds from ``SeedSequence(seed).spawn(t)``.
    confidence : float in (0, 1)
    rule : "majority" (default, δ = ``delta``: higher bounds in our measurements) or "all" (k = t).
    xor_length : "dense" (each binary in S w.p. 1/2) or an int k ≥ 1 (|S| = k).
    encoding : "slack" (Σ_S z − 2y = b) or "parity" (parity-polytope rows when |S| ≤ 10, else slack).
    solve_limit : float
        Seconds per FIND; a timeout ends the trial (sound: it can only lower r_i).
    time_limit : float
        Seconds for the whole bound; trials stop at the deadline.
    workers : int
        Processes for the trials (2: a pool with HiGHS threads = 1; 1: in this process).
    n_samples, chord_points_max : int
        Uniform samples and at most this many chord pieces (:func:`explorer.count.exact.chord_points`,
        stopped early once a batch of chords adds < 0.05 % new patterns) for the certified pool,
        built by the worker processes; 0 and 0 give the plain §4.3 loop.
    model : ReluMilp, optional
        A prebuilt ``build_milp(net, box)`` (margin "both").

    Raises
    ------
    ExplorerError
        Bad trials, confidence, rule, XOR length or encoding.

    Notes
    -----
    ``lower_bound`` is max(⌈2^(r* − α)⌉, certain count): both are valid, the second always.  On the
    family of ``bench/bench_counting.py`` the certified pool carried the bound (1/5 to all of the
    exact count in ≈ 1–5 s); HiGHS FIND solves under dense XORs rarely finished within the solve
    limit beyond the pool's levels, so 2^(r* − α) added little there.  With ``workers > 1`` a
    script must guard its entry point with ``if __name__ == "__main__":`` (forkserver/spawn).
    """
    start = time.perf_counter()
    if int(trials) < 1:
        raise ExplorerError(f"MIPBound needs at least one trial; got {trials}.")
    if not 0.0 < confidence < 1.0:
        raise ExplorerError(f"the confidence must lie strictly between 0 and 1; got {confidence}.")
    if rule not in RULES:
        raise ExplorerError(f"rule must be one of {RULES}; got {rule!r}.")
    if rule == "majority" and not 0.0 < delta <= 0.5:
        raise ExplorerError(f"the majority margin delta must lie in (0, 1/2]; got {delta}.")
    if encoding not in ("slack", "parity"):
        raise ExplorerError(f"encoding must be 'slack' or 'parity'; got {encoding!r}.")
    xor_length = _parse_length(xor_length)
    box = as_box(box, net.n_inputs)
    model = build_milp(net, box) if model is None else model
    trials = int(trials)
    k = trials if rule == "all" else majority_k(trials, delta)
    alpha = alpha_for(trials, confidence, k)
    if model.n_binaries == 0:                 # every unit is stable: the box is one region
        return MipBoundResult(1, 0.0, 1.0, rule, k, alpha, (0,) * trials, 1, 0, model.epsilon, 0, trials,
                              xor_length, encoding, "complete", time.perf_counter() - start)
    deadline = time.time() + max(0.0, time_limit - (time.perf_counter() - start))
    parts = max(1, min(int(workers), 8))
    jobs = [(net, box, model.units, model.epsilon, n_samples if part == 0 else 0, chord_points_max // parts,
             seed, part, parts, deadline) for part in range(parts)]
    seen = set().union(*(map(lambda a: _pool_part(*a), jobs) if parts == 1 else
                         _executor(parts).map(_pool_part, *zip(*jobs))))
    width = (model.n_binaries + 7) // 8      # distinct patterns in N_ε, bit-packed: (P, ⌈u/8⌉)
    pool = np.frombuffer(b"".join(sorted(seen)), dtype=np.uint8).reshape(-1, width).copy()
    if progress is not None:
        progress(0.0, f"{len(pool)} regions certified by sampling")
    seeds = np.random.SeedSequence(seed).spawn(trials)
    args = [(model, pool, s, xor_length, encoding, solve_limit, deadline) for s in seeds]
    results = []
    if workers <= 1 or trials == 1:
        for i, a in enumerate(args):
            results.append(_trial(*a))
            if progress is not None:
                progress((i + 1) / trials, f"trial {i + 1}/{trials}: {results[-1][0]} XORs")
    else:
        futures = [_executor(workers).submit(_trial, *a, threads=1) for a in args]
        for i, fut in enumerate(as_completed(futures)):
            results.append(fut.result())
            if progress is not None:
                progress((i + 1) / trials, f"trial {i + 1}/{trials}: {results[-1][0]} XORs")
    levels = tuple(int(r) for r, _, _, _ in results)
    found = set(map(bytes, pool)).union(*(f for _, f, _, _ in results))
    certain = max(len(found), 1)
    r_star = sorted(levels, reverse=True)[k - 1]
    log2_bound = r_star - alpha
    status = "time limit" if any(late for _, _, _, late in results) else "complete"
    return MipBoundResult(max(math.ceil(2.0 ** log2_bound), certain), log2_bound, float(confidence), rule, k,
                          alpha, levels, certain, sum(t for _, _, t, _ in results), model.epsilon,
                          model.n_binaries, trials, xor_length, encoding, status, time.perf_counter() - start)


# ---- confidence (spec §4.4) ---------------------------------------------------------------------------
def binomial_tail(t: int, q: float, k: int) -> float:
    """P[Bin(t, q) ≥ k], summed exactly."""
    return float(sum(math.comb(t, j) * q ** j * (1 - q) ** (t - j) for j in range(k, t + 1)))


def alpha_for(trials: int, confidence: float, k: int) -> float:
    """Smallest α ≥ 0 with P[Bin(t, 2^−α) ≥ k] ≤ 1 − p; for k = t it is log2(1/(1−p))/t.

    Examples
    --------
    >>> round(alpha_for(10, 0.99, 10), 4), round(alpha_for(20, 0.95, 20), 4)
    (0.6644, 0.2161)
    """
    if k == trials:
        return math.log2(1.0 / (1.0 - confidence)) / trials
    lo, hi = 0.0, 1.0                     # invariant: tail(lo) ≤ 1 − p < tail(hi)
    if binomial_tail(trials, hi, k) <= 1.0 - confidence:
        return 0.0
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if binomial_tail(trials, mid, k) <= 1.0 - confidence else (lo, mid)
    return -math.log2(lo)


def all_feasible_confidence(trials: int, alpha: float) -> float:
    """1 − 2^(−α·t): confidence of the all-feasible rule (k = t)."""
    return 1.0 - 2.0 ** (-alpha * trials)


def majority_k(trials: int, delta: float) -> int:
    """k = ⌈t·(1/2 + δ)⌉ trials that must reach the level (computed without float round-up)."""
    return min(trials, math.ceil(trials * (0.5 + delta) - 1e-9))


def majority_error(trials: int, alpha: float, delta: float) -> tuple[float, float]:
    """Error bounds of the majority rule: (Chernoff, exact binomial P[Bin(t, 2^−α) ≥ k]).

    Chernoff: (e^β / (1+β)^(1+β))^(t/2^α) with β = 2^α·(1/2 + δ) − 1 > 0.
    """
    beta = 2.0 ** alpha * (0.5 + delta) - 1.0
    chernoff = (math.exp(beta) / (1 + beta) ** (1 + beta)) ** (trials / 2.0 ** alpha) if beta > 0 else 1.0
    return chernoff, binomial_tail(trials, 2.0 ** -alpha, majority_k(trials, delta))


# ---- one trial (runs in a worker process) --------------------------------------------------------------
def _trial(model: ReluMilp, pool: np.ndarray, seed, xor_length, encoding: str, solve_limit: float,
           deadline: float, threads: int | None = None) -> tuple[int, set, int, bool]:
    """(r_i, packed LP-confirmed patterns found, timeouts, stopped by the deadline) of one nested trial."""
    rng = np.random.default_rng(seed)
    n = model.n_binaries
    state = {"solver": None, "confirm": None, "added": 0, "timeouts": 0, "late": False}
    found: set = set()
    xors: list = []

    def solve():                                        # FIND under every XOR drawn so far, or None
        left = min(solve_limit, deadline - time.time())
        if left <= 0:
            state["late"] = True
            return None
        if state["solver"] is None:
            state["solver"], state["confirm"] = new_solver(model, threads=threads), Confirmer(model)
        for S, b in xors[state["added"]:]:
            _add_xor(state["solver"], model, S, b, encoding)
        state["added"] = len(xors)
        res = find(state["solver"], model, time_limit=left)
        if res.status == "timeout":
            state["timeouts"] += 1
            state["late"] = left < solve_limit
        if res.status != "found":
            return None
        if state["confirm"](res.z):
            found.add(np.packbits(res.z).tobytes())
        return res.z

    def unpack(row):
        return np.unpackbits(row, count=n).astype(bool)

    z = unpack(pool[0]) if len(pool) else solve()
    alive = np.arange(len(pool))                        # pool patterns satisfying every XOR so far
    r = 0
    while z is not None and r < n:
        S = _draw_support(rng, n, xor_length)
        b = int(rng.integers(2))
        xors.append((S, b))
        mask = np.packbits(np.isin(np.arange(n), S))
        alive = alive[(np.bitwise_count(pool[alive] & mask).sum(axis=1) & 1) == b]
        if z[S].sum() % 2 != b:                          # the incumbent fails: a pool pattern, else FIND
            z = unpack(pool[alive[0]]) if alive.size else solve()
        r += z is not None
    return r, found, state["timeouts"], state["late"]


def _pool_part(net: Network, box: np.ndarray, units: np.ndarray, epsilon: float, n_samples: int,
               max_points: int, seed: int, part: int, parts: int, deadline: float) -> set:
    """Packed patterns of the unstable units at points where every |g| ≥ ε (hence in N_ε): samples, chords."""
    seen: set = set()

    def add(x: np.ndarray) -> int:
        g = np.concatenate(net.preactivations(x), axis=1)[:, units]
        before = len(seen)
        seen.update(map(bytes, np.packbits(g[(np.abs(g) >= epsilon).all(axis=1)] > 0, axis=1)))
        return len(seen) - before

    if n_samples > 0:
        add(sample_patterns(net, box, n_samples=n_samples, seed=seed)[0])
    done, batch = 0, part
    while done < max_points and time.time() < deadline:
        x = chord_points(net, box, n_lines=2000, seed=(seed, batch))
        new = add(x)
        done, batch = done + len(x), batch + parts
        if new < 5e-4 * len(x):                          # saturated: chords mostly revisit regions
            break
    return seen


def _draw_support(rng: np.random.Generator, n: int, xor_length) -> np.ndarray:
    if xor_length == "dense":
        while True:
            S = np.flatnonzero(rng.random(n) < 0.5)
            if S.size:
                return S
    return np.sort(rng.choice(n, size=min(int(xor_length), n), replace=False))


def _add_xor(solver: highspy.Highs, model: ReluMilp, S: np.ndarray, b: int, encoding: str) -> None:
    """⊕_{v∈S} z_v = b as one slack row Σ_S z − 2y = b, or as the 2^(|S|−1) parity-polytope rows."""
    cols = model.z_cols[S].astype(np.int32)
    if encoding == "parity" and S.size <= 10:
        masks = np.arange(2 ** S.size)
        T = (masks[:, None] >> np.arange(S.size)) & 1                    # (2^|S|, |S|) subsets
        T = T[T.sum(axis=1) % 2 != b]                                    # |T| ≢ b (mod 2)
        for t in T:                                                      # Σ_T z − Σ_{S∖T} z ≤ |T| − 1
            solver.addRow(-highspy.kHighsInf, float(t.sum() - 1), cols.size, cols, 2.0 * t - 1.0)
        return
    y = solver.getNumCol()
    solver.addVar(0.0, float((S.size - b) // 2))
    solver.changeColIntegrality(y, highspy.HighsVarType.kInteger)
    solver.addRow(float(b), float(b), cols.size + 1, np.r_[cols, y].astype(np.int32),
                  np.r_[np.ones(cols.size), -2.0])


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


def _one_blas_thread() -> None:
    """Worker initialiser: the workers already use every core, so BLAS must not spawn threads too."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


def _executor(workers: int) -> ProcessPoolExecutor:
    """The process pool of this process (forkserver: workers never inherit HiGHS or Streamlit state)."""
    if not _EXECUTOR or _EXECUTOR[0][0] != workers:
        if _EXECUTOR:
            _EXECUTOR.pop()[1].shutdown()
        method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
        _EXECUTOR.append((workers, ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method),
                                                       initializer=_one_blas_thread)))
    return _EXECUTOR[0][1]
