"""Sound enclosures of every hidden pre-activation over an ℓp ball, from a Lipschitz bound to an exact MILP.

Everything is computed on the exactly rescaled ball (:class:`explorer.ball.primitives.ScaledBall`), so no
magnitude overflows; neurons are sorted by rule 1 of :mod:`explorer.tolerance` on the rescaled values.  Solver
bounds ("lp", "exact", in :mod:`explorer.ball.ballmodel`) are made rigorous before use and then checked: if they
contradict a point of the ball or the looser enclosure they refine, the solver's answer is dropped and the
status says why.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import ExplorerError
from ..net import Network, interval_bounds
from .primitives import ScaledBall, check_ball, dual_norm, relaxation, sample_ball, scaled_ball, spread

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
    status : str, "complete", or which solves a time limit skipped (those keep the looser certifier's bounds), or
        why a solver's answer was dropped (then the enclosure is the looser certifier's)
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
    time_limit : seconds for the whole chain; solves of the solver certifiers ("lp", "exact") past it are skipped
        and keep the looser bounds
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
    ball = scaled_ball(net, x0, r)  # every bound below is in its rescaled units
    snet, sx0, sr, g0, tau = ball.net, ball.center, ball.radius, list(ball.g0), ball.tau
    chain, bounds = [], []
    for name in CERTIFIERS[:CERTIFIERS.index(certifier) + 1]:
        status = "complete"
        if not g0:  # no hidden layer: nothing can cut the ball
            pass
        elif name == "lipschitz":
            bounds = _lipschitz(net, ball, p)
        elif name == "ibp":
            bounds = _intersect(interval_bounds(snet, *bounds[0]), bounds)
        elif name == "symbolic":
            bounds = _symbolic(snet, sx0, sr, p, bounds)
        else:
            bounds, status = _solver(snet, ball, p, bounds, name, chain[-1].certifier, start + time_limit, progress)
        chain.append(Enclosure(certifier=name, norm=p, lower=tuple(ball.unscaled(l, lo) for l, (lo, _) in enumerate(bounds)),
                               upper=tuple(ball.unscaled(l, hi) for l, (_, hi) in enumerate(bounds)),
                               state=tuple(_classify(lo, hi, t) for (lo, hi), t in zip(bounds, tau)), status=status,
                               seconds=time.perf_counter() - start))
    return tuple(chain)


def _solver(net: Network, ball: ScaledBall, p: str, prev: list, name: str, looser: str, deadline: float,
            progress) -> tuple[list, str]:
    """The "lp" or "exact" bounds (rescaled units), or ``prev`` when the solver's answer fails a sound check.

    Checks: no bound may cross the looser enclosure it refines (beyond τ), and every sampled point of the ball
    (1,024 and the centre) must lie inside the new enclosure (beyond τ).  A solver working to its own
    tolerances on a badly scaled model can return, say, max g = −7.9e18 where g reaches +9e8 on the ball.
    """
    from .ballmodel import solver_bounds  # HiGHS is loaded only for the solver certifiers

    X = np.vstack([ball.center[None, :], sample_ball(ball.center, ball.radius, 1024, norm=p, seed=0)])
    gs = net.preactivations(X)
    states = [_classify(lo, hi, t) for (lo, hi), t in zip(prev, ball.tau)]
    witness = None
    if name == "exact":  # a sign seen at a point of the ball needs no MILP to be proved
        witness = [((g < -t).any(axis=0), (g > t).any(axis=0)) for g, t in zip(gs, ball.tau)]
    bounds, status, found = solver_bounds(net, ball.center, ball.radius, p, prev, states, list(ball.g0), witness,
                                          integer=name == "exact", deadline=deadline, progress=progress)
    conflict = ""
    if found is not None:
        l, j, what, value = found
        conflict = (f"layer {l + 1}, neuron {j}: the solver's {what} {ball.unscaled(l, value, j):.3g} contradicts the "
                    f"value {ball.unscaled(l, ball.g0[l][j], j):.3g} at the centre or the range "
                    f"[{ball.unscaled(l, prev[l][0][j], j):.3g}, {ball.unscaled(l, prev[l][1][j], j):.3g}] it refines")
    for l, ((lo, hi), g, t) in enumerate(zip(bounds, gs, ball.tau)):
        if conflict:
            break
        outside = (g > hi + t) | (g < lo - t)  # (B, n)
        if outside.any():
            i, j = (int(v[0]) for v in np.nonzero(outside))
            conflict = (f"layer {l + 1}, neuron {j}: the solver's range [{ball.unscaled(l, lo[j], j):.3g}, "
                        f"{ball.unscaled(l, hi[j], j):.3g}] misses the value {ball.unscaled(l, g[i, j], j):.3g} at a "
                        "point of the ball")
    if conflict:
        return prev, (f"{name} bounds dropped: {conflict} (the model is badly scaled for the solver); showing the "
                      f"{looser} enclosure instead")
    return bounds, status


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


def _lipschitz(net: Network, ball: ScaledBall, p: str) -> list:
    """Layer 1 exact (c ± r‖w‖_q); layer l ≥ 2: g(x0) ± r ‖W^l_j‖₂ ∏_{2≤i<l} σ_max(W^i) ‖W^1‖_{p→2}
    (σ is 1-Lipschitz, and ‖W^1‖_{p→2} is exact for p = 2, 1 and bounded for p = inf).

    The norms are those of the original ``net`` (the bound is not invariant under rescaling units), carried as
    mantissa and exponent so that nothing overflows; the result is in the ball's rescaled units.
    """
    first = spread(ball.radius, dual_norm(ball.net.weights[0], p))
    out = [(ball.g0[0] - first, ball.g0[0] + first)]
    if p == "2":
        K = _norm(net.weights[0], lambda M: np.linalg.norm(M, 2))
    elif p == "1":
        K = _norm(net.weights[0], lambda M: float(np.max(np.linalg.norm(M, axis=0))))  # largest column: ‖W‖_{1→2}
    else:  # ‖W‖_{∞→2} ≤ min(√n0 σ_max, ‖row ℓ1 norms‖₂)
        K = _norm(net.weights[0], lambda M: min(np.sqrt(M.shape[1]) * np.linalg.norm(M, 2),
                                               float(np.linalg.norm(np.abs(M).sum(axis=1)))))
    r_m, r_e = np.frexp(ball.radius)
    r_e += ball.input_exp
    for l, W in enumerate(net.weights[1:-1], start=1):
        rows = _norm(W, lambda M: np.linalg.norm(M, axis=1))
        with np.errstate(over="ignore"):
            width = np.ldexp(r_m * K[0] * rows[0], r_e + K[1] + rows[1] - ball.unit_exp[l])
        width = np.where((width == 0) & (rows[0] * K[0] > 0), np.nextafter(0.0, 1.0), width)  # never a point
        out.append((ball.g0[l] - width, ball.g0[l] + width))
        if l == len(net.weights) - 2:  # the last hidden layer: no later layer needs K
            break
        sigma, a = _norm(W, lambda M: np.linalg.norm(M, 2))
        m, e = np.frexp(K[0] * sigma)
        K = (m, K[1] + a + e)
    return out


def _norm(W: np.ndarray, norm) -> tuple:
    """(norm(W · 2^−a), a) with 2^a the order of W's largest entry: a homogeneous norm without overflow."""
    a = int(np.frexp(np.abs(W).max(initial=0.0))[1])
    return norm(np.ldexp(W, -a)), a


