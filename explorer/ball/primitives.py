"""What every ball computation shares: the ℓp ball (norm names, validation, sampling, dual norms) and the
linear relaxation of σ used by the symbolic certifier and the LP model."""

from __future__ import annotations

import numpy as np

from ..errors import ExplorerError
from ..net import Network
from ..tolerance import SIGN_TOL

__all__ = ["NORMS", "check_ball", "sample_ball", "dual_norm", "relaxation"]

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
