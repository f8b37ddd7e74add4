"""The network as a diagram (neurons as nodes, weights as links) and one neuron's own exact map.

After TensorFlow Playground: links are coloured by the sign of their weight (blue positive, orange negative)
and drawn wider and more opaque the larger |w| is relative to the largest weight of their layer; clicking a
hidden neuron (a marker of the "neurons" trace, whose ``customdata`` is its pattern index) selects it.  The
neuron's map shades where it is active on the exact partition and draws its exact zero set, bent where
neurons of earlier layers switch.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from ..errors import ExplorerError
from ..net import Network
from ..plane.partition import unit_boundary
from ..plane.regions import Regions
from .figures import neuron_name, polygon_traces
from .style import FONT, NEURON_LINE, X1, X2, cased_lines

__all__ = ["NEURONS", "POSITIVE", "NEGATIVE", "network_figure", "neuron_map"]

NEURONS = "neurons"  # name of the clickable trace
POSITIVE, NEGATIVE = "#1F78B4", "#F08A24"  # link colours by weight sign (Playground's blue and orange)
_WIDTHS = (0.6, 1.4, 2.6, 4.2)  # px for |w| in the quarters of the layer's largest |w|
_ACTIVE, _INACTIVE = "#FDD49E", "#F2F2F2"


def network_figure(net: Network, *, selected: int | None = None, height: int = 300,
                   click_target: str | None = None) -> go.Figure:
    """Layers as columns of nodes (inputs, hidden layers, outputs) joined by one link per weight.

    selected : pattern index of a hidden neuron to mark (its links stay strong, the others fade)
    click_target : stored in ``layout.meta`` like the region map's

    Raises
    ------
    ExplorerError : ``selected`` is not a hidden neuron.
    """
    if selected is not None and not 0 <= selected < net.n_hidden:
        raise ExplorerError(f"neuron index must lie in 0..{net.n_hidden - 1}; got {selected}.")
    widths = (net.n_inputs, *net.hidden_widths, net.n_outputs)
    tallest = max(widths)
    gap = 1.0 if tallest <= 1 else min(1.0, 10.0 / (tallest - 1))
    ys = [gap * ((n - 1) / 2 - np.arange(n)) for n in widths]  # node heights per column, centred
    starts = np.concatenate([[0], np.cumsum(net.hidden_widths)])
    focus = None if selected is None else (int(net.unit_layers()[selected]),
                                           selected - int(starts[net.unit_layers()[selected]]))
    traces = _link_traces(net, ys, focus)
    traces.append(_node_trace(net, ys, selected))
    fig = go.Figure(traces)
    labels = ["input", *(f"layer {l + 1}" for l in range(len(net.hidden_widths))), "output"]
    span = gap * (tallest - 1) / 2 if tallest > 1 else 0.5
    for col, text in enumerate(labels):
        fig.add_annotation(x=col, y=1.0, yref="paper", yanchor="bottom", text=text, showarrow=False,
                           font=dict(size=FONT["size"] - 1, color="#444444"))
    fig.update_layout(template="none", height=height, margin=dict(l=10, r=10, t=24, b=6), font=FONT,
                      showlegend=False, hovermode="closest", dragmode=False, plot_bgcolor="#FFFFFF",
                      xaxis=dict(visible=False, range=[-0.35, len(widths) - 0.65], fixedrange=True),
                      yaxis=dict(visible=False, range=[-span - 0.4, span + 0.4], fixedrange=True),
                      meta=dict(click_target=click_target) if click_target else None)
    return fig


def neuron_map(regions: Regions, unit: int, *, height: int = 260) -> go.Figure:
    """One hidden neuron's map: the regions where it is active shaded, its exact zero set {g_unit = 0} drawn.

    unit : pattern index (units of earlier layers first).  Exact: the shading comes from each region's
    activation pattern, the line from the neuron's affine pre-activation on each region.
    """
    name = neuron_name(regions.net, unit)
    active = regions.patterns[:, unit]
    colors = np.where(active, _ACTIVE, _INACTIVE).astype(object)
    title = (f"{name}: active where shaded" if 0 < active.sum() < len(active) else
             f"{name}: always {'active' if active.all() else 'inactive'} here")
    traces = polygon_traces(regions, colors, outline=0.0)
    traces += cased_lines(unit_boundary(regions, unit), f"{name}: zero set", NEURON_LINE, legend=False)
    lo, hi = regions.domain.min(axis=0), regions.domain.max(axis=0)
    fig = go.Figure(traces)
    fig.update_layout(template="none", height=height, margin=dict(l=30, r=6, t=26, b=28), font=FONT,
                      showlegend=False, plot_bgcolor="#FFFFFF", hovermode=False,
                      title=dict(text=title, font=dict(size=FONT["size"]), x=0.02, y=0.98),
                      xaxis=dict(range=[lo[0], hi[0]], title=dict(text=X1, standoff=0), constrain="domain",
                                 showgrid=False, zeroline=False, nticks=4),
                      yaxis=dict(range=[lo[1], hi[1]], title=dict(text=X2, standoff=0), scaleanchor="x",
                                 constrain="domain", showgrid=False, zeroline=False, nticks=4))
    return fig


# ---- helpers ----------------------------------------------------------------------------------------
def _link_traces(net: Network, ys: list, focus: tuple[int, int] | None) -> list:
    """One trace per (sign, width class, faded or not): the links of all layers as NaN-separated segments."""
    parts: dict = {}
    for l, W in enumerate(net.weights):
        scale = float(np.abs(W).max(initial=0.0)) or 1.0
        out, inp = np.nonzero(W)  # (S,) each
        w = W[out, inp]
        cls = np.minimum((np.abs(w) / scale * len(_WIDTHS)).astype(int), len(_WIDTHS) - 1)
        strong = np.ones(len(w), dtype=bool) if focus is None else \
            ((focus[0] == l) & (out == focus[1])) | ((focus[0] == l - 1) & (inp == focus[1]))
        code = (w > 0) * 100 + cls * 10 + strong  # (S,) one group key per link
        seg = np.stack([np.full(len(w), l), ys[l][inp], np.full(len(w), l + 1), ys[l + 1][out]], axis=1)
        for key in np.unique(code).tolist():
            parts.setdefault(key, []).append(seg[code == key])
    traces = []
    for key in sorted(parts):
        positive, c, strong = key >= 100, (key // 10) % 10, key % 10 == 1
        seg = np.concatenate(parts[key])  # (S, 4): x0 y0 x1 y1
        xy = np.stack([seg[:, [0, 1]], seg[:, [2, 3]], np.full((len(seg), 2), np.nan)], axis=1).reshape(-1, 2)
        traces.append(go.Scatter(x=xy[:, 0], y=xy[:, 1], mode="lines", hoverinfo="skip", name="links",
                                 opacity=(0.35 + 0.15 * c) if strong else 0.08,
                                 line=dict(color=POSITIVE if positive else NEGATIVE, width=_WIDTHS[c])))
    return traces


def _node_trace(net: Network, ys: list, selected: int | None) -> go.Scatter:
    """Every node as one marker; hidden neurons carry their pattern index (others −1) as customdata."""
    x, y, unit, text, fill = [], [], [], [], []
    inputs = [X1, X2] if net.n_inputs == 2 else [f"x<sub>{i + 1}</sub>" for i in range(net.n_inputs)]
    for i in range(net.n_inputs):
        x.append(0), y.append(ys[0][i]), unit.append(-1), text.append(f"input {inputs[i]}"), fill.append("#DDDDDD")
    flat = 0
    for l, (n, b) in enumerate(zip(net.hidden_widths, net.biases)):
        for j in range(n):
            x.append(l + 1), y.append(ys[l + 1][j]), unit.append(flat)
            text.append(f"neuron {j + 1} of layer {l + 1} · bias {b[j]:.3g}<br>click: highlight its zero set")
            fill.append(NEURON_LINE.color if flat == selected else "#FFFFFF")
            flat += 1
    for k in range(net.n_outputs):
        x.append(len(net.hidden_widths) + 1), y.append(ys[-1][k]), unit.append(-1)
        text.append("output f" if net.n_outputs == 1 else f"output f<sub>{k}</sub>"), fill.append("#DDDDDD")
    size = float(np.clip(260 / max(len(v) for v in ys), 6, 18))
    return go.Scatter(x=x, y=y, mode="markers", name=NEURONS, customdata=unit, hovertext=text, hoverinfo="text",
                      marker=dict(size=size, color=fill, line=dict(width=1.5, color="#333333")))
