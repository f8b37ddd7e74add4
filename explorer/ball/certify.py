"""Sound enclosures of every hidden pre-activation over an ℓp ball, from a Lipschitz bound to an exact MILP.

Tolerance policy (the one used by every local count): with τ_j = 1e-9·max(1, |g_j(x0)|), a neuron whose
enclosure [lo, hi] has lo > τ is certified active on the ball, hi < −τ certified inactive, and anything else
may cut the ball.  A neuron whose enclosure is a single point is constant on the ball and sorted by its sign.
Solver bounds ("lp", "exact", in :mod:`explorer.ball.ballmodel`) are made rigorous before use.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import ExplorerError
from ..net import Network, interval_bounds

__all__ = ["CERTIFIERS", "NORMS", "EXACT_MAX_UNITS", "TAU", "Enclosure", "certify", "certify_chain",
           "check_ball", "sample_ball", "dual_norm", "relaxation"]

CERTIFIERS = ("lipschitz", "ibp", "symbolic", "lp", "exact")
NORMS = ("2", "inf", "1")
EXACT_MAX_UNITS = 128
TAU = 1e-9


@dataclass(frozen=True, eq=False)
class Enclosure:
    """Sound enclosures lower ≤ g^l(x) ≤ upper of every hidden pre-activation for x in the closed ball.

    Attributes
    ----------
    certifier : str, one of CERTIFIERS
    norm : str, "2", "inf" or "1"
    lower, upper : tuple of float64 ndarray (n_l,), one per hidden layer
    state : tuple of int8 ndarray (n_l,): +1 certified active on the ball, −1 certified inactive, 0 may cut it
    status : str, "complete", or which solves a time limit skipped (those keep the looser certifier's bounds)
    seconds : float, time spent on this certifier and the looser ones it refines
    """

    certifier: str
    norm: str
    lower: tuple
    upper: tuple
    state: tuple
    status: str
    seconds: float

    @property
    def k(self) -> tuple[int, ...]:
        """Neurons per layer that may cut the ball, k_l = |U_l|."""
        return tuple(int(np.count_nonzero(s == 0)) for s in self.state)


def certify(net: Network, center, radius: float, *, norm: str = "2", certifier: str = "symbolic",
            time_limit: float = 60.0, progress: Callable[[float, str], None] | None = None) -> Enclosure:
    """Enclose every hidden pre-activation over B_p(center, radius) and sort the neurons.

    Neuron (l, j) cuts the ball iff inf_B g < 0 < sup_B g; any sound [lo, hi] ⊇ g(B) sorts it as
    active (lo > τ), inactive (hi < −τ) or possibly cutting.  Each certifier is intersected with the
    looser ones it refines, so a tighter certifier never reports a larger k.

    Parameters
    ----------
    net : Network
    center : array-like (n0,)
    radius : float > 0
    norm : "2" (default), "inf" or "1"
    certifier : "lipschitz", "ibp", "symbolic" (default), "lp" or "exact"
    time_limit : seconds for the solver certifiers ("lp", "exact"); skipped solves keep looser bounds
    progress : optional callback progress(fraction_of_solves_done, message) for "lp" and "exact"

    Raises
    ------
    ExplorerError
        Bad centre, radius, norm or certifier name, or "exact" on more than EXACT_MAX_UNITS hidden units.

    Notes
    -----
    Cost: lipschitz and ibp about one forward pass; symbolic O(Σ n_l n_{l−1} n0); lp two LPs and exact up to
    two MILPs per possibly-cutting neuron of layers ≥ 2 (layer 1 is exact for every certifier).  "exact"
    skips a MILP whose sign 1,024 sample points of the ball already show, and stops HiGHS at a 10 % relative
    gap: its neuron classes are exact (p = inf, 1; p = 2 up to the cut polytope), its bounds within 10 %.

    Examples
    --------
    >>> net = Network(([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], [[1.0, 1.0, 1.0]]), ([0.0, 0.0, -1.0], [0.0]))
    >>> certify(net, [0.0, 0.0], 0.5).k
    (2,)
    >>> certify(net, [2.0, 2.0], 1.0, certifier="ibp").state[0].tolist()
    [1, 1, 1]
    """
    return certify_chain(net, center, radius, norm=norm, certifier=certifier, time_limit=time_limit,
                         progress=progress)[-1]


def certify_chain(net: Network, center, radius: float, *, norm: str = "2", certifier: str = "symbolic",
                  time_limit: float = 60.0, progress: Callable[[float, str], None] | None = None
                  ) -> tuple[Enclosure, ...]:
    """The enclosures of every certifier from "lipschitz" up to ``certifier``, each refining the last.

    Same parameters as :func:`certify`; returns one Enclosure per certifier in CERTIFIERS order.
    """
    x0, r, p = check_ball(net, center, radius, norm)
    if certifier not in CERTIFIERS:
        raise ExplorerError(f"unknown certifier {certifier!r}; use one of {', '.join(CERTIFIERS)}.")
    if certifier == "exact" and net.n_hidden > EXACT_MAX_UNITS:
        raise ExplorerError(f"the exact certifier handles networks with at most {EXACT_MAX_UNITS} hidden units; "
                            f"this one has {net.n_hidden}. Use the lp or symbolic certifier.")
    start = time.perf_counter()
    g0 = [g[0] for g in net.preactivations(x0)]
    tau = [TAU * np.maximum(1.0, np.abs(g)) for g in g0]
    chain, bounds = [], []
    for name in CERTIFIERS[:CERTIFIERS.index(certifier) + 1]:
        status = "complete"
        if not g0:  # no hidden layer: nothing can cut the ball
            pass
        elif name == "lipschitz":
            bounds = _lipschitz(net, x0, r, p, g0)
        elif name == "ibp":
            bounds = _intersect(interval_bounds(net, *bounds[0]), bounds)
        elif name == "symbolic":
            bounds = _symbolic(net, x0, r, p, bounds)
        else:
            from .ballmodel import solver_bounds  # HiGHS is loaded only for the solver certifiers

            states = [_classify(lo, hi, t) for (lo, hi), t in zip(bounds, tau)]
            witness = None
            if name == "exact":  # a sign seen at a point of the ball needs no MILP to be proved
                g = net.preactivations(sample_ball(x0, r, 1024, norm=p, seed=0))
                witness = [((gl < -t).any(axis=0), (gl > t).any(axis=0)) for gl, t in zip(g, tau)]
            bounds, status = solver_bounds(net, x0, r, p, bounds, states, g0, witness, integer=name == "exact",
                                           deadline=time.perf_counter() + time_limit, progress=progress)
        chain.append(Enclosure(name, p, tuple(lo for lo, _ in bounds), tuple(hi for _, hi in bounds),
                               tuple(_classify(lo, hi, t) for (lo, hi), t in zip(bounds, tau)), status,
                               time.perf_counter() - start))
    return tuple(chain)


def check_ball(net: Network, center, radius: float, norm: str = "2") -> tuple[np.ndarray, float, str]:
    """Validate a ball for ``net``; returns (center as float64 (n0,), radius, norm as "2" | "inf" | "1")."""
    p = {"2": "2", "2.0": "2", "l2": "2", "inf": "inf", "∞": "inf", "linf": "inf", "1": "1", "1.0": "1",
         "l1": "1"}.get(str(norm).strip().lower())
    if p is None:
        raise ExplorerError(f"unknown norm {norm!r}; use 2, inf or 1.")
    try:
        x0 = np.asarray(center, dtype=np.float64).reshape(-1)
        r = float(radius)
    except (TypeError, ValueError):
        raise ExplorerError("the centre must be a list of numbers and the radius a number.") from None
    if x0.size != net.n_inputs:
        raise ExplorerError(f"the centre has {x0.size} coordinates but the network takes {net.n_inputs} inputs.")
    if not np.isfinite(x0).all():
        raise ExplorerError("the centre has NaN or infinite coordinates; give finite numbers.")
    if not (np.isfinite(r) and r > 0):
        raise ExplorerError(f"the radius must be a finite number > 0; got {radius}.")
    return x0, r, p


def sample_ball(center: np.ndarray, radius: float, n: int, *, norm: str = "2", seed: int = 0) -> np.ndarray:
    """n points (n, n0) uniform in the ball of radius r(1 − 1e-9), so strictly inside the open ball.

    p = 2: normalised Gaussian direction times r·U^{1/n0}; inf: uniform in the cube; 1: normalised
    exponentials (uniform on the simplex) with random signs.
    """
    rng, x0 = np.random.default_rng(seed), np.asarray(center, dtype=np.float64)
    n0, r = x0.size, radius * (1 - 1e-9)
    if norm == "inf":
        return x0 + rng.uniform(-r, r, size=(n, n0))
    if norm == "1":
        e = rng.exponential(size=(n, n0 + 1))
        return x0 + r * e[:, :n0] / e.sum(axis=1, keepdims=True) * rng.choice([-1.0, 1.0], size=(n, n0))
    d = rng.standard_normal((n, n0))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    return x0 + r * d * rng.uniform(size=(n, 1)) ** (1 / n0)


def dual_norm(a: np.ndarray, norm: str) -> np.ndarray:
    """‖a‖_q along the last axis, q dual to p (sup of a·y over the unit p-ball): 2 → 2, inf → 1, 1 → inf."""
    a = np.abs(np.asarray(a, dtype=np.float64))
    if norm == "2":
        return np.sqrt(np.sum(a * a, axis=-1))
    return np.sum(a, axis=-1) if norm == "inf" else np.max(a, axis=-1, initial=0.0)


def relaxation(lo: np.ndarray, hi: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lines s·g ≤ σ(g) ≤ λ·g + μ valid on [lo, hi]; returns (λ, μ, s), all slopes ≥ 0.

    Stable neurons are exact (λ = s = 1 or α, μ = 0); an unstable one gets the chord
    λ = (hi − α·lo)/(hi − lo), μ = (α − λ)·lo, and the lower slope s = 1 if hi > −lo else α.
    """
    unstable = (lo < 0) & (hi > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        chord = np.where(unstable, (hi - alpha * lo) / (hi - lo), 0.0)
    lam = np.where(unstable, chord, np.where(lo >= 0, 1.0, alpha))
    mu = np.where(unstable, (alpha - chord) * lo, 0.0)
    s = np.where(unstable, np.where(hi > -lo, 1.0, alpha), lam)
    return lam, mu, s


# ---- certifiers ----------------------------------------------------------------------------------
def _classify(lo: np.ndarray, hi: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """+1 / −1 / 0 per neuron under the τ rule; a point enclosure is a constant neuron, sorted by sign."""
    state = np.where(lo > tau, 1, np.where(hi < -tau, -1, 0))
    return np.where(lo == hi, np.where(lo > 0, 1, -1), state).astype(np.int8)


def _intersect(new: list, old: list) -> list:
    """Layer-wise [max(lo), min(hi)]; where rounding makes them cross, keep the older enclosure."""
    out = []
    for (lo, hi), (olo, ohi) in zip(new, old):
        lo, hi = np.maximum(lo, olo), np.minimum(hi, ohi)
        bad = lo > hi
        out.append((np.where(bad, olo, lo), np.where(bad, ohi, hi)))
    return out


def _lipschitz(net: Network, x0: np.ndarray, r: float, p: str, g0: list) -> list:
    """Layer 1 exact (c ± r‖w‖_q); layer l ≥ 2: g(x0) ± r ‖W^l_j‖₂ ∏_{2≤i<l} σ_max(W^i) ‖W^1‖_{p→2}
    (σ is 1-Lipschitz, and ‖W^1‖_{p→2} is exact for p = 2, 1 and bounded for p = inf)."""
    W1 = net.weights[0]
    if p == "2":
        K = np.linalg.norm(W1, 2)
    elif p == "1":
        K = float(np.max(np.linalg.norm(W1, axis=0)))  # largest column: ‖W‖_{1→2}
    else:  # ‖W‖_{∞→2} ≤ min(√n0 σ_max, ‖row ℓ1 norms‖₂)
        K = min(np.sqrt(W1.shape[1]) * np.linalg.norm(W1, 2), float(np.linalg.norm(np.abs(W1).sum(axis=1))))
    spread = r * dual_norm(W1, p)
    out = [(g0[0] - spread, g0[0] + spread)]
    for l, W in enumerate(net.weights[1:-1], start=1):
        spread = r * K * np.linalg.norm(W, axis=1)
        out.append((g0[l] - spread, g0[l] + spread))
        K *= np.linalg.norm(W, 2)
    return out


def _symbolic(net: Network, x0: np.ndarray, r: float, p: str, prev: list) -> list:
    """Forward linear bounds L(y) ≤ g^l(x0 + y) ≤ U(y) through the relaxation lines, concretised over the
    ball as c ∓ r‖a‖_q and intersected with ``prev`` layer by layer."""
    A_lo = A_up = net.weights[0]  # (n_1, n0): coefficients in y = x − x0
    c_lo = c_up = net.weights[0] @ x0 + net.biases[0]
    out = []
    for l, (W, b) in enumerate(zip(net.weights[1:], net.biases[1:])):
        out.append(_intersect([(c_lo - r * dual_norm(A_lo, p), c_up + r * dual_norm(A_up, p))], [prev[l]])[0])
        if l == len(prev) - 1:
            break
        lam, mu, s = relaxation(*out[-1], net.alpha)
        Hu_A, Hu_c = lam[:, None] * A_up, lam * c_up + mu  # h ≤ λU + μ
        Hl_A, Hl_c = s[:, None] * A_lo, s * c_lo  # h ≥ sL
        Wp, Wm = np.maximum(W, 0.0), np.minimum(W, 0.0)
        A_lo, A_up = Wp @ Hl_A + Wm @ Hu_A, Wp @ Hu_A + Wm @ Hl_A  # (n_{l+1}, n0)
        c_lo, c_up = Wp @ Hl_c + Wm @ Hu_c + b, Wp @ Hu_c + Wm @ Hl_c + b
    return out
