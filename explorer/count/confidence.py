"""Confidence of k-of-t trial rules (spec §4.4): P[Bin(t, 2^−α) ≥ k] ≤ 1 − p and the slack α it needs.

If each of t independent trials passes a test with probability at most 2^−α when the bound is wrong, the
bound is wrong with k passes or more with probability at most P[Bin(t, 2^−α) ≥ k].
"""

from __future__ import annotations

import math

__all__ = ["binomial_tail", "alpha_for", "all_feasible_confidence", "majority_k", "majority_error"]


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
