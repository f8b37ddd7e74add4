"""Sound enclosures of every hidden pre-activation over an ℓp ball, from a Lipschitz bound to an exact MILP.

Neurons are sorted by rule 1 of :mod:`explorer.tolerance` (τ_j = SIGN_TOL·max(1, |g_j(x0)|)); solver bounds
("lp", "exact", in :mod:`explorer.ball.ballmodel`) are made rigorous before use.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import ExplorerError
from ..net import Network, interval_bounds
from ..tolerance import SIGN_TOL
from .primitives import check_ball, dual_norm, relaxation, sample_ball

__all__ = ["CERTIFIERS", "EXACT_MAX_UNITS", "Enclosure", "certify", "certify_chain"]

CERTIFIERS = ("lipschitz", "ibp", "symbolic", "lp", "exact")
EXACT_MAX_UNITS = 128


@dataclass(frozen=True, eq=False, kw_only=True)
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
    tau = [SIGN_TOL * np.maximum(1.0, np.abs(g)) for g in g0]
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
        chain.append(Enclosure(certifier=name, norm=p, lower=tuple(lo for lo, _ in bounds),
                               upper=tuple(hi for _, hi in bounds),
                               state=tuple(_classify(lo, hi, t) for (lo, hi), t in zip(bounds, tau)), status=status,
                               seconds=time.perf_counter() - start))
    return tuple(chain)


# ---- certifiers ----------------------------------------------------------------------------------
def _classify(lo: np.ndarray, hi: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """+1 / −1 / 0 per neuron by rule 1 of explorer.tolerance; a point enclosure is a constant neuron, sorted by
    its sign."""
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
