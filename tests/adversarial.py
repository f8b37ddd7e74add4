"""Hypothesis strategies for badly scaled networks (issue 11): rows scaled by 2^±40, tiny, huge or zero biases,
nearly parallel (one rounding apart) and opposite rows."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from explorer.net import Network

__all__ = ["badly_scaled_nets"]


@st.composite
def badly_scaled_nets(draw, *, min_width: int = 1, max_layers: int = 3, leaky: bool = True) -> Network:
    """A 2-input network with 1..max_layers hidden layers of min_width..4 units, ReLU or (if ``leaky``) LeakyReLU."""
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    widths = draw(st.lists(st.integers(min_width, 4), min_size=1, max_size=max_layers))
    ws, bs, n = [], [], 2
    for w in widths + [1]:
        W, b = rng.normal(size=(w, n)), rng.normal(size=w)
        if w >= 2 and draw(st.booleans()):  # a nearly parallel (or exactly opposite) pair
            W[1] = -W[0] if draw(st.booleans()) else W[0] * (1 + 2.0 ** -draw(st.integers(10, 45)))
        b *= np.array([draw(st.sampled_from([0.0, 1.0, 2.0 ** -40, 2.0 ** 40, 1e-300])) for _ in range(w)])
        scale = np.array([2.0 ** draw(st.integers(-40, 40)) for _ in range(w)])
        ws.append(W * scale[:, None])
        bs.append(b * scale)
        n = w
    slope = leaky and draw(st.booleans())
    return Network(tuple(ws), tuple(bs), "leaky_relu" if slope else "relu", 0.125 if slope else 0.0)
