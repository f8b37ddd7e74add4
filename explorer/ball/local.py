"""Regions inside a ball around a point: upper bounds A and B, the one-region radius d*, sampled counts.

UI label of the bounds: "local upper bound (after Zhu, Lin & Tang 2020)".  N_B is the number of
activation patterns whose set {x ∈ B : s(x) = s} has non-empty interior, B = {x : ‖x − x0‖_p < r} open.
Tolerances follow :mod:`explorer.ball.certify` (τ_j = 1e-9·max(1, |g_j(x0)|)): certifiers count a neuron whose
extremes lie within τ of 0 as cutting, sampled and exact counts do not, so k_sampled ≤ k_exact ≤ k_certified.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..count.bounds import activation_aware_bound, montufar2017_bound, serra2018_bound, sound_rank, zaslavsky_bound
from .certify import TAU, Enclosure, certify_chain, check_ball, dual_norm, sample_ball
from ..errors import ExplorerError
from ..net import Network

__all__ = ["LABEL", "RANK_CAP_UNITS", "EXACT_AUTO_UNITS", "CertifierBound", "LocalBounds", "RadiusProfile",
           "local_bounds", "radius_profile", "one_region_radius", "one_region_radii", "bound_a", "bound_b",
           "global_bound", "jacobians"]

LABEL = "local upper bound (after Zhu, Lin & Tang 2020)"
RANK_CAP_UNITS = 2000  # rank caps (κ_l, ρ_l by SVD) only when Σ n_l is at most this
EXACT_AUTO_UNITS = 64  # the CLI headline adds the exact (MILP) certifier up to this many hidden units


@dataclass(frozen=True, eq=False)
class CertifierBound:
    """Bounds on N_B from one certifier's enclosure.

    Attributes
    ----------
    certifier : str
    k : tuple of int (L,), neurons per layer that may cut the ball
    bound_a : int, the rigorous product bound A (rank caps when Σ n_l ≤ RANK_CAP_UNITS)
    bound_b : int, the recursion bound B; conditional (rests on an argument not yet reviewed), never headline
    headline : int, min(A, global_bound)
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


@dataclass(frozen=True, eq=False)
class LocalBounds:
    """Everything known about the regions inside one ball.

    Attributes
    ----------
    center : float64 ndarray (n0,);  radius : float;  norm : "2", "inf" or "1"
    certifier : str, the certifier the per-layer counts and bounds below come from
    label : str, LABEL
    enclosure : Enclosure of that certifier (lower/upper/state per layer)
    k_certified, k_sampled : tuple of int (L,);  k_exact : tuple of int (L,) or None (n0 ≠ 2)
    bound_a, bound_b : int (B is conditional: ``b_conditional`` is True);  global_bound : int (Theorem 1)
    headline : int, min(A, global_bound) for ``certifier``
    upper_bound : int, the tightest sound bound: the least headline over ``per_certifier``
    n_exact : int or None, exact N_B (2-input networks only);  exact_source : how the partition was obtained
    n_sampled : int, distinct patterns among ``n_samples`` uniform points of the ball plus the centre (≤ N_B)
    d_star : float, ℓp distance from the centre to the boundary of its region (inf if it has none)
    d_star_unit : (layer l* counted from 1, row j* of W^{l*} counted from 0), or None
    per_certifier : tuple of CertifierBound, every certifier from "lipschitz" up to ``certifier``
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
    b_conditional: bool
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
    seconds: float

    @property
    def one_region(self) -> bool:
        """True iff the ball lies in the centre's own region (r ≤ d*), i.e. N_B = 1."""
        return self.radius <= self.d_star


