"""Plotly charts of the explorer's numbers: radius profile, training curves, count comparisons, findings.

Like explorer.plot.figures, every function returns a ``plotly.graph_objects.Figure`` and imports no Streamlit.
Counts use log axes labelled at powers of ten only (explorer.plot.style.log_axis).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from .style import FONT, count_text, log_axis

__all__ = ["radius_profile_figure", "training_figure", "count_chart", "findings_figure"]


def radius_profile_figure(profile, *, radius: float | None = None,
                          label: str = "proven upper bound") -> go.Figure:
    """Exact N_B and the proven local upper bound min(A, B, Theorem 1) against the radius, on a log count axis.

    ``profile`` is an explorer.ball.local.RadiusProfile; its ``headline`` is that bound.
    """
    r = np.asarray(profile.radii, dtype=float)
    upper = np.asarray(profile.headline, dtype=float)
    fig = go.Figure()
    fig.add_scatter(x=r, y=upper, name=f"{label} ({profile.certifier})", mode="lines+markers",
                    line=dict(color="#D55E00"))
    shown = [upper]
    if profile.n_exact is not None:
        fig.add_scatter(x=r, y=np.asarray(profile.n_exact, dtype=float), name="exact count",
                        mode="lines+markers", line=dict(color="#0072B2", shape="hv"))
        shown.append(np.asarray(profile.n_exact, dtype=float))
    if np.isfinite(profile.d_star):
        fig.add_vline(x=profile.d_star, line=dict(dash="dash", color="#555555"), annotation_text="d*")
    if radius is not None:
        fig.add_vline(x=radius, line=dict(color="#000000", width=1), annotation_text="r")
    fig.update_layout(template="none", height=360, margin=dict(l=55, r=10, t=20, b=40), font=FONT,
                      xaxis_title="radius r", yaxis=log_axis(np.concatenate(shown), title="regions in the ball"),
                      legend=dict(orientation="h", yanchor="top", y=-0.25, x=0))
    return fig


def training_figure(history: dict, *, height: int = 230) -> go.Figure:
    """Loss (left axis, blue) and accuracy (right axis, 0–100 %, orange) per epoch; solid train, dashed test
    (said in the title: a four-entry legend would not fit a narrow column)."""
    fig = go.Figure()
    epoch = history.get("epoch", [])
    for key, name, color, axis, dash in (("loss", "train loss", "#0072B2", "y", "solid"),
                                         ("test_loss", "test loss", "#0072B2", "y", "dash"),
                                         ("train_acc", "train accuracy", "#D55E00", "y2", "solid"),
                                         ("test_acc", "test accuracy", "#D55E00", "y2", "dash")):
        values = [np.nan if v is None else v for v in history.get(key, [])]
        if len(values) and not np.isnan(values).all():
            fig.add_scatter(x=epoch, y=values, name=name, yaxis=axis, mode="lines",
                            line=dict(color=color, dash=dash))
    fig.update_layout(template="none", height=height, margin=dict(l=50, r=50, t=28, b=35), font=FONT,
                      xaxis=dict(title="epoch", rangemode="tozero"),
                      yaxis=dict(title=dict(text="loss", font=dict(color="#0072B2")), rangemode="tozero",
                                 showgrid=False),
                      yaxis2=dict(title=dict(text="accuracy", font=dict(color="#D55E00")), overlaying="y",
                                  side="right", range=[0, 1.04], tickmode="array",
                                  tickvals=[0, 0.25, 0.5, 0.75, 1.0], ticktext=["0", "25%", "50%", "75%", "100%"],
                                  showgrid=True),
                      showlegend=False, title=dict(text="solid: training data · dashed: test data", x=0.02, y=0.98,
                                                   font=dict(size=FONT["size"] - 2)))
    return fig


def count_chart(rows: Sequence[dict], *, title: str = "exact (black) · lower bounds (blue) · upper bounds (orange)"
                ) -> go.Figure:
    """Region counts on a log axis, one bar per method, labelled with value, status and seconds.

    rows : dicts with "label", "value" (number or None), "kind" ("upper", "lower", "exact" or "estimate"),
        "status" and "seconds" (or None).  Rows without a value are listed with their status only.  The right
        margin is as wide as the longest bar label, so no label runs off the figure.
    """
    colors = {"upper": "#D55E00", "lower": "#0072B2", "exact": "#000000", "estimate": "#999999"}
    labels = [str(r["label"]) for r in rows]
    values = [min(float(min(r["value"], 10**300)), 1e300) if r.get("value") not in (None, 0) else np.nan
              for r in rows]  # beyond float range: drawn at 1e300, labelled exactly
    text = [(count_text(r["value"]) if r.get("value") is not None else "—") + _note(r) for r in rows]
    fig = go.Figure(go.Bar(x=values, y=labels, orientation="h", text=text, textposition="outside",
                           marker_color=[colors.get(r.get("kind"), "#999999") for r in rows],
                           cliponaxis=False, hovertext=text, hoverinfo="text"))
    finite = [v for v in values if np.isfinite(v) and v > 0]
    axis = log_axis(finite or [1.0, 10.0], title="number of regions (log scale)", pad=0.1)
    axis["range"] = [min(-0.1, axis["range"][0]), axis["range"][1]]
    longest = max((len(re.sub(r"<[^>]+>", "", t)) for t in text), default=0)
    fig.update_layout(template="none", height=80 + 46 * len(rows), title=title, font=FONT,
                      margin=dict(l=10, r=int(20 + 0.62 * FONT["size"] * longest), t=40 if title else 10, b=40),
                      xaxis=axis, yaxis=dict(autorange="reversed", automargin=True))
    return fig


def findings_figure(findings) -> go.Figure:
    """Zhu et al.'s two findings per snapshot: median d* and mean count (exact or bound), training vs random."""
    from plotly.subplots import make_subplots

    exact = findings.n_exact_train is not None
    fig = make_subplots(rows=1, cols=2, subplot_titles=(
        "distance to the nearest boundary d* (median)",
        "regions in the ball (mean, exact)" if exact else "regions in the ball (mean proven upper bound)"))
    counts = ((findings.n_exact_train, findings.n_exact_random) if exact
              else (findings.bound_train, findings.bound_random))
    for side, color, d, n in (("training points", "#D55E00", findings.d_star_train, counts[0]),
                              ("random points", "#0072B2", findings.d_star_random, counts[1])):
        fig.add_scatter(x=findings.epochs, y=np.median(d, axis=1), name=side, mode="lines+markers",
                        line=dict(color=color), row=1, col=1)
        fig.add_scatter(x=findings.epochs, y=np.mean(n, axis=1), name=side, mode="lines+markers",
                        line=dict(color=color), showlegend=False, row=1, col=2)
    fig.update_xaxes(title="epoch")
    fig.update_yaxes(title="d*", row=1, col=1)
    fig.update_yaxes(title="regions in the ball", row=1, col=2)
    fig.update_layout(template="none", height=340, margin=dict(l=50, r=10, t=40, b=40), font=FONT,
                      legend=dict(orientation="h", y=-0.25, x=0))
    return fig


# ---- helpers ----------------------------------------------------------------------------------------
def _note(row: dict) -> str:
    """'  (status, 0.12 s)' for a chart label; long statuses are left to the table."""
    parts = [str(row.get("status", ""))] if 0 < len(str(row.get("status", ""))) <= 16 else []
    if row.get("seconds") is not None:
        parts.append(f"{row['seconds']:.2g} s")
    return f"  ({', '.join(parts)})" if parts else ""
