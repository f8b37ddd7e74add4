"""Figures for teaching: disks over a map, the layer-by-layer reveal, the training timeline, counts by depth.

Like explorer.plot.figures, every function returns a ``plotly.graph_objects.Figure`` and imports no Streamlit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..ball.disk import disk_count
from ..errors import ExplorerError
from ..plane.regions import Regions
from ..train.data import Dataset
from .figures import region_map
from .overlays import ball_outline
from .style import FONT, log_axis

__all__ = ["add_disks", "layer_reveal", "timeline_figure", "depth_figure"]

def add_disks(fig: go.Figure, disks: Sequence[Sequence[float]], *, regions: Regions | None = None,
              norm: str = "2") -> go.Figure:
    """A copy of ``fig`` with the ℓp balls {x : ‖x − c‖ < r} of ``disks`` = [(cx, cy, r), …] outlined.

    With ``regions`` each ball is labelled with its exact number of regions N_B (explorer.ball.disk).
    """
    arr = np.asarray(disks, dtype=float).reshape(-1, 3) if len(disks) else np.zeros((0, 3))
    if not np.isfinite(arr).all() or (arr[:, 2] <= 0).any():
        raise ExplorerError(f"a disk is X Y R with finite numbers and R > 0; got {arr.tolist()}.")
    out = go.Figure(fig)
    for k, (x, y, r) in enumerate(arr):
        ring = ball_outline((x, y), r, norm)
        label = f"D{k + 1}"
        if regions is not None:
            label += f": N = {disk_count(regions.net, (x, y), r, norm=norm, regions=regions).n_regions}"
        out.add_scatter(x=ring[:, 0], y=ring[:, 1], mode="lines", name=f"disk {k + 1} (r = {r:g})",
                        line=dict(color="#000000", width=1.5), hoverinfo="skip")
        out.add_scatter(x=[x], y=[y], mode="markers", name=f"disk {k + 1} centre", hoverinfo="skip",
                        marker=dict(symbol="cross-thin", size=7, color="#000000", line=dict(width=1.5)),
                        showlegend=False)
        out.add_annotation(x=x, y=y + r, text=label, showarrow=False, yanchor="bottom", yshift=2,
                           bgcolor="rgba(255,255,255,0.85)", borderpad=1)
    return out


def layer_reveal(regions: Regions, *, unit: int | None = None, palette: str = "okabe-ito",
                 dataset: Dataset | None = None, height: int = 620) -> go.Figure:
    """The partition after the last hidden layer of ``regions.net`` (e.g. ``net.truncated(k)``), with that
    layer's new boundaries highlighted, or with one neuron's bent boundary {g_unit = 0} alone.

    ``unit`` is a pattern index (units of earlier layers first); when given, only its zero set is drawn
    over the map, thick, so the bend it takes at earlier boundaries stands out.
    """
    last = len(regions.net.hidden_widths) - 1
    layers = () if unit is not None else (last,)
    return region_map(regions, palette=palette, show_layers=layers, show_decision=False, dataset=dataset,
                      height=height, highlight_unit=unit)


def timeline_figure(timeline, current: int | None = None) -> go.Figure:
    """Region count, mean d* at training points, loss and accuracy per snapshot (explorer.studies.timeline.Timeline),
    stacked over a shared epoch axis, with a vertical line at snapshot index ``current``."""
    fig = make_subplots(rows=4, cols=1, shared_xaxes=True, vertical_spacing=0.04,
                        subplot_titles=("regions in the domain", "mean distance to the nearest boundary d*",
                                        "loss", "accuracy"))
    epochs = np.asarray(timeline.epochs, dtype=float)
    count = np.where(timeline.n_regions >= 0, timeline.n_regions, np.nan).astype(float)
    d_star = np.where(np.isfinite(timeline.mean_d_star), timeline.mean_d_star, np.nan)
    rows = ((count, None, "regions", "#000000", 1), (d_star, None, "d* (train)", "#D55E00", 2),
            (timeline.loss, timeline.test_loss, "loss", "#0072B2", 3),
            (timeline.accuracy, timeline.test_accuracy, "accuracy", "#009E73", 4))
    for train_y, test_y, name, color, row in rows:
        fig.add_scatter(x=epochs, y=train_y, mode="lines+markers", name=f"{name} (train)" if test_y is not None
                        else name, line=dict(color=color), marker=dict(size=5), row=row, col=1)
        if test_y is not None and np.isfinite(test_y).any():
            fig.add_scatter(x=epochs, y=test_y, mode="lines", name=f"{name} (test)",
                            line=dict(color=color, dash="dash"), row=row, col=1)
    if current is not None and 0 <= current < len(epochs):
        for row in range(1, 5):
            fig.add_vline(x=epochs[current], line=dict(color="#555555", width=1.5, dash="dot"), row=row, col=1)
    fig.update_xaxes(title="epoch", row=4, col=1)
    fig.update_yaxes(range=[0, 1.04], tickvals=[0, 0.5, 1], ticktext=["0", "50%", "100%"], row=4, col=1)
    fig.update_layout(template="none", height=560, margin=dict(l=55, r=10, t=30, b=40), font=FONT,
                      showlegend=False)
    fig.update_annotations(font=dict(size=12))
    return fig


def depth_figure(depths: Sequence[int], exact: Sequence[int], closed_form: Sequence[int], *,
                 shallow: Sequence[int] | None = None, title: str = "") -> go.Figure:
    """Exact region counts against depth beside their closed form (log axis); optionally the count one
    hidden layer with the same number of units reaches (``shallow``)."""
    fig = go.Figure()
    fig.add_scatter(x=list(depths), y=list(closed_form), mode="lines", name="closed form",
                    line=dict(color="#999999", width=6))
    fig.add_scatter(x=list(depths), y=list(exact), mode="markers", name="exact (enumerated)",
                    marker=dict(color="#000000", size=9, symbol="x"))
    if shallow is not None:
        fig.add_scatter(x=list(depths), y=list(shallow), mode="lines+markers", name="one layer, same units",
                        line=dict(color="#0072B2", dash="dash"))
    fig.update_layout(template="none", height=320, title=title, font=FONT,
                      margin=dict(l=55, r=10, t=40 if title else 10, b=40),
                      xaxis=dict(title="depth k (hidden layers)", dtick=1),
                      yaxis=log_axis([*exact, *closed_form, *(shallow or ())], title="regions"),
                      legend=dict(orientation="h", y=1.12, x=0))
    return fig