@dataclass(frozen=True, eq=False)
class RadiusProfile:
    """Exact count and bounds against the radius, for one centre.

    Attributes
    ----------
    radii : float64 ndarray (K,)
    n_exact : int64 ndarray (K,) or None (n0 ≠ 2)
    bound_a, bound_b, headline : tuple of int (K,), for ``certifier`` (B conditional)
    k_certified : int64 ndarray (K, L)
    d_star : float, the radius up to which N_B = 1
    certifier, norm : str;  seconds : float
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
    seconds: float


def local_bounds(net: Network, center, radius: float, *, norm: str = "2", certifier: str = "symbolic",
                 n_samples: int = 20_000, seed: int = 0, regions=None, time_limit: float = 60.0,
                 progress: Callable[[float, str], None] | None = None) -> LocalBounds:
    """Certified, sampled and (in 2-D) exact counts of the regions inside B_p(center, radius).

    N_B ≤ A = ∏_l Σ_{j ≤ δ_l} C(k_l, j), δ_l = min(k_l, κ_l, n0, ρ_1, …, ρ_{l−1}), where k_l counts the
    neurons of layer l the certifier cannot prove stable on B; the headline is min(A, Theorem 1).

    Parameters
    ----------
    net : Network;  center : array-like (n0,);  radius : float > 0
    norm : "2" (default), "inf" or "1"
    certifier : one of CERTIFIERS; every looser certifier is computed on the way (``per_certifier``)
    n_samples : uniform points drawn in the ball (seeded by ``seed``) for the lower side
    regions : optional Regions of ``net`` to reuse for the exact count when its domain covers the ball
    time_limit : seconds for each solver certifier ("lp", "exact") and for the exact count's enumeration
        (past it ``n_exact`` is None and ``exact_source`` says why)
    progress : passed to the solver certifiers

    Raises
    ------
    ExplorerError : bad ball, certifier or sample count; "exact" on a network that is too big.

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
    chain = certify_chain(net, x0, r, norm=p, certifier=certifier, time_limit=time_limit, progress=progress)
    glob = global_bound(net)
    rows = tuple(_certifier_bound(net, enc, glob) for enc in chain)
    d_star, unit = one_region_radius(net, x0, norm=p)
    k_sampled, n_sampled = _sampled(net, x0, r, p, chain[-1], n_samples, seed)
    k_exact, n_exact, source = None, None, "exact counts need a 2-input network"
    if net.n_inputs == 2:
        from .disk import disk_count  # here, not at the top: disk imports this module
        from ..plane.regions import RegionLimitError

        try:
            exact = disk_count(net, x0, r, norm=p, regions=regions, time_limit=time_limit)
            k_exact, n_exact, source = exact.k, exact.n_regions, exact.source
        except RegionLimitError as exc:
            source = f"not computed: {exc}"
    row = rows[-1]
    return LocalBounds(x0, r, p, row.certifier, LABEL, chain[-1], row.k, k_sampled, k_exact, row.bound_a,
                       row.bound_b, True, glob, row.headline, min(b.headline for b in rows), n_exact, source,
                       n_sampled, n_samples, d_star, unit, rows, time.perf_counter() - start)


def radius_profile(net: Network, center, radii, *, norm: str = "2", certifier: str = "symbolic",
                   regions=None, time_limit: float = 60.0) -> RadiusProfile:
    """Exact N_B (2-D) and the bounds of ``certifier`` for every radius in ``radii``.

    The exact counts come from one partition covering the largest ball: N_B(r) = #{patterns whose
    polygons come closer than r to the centre}.

    Raises
    ------
    ExplorerError : empty, non-finite or non-positive radii, or a bad centre, norm or certifier.
    """
    start = time.perf_counter()
    radii = np.asarray(radii, dtype=np.float64).reshape(-1)
    if radii.size == 0 or not (np.isfinite(radii).all() and (radii > 0).all()):
        raise ExplorerError("radii must be a non-empty list of finite numbers > 0.")
    x0, _, p = check_ball(net, center, float(radii.max()), norm)
    glob = global_bound(net)
    rows = [_certifier_bound(net, certify_chain(net, x0, r, norm=p, certifier=certifier,
                                                time_limit=time_limit)[-1], glob) for r in radii]
    n_exact = None
    if net.n_inputs == 2:
        from .disk import pattern_distances  # here, not at the top: disk imports this module
        dist = pattern_distances(net, x0, float(radii.max()), norm=p, regions=regions)
        n_exact = np.searchsorted(np.sort(dist), radii, side="left").astype(np.int64)
    return RadiusProfile(radii, n_exact, tuple(b.bound_a for b in rows), tuple(b.bound_b for b in rows),
                         tuple(b.headline for b in rows), np.array([b.k for b in rows], dtype=np.int64).reshape(
                             len(rows), -1), one_region_radius(net, x0, norm=p)[0], certifier, p,
                         time.perf_counter() - start)


def one_region_radius(net: Network, center, *, norm: str = "2") -> tuple[float, tuple[int, int] | None]:
    """d*(x0) = min over units with γ ≠ 0 of |g(x0)| / ‖γ‖_q, and the unit (l*, j*) attaining it.

    γ = ∇g at x0 with the pattern of x0 held fixed.  This is the ℓp distance from x0 to the boundary of
    its activation region (redundant facets are never closer), so N_B = 1 ⇔ r ≤ d*; d* = 0 when x0 lies
    on a boundary and inf when no unit varies on the region.  l* counts layers from 1, j* rows from 0.

    Examples
    --------
    >>> net = Network(([[1.0, 0.0], [-1.0, 0.0]], [[1.0, 1.0]], [[1.0]]), ([0.0, 0.0], [-1.0], [0.0]))
    >>> one_region_radius(net, [2.0, 0.0])
    (1.0, (2, 0))
    >>> one_region_radius(net, [0.0, 0.0])[0]       # on the line x1 = 0
    0.0
    """
    x0, _, p = check_ball(net, center, 1.0, norm)
    d, flat = _radii(net, x0[None, :], p)
    if not np.isfinite(d[0]):
        return float("inf"), None
    layer = int(net.unit_layers()[flat[0]])
    return float(d[0]), (layer + 1, int(flat[0] - sum(net.hidden_widths[:layer])))


