"""One MIPBound trial and one share of the witness pool, as top-level functions of plain data (spec §4.3).

This is the seam for running MIPBound anywhere: :func:`run_trial` and :func:`sample_pool` take a
:class:`TrialProblem` (numpy arrays and floats: the network, the box, the unit bounds, ε), options and
seeds, build their HiGHS models inside, and return frozen results of plain arrays, so a process pool, a
Dask cluster or a plain loop can run them.  :func:`explorer.count.mipbound.mipbound` assembles the bound.

A trial draws random parity constraints ⊕_{v∈S_j} z_v = b_j one at a time and records the deepest level
r at which it has ``cell_solutions`` = s witnesses satisfying the first r.  Witnesses are patterns of
Ω = {patterns the LP confirmation of spec §2.3 accepts} ⊆ {regions with interior}: FIND solutions (margin
ε), chord points with every |g_i| ≥ ε, and LP-checked candidates all belong to it, so |Ω| ≤ N.
Soundness needs only that each b_j is uniform and independent of S_j and of everything before it:
then every fixed pattern survives r levels with probability exactly 2^−r, whatever the supports, so
the supports may be short and chosen from the history.  We choose each S_j among random k-subsets as
the one that splits the pool's surviving patterns most evenly, which keeps short XORs (easy for the
MILP) nearly as balanced as dense ones.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import highspy
import numpy as np

from .chords import chord_midpoints
from .milp import TOL, Confirmer, ReluMilp, UnitBounds, add_no_good, build_milp, find, new_solver
from ..net import Network

__all__ = ["TrialProblem", "TrialSettings", "TrialResult", "PoolResult", "run_trial", "sample_pool", "subdivide",
           "trial_problem", "trial_rng", "draw_parity", "pin_one_thread"]


@dataclass(frozen=True, eq=False)
class TrialProblem:
    """Everything a trial needs, as plain data (picklable; no solver, no torch).

    net : Network (numpy weights);  box : float64 (n0, 2)
    lower, upper : float64 (N,) — bounds of every pre-activation over the box (already tightened)
    epsilon : float — ε of the strict-activity rows of FIND
    pool : uint8 (P, ⌈u/8⌉) — bit-packed witness patterns of the u unstable units (in Ω), may be empty
    """

    net: Network
    box: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    epsilon: float
    pool: np.ndarray


@dataclass(frozen=True)
class TrialSettings:
    """The per-trial options (a subset of :class:`explorer.count.mipbound.MipBoundOptions`).

    xor_length : "dense" or k ≥ 1;  encoding : "parity" (convex hull rows when |S| ≤ 8) or "slack"
    balance_candidates : random k-subsets tried per level (1: no balancing)
    cell_solutions : s, witnesses a level needs
    heuristic_effort : HiGHS mip_heuristic_effort;  presolve : HiGHS presolve on/off
    enumerate_limit : a counting trial checks every pattern of its cell by LP when the cell's GF(2)
        solution space has at most this many points, else it counts with FIND and no-good cuts
    """

    xor_length: object = 3
    encoding: str = "parity"
    balance_candidates: int = 32
    cell_solutions: int = 1
    heuristic_effort: float = 0.05
    presolve: bool = True
    enumerate_limit: int = 4096


@dataclass(frozen=True)
class TrialResult:
    """Outcome of one trial.

    level : int — nested trial: deepest r with ≥ s witnesses among the patterns satisfying the first r XORs;
        counting trial: r, the level whose cell it counted
    count : int — s (nested) or the distinct witnesses found in the cell (counting)
    checked : int — GF(2) candidates of the cell checked by LP (counting by enumeration), else 0
    candidates : int — size of the cell's GF(2) solution space when it was enumerated, else 0
    witnesses : uint8 (W, ⌈u/8⌉) — patterns FIND found that passed LP confirmation (certain regions)
    solves, timeouts : FIND solves run and those that hit their time limit
    stopped : "empty" (proved), "timeout", "time limit", "found" (nested trial that needed no more) or
        "top" (level cap 2u reached)
    parities : tuple of (support, b) — the XORs ⊕_{v∈S} z_v = b the trial drew, binaries indexed 0..u−1
    seconds : float
    """

    level: int
    count: int
    checked: int
    candidates: int
    witnesses: np.ndarray
    solves: int
    timeouts: int
    stopped: str
    parities: tuple
    seconds: float


@dataclass(frozen=True)
class PoolResult:
    """Witness patterns (bit-packed, distinct) of one pool share, and the points it evaluated."""

    patterns: np.ndarray
    points: int
    seconds: float


def trial_problem(model: ReluMilp, pool: np.ndarray | None = None) -> TrialProblem:
    """The plain-data problem of a built model (and a pool, default empty)."""
    width = (model.n_binaries + 7) // 8
    pool = np.zeros((0, width), np.uint8) if pool is None else np.asarray(pool, np.uint8).reshape(-1, width)
    return TrialProblem(net=model.net, box=model.box, lower=model.bounds.lower, upper=model.bounds.upper,
                        epsilon=model.epsilon, pool=pool)


def run_trial(problem: TrialProblem, settings: TrialSettings, *, seed: int, index: int, time_limit: float,
              level: int | None = None) -> TrialResult:
    """One trial with its own random stream ``SeedSequence(seed, spawn_key=(index,))``.

    Nested (``level=None``): the level rises while the current cell holds s = ``cell_solutions`` witnesses
    (pool patterns, earlier solutions, new FIND solutions; no-good cuts exclude the known ones); the
    result's ``level`` is the last level reached and ``count`` is s.  Counting (``level=r``): draw r XORs,
    then count distinct witnesses of that one cell until it is proved exhausted or time runs out.
    A proved-empty cell, a timeout or the end of ``time_limit`` seconds ends the trial; each can only
    lower what it reports, so the bound stays sound.
    """
    start = time.perf_counter()
    model = _model(problem)
    rng = trial_rng(seed, index)
    n = model.n_binaries
    known = np.unpackbits(problem.pool, axis=1, count=n).astype(bool) if n else np.zeros((0, 0), bool)
    found: list = []
    search = _Search(model, settings, found, start + time_limit)
    checked = candidates = 0
    if level is None:                              # nested: deepest level whose cell keeps s witnesses
        s = int(settings.cell_solutions)
        reached, stopped = 0, "top"
        while reached < 2 * n:
            known = search.add(*draw_parity(rng, n, settings, known))
            while len(known) < s:
                z, stopped = search.next(known)
                if z is None:
                    break
                known = np.vstack([known, z[None, :]])
            if len(known) < s:
                break
            reached += 1
        count = s
    else:                                          # counting: every witness of the cell of ``level``
        for _ in range(level):
            known = search.add(*draw_parity(rng, n, settings, known))
        reached, stopped = level, "empty"
        if n and 2 ** (n - _rank(search.xors, n)) <= settings.enumerate_limit:
            known, stopped, checked, candidates = _enumerate_cell(model, search.xors, known, found,
                                                                  start + time_limit)
        else:
            while n:
                z, stopped = search.next(known)
                if z is None:
                    break
                known = np.vstack([known, z[None, :]])
        count = len(known)
    packed = np.packbits(np.array(found, bool).reshape(-1, n), axis=1) if n else np.zeros((0, 0), np.uint8)
    return TrialResult(level=reached, count=count, checked=checked, candidates=candidates, witnesses=packed,
                       solves=search.solves, timeouts=search.timeouts, stopped=stopped,
                       parities=tuple((tuple(int(v) for v in S), b) for S, b in search.xors),
                       seconds=time.perf_counter() - start)


def pin_one_thread() -> None:
    """Set up a worker process: one BLAS thread and HiGHS's scheduler started with one thread (it is fixed per
    process after the first solve).  The local pool runs it in every worker; call it once in a Dask worker
    (``client.run(pin_one_thread)``) before trials arrive there."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)
    h.addVars(1, np.zeros(1), np.ones(1))
    h.run()


