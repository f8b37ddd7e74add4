"""What is drawn over a region map: a selected point with its region, ball and one-region radius d*, pinned
points and a slice's anchor points; and the outline of an ℓp ball.

The ball's ring has a white halo under its coloured line, so it reads over any fill.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from ..ball.primitives import NORMS
from ..errors import ExplorerError

__all__ = ["Selection", "add_overlays", "ball_outline"]


@dataclass(frozen=True, eq=False)
class Selection:
    """A selected point drawn over the map: its region, its ball and the one-region radius d*.

    point : (2,) coordinates;  radius : ball radius;  d_star : distance to the region boundary (or None)
    polygon : (k, 2) vertices of the point's region to outline (or None);  norm : "2", "inf" or "1"
    """

    point: tuple[float, float]
    radius: float
    d_star: float | None = None
    polygon: np.ndarray | None = None
    norm: str = "2"


def add_overlays(fig: go.Figure, *, selection: Selection | None = None,
                 pinned: Sequence[tuple[float, float]] = (), anchors: np.ndarray | None = None) -> go.Figure:
    """Draw a selection (region outline, ball, dashed d* ball, star), pinned points (P1, P2, …) and anchor
    points (p0, p1, …) on a map, in place; returns ``fig``."""
    if anchors is not None and len(anchors):
        fig.add_scatter(x=anchors[:, 0], y=anchors[:, 1], mode="markers+text", name="slice points",
                        text=[f"p{i}" for i in range(len(anchors))], textposition="top center", hoverinfo="skip",
                        marker=dict(symbol="diamond", size=11, color="#FFFFFF", line=dict(width=2)))
    if selection is not None:
        fig.add_traces(_selection_traces(selection))
    if len(pinned):
        pts = np.asarray(pinned, dtype=float).reshape(-1, 2)
        fig.add_scatter(x=pts[:, 0], y=pts[:, 1], mode="markers+text", name="pinned points",
                        text=[f"P{i + 1}" for i in range(len(pts))], textposition="top right", hoverinfo="skip",
                        marker=dict(symbol="x", size=10, color="#000000"))
    return fig


def ball_outline(center, radius: float, norm: str = "2", n_vertices: int = 129) -> np.ndarray:
    """Closed outline (n_vertices, 2) of the ℓp ball of the given radius: circle, square (inf) or diamond (1)."""
    if norm not in NORMS:
        raise ExplorerError(f"unknown norm {norm!r}; choose one of {', '.join(NORMS)}.")
    t = np.linspace(0.0, 2 * np.pi, n_vertices)
    unit = np.stack([np.cos(t), np.sin(t)], axis=1)  # (n, 2)
    if norm != "2":  # scale each direction onto the unit sphere of the norm (n - 1 divisible by 8 hits corners)
        unit = unit / np.linalg.norm(unit, ord={"inf": np.inf, "1": 1}[norm], axis=1)[:, None]
    return np.asarray(center, dtype=float)[None, :] + radius * unit



# ---- helpers ---------------------------------------------------------------------------------------
def _selection_traces(sel: Selection) -> list:
    traces = []
    if sel.polygon is not None and len(sel.polygon):
        poly = np.vstack([sel.polygon, sel.polygon[:1]])
        traces.append(go.Scatter(x=poly[:, 0], y=poly[:, 1], mode="lines", name="selected region",
                                 line=dict(color="#332288", width=3.5), hoverinfo="skip"))
    ring = ball_outline(sel.point, sel.radius, sel.norm)
    traces.append(go.Scatter(x=ring[:, 0], y=ring[:, 1], mode="lines", name="ball halo", showlegend=False,
                             hoverinfo="skip", line=dict(color="rgba(255,255,255,0.9)", width=6)))  # shows on any fill
    traces.append(go.Scatter(x=ring[:, 0], y=ring[:, 1], mode="lines", name=f"ball r = {sel.radius:.3g}",
                             line=dict(color="#D55E00", width=2.5), fill="toself",
                             fillcolor="rgba(213,94,0,0.08)", hoverinfo="skip"))
    if sel.d_star is not None and np.isfinite(sel.d_star) and sel.d_star > 0:
        ring = ball_outline(sel.point, sel.d_star, sel.norm)
        traces.append(go.Scatter(x=ring[:, 0], y=ring[:, 1], mode="lines", name=f"d* = {sel.d_star:.3g}",
                                 line=dict(color="#000000", width=1.5, dash="dash"), hoverinfo="skip"))
    traces.append(go.Scatter(x=[sel.point[0]], y=[sel.point[1]], mode="markers", name="selected point",
                             marker=dict(symbol="star", size=14, color="#FFFFFF", line=dict(width=1.5)),
                             hoverinfo="x+y"))
    return traces
