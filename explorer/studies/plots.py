"""Figures of a study's table: every curve is the mean over seeds against the training step (log axis),
with a band of ± one standard deviation over seeds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..errors import ExplorerError

__all__ = ["measure_figure", "findings_figure", "write_study_figures", "seed_bands"]

_COLOURS = {"train": "#D55E00", "test": "#009E73", "random": "#0072B2", "": "#444444"}  # Okabe–Ito
_EXTRA = ("#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")
_DASHES = ("solid", "dash", "dot", "dashdot", "longdash")


def seed_bands(table, *, column: str = "value"):
    """Mean, standard deviation and seed count of ``column`` per (step, curve) over seeds.

    Returns a DataFrame with columns step, mean, sd, n (rows with NaN values are left out).
    """
    data = table[np.isfinite(table[column].astype(float))]
    grouped = data.groupby("step")[column]
    out = grouped.agg(["mean", "std", "count"]).reset_index().rename(columns={"std": "sd", "count": "n"})
    out["sd"] = out["sd"].fillna(0.0)
    return out


def measure_figure(table, measure: str, *, column: str = "value") -> go.Figure:
    """One measure: a panel per dataset/architecture (rows) and weight decay (columns), a curve per point
    set, radius and variant."""
    data = table[table["measure"] == measure]
    if data.empty:
        raise ExplorerError(f"the table has no rows for the measure {measure!r}.")
    nets = list(dict.fromkeys(zip(data["dataset"], data["architecture"])))
    decays = sorted(data["weight_decay"].unique())
    fig = make_subplots(rows=len(nets), cols=len(decays), shared_xaxes=True, horizontal_spacing=0.06,
                        vertical_spacing=0.3 / max(len(nets), 2),
                        subplot_titles=[f"{d} {a}, weight decay {w:g}" for d, a in nets for w in decays])
    curves = list(dict.fromkeys(zip(data["points"], data["radius"].fillna(-1.0), data["variant"])))
    for i, (dataset, arch) in enumerate(nets):
        for j, wd in enumerate(decays):
            panel = data[(data["dataset"] == dataset) & (data["architecture"] == arch) & (data["weight_decay"] == wd)]
            for c, (points, radius, variant) in enumerate(curves):
                part = panel[(panel["points"] == points) & (panel["radius"].fillna(-1.0) == radius)
                             & (panel["variant"] == variant)]
                label = " ".join(x for x in (points, f"r = {radius:g}" if radius >= 0 else "", variant) if x)
                colour = _COLOURS.get(points, _EXTRA[c % len(_EXTRA)]) if points else _EXTRA[c % len(_EXTRA)]
                dash = _DASHES[sorted({r for _, r, _ in curves}).index(radius) % len(_DASHES)]
                _band(fig, seed_bands(part, column=column), label or measure, colour, dash, i + 1, j + 1,
                      show=(i, j) == (0, 0))
    _axes(fig, len(nets), len(decays), measure.replace("_", " "))
    fig.update_layout(title=f"{measure.replace('_', ' ')}: mean over seeds ± 1 sd", width=520 * len(decays) + 160,
                      height=300 * len(nets) + 140)
    return fig


def findings_figure(table, *, radius: float | None = None) -> go.Figure:
    """The three local findings at a glance: regions in balls at training / test / random centres, d* at
    them, and train / test accuracy; a row per dataset/architecture, dash = weight decay."""
    lc = table[(table["measure"] == "local_complexity")]
    if lc.empty or table[table["measure"] == "d_star"].empty:
        raise ExplorerError("the findings figure needs the local_complexity and d_star measures in the table.")
    radius = float(lc["radius"].max()) if radius is None else float(radius)
    nets = list(dict.fromkeys(zip(table["dataset"], table["architecture"])))
    decays = sorted(table["weight_decay"].unique())
    titles = []
    for d, a in nets:
        titles += [f"{d} {a}: regions in balls, r = {radius:g}", f"{d} {a}: median d*", f"{d} {a}: accuracy"]
    fig = make_subplots(rows=len(nets), cols=3, horizontal_spacing=0.07, vertical_spacing=0.3 / max(len(nets), 2),
                        subplot_titles=titles)
    panels = ((lc[np.isclose(lc["radius"], radius)], "value"), (table[table["measure"] == "d_star"], "median"),
              (table[(table["measure"] == "accuracy") & (table["variant"] == "accuracy")], "value"))
    for i, (dataset, arch) in enumerate(nets):
        for col, (data, column) in enumerate(panels, start=1):
            data = data[(data["dataset"] == dataset) & (data["architecture"] == arch)]
            for k, wd in enumerate(decays):
                for points in ("train", "test", "random"):
                    part = data[(data["weight_decay"] == wd) & (data["points"] == points)]
                    if part.empty:
                        continue
                    _band(fig, seed_bands(part, column=column), f"{points} points, weight decay {wd:g}",
                          _COLOURS[points], _DASHES[k % len(_DASHES)], i + 1, col, show=i == 0 and col == 1,
                          group=f"{points}-{wd}")
    _axes(fig, len(nets), 3, "")
    fig.update_layout(title="Local findings over training (mean over seeds ± 1 sd)", width=1500,
                      height=330 * len(nets) + 150)
    return fig


def write_study_figures(table, out, name: str) -> list[Path]:
    """Write NAME_findings and NAME_<measure> as PNG and SVG into ``out``; returns the paths written.

    Raises
    ------
    ExplorerError : static export is unavailable (no Chromium) or failed.
    """
    from ..plot.export import write_figure

    figures = {}
    measured = [m for m in dict.fromkeys(table["measure"]) if m != "training" and
                np.isfinite(table.loc[table["measure"] == m, "value"].astype(float)).any()]
    if {"local_complexity", "d_star"} <= set(measured):
        figures["findings"] = findings_figure(table)
    for measure in measured:
        figures[measure] = measure_figure(table, measure, column="median" if measure == "d_star" else "value")
    paths = []
    for key, fig in figures.items():
        for fmt in ("png", "svg"):
            paths.append(write_figure(fig, Path(out) / f"{name}_{key}.{fmt}", dpi=96))
    return paths


def _band(fig: go.Figure, bands, label: str, colour: str, dash: str, row: int, col: int, *, show: bool,
          group: str | None = None) -> None:
    if bands.empty:
        return
    x = bands["step"].to_numpy() + 1.0
    lo, hi = bands["mean"] - bands["sd"], bands["mean"] + bands["sd"]
    group = group or label
    fig.add_trace(go.Scatter(x=np.concatenate([x, x[::-1]]), y=np.concatenate([hi, lo[::-1]]), mode="lines",
                             fill="toself", fillcolor=_rgba(colour, 0.15), line=dict(width=0), hoverinfo="skip",
                             showlegend=False, legendgroup=group), row=row, col=col)
    fig.add_trace(go.Scatter(x=x, y=bands["mean"], mode="lines+markers", name=label, legendgroup=group,
                             line=dict(color=colour, dash=dash, width=2), marker=dict(size=4), showlegend=show),
                  row=row, col=col)


def _axes(fig: go.Figure, rows: int, cols: int, ytitle: str) -> None:
    fig.update_xaxes(type="log", showgrid=True, gridcolor="#eeeeee")
    fig.update_yaxes(showgrid=True, gridcolor="#eeeeee")
    for c in range(1, cols + 1):
        fig.update_xaxes(title_text="training step + 1", row=rows, col=c)
    if ytitle:
        for r in range(1, rows + 1):
            fig.update_yaxes(title_text=ytitle, row=r, col=1)
    fig.update_layout(template="simple_white", font=dict(size=12), margin=dict(l=70, r=20, t=80, b=60),
                      legend=dict(orientation="h", y=-0.08 if rows > 1 else -0.2))


def _rgba(colour: str, alpha: float) -> str:
    r, g, b = (int(colour[k:k + 2], 16) for k in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"
