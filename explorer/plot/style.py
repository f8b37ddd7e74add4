"""The look shared by every figure: palettes and class colours, line styles with halos, fonts, log axes, math text.

Lines drawn over region fills must read on any fill, so each kind is a core line over a wider casing of a
contrasting colour, and each kind has its own colour and dash: the decision boundary (black on a white
halo), the neurons of each hidden layer (a colour and a dash per layer, on a white halo) and one highlighted
neuron (magenta on a black casing).  Mathematical text uses Plotly's ``<sub>``/``<sup>`` tags rather than
Unicode sub- and superscript digits, which many fonts lack (a static export then substitutes another glyph).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import plotly.colors as pc
import plotly.graph_objects as go

from .text import format_count

__all__ = ["PALETTES", "FONT", "LineStyle", "DECISION_LINE", "NEURON_LINE", "layer_line", "class_color",
           "cased_lines", "log_axis", "count_text", "X1", "X2"]

PALETTES = {  # light categorical fills; the first two are colour-blind safe (Okabe & Ito; Tol)
    "okabe-ito": ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#BBBBBB"),
    "tol-light": ("#77AADD", "#EE8866", "#EEDD88", "#FFAABB", "#99DDFF", "#44BB99", "#BBCC33", "#DDDDDD"),
    "pastel": tuple(pc.qualitative.Pastel),
}
FONT = dict(family="Inter, Arial, sans-serif", size=13)  # every figure of the app
X1, X2 = "x<sub>1</sub>", "x<sub>2</sub>"  # axis titles that survive any font


@dataclass(frozen=True)
class LineStyle:
    """A line over region fills: a core of ``color``, ``width`` px and ``dash`` on a casing of ``casing``
    that is ``casing_width`` px wide (0: none)."""

    color: str
    width: float
    dash: str = "solid"
    casing: str = "#FFFFFF"
    casing_width: float = 0.0


DECISION_LINE = LineStyle("#000000", 3.0, casing="#FFFFFF", casing_width=6.5)
NEURON_LINE = LineStyle("#E6007E", 3.5, casing="#000000", casing_width=7.5)
_LAYER_LINES = (("#1F4E9C", "solid"), ("#A51C30", "dash"), ("#1B7837", "dashdot"), ("#6A3D9A", "longdash"),
                ("#8C510A", "dot"), ("#01665E", "longdashdot"))  # dark colours, one dash each


def layer_line(layer: int) -> LineStyle:
    """Style of the neuron boundaries of hidden layer ``layer`` (0-based): its own colour and dash."""
    color, dash = _LAYER_LINES[layer % len(_LAYER_LINES)]
    return LineStyle(color, 1.8, dash=dash, casing="rgba(255,255,255,0.85)", casing_width=4.0)


def class_color(c: int, palette: str = "okabe-ito") -> str:
    """The colour of class ``c``: the same for its data points and for regions predicted as ``c``."""
    colors = PALETTES[palette]
    return colors[c % len(colors)]


def cased_lines(segments: np.ndarray, name: str, style: LineStyle, *, legend: bool = True) -> list[go.Scatter]:
    """Segments (S, 2, 2) as one trace of the core line (named ``name``) above one of its casing."""
    seg = np.asarray(segments, dtype=float).reshape(-1, 2, 2)
    xy = np.concatenate([seg, np.full((len(seg), 1, 2), np.nan)], axis=1).reshape(-1, 2)  # (3S, 2)
    traces = []
    if style.casing_width > 0:
        traces.append(go.Scatter(x=xy[:, 0], y=xy[:, 1], mode="lines", name=f"{name} (casing)", hoverinfo="skip",
                                 showlegend=False, legendgroup=name,
                                 line=dict(color=style.casing, width=style.casing_width)))
    traces.append(go.Scatter(x=xy[:, 0], y=xy[:, 1], mode="lines", name=name, hoverinfo="skip", legendgroup=name,
                             showlegend=legend, line=dict(color=style.color, width=style.width, dash=style.dash)))
    return traces


def log_axis(values, *, title: str = "", pad: float = 0.15, max_labels: int = 7) -> dict:
    """Layout of a log axis for the positive ``values``: labels at powers of ten only (every k-th when the
    range is wide), written 1, 10, 100, 1000, then 10<sup>4</sup> …; no labels on minor ticks."""
    finite = [float(v) for v in np.asarray(values, dtype=float).ravel() if np.isfinite(v) and v > 0]
    lo, hi = (math.log10(min(finite)), math.log10(max(finite))) if finite else (0.0, 1.0)
    first, last = math.floor(lo), max(math.ceil(hi), math.floor(lo) + 1)
    step = max(1, math.ceil((last - first) / (max_labels - 1)))
    powers = list(range(first, last + 1, step))
    return dict(type="log", title=title, tickmode="array", tickvals=[10.0 ** k for k in powers],
                ticktext=[_power_text(k) for k in powers], range=[lo - pad, hi + pad], minor=dict(ticks=""))


def count_text(n) -> str:
    """A count as figure text: explorer.plot.text.format_count with 10^e written as a superscript."""
    text = format_count(n)
    return f"10<sup>{text[3:]}</sup>" if text.startswith("10^") else text


def _power_text(k: int) -> str:
    return f"{10 ** k:g}" if 0 <= k <= 3 else (f"{10.0 ** k:g}" if -3 <= k < 0 else f"10<sup>{k}</sup>")