def _symbolic(net: Network, x0: np.ndarray, r: float, p: str, prev: list) -> list:
    """Forward linear bounds L(y) ≤ g^l(x0 + y) ≤ U(y) through the relaxation lines, concretised over the
    ball as c ∓ r‖a‖_q and intersected with ``prev`` layer by layer."""
    A_lo = A_up = net.weights[0]  # (n_1, n0): coefficients in y = x − x0
    c_lo = c_up = net.weights[0] @ x0 + net.biases[0]
    out = []
    for l, (W, b) in enumerate(zip(net.weights[1:], net.biases[1:])):
        out.append(_intersect([(c_lo - spread(r, dual_norm(A_lo, p)), c_up + spread(r, dual_norm(A_up, p)))],
                              [prev[l]])[0])
        if l == len(prev) - 1:
            break
        lam, mu, s = relaxation(*out[-1], net.alpha)
        Hu_A, Hu_c = lam[:, None] * A_up, lam * c_up + mu  # h ≤ λU + μ
        Hl_A, Hl_c = s[:, None] * A_lo, s * c_lo  # h ≥ sL
        Wp, Wm = np.maximum(W, 0.0), np.minimum(W, 0.0)
        A_lo, A_up = Wp @ Hl_A + Wm @ Hu_A, Wp @ Hu_A + Wm @ Hl_A  # (n_{l+1}, n0)
        c_lo, c_up = Wp @ Hl_c + Wm @ Hu_c + b, Wp @ Hu_c + Wm @ Hl_c + b
    return out
