"""Figures of network inputs: an input as an image or as feature bars, and the map of a slice through data points.

An image input x (n0,) of shape (C, H, W) is drawn as C greyscale H×W panels side by side (ink dark: 0 white,
1 black, the range the data is scaled to); other inputs as one bar per feature (scaled value, the raw value
in the hover).  :func:`slice_map` is :func:`explorer.plot.figures.region_map` of the plane
x = p0 + a·(p1 − p0) + b·(p2 − p0) with the samples at their plane positions, and :func:`plane_ball_outline`
is the exact cut of an input-space ℓ2 ball by that plane (an ellipse in (a, b)).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..errors import ExplorerError
from ..plane.regions import Regions
from .figures import FONT, MapOptions, region_map

__all__ = ["input_image", "input_gallery", "feature_bars", "slice_map", "plane_ball_outline", "picture",
           "INK", "MAX_BARS"]

INK = ((0.0, "#FFFFFF"), (1.0, "#000000"))  # greyscale: 0 is paper, 1 is ink
MAX_BARS = 60  # more features than this are drawn as a line over the feature index


def picture(x, shape: Sequence[int]) -> np.ndarray:
    """The 2-D array (H, C·W + C − 1) that shows input ``x`` of image shape (C, H, W) or (H, W): the channels
    side by side, separated by a NaN column; pixel (c, i, j) is x[c·H·W + i·W + j] (row-major, as torch flattens).
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) == 2:
        shape = (1, *shape)
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    if len(shape) != 3 or min(shape) < 1 or int(np.prod(shape)) != x.size:
        raise ExplorerError(f"an image input needs an image shape (C, H, W) with C·H·W = {x.size} values; "
                            f"got {shape}.")
    c, h, w = shape
    panels = x.reshape(c, h, w)
    gap = np.full((h, 1), np.nan)
    return np.hstack([part for k in range(c) for part in ((panels[k],) if k == 0 else (gap, panels[k]))])


def input_image(x, shape: Sequence[int], *, title: str = "", height: int = 260) -> go.Figure:
    """One input as a greyscale image (rows top to bottom, as the picture is seen); hover shows each value.

    Values outside [0, 1] (points of a slice beyond the data) keep their value in the hover and are drawn
    at the nearest end of the scale.
    """
    fig = go.Figure(_heatmap(picture(x, shape)))
    fig.update_layout(template="none", height=height, margin=dict(l=10, r=10, t=30 if title else 8, b=8),
                      font=FONT, title=dict(text=title, x=0.5, font=dict(size=13)) if title else None,
                      meta=dict(figure="input-image"))
    fig.update_xaxes(visible=False, constrain="domain")
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x", constrain="domain")
    return fig


def input_gallery(inputs, shape: Sequence[int], *, titles: Sequence[str], height: int = 170) -> go.Figure:
    """Several inputs as images in one row (e.g. the three samples that span a slice), one title each."""
    inputs = [np.asarray(x, dtype=np.float64) for x in inputs]
    if len(titles) != len(inputs) or not inputs:
        raise ExplorerError(f"input_gallery needs one title per input; got {len(titles)} titles for "
                            f"{len(inputs)} inputs.")
    fig = make_subplots(rows=1, cols=len(inputs), subplot_titles=list(titles), horizontal_spacing=0.04)
    for k, x in enumerate(inputs, start=1):
        fig.add_trace(_heatmap(picture(x, shape)), row=1, col=k)
        fig.update_xaxes(visible=False, constrain="domain", row=1, col=k)
        fig.update_yaxes(visible=False, autorange="reversed", scaleanchor=f"x{'' if k == 1 else k}",
                         constrain="domain", row=1, col=k)
    fig.update_layout(template="none", height=height, margin=dict(l=5, r=5, t=28, b=5), font=FONT,
                      meta=dict(figure="input-gallery"))
    return fig


def feature_bars(x, names: Sequence[str], *, feature_range=None, references: Sequence = (),
                 reference_names: Sequence[str] = (), height: int | None = None) -> go.Figure:
    """One input's features as bars of their scaled values, with reference inputs (e.g. p0, p1, p2) as markers.

    feature_range : (d, 2) raw [min, max] per feature (raw = min + x·(max − min), shown in the hover), or None
    More than MAX_BARS features are drawn as a line over the feature index.
    """
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    d = x.size
    names = [str(n) for n in names] if len(names) == d else [str(i) for i in range(d)]
    raw = None if feature_range is None else np.asarray(feature_range, dtype=np.float64).reshape(d, 2)

    def hover(values: np.ndarray) -> list[str]:
        if raw is None:
            return [f"{n}: {v:.4g}" for n, v in zip(names, values)]
        real = raw[:, 0] + values * (raw[:, 1] - raw[:, 0])
        return [f"{n}: {v:.4g} (raw {r:.4g})" for n, v, r in zip(names, values, real)]

    many = d > MAX_BARS
    axis = list(range(d)) if many else names
    main = (go.Scatter(x=axis, y=x, mode="lines", name="this input", line=dict(color="#0072B2", width=2),
                       hovertext=hover(x), hoverinfo="text") if many else
            go.Bar(y=axis, x=x, orientation="h", name="this input", marker_color="#0072B2", hovertext=hover(x),
                   hoverinfo="text"))
    fig = go.Figure(main)
    for ref, label, symbol in zip(references, reference_names, ("diamond", "square", "triangle-up", "circle")):
        ref = np.asarray(ref, dtype=np.float64).reshape(-1)
        fig.add_trace(go.Scatter(x=axis if many else ref, y=ref if many else axis, mode="markers", name=label,
                                 hovertext=hover(ref), hoverinfo="text",
                                 marker=dict(symbol=symbol, size=8, color="#FFFFFF", line=dict(width=1.5))))
    value_axis = dict(title="scaled value (data: 0 to 1)", zeroline=True)
    fig.update_layout(template="none", font=FONT, height=height or (320 if many else 110 + 22 * d),
                      margin=dict(l=10, r=10, t=30, b=40),
                      legend=dict(orientation="h", x=0.0, y=1.0, yanchor="bottom", xanchor="left"),
                      bargap=0.25, meta=dict(figure="input-features"),
                      xaxis=dict(title="feature") if many else value_axis,
                      yaxis=value_axis if many else dict(autorange="reversed", automargin=True, dtick=1,
                                                         tickfont=dict(size=11)))
    return fig


