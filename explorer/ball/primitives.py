"""What every ball computation shares: the ℓp ball (norm names, validation, sampling, dual norms), its exact
power-of-two rescaling, and the linear relaxation of σ used by the symbolic certifier and the LP model."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ExplorerError
from ..net import Network, rescale_units
from ..tolerance import SIGN_TOL

__all__ = ["NORMS", "ScaledBall", "check_ball", "scaled_ball", "sample_ball", "dual_norm", "spread", "relaxation"]

NORMS = ("2", "inf", "1")  # ℓ2 (disk), ℓ∞ (square), ℓ1 (diamond)


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


@dataclass(frozen=True, eq=False, kw_only=True)
class ScaledBall:
    """A ball and its network after exact power-of-two rescaling (explorer.net.rescale_units).

    x = 2^input_exp · x' on every input (one factor, so an ℓp ball stays an ℓp ball) and g^l = 2^{unit_exp[l]} ⊙ g'^l:
    every sign, class and pattern is the same, d* and distances scale by 2^input_exp, and no magnitude of the
    original (radius 1e308, weights 2^±1000) can overflow.  Rule 1 of explorer.tolerance applies to the
    rescaled values: τ_j = SIGN_TOL · max(1, |g'_j(x0')|) (``tau``).

    Attributes
    ----------
    net : the rescaled Network;  center : (n0,) x0';  radius : r';  input_exp : int
    unit_exp : tuple of int64 ndarray (n_l,), one per hidden layer;  g0 : tuple of g'^l(x0');  tau : tuple of τ
    """

    net: Network
    center: np.ndarray
    radius: float
    input_exp: int
    unit_exp: tuple
    g0: tuple
    tau: tuple

    def unscaled(self, layer: int, values: np.ndarray, unit: int | None = None) -> np.ndarray:
        """Values of layer ``layer``'s pre-activations (of one ``unit``, if given) in the original units (±inf
        beyond float64)."""
        with np.errstate(over="ignore"):
            return np.ldexp(values, self.unit_exp[layer] if unit is None else self.unit_exp[layer][unit])


def scaled_ball(net: Network, center: np.ndarray, radius: float) -> ScaledBall:
    """The exact rescaling with max(‖x0‖_∞, r) in [1, 2) after it, or unchanged inputs when that is below 2
    (scaling tiny inputs up would push small weights below float64's normal range); see :class:`ScaledBall`.

    Raises
    ------
    ExplorerError : a row of the network spans more than float64 can hold (explorer.net.rescale_units).
    """
    k = max(0, int(np.frexp(max(float(np.abs(center).max(initial=0.0)), radius))[1]) - 1)
    scaling = rescale_units(net, input_exp=np.full(net.n_inputs, k))
    x0 = np.ldexp(center, -k)
    g0 = tuple(g[0] for g in scaling.net.preactivations(x0))
    return ScaledBall(net=scaling.net, center=x0, radius=float(np.ldexp(radius, -k)), input_exp=k,
                      unit_exp=scaling.unit_exp, g0=g0, tau=tuple(SIGN_TOL * np.maximum(1.0, np.abs(g)) for g in g0))


def sample_ball(center: np.ndarray, radius: float, n_samples: int, *, norm: str = "2", seed: int = 0) -> np.ndarray:
    """``n_samples`` points (n_samples, n0) uniform in the ball of radius r(1 − SIGN_TOL), so strictly inside
    the open ball.

    p = 2: normalised Gaussian direction times r·U^{1/n0}; inf: uniform in the cube; 1: normalised
    exponentials (uniform on the simplex) with random signs.
    """
    rng, x0 = np.random.default_rng(seed), np.asarray(center, dtype=np.float64)
    n, n0, r = int(n_samples), x0.size, radius * (1 - SIGN_TOL)
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


def spread(radius: float, norms: np.ndarray) -> np.ndarray:
    """radius · norms, with products that underflow to 0 raised to the smallest positive float: a ball's
    enclosure of a non-constant neuron must never collapse to a point (which would sort it as constant)."""
    out = radius * norms
    return np.where((out == 0) & (norms > 0) & (radius > 0), np.nextafter(0.0, 1.0), out)


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