def trial_rng(seed: int, index: int) -> np.random.Generator:
    """The random stream of trial ``index``: ``SeedSequence(seed, spawn_key=(index,))``."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(index,)))


def draw_parity(rng: np.random.Generator, n: int, settings: TrialSettings, known: np.ndarray):
    """The next XOR (S, b) of a trial and the rows of ``known`` (W, n) that satisfy it.

    S first (dense, or the most balanced of ``balance_candidates`` random k-subsets on ``known``), then
    b = rng.integers(2): b is uniform and independent of S and of the past, which is all soundness needs.
    """
    S = _support(rng, n, settings, known)
    b = int(rng.integers(2))
    return S, b, known[(known[:, S].sum(axis=1) & 1) == b]


def sample_pool(problem: TrialProblem, *, seed: int, part: int, time_limit: float,
                max_points: int = 2 ** 22) -> PoolResult:
    """Distinct patterns of Ω met by random chords of the box (share ``part`` of the random stream).

    A chord between two random points is cut at every unit's breakpoint; a piece's midpoint x is a
    witness when every unstable unit has |g_i(x)| ≥ ε_i, with ε_i = max(ε, 10·TOL·max(1, w)·G_i) and G_i
    a bound on ‖∇g_i‖ over the box (products of |W|): then x has a ball of radius above the exact
    counter's tolerance inside its region, so every pattern counted here is also counted exactly.
    Endpoints: half uniform in the box, half at random vertices of the box whose share of upper
    coordinates is itself uniform (regions of trained nets crowd towards faces and corners).
    Stops after ``time_limit`` seconds, ``max_points`` pieces, or when a batch adds < 0.1 % new patterns.
    """
    start = time.perf_counter()
    net, box = problem.net, problem.box
    model = _model(problem)
    units = model.units
    margin = _witness_margin(net, box, problem.epsilon)[units]
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1_000_003, part)))
    seen: set = set()
    points = 0
    lo, width = box[:, 0], box[:, 1] - box[:, 0]
    while points < max_points and time.perf_counter() - start < time_limit:
        ends = []
        for _ in range(2):
            u = rng.random((2000, lo.size))
            corner = (rng.random((2000, lo.size)) < rng.random((2000, 1))).astype(float)
            ends.append(lo + np.where(rng.random((2000, 1)) < 0.5, u, corner) * width)
        x = chord_midpoints(net, *ends)
        g = np.concatenate(net.preactivations(x), axis=1)[:, units]
        ok = (np.abs(g) >= margin).all(axis=1)
        before = len(seen)
        seen.update(map(bytes, np.packbits(g[ok] > 0, axis=1)))
        points += len(x)
        if len(seen) - before < 1e-3 * len(x):
            break
    width_bytes = (units.size + 7) // 8
    patterns = np.frombuffer(b"".join(sorted(seen)), np.uint8).reshape(-1, width_bytes).copy()
    return PoolResult(patterns=patterns, points=points, seconds=time.perf_counter() - start)


def subdivide(problem: TrialProblem, *, part: int, parts: int, time_limit: float) -> PoolResult:
    """Regions found by the exact LP subdivision (:func:`explorer.count.exact.count_exact`) in slab ``part``
    of ``parts`` equal slabs of the box, within ``time_limit`` seconds.

    The slabs cut the input that moves the first layer most (largest Σ_i |W¹_ij|·width_j), so that
    fewer regions cross a cut and the slabs share little work.  Every pattern reported is a region with
    interior of the whole box (a region meeting a slab with interior is the same convex region of the
    box), so the union over slabs is a certain lower bound.
    """
    from .exact import count_exact

    start = time.perf_counter()
    box = problem.box.copy()
    side = int(np.argmax(np.abs(problem.net.weights[0]).sum(axis=0) * (box[:, 1] - box[:, 0])))
    lo, width = box[side, 0], (box[side, 1] - box[side, 0]) / parts
    box[side] = lo + width * part, lo + width * (part + 1)
    units = np.flatnonzero(~_stable(problem))
    found = count_exact(problem.net, box, time_limit=time_limit)
    patterns = np.unique(np.packbits(found.patterns[:, units], axis=1), axis=0) if found.n_regions else \
        np.zeros((0, (units.size + 7) // 8), np.uint8)
    return PoolResult(patterns=patterns, points=found.n_regions, seconds=time.perf_counter() - start)


# ---- helpers ----------------------------------------------------------------------------------------------
def _stable(problem: TrialProblem) -> np.ndarray:
    lo, hi = problem.lower, problem.upper
    tau = 1e-9 * np.maximum(1.0, np.maximum(np.abs(lo), np.abs(hi)))
    return (lo >= tau) | (hi <= -tau)


def _echelon(xors: list, n: int) -> tuple[np.ndarray, np.ndarray, list]:
    """Row-reduce the XOR system A z = b over GF(2): (A, b) reduced, pivot columns (rows with a pivot)."""
    A = np.zeros((len(xors), n), bool)
    for j, (S, _) in enumerate(xors):
        A[j, S] = True
    rhs = np.array([b for _, b in xors], bool)
    pivots, row = [], 0
    for col in range(n):
        hit = np.flatnonzero(A[row:, col]) + row if row < len(A) else []
        if len(hit) == 0:
            continue
        A[[row, hit[0]]], rhs[[row, hit[0]]] = A[[hit[0], row]], rhs[[hit[0], row]]
        others = np.flatnonzero(A[:, col])
        others = others[others != row]
        A[others] ^= A[row]
        rhs[others] ^= rhs[row]
        pivots.append(col)
        row += 1
    return A[:row], rhs, pivots


def _rank(xors: list, n: int) -> int:
    return len(_echelon(xors, n)[2])


def _enumerate_cell(model: ReluMilp, xors: list, known: np.ndarray, found: list, deadline: float):
    """Every pattern of the XOR cell, LP-checked: the cell's witnesses, and "empty" when all were checked.

    The solutions of A z = b form p + span(null basis); each candidate not already known is accepted
    iff the margin LP of §2.3 accepts it (it is then a region with interior, in Ω).
    """
    n = model.n_binaries
    A, rhs, pivots = _echelon(xors, n)
    if len(rhs) > len(pivots) and rhs[len(pivots):].any():
        return known, "empty", 0, 0                # inconsistent system: the cell is empty
    free = np.setdiff1d(np.arange(n), pivots)
    base = np.zeros(n, bool)
    base[pivots] = rhs[: len(pivots)]
    basis = np.zeros((free.size, n), bool)        # z = base + Σ_f c_f·(e_f + column f of A on the pivots)
    basis[np.arange(free.size), free] = True
    basis[:, pivots] = A[:, free].T
    combos = ((np.arange(2 ** free.size)[:, None] >> np.arange(free.size)) & 1).astype(bool)
    cands = base ^ (combos.astype(np.uint8) @ basis.astype(np.uint8) % 2).astype(bool)
    have = {z.tobytes() for z in known}
    confirm = Confirmer(model)
    new, status, checked = [], "empty", 0
    for z in cands:
        if time.perf_counter() > deadline:
            status = "time limit"
            break
        if z.tobytes() not in have:
            checked += 1
            if confirm(z):
                new.append(z[None, :])
                found.append(z)
    return (np.vstack([known, *new]) if new else known), status, checked, len(cands)


def _model(problem: TrialProblem) -> ReluMilp:
    lo, hi, stable = problem.lower, problem.upper, _stable(problem)
    bounds = UnitBounds(lower=lo, upper=hi, stable_active=stable & (lo > 0), stable_inactive=stable & (hi < 0),
                        tighten="given", timeouts=0, seconds=0.0)
    return build_milp(problem.net, problem.box, bounds=bounds, epsilon=problem.epsilon)


def _witness_margin(net: Network, box: np.ndarray, epsilon: float) -> np.ndarray:
    """ε_i (N,): |g_i(x)| ≥ ε_i at every unit puts a ball above the exact counter's tolerance around x."""
    grads, A = [], np.eye(box.shape[0])
    for W in net.weights[:-1]:
        A = np.abs(W) @ A                          # |∇g^l| ≤ |W^l|·…·|W^1| entrywise (|σ'| ≤ 1)
        grads.append(np.linalg.norm(A, axis=1))
    G = np.concatenate(grads)
    return np.maximum(epsilon, 10 * TOL * max(1.0, float((box[:, 1] - box[:, 0]).max())) * G)


