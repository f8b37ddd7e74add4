"""The Explore tab: the region map with counts, and the panel of a selected point (click, or type it).

A point is selected by :func:`select_point`, reached from a click on the map (the click component's
payload, converted by :func:`views.click.point_from_payload`) or from the coordinates text box.  The
panel shows the point's region, pattern and affine map, d*, the exact number of regions meeting the
ball, sampled and certified bounds, a profile against the radius, and a table of pinned points.  Every
number comes from explorer.* and is cached per network and point.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from explorer.ball.local import LOCAL_BOUND_LABEL, local_bounds, radius_profile
from explorer.plot.text import format_count
from explorer.errors import ExplorerError
from explorer.plane.partition import linear_labels, locate
from explorer.plot import figures

from .click import plot_click, point_from_payload
from .context import HASH_FUNCS, ViewContext
from .controls import control
from .state import SETTING

__all__ = ["render", "select_point", "CLICK_TARGET"]

CLICK_TARGET = "explore-map"
MAP_HEIGHT = 700
N_SAMPLES = 4000  # sampled lower bound: distinct patterns among this many points of the ball
_FAST_CERTIFIERS = ("lipschitz", "ibp", "symbolic")


def render(ctx: ViewContext) -> None:
    """Draw the tab for the network and partition in ``ctx``."""
    ss = st.session_state
    ss.setdefault("point", None)
    left, right = st.columns([3, 2], gap="medium")
    with left:
        payload = plot_click(CLICK_TARGET, key="explore_click")
        if payload is not None:
            point = point_from_payload(payload)
            if point is not None:
                select_point(*point)
        analysis, problem = _selected(ctx)
        _map(ctx, analysis)
    with right:
        _point_panel(ctx, analysis, problem)


def select_point(x: float, y: float) -> None:
    """Make (x, y) the selected point (what a click and the text box both do)."""
    st.session_state["point"] = (float(x), float(y))
    st.session_state["point_text"] = f"{x:.4g}, {y:.4g}"


# ---- map ------------------------------------------------------------------------------------------
def _map(ctx: ViewContext, analysis: dict | None) -> None:
    s = st.session_state
    anchors = ctx.on_screen.anchors
    pinned = s["pinned"]
    selection = None
    if analysis is not None:
        selection = figures.Selection(analysis["point"], analysis["radius"], analysis["d_star"],
                                      analysis["polygon"], analysis["norm"])
    if ctx.regions is None:
        st.warning(f"The regions are not drawn: {ctx.regions_note}")
        limit = int(s["s_max_regions"])
        st.button(f"Raise the region budget to {4 * limit:,}", on_click=_raise_budget, args=(4 * limit,))
        fig = figures.empty_map(ctx.domain, dataset=ctx.dataset, show_test=s["s_show_test"], selection=selection,
                                pinned=pinned, anchors=anchors, click_target=CLICK_TARGET, height=MAP_HEIGHT)
    else:
        _counts(ctx)
        base = _base_map(ctx.regions, ctx.dataset, s["s_color_by"], s["s_palette"], tuple(s["s_show_layers"]),
                         bool(s["s_show_decision"]), bool(s["s_show_test"]))
        fig = figures.add_overlays(go.Figure(base), selection=selection, pinned=pinned, anchors=anchors)
    shown = ctx.on_screen
    net = shown.net.architecture if shown.full_net is None else f"2-D slice of {shown.full_net.architecture}"
    st.caption(f"{net} · {shown.source}")
    st.plotly_chart(fig, key="explore_map", theme=None, config={
        "displaylogo": False, "scrollZoom": True,
        "toImageButtonOptions": {"format": "svg", "filename": "regions"}})
    st.caption("Click anywhere on the map to inspect a point; hover near a region's centre for its id, pattern "
               "and affine map; drag to zoom, double-click to reset.")


def _counts(ctx: ViewContext) -> None:
    regions = ctx.regions
    n_linear = _n_linear(regions)
    cols = st.columns(3)
    cols[0].metric("activation regions", f"{regions.n_regions:,}")
    cols[1].metric("linear regions", f"{n_linear:,}", help="adjacent regions with the same affine map merged")
    cols[2].metric("enumerated in", f"{1000 * regions.seconds:.0f} ms")
    note = figures.simplification(regions)
    if note:
        st.info(f"Simplified drawing: {note}")


@st.cache_resource(show_spinner=False, max_entries=16, hash_funcs=HASH_FUNCS)
def _n_linear(regions) -> int:
    return int(len(np.unique(linear_labels(regions))))


@st.cache_resource(show_spinner=False, max_entries=8, hash_funcs=HASH_FUNCS)
def _base_map(regions, dataset, color_by: str, palette: str, layers: tuple, decision: bool,
              show_test: bool) -> go.Figure:
    return figures.region_map(regions, color_by=color_by, palette=palette, dataset=dataset, show_test=show_test,
                              show_layers=layers, show_decision=decision, click_target=CLICK_TARGET,
                              height=MAP_HEIGHT)


def _raise_budget(limit: int) -> None:
    st.session_state["s_max_regions"] = min(limit, SETTING["max_regions"].hi)


# ---- point panel ----------------------------------------------------------------------------------
def _settings(ctx: ViewContext) -> tuple[float, str, str]:
    """Radius (kept inside the slider's range for this domain), norm and certifier of the point panel."""
    s = st.session_state
    width = min(ctx.domain[1] - ctx.domain[0], ctx.domain[3] - ctx.domain[2])
    s["s_radius"] = float(min(max(s["s_radius"], width / 500), width / 2))
    norm, certifier = (s["s_norm"], s["s_certifier"]) if not ctx.classroom else ("2", "symbolic")
    return s["s_radius"], norm, certifier


def _selected(ctx: ViewContext) -> tuple[dict | None, str]:
    """The analysis of the selected point (None if none is selected or it failed) and the failure message."""
    if st.session_state["point"] is None:
        return None, ""
    radius, norm, certifier = _settings(ctx)
    try:
        return _analysis(ctx, st.session_state["point"], radius, norm, certifier), ""
    except ExplorerError as exc:
        return None, str(exc)


def _point_panel(ctx: ViewContext, analysis: dict | None, problem: str) -> None:
    s = st.session_state
    st.text_input("Point (x₁, x₂)", key="point_text", on_change=_typed_point, placeholder="e.g. 0.5, -1",
                  help="Or click anywhere on the map.")
    if "point_error" in s:
        st.error(s["point_error"])
    radius, norm, certifier = _settings(ctx)
    width = min(ctx.domain[1] - ctx.domain[0], ctx.domain[3] - ctx.domain[2])
    control("radius", min_value=width / 500, max_value=width / 2, step=width / 500)
    if not ctx.classroom:
        cols = st.columns(2)
        control("norm", where=cols[0])
        control("certifier", where=cols[1])
    if problem:
        st.error(problem)
    elif analysis is None:
        st.info("Click a point of the map (or type its coordinates) to see its region, the ball around it and "
                "how many regions the ball meets.")
    else:
        _show_analysis(ctx, analysis)
    cols = st.columns(2)
    cols[0].button("Pin this point", on_click=_pin, args=(s["point"],), width="stretch", disabled=s["point"] is None)
    cols[1].button("Clear pins", on_click=_clear_pins, disabled=not s["pinned"], width="stretch")
    if s["pinned"]:
        _pinned_table(ctx, radius, norm, certifier)
    if analysis is not None:
        _profile(ctx, analysis, norm, certifier)


def _typed_point() -> None:
    st.session_state.pop("point_error", None)
    text = st.session_state.get("point_text", "")
    try:
        x, y = (float(v) for v in text.replace(";", ",").split(","))
        if not (np.isfinite(x) and np.isfinite(y)):
            raise ValueError
    except ValueError:
        st.session_state["point_error"] = f"type two numbers separated by a comma, e.g. 0.5, -1; got {text!r}."
        return
    select_point(x, y)


def _pin(point) -> None:
    if point is not None and tuple(point) not in [tuple(p) for p in st.session_state["pinned"]]:
        st.session_state["pinned"] = [*st.session_state["pinned"], tuple(point)]


def _clear_pins() -> None:
    st.session_state["pinned"] = []


def _analysis(ctx: ViewContext, point, radius: float, norm: str, certifier: str) -> dict:
    return _cached_analysis(ctx.on_screen.net, ctx.regions, ctx.domain, tuple(point), radius, norm, certifier)


@st.cache_resource(show_spinner=False, max_entries=512, hash_funcs=HASH_FUNCS)
def _cached_analysis(net, regions, domain: tuple, point: tuple, radius: float, norm: str, certifier: str) -> dict:
    b = local_bounds(net, np.array(point), radius, norm=norm, certifier=certifier, n_samples=N_SAMPLES,
                     seed=0, regions=regions, time_limit=20.0)
    region = int(locate(regions, np.array([point]))[0]) if regions is not None else -1
    pattern = net.patterns(np.array([point]))[0]
    return {"point": point, "radius": radius, "norm": norm, "bounds": b, "d_star": b.d_star, "region": region,
            "polygon": regions.polygon(region) if region >= 0 else None, "pattern": pattern,
            "map": figures.affine_text(regions.out_grad[region], regions.out_bias[region]) if region >= 0 else None}


def _show_analysis(ctx: ViewContext, a: dict) -> None:
    b = a["bounds"]
    x, y = a["point"]
    region = a["region"] if a["region"] >= 0 else "— (on a boundary)"
    st.markdown(f"**Point** ({x:.4g}, {y:.4g}) · **region** {region}")
    cols = st.columns(2)
    cols[0].metric("exact regions in ball", "—" if b.n_exact is None else f"{b.n_exact:,}",
                   help=f"Regions meeting the open ball (exact; partition: {b.exact_source}).")
    unit = f"; attained by neuron {b.d_star_unit[1]} of layer {b.d_star_unit[0]}." if b.d_star_unit else "."
    cols[1].metric("distance to boundary d*", f"{b.d_star:.4g}",
                   help="Radius up to which the ball stays in one region" + unit)
    cols[0].metric("sampled lower bound", f"≥ {b.n_sampled:,}",
                   help=f"distinct patterns among {b.n_samples:,} random points")
    cols[1].metric(f"local upper bound ({b.certifier})", format_count(b.headline), help=LOCAL_BOUND_LABEL)
    st.caption(f"{LOCAL_BOUND_LABEL}. Bound B = {format_count(b.bound_b)} (conditional: rests on an argument not yet "
               "reviewed). "
               f"Cutting neurons per layer: certified k = {b.k_certified}, exact k = {b.k_exact}. "
               f"Global bound {format_count(b.global_bound)}. Density {_density(b, a):s}.")
    bits = "".join("1" if v else "0" for v in a["pattern"])
    cuts = np.cumsum((0, *ctx.on_screen.net.hidden_widths))
    layers = " | ".join(bits[cuts[i]:cuts[i + 1]] for i in range(len(cuts) - 1))
    st.markdown(f"Activation pattern (1 = active, layers separated by |): `{layers}`")
    if a["map"]:
        st.markdown("Affine map on this region: " + a["map"].replace("<br>", "; "))


def _pinned_table(ctx: ViewContext, radius: float, norm: str, certifier: str) -> None:
    rows = []
    for i, p in enumerate(st.session_state["pinned"]):
        try:
            a = _analysis(ctx, p, radius, norm, certifier)
        except ExplorerError as exc:
            rows.append({"point": f"P{i + 1} ({p[0]:.3g}, {p[1]:.3g})", "region": None, "note": str(exc)})
            continue
        b = a["bounds"]
        rows.append({"point": f"P{i + 1} ({p[0]:.3g}, {p[1]:.3g})", "region": a["region"],
                     "d*": round(b.d_star, 4), "exact count": b.n_exact, "sampled lower": b.n_sampled,
                     f"local upper ({b.certifier})": format_count(b.headline),
                     "B (conditional)": format_count(b.bound_b)})
    st.markdown(f"**Pinned points** at r = {radius:.3g}")
    st.dataframe(rows, hide_index=True, width="stretch")


def _profile(ctx: ViewContext, a: dict, norm: str, certifier: str) -> None:
    use = certifier if certifier in _FAST_CERTIFIERS else "symbolic"
    top = float(2.0 ** np.ceil(np.log2(2 * a["radius"])))  # from 2r up to 4r: slider moves reuse the profile
    radii = tuple(np.round(np.linspace(top / 30, top, 30), 12))
    try:
        profile = _cached_profile(ctx.on_screen.net, ctx.regions, ctx.domain, a["point"], radii, norm, use)
    except ExplorerError as exc:
        st.error(str(exc))
        return
    st.plotly_chart(figures.radius_profile_figure(profile, radius=a["radius"], label="local upper bound"),
                    key="explore_profile", theme=None, config={"displaylogo": False})
    if use != certifier:
        st.caption(f"The profile uses the symbolic certifier; {certifier} is computed for the chosen radius only.")


@st.cache_resource(show_spinner=False, max_entries=64, hash_funcs=HASH_FUNCS)
def _cached_profile(net, regions, domain: tuple, point: tuple, radii: tuple, norm: str, certifier: str):
    return radius_profile(net, np.array(point), np.array(radii), norm=norm, certifier=certifier, regions=regions)


def _density(b, a: dict) -> str:
    if b.n_exact is None:
        return "—"
    area = {"2": np.pi, "inf": 4.0, "1": 2.0}[a["norm"]] * a["radius"] ** 2
    return f"{b.n_exact / area:.3g} regions per unit area"
