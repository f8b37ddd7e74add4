"""Analytic upper bounds on the number of activation regions (spec counting-and-bounds §5), as exact ints.

Trivial 2^N; Zaslavsky (one hidden layer, rank form); Montúfar 2017; Serra, Tjandraatmadja &
Ramalingam 2018 Theorem 1 (dynamic programme); and an activation-aware bound (after Serra &
Ramalingam 2020, our sound formulation) from the stable units, the most units active at once and
the ranks measured on a box.  Every measured input is an upper bound of what it stands for: ranks
are exact (:func:`sound_rank`), and a solver answer that cannot be checked is replaced by the
count of candidate units.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from functools import lru_cache

import highspy
import numpy as np

from ..errors import ExplorerError
from .sampling import sample_patterns
from .milp import ReluMilp, new_solver, set_start
from .tighten import certified_model
from ..net import Network

__all__ = ["UpperBound", "LayerStats", "trivial_bound", "zaslavsky_bound", "montufar2017_bound",
           "serra2018_bound", "activation_aware_bound", "layer_stats", "max_active", "sound_rank", "upper_bounds",
           "RANK_SECONDS_PER_OP"]

RANK_SECONDS_PER_OP = 1e-8  # cost of sound_rank's elimination per operation (5.7 s for 1000 × 1000, 2-core VM)

_PRIME = 2_147_483_629             # < 2^31, so products of residues fit in int64
_EXACT_RANK_WORK = 3_000_000       # rows²·columns of exact integer elimination; beyond it min(shape) is returned


@dataclass(frozen=True)
class UpperBound:
    """One upper bound: ``value`` ≥ the number of activation regions (None where it does not apply).

    name : key used in JSON ("trivial", "zaslavsky", "montufar2017", "serra2018", "activation_aware")
    label : text for the UI;  note : why it does not apply, or what it assumes;  seconds : float
    """

    name: str
    label: str
    value: int | None
    note: str
    seconds: float


@dataclass(frozen=True)
class LayerStats:
    """Per-layer features of a network over a box used by the activation-aware bound (arrays of shape (L,)).

    unstable : u_l, units whose sign changes over the box;  stably_active : a_l
    max_active : A_l ≥ most units of the layer active at one point (MILP; see :func:`max_active`)
    max_active_status : tuple of "optimal", "timeout" (floor of the dual bound) or "unchecked"
        (no usable dual bound: every unit that is not stably inactive)
    unstable_rank : κ_l = rank W^l[unstable rows];  active_rank : ρ_l = rank W^l[rows not stably inactive]
    full_rank : rank W^l (used for LeakyReLU, whose inactive units keep the image dimension)
    seconds : float
    """

    unstable: np.ndarray
    stably_active: np.ndarray
    max_active: np.ndarray
    max_active_status: tuple
    unstable_rank: np.ndarray
    active_rank: np.ndarray
    full_rank: np.ndarray
    seconds: float


def trivial_bound(n_units: int) -> int:
    """2^N: every pattern at most once."""
    return 2 ** int(n_units)


def zaslavsky_bound(n_hyperplanes: int, dim: int, *, rank: int | None = None) -> int:
    """Σ_{j=0}^{min(d, ρ)} C(m, j): most regions of m hyperplanes in ℝ^d whose normals have rank ρ.

    Examples
    --------
    >>> zaslavsky_bound(3, 2), zaslavsky_bound(3, 2, rank=1), zaslavsky_bound(0, 5)
    (7, 4, 1)
    """
    top = int(dim) if rank is None else min(int(dim), int(rank))
    return sum(math.comb(int(n_hyperplanes), j) for j in range(min(top, int(n_hyperplanes)) + 1))


def montufar2017_bound(n_inputs: int, widths) -> int:
    """∏_l Σ_{j=0}^{d_l} C(n_l, j) with d_l = min(n0, n1, …, n_l) (Montúfar 2017, as in 1711.02114).

    >>> montufar2017_bound(784, (10, 12))
    4180992
    """
    widths = _widths(n_inputs, widths)
    out, d = 1, int(n_inputs)
    for n in widths:
        d = min(d, n)
        out *= zaslavsky_bound(n, d)
    return out


def serra2018_bound(n_inputs: int, widths) -> int:
    """Theorem 1 of Serra, Tjandraatmadja & Ramalingam 2018: Σ_{j∈J} ∏_l C(n_l, j_l), by dynamic programming.

    R_{L+1}(d) = 1,  R_l(d) = Σ_{j=0}^{min(d, n_l)} C(n_l, j)·R_{l+1}(min(d, n_l − j)),  bound = R_1(n0).

    >>> serra2018_bound(784, (10, 12)), serra2018_bound(2, (3,)), serra2018_bound(1, (3, 3, 3))
    (1744436, 7, 64)
    """
    widths = _widths(n_inputs, widths)
    return _dp(int(n_inputs), tuple((n, 0, n, n, n, n) for n in widths), "relu")


def activation_aware_bound(n_inputs: int, unstable, stably_active, *, max_active=None, unstable_rank=None,
                           active_rank=None, full_rank=None, activation: str = "relu") -> int:
    """Activation-aware bound (after Serra & Ramalingam 2020; our formulation, spec §5.5).

    ReLU: R_l(d) = Σ_{j=0}^{min(d, u_l, κ_l)} C(u_l, j)·R_{l+1}(min(d, a_l + u_l − j, A_l, ρ_l)).
    LeakyReLU (inactive units keep their input's dimension): the next dimension is min(d, rank W^l).
    Defaults: A_l = ρ_l = u_l + a_l, κ_l = u_l, rank W^l = n_l.

    >>> activation_aware_bound(784, (10, 12), (0, 0), max_active=(6, 12))
    1574838
    """
    u = [int(v) for v in unstable]
    a = [int(v) for v in stably_active]
    if len(a) != len(u) or min(u + a, default=0) < 0:
        raise ExplorerError("unstable and stably_active need one non-negative count per hidden layer.")
    A = _per_layer(max_active, [x + y for x, y in zip(u, a)])
    kappa = _per_layer(unstable_rank, u)
    rho = _per_layer(active_rank, [x + y for x, y in zip(u, a)])
    full = _per_layer(full_rank, [10 ** 9] * len(u))
    return _dp(int(n_inputs), tuple(zip(u, a, A, kappa, rho, full)), activation)


def layer_stats(net: Network, box, *, time_limit: float = 5.0, deadline: float | None = None) -> LayerStats:
    """Measure u_l, a_l, A_l, κ_l, ρ_l of ``net`` over ``box`` (A_l: one MILP per layer, ``time_limit`` s).

    Stable units and big-Ms come from :func:`explorer.count.tighten.certified_model` (exact
    rescaling, certified LP tightening), ranks from :func:`sound_rank`: every value is sound.  Past
    ``deadline`` (a ``time.perf_counter()`` value) the LP tightening stops, the MILPs get what is left (their
    dual bounds stay sound) and a rank whose elimination would not end in time is replaced by its matrix's
    row count (an upper bound): the values stay sound, only looser.
    """
    start = time.perf_counter()
    model = certified_model(net, box, deadline=deadline)
    b, layer_of = model.bounds, net.unit_layers()
    L = len(net.hidden_widths)
    u = np.array([int(b.unstable[layer_of == l].sum()) for l in range(L)])
    a = np.array([int(b.stable_active[layer_of == l].sum()) for l in range(L)])
    left = (lambda: time_limit) if deadline is None else (
        lambda: min(time_limit, max(0.05, deadline - time.perf_counter())))
    measured = [max_active(model, l, time_limit=left()) for l in range(L)]
    ranks = np.zeros((L, 3), dtype=int)                       # κ_l, ρ_l, rank W^l
    for l, W in enumerate(net.weights[:-1]):
        un, live = b.unstable[layer_of == l], ~b.stable_inactive[layer_of == l]
        ranks[l] = _rank_by(W[un], deadline), _rank_by(W[live], deadline), _rank_by(W, deadline)
    return LayerStats(unstable=u, stably_active=a, max_active=np.array([m[0] for m in measured], dtype=int),
                      max_active_status=tuple(m[1] for m in measured), unstable_rank=ranks[:, 0],
                      active_rank=ranks[:, 1], full_rank=ranks[:, 2], seconds=time.perf_counter() - start)


def max_active(model: ReluMilp, layer: int, *, time_limit: float = 5.0, n_samples: int = 1000) -> tuple[int, str]:
    """A_l ≥ the most units of ``layer`` active at one box point: a_l + max Σ z over the §2.1 rows.

    The MILP starts from the forward pass of the sample with the most active units.  Returns
    (A_l, status): "optimal"; "timeout" with the floor of the dual bound (still an upper bound); or
    "unchecked" with a_l + u_l when no dual bound can be trusted (none, or one below a point seen
    active) — never the incumbent, never less than what a sample shows (spec §5.5).
    """
    net = model.net
    sel = model.unit_layer == layer
    stable_active = int(model.bounds.stable_active[net.unit_layers() == layer].sum())
    n_unstable = int(sel.sum())
    if not sel.any():
        return stable_active, "optimal"
    solver = new_solver(model, margin_rows=False)
    cols = model.z_cols[sel].astype(np.int32)
    solver.changeColsCost(cols.size, cols, np.full(cols.size, -1.0))
    x, G = sample_patterns(net, model.box, n_samples=n_samples)
    seen = (G[:, model.units[sel]] > 0).sum(axis=1)             # active unstable units at each sample
    set_start(solver, model, x[np.argmax(seen)])
    solver.setOptionValue("time_limit", float(time_limit))
    solver.run()
    status = solver.getModelStatus()
    bound = -solver.getInfo().mip_dual_bound                     # max Σz ≤ bound, if HiGHS has one
    sound = status in (highspy.HighsModelStatus.kOptimal, highspy.HighsModelStatus.kTimeLimit) and \
        np.isfinite(bound) and bound >= int(seen.max()) - 1e-6
    if not sound:
        return stable_active + n_unstable, "unchecked"
    best = min(n_unstable, int(np.floor(bound + 1e-6)))
    return stable_active + best, "optimal" if status == highspy.HighsModelStatus.kOptimal else "timeout"


def sound_rank(matrix) -> int:
    """The exact rank of a float matrix, its entries read as exact rationals (never an underestimate).

    Scaling a row by a power of two changes neither the rank nor any entry's precision, so each row
    becomes a row of integers.  The rank modulo a large prime (never above the true rank) settles
    full-rank matrices at once (after merging exactly proportional rows); otherwise fraction-free
    elimination over the integers gives the exact rank.  Above rows²·columns = 3e6 that elimination
    is skipped and min(rows, columns), an upper bound, is returned.  ``numpy.linalg.matrix_rank``
    can declare rows of norms 1e8 and 1e-8 dependent; this cannot.

    Examples
    --------
    >>> sound_rank([[1e8, 0.0], [0.0, 1e-8]]), int(np.linalg.matrix_rank([[1e8, 0.0], [0.0, 1e-8]]))
    (2, 1)
    >>> sound_rank([[1.0, 2.0], [0.5, 1.0], [3.0, 6.0]]), sound_rank([[1.0, 1e-20], [1.0, 0.0]])
    (1, 2)
    >>> sound_rank(np.zeros((0, 3)))      # no rows
    0
    """
    M = np.asarray(matrix, dtype=np.float64)
    if M.ndim != 2 or not np.isfinite(M).all():
        raise ExplorerError(f"sound_rank needs a finite 2-D matrix; got shape {M.shape}.")
    M = M[(M != 0).any(axis=1)][:, (M != 0).any(axis=0)]
    if min(M.shape) == 0:
        return 0
    rows = list({tuple(_primitive(r)) for r in _integer_rows(M)})      # proportional rows count once
    if len(rows) > M.shape[1]:
        rows = [list(col) for col in zip(*rows)]
    top = min(len(rows), len(rows[0]))
    if _rank_modulo(rows) == top:
        return top
    if len(rows) ** 2 * len(rows[0]) > _EXACT_RANK_WORK:
        return top
    return _integer_rank(rows)


def upper_bounds(net: Network, *, stats: LayerStats | None = None) -> tuple[UpperBound, ...]:
    """Every upper bound of §5 for ``net``; the activation-aware one needs ``stats`` (from :func:`layer_stats`)."""
    n0, widths, relu = net.n_inputs, net.hidden_widths, net.activation == "relu"
    out = []

    def add(name, label, fn, note=""):
        t = time.perf_counter()
        value = fn()
        out.append(UpperBound(name=name, label=label, value=value, note=note, seconds=time.perf_counter() - t))

    add("trivial", "trivial 2^N", lambda: trivial_bound(net.n_hidden))
    one = len(widths) == 1
    add("zaslavsky", "Zaslavsky (one hidden layer, rank form)",
        lambda: zaslavsky_bound(widths[0], n0, rank=sound_rank(net.weights[0])) if one else None,
        "" if one else "applies to one hidden layer only")
    add("montufar2017", "Montúfar 2017", lambda: montufar2017_bound(n0, widths))
    add("serra2018", "Serra, Tjandraatmadja & Ramalingam 2018, Theorem 1",
        lambda: serra2018_bound(n0, widths) if relu else None,
        "" if relu else "assumes ReLU: inactive LeakyReLU units keep the image dimension")
    if stats is not None:
        add("activation_aware", "activation-aware bound (after Serra & Ramalingam 2020)",
            lambda: activation_aware_bound(n0, stats.unstable, stats.stably_active, max_active=stats.max_active,
                                           unstable_rank=stats.unstable_rank, active_rank=stats.active_rank,
                                           full_rank=stats.full_rank, activation=net.activation),
            "measured on the box: stable units, most units active at once, ranks")
    return tuple(out)


# ---- helpers -------------------------------------------------------------------------------------
def _dp(n0: int, layers: tuple, activation: str) -> int:
    """R_1(n0) of the layer recursion; layers[l] = (u, a, A, κ, ρ, rank W)."""

    @lru_cache(maxsize=None)
    def R(l: int, d: int) -> int:
        if l == len(layers):
            return 1
        u, a, A, kappa, rho, full = layers[l]
        top = min(d, u, kappa)
        if activation != "relu":
            return zaslavsky_bound(u, top) * R(l + 1, min(d, full))
        return sum(math.comb(u, j) * R(l + 1, min(d, a + u - j, A, rho)) for j in range(top + 1))

    return R(0, n0)


def _widths(n_inputs: int, widths) -> tuple[int, ...]:
    widths = tuple(int(w) for w in widths)
    if int(n_inputs) < 1 or any(w < 1 for w in widths):
        raise ExplorerError(f"input dimension and widths must be positive; got n0={n_inputs}, widths={widths}.")
    return widths


def _per_layer(values, default: list) -> list:
    if values is None:
        return list(default)
    values = [int(v) for v in values]
    if len(values) != len(default):
        raise ExplorerError(f"expected one value per hidden layer ({len(default)}); got {len(values)}.")
    return values


def _integer_rows(M: np.ndarray) -> list:
    """Rows of Python ints: row i of M times 2^k_i (exact), k_i the least that makes every entry whole."""
    mant, exp = np.frexp(M)
    ints = (mant * 2.0 ** 53).astype(np.int64)                    # M = ints·2^(exp − 53) exactly
    shift = np.where(M != 0, exp - 53, np.iinfo(np.int32).max)
    low = shift.min(axis=1)
    return [[int(v) << int(e - lo) if v else 0 for v, e in zip(r, s)] for r, s, lo in zip(ints, shift, low)]


def _rank_by(matrix: np.ndarray, deadline: float | None) -> int:
    """sound_rank(matrix), or its row count (an upper bound) when the elimination (about r·c·min(r, c)
    operations of RANK_SECONDS_PER_OP) would end past ``deadline``."""
    r, c = matrix.shape
    if deadline is not None and time.perf_counter() + RANK_SECONDS_PER_OP * r * c * min(r, c) > deadline:
        return r
    return sound_rank(matrix)


def _primitive(row: list) -> list:
    """The integer row divided by the gcd of its entries, its first nonzero entry made positive."""
    g = math.gcd(*row)
    sign = -1 if next(v for v in row if v) < 0 else 1
    return [sign * (v // g) for v in row]


def _rank_modulo(rows: list) -> int:
    """Rank over the integers modulo _PRIME (a lower bound of the rational rank), by vectorised elimination."""
    A = np.array([[v % _PRIME for v in r] for r in rows], dtype=np.int64)    # (r, c)
    rank = 0
    for col in range(A.shape[1]):
        nz = np.flatnonzero(A[rank:, col])
        if nz.size == 0:
            continue
        piv = rank + nz[0]
        A[[rank, piv]] = A[[piv, rank]]
        inv = pow(int(A[rank, col]), _PRIME - 2, _PRIME)
        A[rank] = (A[rank] * inv) % _PRIME
        below = A[rank + 1:, col].copy()
        A[rank + 1:] = (A[rank + 1:] - (below[:, None] * A[rank]) % _PRIME) % _PRIME
        rank += 1
        if rank == A.shape[0]:
            break
    return rank


def _integer_rank(rows: list) -> int:
    """Exact rank by fraction-free (Bareiss) elimination over Python ints."""
    A = [list(r) for r in rows]
    rank, prev = 0, 1
    for col in range(len(A[0])):
        piv = next((i for i in range(rank, len(A)) if A[i][col] != 0), None)
        if piv is None:
            continue
        A[rank], A[piv] = A[piv], A[rank]
        p = A[rank][col]
        for i in range(rank + 1, len(A)):
            f = A[i][col]
            A[i] = [(p * a - f * b) // prev for a, b in zip(A[i], A[rank])]
        prev = p
        rank += 1
        if rank == len(A):
            break
    return rank