def _support(rng: np.random.Generator, n: int, settings: TrialSettings, known: np.ndarray) -> np.ndarray:
    """S_j: dense (each binary w.p. 1/2), or the k-subset among candidates whose parity splits ``known`` best."""
    if settings.xor_length == "dense":
        while True:
            S = np.flatnonzero(rng.random(n) < 0.5)
            if S.size:
                return S
    k = min(int(settings.xor_length), n)
    m = max(1, int(settings.balance_candidates)) if len(known) >= 2 else 1
    cands = np.argsort(rng.random((m, n)), axis=1)[:, :k]                    # m random k-subsets
    if m == 1:
        return np.sort(cands[0])
    sample = known[rng.choice(len(known), size=min(len(known), 2048), replace=False)] if len(known) > 2048 \
        else known
    parity = sample[:, cands].sum(axis=2) & 1                                   # (W, m)
    return np.sort(cands[int(np.argmin(np.abs(parity.mean(axis=0) - 0.5)))])


class _Search:
    """The XORs of one trial and FIND (spec §2.4) under them, built on first use; known witnesses are
    excluded by no-good cuts, and new solutions that pass LP confirmation are appended to ``found``."""

    def __init__(self, model: ReluMilp, settings: TrialSettings, found: list, deadline: float) -> None:
        self.model, self.settings, self.found, self.deadline = model, settings, found, deadline
        self.xors: list = []
        self.solver = self.confirm = None
        self.cut: set = set()
        self.solves = self.timeouts = 0

    def add(self, S: np.ndarray, b: int, survivors: np.ndarray) -> np.ndarray:
        """Record XOR (S, b) (and add it to the solver if built); returns the surviving witnesses."""
        self.xors.append((S, b))
        if self.solver is not None:
            self.add_xor(S, b)
        return survivors

    def _build(self) -> None:
        self.solver = new_solver(self.model)
        self.solver.setOptionValue("mip_heuristic_effort", float(self.settings.heuristic_effort))
        self.solver.setOptionValue("presolve", "on" if self.settings.presolve else "off")
        self.confirm = Confirmer(self.model)
        for S, b in self.xors:
            self.add_xor(S, b)

    def add_xor(self, S: np.ndarray, b: int) -> None:
        """⊕_{v∈S} z_v = b: the 2^(|S|−1) parity-polytope rows (|S| ≤ 8, convex hull) or one slack row."""
        cols = self.model.z_cols[S].astype(np.int32)
        if self.settings.encoding == "parity" and S.size <= 8:
            T = (np.arange(2 ** S.size)[:, None] >> np.arange(S.size)) & 1
            for t in T[T.sum(axis=1) % 2 != b]:                                  # Σ_T z − Σ_{S∖T} z ≤ |T| − 1
                self.solver.addRow(-highspy.kHighsInf, float(t.sum() - 1), cols.size, cols, 2.0 * t - 1.0)
            return
        y = self.solver.getNumCol()
        self.solver.addVar(0.0, float((S.size - b) // 2))
        self.solver.changeColIntegrality(y, highspy.HighsVarType.kInteger)
        self.solver.addRow(float(b), float(b), cols.size + 1, np.r_[cols, y].astype(np.int32),
                           np.r_[np.ones(cols.size), -2.0])

    def next(self, known: np.ndarray) -> tuple[np.ndarray | None, str]:
        """A new pattern of the cell (not in ``known``) and "found", or None and "empty"/"timeout"/"time limit"."""
        time_limit = self.deadline - time.perf_counter()
        if time_limit <= 0:
            return None, "time limit"
        if self.solver is None:
            self._build()
        for z in known:
            key = z.tobytes()
            if key not in self.cut:
                add_no_good(self.solver, self.model, z)
                self.cut.add(key)
        res = find(self.solver, self.model, time_limit=time_limit)
        self.solves += 1
        self.timeouts += res.status == "timeout"
        if res.status != "found":
            return None, "empty" if res.status == "none" else "timeout"
        if self.confirm(res.z):
            self.found.append(res.z)
        return res.z, "found"