def one_region_radii(net: Network, points, *, norm: str = "2") -> np.ndarray:
    """d* (B,) at every row of ``points`` (B, n0), vectorised; see :func:`one_region_radius`."""
    p = check_ball(net, np.zeros(net.n_inputs), 1.0, norm)[2]
    points = np.atleast_2d(np.asarray(points, dtype=np.float64))
    if points.ndim != 2 or points.shape[1] != net.n_inputs or not np.isfinite(points).all():
        raise ExplorerError(f"points must be finite with shape (B, {net.n_inputs}); got shape {points.shape}.")
    return _radii(net, points, p)[0]


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
    """Conditional recursion R(l, d) = Σ_{j ≤ min(k_l, d, κ_l)} C(k_l, j)·R(l+1, min(d, |A_l| + k_l − j, ρ_l)).

    B = R(1, n0), R(L+1, ·) = 1.  With k_l = n_l, A_l = ∅ and no caps it is Theorem 1 of Serra et al.
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


def jacobians(net: Network, points: np.ndarray, patterns: np.ndarray | None = None) -> list:
    """Per hidden layer (g (B, n_l), Γ (B, n_l, n0)): pre-activations at ``points`` and their gradients,
    the pattern of each point (or the given bool ``patterns`` (B, N)) held fixed, so g = Γ x + const there."""
    h = np.asarray(points, dtype=np.float64)
    J = np.broadcast_to(np.eye(h.shape[1]), (len(h), h.shape[1], h.shape[1]))
    out, first = [], 0
    for W, b in zip(net.weights[:-1], net.biases[:-1]):
        g, G = h @ W.T + b, np.matmul(W, J)  # (B, n_l), (B, n_l, n0)
        out.append((g, G))
        on = g > 0 if patterns is None else patterns[:, first:first + W.shape[0]]
        first += W.shape[0]
        slope = np.where(on, 1.0, net.alpha)
        h, J = slope * g, slope[..., None] * G
    return out


# ---- helpers -------------------------------------------------------------------------------------
def _certifier_bound(net: Network, enc: Enclosure, glob: int) -> CertifierBound:
    """A and B from the neuron classes; exact ranks (sound_rank) when Σ n_l ≤ RANK_CAP_UNITS, else counts."""
    layers = net.weights[:-1]
    k = [int(np.count_nonzero(s == 0)) for s in enc.state]
    active = [int(np.count_nonzero(s == 1)) for s in enc.state]
    if net.n_hidden <= RANK_CAP_UNITS:
        kappa = [sound_rank(W[s == 0]) for W, s in zip(layers, enc.state)]
        rho = [sound_rank(W if net.alpha > 0 else W[s >= 0]) for W, s in zip(layers, enc.state)]
    else:
        kappa, rho = k, [W.shape[0] if net.alpha > 0 else a + kl for W, a, kl in zip(layers, active, k)]
    A = bound_a(net.n_inputs, k, kappa=kappa, rho=rho)
    B = bound_b(net.n_inputs, k, active, kappa=kappa, rho=rho, leaky=net.alpha > 0)
    return CertifierBound(enc.certifier, tuple(k), A, B, min(A, glob), enc.status, enc.seconds)


def _radii(net: Network, X: np.ndarray, p: str) -> tuple[np.ndarray, np.ndarray]:
    """d* (B,) and the flat index (B,) of the unit attaining it (−1 where d* = inf)."""
    if net.n_hidden == 0:
        return np.full(len(X), np.inf), np.full(len(X), -1)
    g, G = (np.concatenate(a, axis=1) for a in zip(*jacobians(net, X)))  # (B, N), (B, N, n0)
    q = dual_norm(G, p)
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.where(q > 0, np.abs(g) / q, np.inf)
    flat = np.argmin(d, axis=1)
    best = d[np.arange(len(X)), flat]
    return best, np.where(np.isfinite(best), flat, -1)


def _sampled(net: Network, x0, r, p, enc: Enclosure, n: int, seed: int) -> tuple[tuple, int]:
    """k_sampled per layer and the number of distinct patterns at points where no |g_j| ≤ τ_j.

    Such a point keeps its pattern on a neighbourhood, so each pattern found has interior in B.  A sample
    contradicting a certified-stable neuron means a certifier bug: it raises rather than mislead.
    """
    if net.n_hidden == 0:
        return (), 1
    X = np.vstack([x0[None, :], sample_ball(x0, r, n, norm=p, seed=seed)])
    gs = net.preactivations(X)
    k = []
    for l, (g, s) in enumerate(zip(gs, enc.state)):
        tau = TAU * np.maximum(1.0, np.abs(g[0]))
        pos, neg = (g > tau).any(axis=0), (g < -tau).any(axis=0)
        if (pos & (s == -1)).any() or (neg & (s == 1)).any():
            raise RuntimeError(f"internal error: the {enc.certifier} certifier called a layer-{l + 1} neuron "
                               "stable but a sample in the ball changes its sign; please report this.")
        k.append(int(np.count_nonzero(pos & neg)))
    g = np.concatenate(gs, axis=1)
    tau = TAU * np.maximum(1.0, np.abs(g[0]))
    clear = (np.abs(g) > tau).all(axis=1)
    packed = np.ascontiguousarray(np.packbits(g[clear] > 0, axis=1))  # (B', ceil(N/8))
    return tuple(k), int(len(np.unique(packed.view(np.dtype((np.void, packed.shape[1]))))))

