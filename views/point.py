"""The point panel of the Explore tab: a selected point's region, the ball around it, and every count of the
regions inside the ball, each saying in words whether it is exact, certain or a bound (details behind "?").

A point is selected by :func:`select_point` (a click on the map, or the coordinates box).  Every number comes
from explorer.* and is cached per network, partition and point.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from explorer.ball.local import local_bounds, radius_profile
from explorer.errors import ExplorerError
from explorer.plane.partition import locate
from explorer.plot import figures
from explorer.plot.charts import radius_profile_figure
from explorer.plot.overlays import Selection
from explorer.plot.text import format_count
from explorer.plot.words import LOCAL_BOUND_HELP, certifier_name, exact_source_text, proven_local_bound

from .context import HASH_FUNCS, ViewContext
from .controls import control
from .export import figure_export, table_export

__all__ = ["select_point", "analysis", "panel", "selection"]

N_SAMPLES = 4000  # sampled lower bound: distinct patterns among this many points of the ball
_FAST_CERTIFIERS = ("lipschitz", "ibp", "symbolic")


def select_point(x: float, y: float) -> None:
    """Make (x, y) the selected point (what a click and the text box both do)."""
    st.session_state["point"] = (float(x), float(y))
    st.session_state["point_text"] = f"{x:.4g}, {y:.4g}"


def analysis(ctx: ViewContext) -> tuple[dict | None, str]:
    """The analysis of the selected point (None if none is selected or it failed) and the failure message."""
    if st.session_state.get("point") is None:
        return None, ""
    radius, norm, certifier = _settings(ctx)
    try:
        return _analysis(ctx, st.session_state["point"], radius, norm, certifier), ""
    except ExplorerError as exc:
        return None, str(exc)


def selection(a: dict | None):
    """The map overlay of an analysis (explorer.plot.overlays.Selection), or None."""
    if a is None:
        return None
    return Selection(a["point"], a["radius"], a["d_star"], a["polygon"], a["norm"])


def panel(ctx: ViewContext, a: dict | None, problem: str, *, font: int) -> None:
    """The coordinates box, the radius, the counts of the ball, pins and (not in classroom) the radius profile."""
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
    elif a is None:
        st.info("Click a point of the map (or type its coordinates) to see its region, the ball around it and "
                "how many regions the ball meets.")
    else:
        _show(ctx, a)
    cols = st.columns(2)
    cols[0].button("Pin this point", on_click=_pin, args=(s["point"],), width="stretch", disabled=s["point"] is None)
    cols[1].button("Clear pins", on_click=_clear_pins, disabled=not s["pinned"], width="stretch")
    if s["pinned"]:
        _pinned_table(ctx, radius, norm, certifier)
    if a is not None and not ctx.classroom:
        _profile(ctx, a, norm, certifier, font)


# ---- numbers ----------------------------------------------------------------------------------------
def _settings(ctx: ViewContext) -> tuple[float, str, str]:
    """Radius (kept inside the slider's range for this domain), norm and certifier of the point panel."""
    s = st.session_state
    width = min(ctx.domain[1] - ctx.domain[0], ctx.domain[3] - ctx.domain[2])
    s["s_radius"] = float(min(max(s["s_radius"], width / 500), width / 2))
    norm, certifier = (s["s_norm"], s["s_certifier"]) if not ctx.classroom else ("2", "symbolic")
    return s["s_radius"], norm, certifier


def _analysis(ctx: ViewContext, point, radius: float, norm: str, certifier: str) -> dict:
    return _cached_analysis(ctx.on_screen.net, ctx.regions, ctx.domain, tuple(point), radius, norm, certifier)


@st.cache_resource(show_spinner=False, max_entries=512, hash_funcs=HASH_FUNCS)
def _cached_analysis(net, regions, domain: tuple, point: tuple, radius: float, norm: str, certifier: str) -> dict:
    b = local_bounds(net, np.array(point), radius, norm=norm, certifier=certifier, n_samples=N_SAMPLES,
                     seed=0, regions=regions, time_limit=20.0)
    inside = domain[0] <= point[0] <= domain[1] and domain[2] <= point[1] <= domain[3]
    region = int(locate(regions, np.array([point]))[0]) if regions is not None and inside else -1
    where = (f"region {region}" if region >= 0 else
             "outside the map's box" if not inside else
             "not located (the map's regions were not enumerated)" if regions is None else
             "on a boundary between regions" if b.d_star == 0 else
             f"not found among the map's regions (d* = {b.d_star:.3g})")
    return {"point": point, "radius": radius, "norm": norm, "bounds": b, "d_star": b.d_star, "region": region,
            "where": where, "upper": proven_local_bound(b), "pattern": net.patterns(np.array([point]))[0],
            "polygon": regions.polygon(region) if region >= 0 else None,
            "map": figures.affine_text(regions.out_grad[region], regions.out_bias[region]) if region >= 0 else None}


def _show(ctx: ViewContext, a: dict) -> None:
    b = a["bounds"]
    x, y = a["point"]
    st.markdown(f"**Point** ({x:.4g}, {y:.4g}) · {a['where']}")
    cols = st.columns(2)
    cols[0].metric("regions in the ball · exact", "—" if b.n_exact is None else f"{b.n_exact:,}",
                   help="Regions meeting the open ball, counted exactly: " + exact_source_text(b.exact_source) + ".")
    unit = (f" It is reached at neuron {b.d_star_unit[1] + 1} of layer {b.d_star_unit[0]}." if b.d_star_unit else "")
    cols[1].metric("distance to nearest boundary · exact", f"{b.d_star:.4g}",
                   help="d*: up to this radius the ball stays inside one region." + unit)
    cols[0].metric("at least · certain", f"≥ {b.n_sampled:,}",
                   help=f"Distinct activation patterns among {b.n_samples:,} random points of the ball: each is a "
                        "region that surely meets it.")
    cols[1].metric("at most · proven bound", f"≤ {format_count(a['upper'])}",
                   help=LOCAL_BOUND_HELP + f" Certifier: {certifier_name(b.certifier)}.")
    switching = sum(b.k_certified)
    st.caption(f"The bound counts every way the {switching} neuron{'s' if switching != 1 else ''} that may switch "
               f"inside the ball ({', '.join(map(str, b.k_certified))} by layer) could cut it, so it can sit far "
               "above the exact count.")
    if not ctx.classroom:
        bits = "".join("1" if v else "0" for v in a["pattern"])
        cuts = np.cumsum((0, *ctx.on_screen.net.hidden_widths))
        layers = " | ".join(bits[cuts[i]:cuts[i + 1]] for i in range(len(cuts) - 1))
        st.markdown(f"Activation pattern (1 = active, layers separated by |): `{layers}`")
        if a["map"]:
            st.markdown("Affine map on this region: " + a["map"].replace("<br>", "; "))


def _pinned_table(ctx: ViewContext, radius: float, norm: str, certifier: str) -> None:
    rows = []
    for i, p in enumerate(st.session_state["pinned"]):
        row = {"point": f"P{i + 1} ({p[0]:.3g}, {p[1]:.3g})"}
        try:
            a = _analysis(ctx, p, radius, norm, certifier)
        except ExplorerError as exc:
            rows.append(row | {"where": str(exc)})
            continue
        b = a["bounds"]
        rows.append(row | {"where": a["where"], "distance to boundary (exact)": round(b.d_star, 4),
                           "regions in ball (exact)": b.n_exact, "at least (certain)": b.n_sampled,
                           "at most (proven bound)": format_count(a["upper"])})
    st.markdown(f"**Pinned points** at r = {radius:.3g}")
    st.dataframe(rows, hide_index=True, width="stretch")
    table_export(rows, "pinned_points", key="pinned")


def _profile(ctx: ViewContext, a: dict, norm: str, certifier: str, font: int) -> None:
    use = certifier if certifier in _FAST_CERTIFIERS else "symbolic"
    top = float(2.0 ** np.ceil(np.log2(2 * a["radius"])))  # from 2r up to 4r: slider moves reuse the profile
    radii = tuple(np.round(np.linspace(top / 30, top, 30), 12))
    try:
        profile = _cached_profile(ctx.on_screen.net, ctx.regions, ctx.domain, a["point"], radii, norm, use)
    except ExplorerError as exc:
        st.error(str(exc))
        return
    fig = radius_profile_figure(profile, radius=a["radius"])
    fig.update_layout(font_size=font)
    st.plotly_chart(fig, key="explore_profile", theme=None, config={"displaylogo": False})
    figure_export(fig, "radius_profile", key="explore_profile", width_in=3.5, height_in=2.5)
    if use != certifier:
        st.caption(f"The profile uses symbolic intervals; {certifier_name(certifier)} is computed for the chosen "
                   "radius only.")


@st.cache_resource(show_spinner=False, max_entries=64, hash_funcs=HASH_FUNCS)
def _cached_profile(net, regions, domain: tuple, point: tuple, radii: tuple, norm: str, certifier: str):
    return radius_profile(net, np.array(point), np.array(radii), norm=norm, certifier=certifier, regions=regions)


# ---- widgets' callbacks -------------------------------------------------------------------------------
def _typed_point() -> None:
    st.session_state.pop("point_error", None)
    text = st.session_state.get("point_text", "")
    if not text.strip():
        return  # an emptied box (or a widget drawn afresh) selects nothing new
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