def slice_map(regions: Regions, options: MapOptions | None = None, *, samples, sample_text: Sequence[str],
              others=None, other_text: Sequence[str] = (), point=None, polygon=None, ball=None,
              **changes) -> go.Figure:
    """The exact partition of a plane through data points, with the points drawn where they lie.

    regions : partition of the 2-input network on the plane x = p0 + a·(p1 − p0) + b·(p2 − p0)
    samples : (K, 2) plane coordinates of the spanning samples ((0, 0), (1, 0), (0, 1)), labelled ``sample_text``
    others : (M, 2) plane coordinates of other samples (projected onto the plane), labelled ``other_text``
    point : (a, b) of a selected point;  polygon : (k, 2) outline of its region;  ball : (m, 2) outline of
        the cut of its input-space ball by the plane (:func:`plane_ball_outline`)
    ``options`` and keywords as for :func:`explorer.plot.figures.region_map`.
    """
    fig = region_map(regions, options, **changes)
    if others is not None and len(others):
        pts = np.asarray(others, dtype=np.float64).reshape(-1, 2)
        fig.add_scatter(x=pts[:, 0], y=pts[:, 1], mode="markers", name="other samples (projected)",
                        hovertext=list(other_text) or None, hoverinfo="text" if len(other_text) else "x+y",
                        marker=dict(symbol="circle", size=7, color="#777777", line=dict(width=1, color="#FFFFFF")))
    pts = np.asarray(samples, dtype=np.float64).reshape(-1, 2)
    fig.add_scatter(x=pts[:, 0], y=pts[:, 1], mode="markers+text", name="samples", text=list(sample_text),
                    textposition="top center", hoverinfo="text", hovertext=list(sample_text),
                    textfont=dict(size=13, color="#000000"),
                    marker=dict(symbol="diamond", size=13, color="#FFFFFF", line=dict(width=2, color="#000000")))
    if polygon is not None and len(polygon):
        ring = np.vstack([polygon, polygon[:1]])
        fig.add_scatter(x=ring[:, 0], y=ring[:, 1], mode="lines", name="selected region", hoverinfo="skip",
                        line=dict(color="#332288", width=3.5))
    if ball is not None and len(ball):
        ring = np.asarray(ball, dtype=np.float64)
        fig.add_scatter(x=ring[:, 0], y=ring[:, 1], mode="lines", name="ball ∩ plane", hoverinfo="skip",
                        line=dict(color="#D55E00", width=2.5), fill="toself", fillcolor="rgba(213,94,0,0.08)")
    if point is not None:
        fig.add_scatter(x=[point[0]], y=[point[1]], mode="markers", name="selected point", hoverinfo="x+y",
                        marker=dict(symbol="star", size=14, color="#FFFFFF", line=dict(width=1.5)))
    fig.update_layout(xaxis_title_text="a (p0 → p1)", yaxis_title_text="b (p0 → p2)")
    return fig


def plane_ball_outline(center, radius: float, basis, *, n_vertices: int = 129) -> np.ndarray:
    """Closed outline (n_vertices, 2) of {z : ‖B (z − center)‖₂ = radius}, the ℓ2 ball of input space cut by
    the plane x = origin + B z (B = basis, (n0, 2) of rank 2): an ellipse with Gram matrix G = BᵀB.

    With G = Q diag(λ) Qᵀ the outline is z = center + radius · Q diag(λ^-1/2) (cos θ, sin θ).
    """
    basis = np.asarray(basis, dtype=np.float64)
    if basis.ndim != 2 or basis.shape[1] != 2 or not np.isfinite(basis).all():
        raise ExplorerError(f"the plane's basis must be a finite (n0, 2) array; got shape {basis.shape}.")
    if not (np.isfinite(radius) and radius > 0):
        raise ExplorerError(f"the radius must be a positive number; got {radius!r}.")
    lam, q = np.linalg.eigh(basis.T @ basis)  # (2,), (2, 2)
    if lam[0] <= 1e-12 * max(lam[1], np.finfo(float).tiny):
        raise ExplorerError("the plane's two directions are parallel, so the ball's cut is no ellipse.")
    theta = np.linspace(0.0, 2 * np.pi, n_vertices)
    circle = np.stack([np.cos(theta), np.sin(theta)], axis=1)  # (m, 2)
    return np.asarray(center, dtype=np.float64).reshape(1, 2) + radius * (circle / np.sqrt(lam)) @ q.T


def _heatmap(z: np.ndarray) -> go.Heatmap:
    return go.Heatmap(z=z, zmin=0.0, zmax=1.0, colorscale=[list(c) for c in INK], showscale=False,
                      hovertemplate="row %{y}, column %{x}: %{z:.3f}<extra></extra>", xgap=0.5, ygap=0.5)
