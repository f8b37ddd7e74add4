"""Regions inside a ball around a point: upper bounds A and B, the one-region radius d*, sampled counts.

UI label of the bounds: LOCAL_BOUND_LABEL.  N_B is the number of activation patterns whose set
{x ∈ B : s(x) = s} has non-empty interior, B = {x : ‖x − x0‖_p < r} open.  Signs follow rule 1 of
:mod:`explorer.tolerance`, so k_sampled ≤ k_exact ≤ k_certified.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..count.bounds import (RANK_SECONDS_PER_OP, activation_aware_bound, montufar2017_bound, serra2018_bound,
                            sound_rank, zaslavsky_bound)
from ..errors import ExplorerError
from ..net import Network
from .certify import Enclosure, certify_chain
from .primitives import check_ball, scaled_ball
from .radius import one_region_radii, one_region_radius
from .samples import sample_counts

__all__ = ["LOCAL_BOUND_LABEL", "RANK_CAP_UNITS", "EXACT_AUTO_UNITS", "MAX_DISK_REGIONS", "CertifierBound", "LocalBounds",
           "RadiusProfile", "local_bounds", "radius_profile", "one_region_radius", "one_region_radii", "bound_a",
           "bound_b", "global_bound"]

LOCAL_BOUND_LABEL = "local upper bound (after Zhu, Lin & Tang 2020)"
RANK_CAP_UNITS = 2000  # rank caps (κ_l, ρ_l by SVD) only when Σ n_l is at most this
EXACT_AUTO_UNITS = 64  # the CLI headline adds the exact (MILP) certifier up to this many hidden units
MAX_DISK_REGIONS = 250_000  # default size budget of the exact count's enumeration (2-input networks)


@dataclass(frozen=True, eq=False, kw_only=True)
class CertifierBound:
    """Bounds on N_B from one certifier's enclosure.

    Attributes
    ----------
    certifier : str
    k : tuple of int (L,), neurons per layer that may cut the ball
    bound_a : int, the product bound A (rank caps when Σ n_l ≤ RANK_CAP_UNITS)
    bound_b : int, the recursion bound B (proven, local-bounds spec §3; B ≤ A)
    headline : int, min(A, B, global_bound): the proven local upper bound of this certifier
    status : str, the enclosure's status ("complete" or what a time limit skipped)
    seconds : float, time to compute the enclosure
    """

    certifier: str
    k: tuple
    bound_a: int
    bound_b: int
    headline: int
    status: str
    seconds: float


@dataclass(frozen=True, eq=False, kw_only=True)
class LocalBounds:
    """Everything known about the regions inside one ball.

    Attributes
    ----------
    center : float64 ndarray (n0,);  radius : float;  norm : "2", "inf" or "1"
    certifier : str, the certifier the per-layer counts and bounds below come from
    label : str, LOCAL_BOUND_LABEL
    enclosure : Enclosure of that certifier (lower/upper/state per layer)
    k_certified, k_sampled : tuple of int (L,);  k_exact : tuple of int (L,) or None (n0 ≠ 2)
    bound_a, bound_b : int, the product and recursion bounds (both proven);  global_bound : int (Theorem 1)
    headline : int, min(A, B, global_bound) for ``certifier``
    upper_bound : int, the tightest sound bound: the least headline over ``per_certifier``
    n_exact : int or None, exact N_B (2-input networks only);  exact_source : how the partition was obtained
    n_sampled : int, distinct patterns among ``n_samples`` uniform points of the ball plus the centre (≤ N_B);
        ``n_samples`` counts the points drawn (fewer than asked when the time limit cut the sampling)
    d_star : float, ℓp distance from the centre to the boundary of its region (inf if it has none)
    d_star_unit : (layer l* counted from 1, row j* of W^{l*} counted from 0), or None
    per_certifier : tuple of CertifierBound, every certifier from "lipschitz" up to ``certifier``
    status : str, "complete", or what a budget cut short (fewer samples, no exact count) or why a solver
        certifier's bounds were replaced by the looser enclosure (their rows' status says it too)
    seconds : float
    """

    center: np.ndarray
    radius: float
    norm: str
    certifier: str
    label: str
    enclosure: Enclosure
    k_certified: tuple
    k_sampled: tuple
    k_exact: tuple | None
    bound_a: int
    bound_b: int
    global_bound: int
    headline: int
    upper_bound: int
    n_exact: int | None
    exact_source: str
    n_sampled: int
    n_samples: int
    d_star: float
    d_star_unit: tuple | None
    per_certifier: tuple
    status: str
    seconds: float

    @property
    def one_region(self) -> bool:
        """True iff the ball lies in the centre's own region (r ≤ d*), i.e. N_B = 1."""
        return self.radius <= self.d_star


