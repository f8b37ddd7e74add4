"""The sampled lower side of the local bounds, and the check of every enclosure against the same points.

Points are drawn uniformly in the ball and evaluated on the exactly rescaled network
(:class:`explorer.ball.primitives.ScaledBall`), so no value overflows.  Signs follow rule 1 of
:mod:`explorer.tolerance` with the ball's τ_j, as for the certifiers and the exact count, so
k_sampled ≤ k_exact ≤ k_certified.  Enclosures are checked by containment, with a tolerance relative to the
sampled range of each neuron: a sign test relative to |g(x0)| misses an upper bound of −7.9e18 for a neuron
that reaches +9e8 when |g(x0)| is near 1e18.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..tolerance import SIGN_TOL
from .certify import Enclosure
from .primitives import ScaledBall, sample_ball

__all__ = ["SampledBall", "sample_counts"]

CHUNK = 1024  # points evaluated together; the deadline is checked between chunks


@dataclass(frozen=True, eq=False, kw_only=True)
class SampledBall:
    """What uniform points of the ball show.

    Attributes
    ----------
    k : tuple of int (L,), neurons per layer taking both signs beyond τ at the points (≤ k_exact)
    n_patterns : int, distinct patterns at points where every |g_j| > τ_j (≤ N_B: such a point keeps its
        pattern on a neighbourhood, so each pattern found has interior in the ball)
    n_drawn : int, points evaluated (the centre and up to ``n_samples``; fewer when the deadline came first)
    violation : dict, certifier name -> sentence, for every enclosure some point lies outside of
    """

    k: tuple
    n_patterns: int
    n_drawn: int
    violation: dict


def sample_counts(ball: ScaledBall, norm: str, chain: tuple[Enclosure, ...], n_samples: int, seed: int,
                  deadline: float | None = None) -> SampledBall:
    """k_sampled, the sampled pattern count and the enclosures' check, from the centre and ``n_samples``
    uniform points of the ball (seeded by ``seed``), evaluated until ``deadline`` (time.perf_counter())."""
    net = ball.net
    L = len(net.hidden_widths)
    if L == 0:
        return SampledBall(k=(), n_patterns=1, n_drawn=n_samples + 1, violation={})
    X = np.vstack([ball.center[None, :], sample_ball(ball.center, ball.radius, n_samples, norm=norm, seed=seed)])
    bounds = [[(np.ldexp(lo, -e), np.ldexp(hi, -e)) for lo, hi, e in zip(enc.lower, enc.upper, ball.unit_exp)]
              for enc in chain]  # back to the rescaled units (exact; ±inf stays ±inf)
    pos = [np.zeros(n, bool) for n in net.hidden_widths]
    neg = [np.zeros(n, bool) for n in net.hidden_widths]
    violation, keys, n_drawn = {}, [], 0
    for lo in range(0, len(X), CHUNK):
        if lo > 0 and deadline is not None and time.perf_counter() > deadline:
            break
        gs = net.preactivations(X[lo:lo + CHUNK])
        n_drawn += len(gs[0])
        clear = np.ones(len(gs[0]), bool)
        for l, (g, tau) in enumerate(zip(gs, ball.tau)):
            pos[l] |= (g > tau).any(axis=0)
            neg[l] |= (g < -tau).any(axis=0)
            clear &= (np.abs(g) > tau).all(axis=1)
            slack = SIGN_TOL * np.maximum(np.maximum(1.0, np.abs(ball.g0[l])), np.abs(g).max(axis=0))
            for enc, layers in zip(chain, bounds):
                low, high = layers[l]
                outside = (g < low - slack) | (g > high + slack)
                if enc.certifier not in violation and outside.any():
                    i, j = (int(v[0]) for v in np.nonzero(outside))
                    violation[enc.certifier] = (
                        f"layer {l + 1}, neuron {j}: the value {ball.unscaled(l, g[i, j], j):.3g} at a point of the ball "
                        f"lies outside the certified range [{enc.lower[l][j]:.3g}, {enc.upper[l][j]:.3g}]")
        packed = np.ascontiguousarray(np.packbits(np.concatenate(gs, axis=1)[clear] > 0, axis=1))
        keys.append(packed.view(np.dtype((np.void, packed.shape[1]))).ravel())
    k = tuple(int(np.count_nonzero(p & q)) for p, q in zip(pos, neg))
    return SampledBall(k=k, n_patterns=int(len(np.unique(np.concatenate(keys)))), n_drawn=n_drawn,
                       violation=violation)