@dataclass(frozen=True, eq=False, kw_only=True)
class RadiusProfile:
    """Exact count and bounds against the radius, for one centre.

    Attributes
    ----------
    radii : float64 ndarray (K,)
    n_exact : int64 ndarray (K,) or None (n0 ≠ 2)
    bound_a, bound_b, headline : tuple of int (K,), for ``certifier`` (headline = min(A, B, Theorem 1))
    k_certified : int64 ndarray (K, L)
    d_star : float, the radius up to which N_B = 1
    certifier, norm : str
    status : str, "complete", or what a budget cut short (radii left out, no exact counts)
    seconds : float
    """

    radii: np.ndarray
    n_exact: np.ndarray | None
    bound_a: tuple
    bound_b: tuple
    headline: tuple
    k_certified: np.ndarray
    d_star: float
    certifier: str
    norm: str
    status: str
    seconds: float


def local_bounds(net: Network, center, radius: float, *, norm: str = "2", certifier: str = "symbolic",
                 n_samples: int = 20_000, seed: int = 0, regions=None, time_limit: float = 60.0,
                 max_regions: int | None = MAX_DISK_REGIONS,
                 progress: Callable[[float, str], None] | None = None) -> LocalBounds:
    """Certified, sampled and (in 2-D) exact counts of the regions inside B_p(center, radius).

    N_B ≤ A = ∏_l Σ_{j ≤ δ_l} C(k_l, j), δ_l = min(k_l, κ_l, n0, ρ_1, …, ρ_{l−1}), where k_l counts the
    neurons of layer l the certifier cannot prove stable on B, and N_B ≤ B ≤ A (the recursion of
    :func:`bound_b`); the headline is min(A, B, Theorem 1).

    Parameters
    ----------
    net : Network;  center : array-like (n0,);  radius : float > 0
    norm : "2" (default), "inf" or "1"
    certifier : one of CERTIFIERS; every looser certifier is computed on the way (``per_certifier``)
    n_samples : uniform points drawn in the ball (seeded by ``seed``) for the lower side
    regions : optional Regions of ``net`` to reuse for the exact count when its domain covers the ball
    time_limit : seconds for the whole call: the solver certifiers ("lp", "exact") skip solves past it, the
        samples stop, and the exact count's enumeration gets what is left (past it ``n_exact`` is None and
        ``exact_source`` says why); ``status`` lists what was cut short
    max_regions : most regions the exact count may enumerate (None: no limit)
    progress : passed to the solver certifiers

    Raises
    ------
    ExplorerError : bad ball, certifier, sample count or budget; "exact" on a network that is too big; a network
        whose rows span more than float64 can hold.

    Examples
    --------
    >>> net = Network(([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], [[1.0, 1.0, 1.0]]), ([0.0, 0.0, -1.0], [0.0]))
    >>> b = local_bounds(net, [0.0, 0.0], 1.0, n_samples=2000)
    >>> (b.k_certified, b.bound_a, b.n_exact)
    ((3,), 7, 5)
    >>> local_bounds(net, [2.0, 2.0], 1.0, n_samples=100).headline      # far from every line
    1
    """
    start = time.perf_counter()
    x0, r, p = check_ball(net, center, radius, norm)
    if not (isinstance(n_samples, (int, np.integer)) and 0 <= n_samples <= 10_000_000):
        raise ExplorerError(f"n_samples must be an integer between 0 and 10,000,000; got {n_samples!r}.")
    _check_budget(time_limit, max_regions)
    deadline = start + time_limit
    chain = certify_chain(net, x0, r, norm=p, certifier=certifier, time_limit=time_limit, progress=progress)
    ball = scaled_ball(net, x0, r)
    seen = sample_counts(ball, p, chain, n_samples, seed, deadline)
    chain = _drop_contradicted(chain, seen.violation)
    glob, ranks = global_bound(net), {}
    rows = tuple(_certifier_bound(ball.net, enc, glob, ranks=ranks, deadline=deadline) for enc in chain)
    d_star, unit = one_region_radius(net, x0, norm=p)
    notes = [f"{c.certifier}: {c.status}" for c in rows if c.status != "complete"]
    if seen.n_drawn < n_samples + 1:
        notes.append(f"time limit: {seen.n_drawn - 1:,} of {n_samples:,} samples drawn")
    k_exact, n_exact, source = None, None, "exact counts need a 2-input network"
    if net.n_inputs == 2:  # the region engine (compiled kernels) is loaded for 2-input networks only
        k_exact, n_exact, source = _exact(net, x0, r, p, regions, deadline, max_regions)
        if n_exact is None:
            notes.append(f"exact count {source}")
    row = rows[-1]
    return LocalBounds(center=x0, radius=r, norm=p, certifier=row.certifier, label=LOCAL_BOUND_LABEL,
                       enclosure=chain[-1], k_certified=row.k, k_sampled=seen.k, k_exact=k_exact,
                       bound_a=row.bound_a, bound_b=row.bound_b, global_bound=glob, headline=row.headline,
                       upper_bound=min(b.headline for b in rows), n_exact=n_exact, exact_source=source,
                       n_sampled=seen.n_patterns, n_samples=seen.n_drawn - 1, d_star=d_star, d_star_unit=unit,
                       per_certifier=rows, status="; ".join(notes) or "complete", seconds=time.perf_counter() - start)


def radius_profile(net: Network, center, radii, *, norm: str = "2", certifier: str = "symbolic",
                   regions=None, time_limit: float = 60.0,
                   max_regions: int | None = MAX_DISK_REGIONS) -> RadiusProfile:
    """Exact N_B (2-D) and the bounds of ``certifier`` for every radius in ``radii``.

    The exact counts come from one partition covering the largest ball: N_B(r) = #{patterns whose
    polygons come closer than r to the centre}.  ``time_limit`` (seconds) bounds the whole call: radii whose
    bounds did not start in time are left out, and the exact counts are None when the enumeration (at most
    ``max_regions`` regions) does not finish; ``status`` says so.

    Raises
    ------
    ExplorerError : empty, non-finite or non-positive radii, a bad centre, norm, certifier or budget.
    """
    start = time.perf_counter()
    radii = np.asarray(radii, dtype=np.float64).reshape(-1)
    if radii.size == 0 or not (np.isfinite(radii).all() and (radii > 0).all()):
        raise ExplorerError("radii must be a non-empty list of finite numbers > 0.")
    x0, _, p = check_ball(net, center, float(radii.max()), norm)
    _check_budget(time_limit, max_regions)
    deadline = start + time_limit
    glob, rows, notes, ranks = global_bound(net), [], [], {}
    for r in radii:
        left = deadline - time.perf_counter()
        if left <= 0:
            notes.append(f"time limit: bounds for {len(rows)} of {radii.size} radii")
            break
        rows.append(_certifier_bound(net, certify_chain(net, x0, r, norm=p, certifier=certifier,
                                                        time_limit=left)[-1], glob, ranks=ranks, deadline=deadline))
    radii = radii[:len(rows)]
    n_exact = None
    if net.n_inputs == 2:  # the region engine (compiled kernels) is loaded for 2-input networks only
        from ..plane.regions import RegionLimitError
        from .disk import pattern_distances

        left = deadline - time.perf_counter()
        try:
            if left <= 0:
                raise RegionLimitError("the time limit was spent on the bounds")
            dist = pattern_distances(net, x0, float(radii.max()), norm=p, regions=regions, time_limit=left,
                                     max_regions=max_regions)
            n_exact = np.searchsorted(np.sort(dist), radii, side="left").astype(np.int64)
        except RegionLimitError as exc:
            notes.append(f"exact counts not computed: {exc}")
    return RadiusProfile(radii=radii, n_exact=n_exact, bound_a=tuple(b.bound_a for b in rows),
                         bound_b=tuple(b.bound_b for b in rows), headline=tuple(b.headline for b in rows),
                         k_certified=np.array([b.k for b in rows], dtype=np.int64).reshape(len(rows), -1),
                         d_star=one_region_radius(net, x0, norm=p)[0], certifier=certifier, norm=p,
                         status="; ".join(notes) or "complete", seconds=time.perf_counter() - start)


def bound_a(n0: int, k: Sequence[int], *, kappa: Sequence[int] | None = None,
            rho: Sequence[int] | None = None) -> int:
    """A = ∏_l Σ_{j=0}^{δ_l} C(k_l, j),  δ_l = min(k_l, κ_l, n0, ρ_1, …, ρ_{l−1}).

    κ_l bounds the rank of the cutting rows (default k_l); ρ_i the rank of the rows that can be active
    in layer i (default: no cap).

    Examples
    --------
    >>> bound_a(2, [3]), bound_a(2, [2, 1], kappa=[1, 1], rho=[1, 1]), bound_a(2, [0, 0])
    (7, 6, 1)
    """
    kappa = list(k) if kappa is None else list(kappa)
    total, dim = 1, int(n0)
    for l, kl in enumerate(k):
        delta = min(kl, kappa[l], dim)
        total *= zaslavsky_bound(kl, delta)
        if rho is not None:
            dim = min(dim, rho[l])
    return total


def bound_b(n0: int, k: Sequence[int], active: Sequence[int], *, kappa: Sequence[int] | None = None,
            rho: Sequence[int] | None = None, leaky: bool = False) -> int:
    """Recursion R(l, d) = Σ_{j ≤ min(k_l, d, κ_l)} C(k_l, j)·R(l+1, min(d, |A_l| + k_l − j, ρ_l)).

    B = R(1, n0), R(L+1, ·) = 1, bounds N_B (charging lemma, local-bounds spec §3; B ≤ A).  With k_l = n_l,
    A_l = ∅ and no caps it is Theorem 1 of Serra et al.
    For LeakyReLU nothing switches off, so the dimension passed on is min(d, ρ_l) (then B = A).

    Examples
    --------
    >>> bound_b(1, [3, 3, 3], [0, 0, 0]), bound_b(2, [4, 5, 3], [0, 0, 0])
    (64, 1232)
    """
    k, active = tuple(int(v) for v in k), tuple(int(v) for v in active)
    rho = None if rho is None else tuple(int(v) for v in rho)
    # the recursion of the activation-aware bound with unstable = k and no cap on simultaneously active units
    return activation_aware_bound(n0, k, active, unstable_rank=kappa, active_rank=rho,
                                  full_rank=(rho or tuple(a + kl for a, kl in zip(active, k))) if leaky else None,
                                  activation="leaky_relu" if leaky else "relu")


def global_bound(net: Network) -> int:
    """Upper bound on the regions of ``net`` in all of ℝ^{n0}: Theorem 1 of Serra, Tjandraatmadja &
    Ramalingam 2018 (ReLU), or Montúfar's product ∏_l Σ_{j ≤ min(n0, n_1, …, n_{l−1})} C(n_l, j) (LeakyReLU,
    where inactive units do not lower the dimension)."""
    if net.alpha > 0:
        return montufar2017_bound(net.n_inputs, net.hidden_widths)
    return serra2018_bound(net.n_inputs, net.hidden_widths)


# ---- helpers -------------------------------------------------------------------------------------
def _certifier_bound(net: Network, enc: Enclosure, glob: int, *, ranks: dict | None = None,
                     deadline: float | None = None) -> CertifierBound:
    """A and B from the neuron classes; rank caps (κ_l, ρ_l) when Σ n_l ≤ RANK_CAP_UNITS and ``deadline`` has not
    passed (else the counts, which bound the ranks: the status says so).  ``ranks`` memoises ranks by rows."""
    layers = net.weights[:-1]
    k = [int(np.count_nonzero(s == 0)) for s in enc.state]
    active = [int(np.count_nonzero(s == 1)) for s in enc.state]
    kappa, rho = k, [W.shape[0] if net.alpha > 0 else a + kl for W, a, kl in zip(layers, active, k)]
    status = enc.status
    if net.n_hidden <= RANK_CAP_UNITS:
        ranks = {} if ranks is None else ranks
        try:
            kappa = [_row_rank(W, s == 0, ranks, deadline) for W, s in zip(layers, enc.state)]
            rho = [_row_rank(W, np.ones(len(s), bool) if net.alpha > 0 else s >= 0, ranks, deadline)
                   for W, s in zip(layers, enc.state)]
        except TimeoutError:
            kappa, rho = k, [W.shape[0] if net.alpha > 0 else a + kl for W, a, kl in zip(layers, active, k)]
            status = ("time limit: rank caps skipped (counts used)" if status == "complete"
                      else f"{status}; time limit: rank caps skipped (counts used)")
    A = bound_a(net.n_inputs, k, kappa=kappa, rho=rho)
    B = bound_b(net.n_inputs, k, active, kappa=kappa, rho=rho, leaky=net.alpha > 0)
    return CertifierBound(certifier=enc.certifier, k=tuple(k), bound_a=A, bound_b=B, headline=min(A, B, glob),
                          status=status, seconds=enc.seconds)


def _row_rank(W: np.ndarray, rows: np.ndarray, memo: dict, deadline: float | None) -> int:
    """The rank of W[rows] (explorer.count.bounds.sound_rank: exact, from normalised rows), memoised in ``memo``.

    A raw matrix_rank calls rows of norms 1e8 and 1e-8 dependent (B = 3 for 4 regions); sound_rank does not.
    Raises TimeoutError when the elimination (about r·c·min(r, c) operations, RANK_SECONDS_PER_OP each) would
    end past ``deadline``.
    """
    key = (id(W), rows.tobytes())
    if key not in memo:
        r, c = int(np.count_nonzero(rows)), W.shape[1]
        if deadline is not None and time.perf_counter() + RANK_SECONDS_PER_OP * r * c * min(r, c) > deadline:
            raise TimeoutError
        memo[key] = sound_rank(W[rows])
    return memo[key]


def _drop_contradicted(chain: tuple, violation: dict) -> tuple:
    """The chain with every solver certifier that a sample contradicts replaced by the looser enclosure before
    it (its status says why); a contradicted analytic certifier is a bug and raises."""
    out = []
    for enc in chain:
        if enc.certifier in violation:
            if enc.certifier not in ("lp", "exact"):
                raise RuntimeError(f"internal error: the {enc.certifier} certifier is contradicted by a point of the "
                                   f"ball ({violation[enc.certifier]}); please report this.")
            prev = out[-1]
            enc = Enclosure(certifier=enc.certifier, norm=enc.norm, lower=prev.lower, upper=prev.upper,
                            state=prev.state, status=(f"{enc.certifier} bounds dropped: {violation[enc.certifier]} "
                                                      f"(the model is badly scaled for the solver); showing the "
                                                      f"{prev.certifier} enclosure instead"), seconds=enc.seconds)
        out.append(enc)
    return tuple(out)


def _exact(net: Network, x0, r: float, p: str, regions, deadline: float, max_regions) -> tuple:
    """(k_exact, n_exact, source) from the polygons, or (None, None, why not) past a budget or float64's range.

    The first layer's cells in a square inside the enumerated domain (the ℓ1 ball, else its bounding square)
    bound the regions from below: past ``max_regions`` the count is refused before its uninterruptible first split.
    """
    if deadline <= time.perf_counter():  # before the imports: loading the region engine takes a second
        return None, None, "not computed: the time limit was spent on the bounds"
    from ..plane.arrangement import first_layer_cells
    from ..plane.regions import RegionLimitError
    from .disk import disk_count

    with np.errstate(over="ignore"):
        if not np.isfinite(np.abs(x0).max() + r):
            return None, None, "not computed: the ball reaches beyond float64's largest numbers (about 1.8e308)"
    half = r / 2 if p == "1" else r
    if regions is None and max_regions is not None and net.n_hidden > 0 and first_layer_cells(
            net, np.stack([x0 - half, x0 + half], axis=1), stop_above=max_regions) > max_regions:
        return None, None, (f"not computed: the {net.weights[0].shape[0]:,} units of layer 1 alone cut the ball's "
                            f"square into more than {max_regions:,} regions (the region budget)")
    try:
        exact = disk_count(net, x0, r, norm=p, regions=regions, time_limit=max(deadline - time.perf_counter(), 1e-3),
                           max_regions=max_regions)
    except RegionLimitError as exc:
        return None, None, f"not computed: {exc}"
    return exact.k, exact.n_regions, exact.source


def _check_budget(time_limit, max_regions) -> None:
    if not (isinstance(time_limit, (int, float, np.integer, np.floating)) and 0 < time_limit < np.inf):
        raise ExplorerError(f"the time limit must be a number of seconds > 0; got {time_limit!r}.")
    if max_regions is not None and not (isinstance(max_regions, (int, np.integer)) and max_regions > 0):
        raise ExplorerError(f"max_regions must be a whole number > 0 (or None); got {max_regions!r}.")
