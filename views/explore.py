"""The Explore tab: Play / Pause / Step / Reset, the exact region map with its counts, the network diagram and
the panel of a selected point.

The tab's body is one fragment.  While a live run is busy (:mod:`views.live`) it reruns every
``live.POLL_SECONDS``; while the run plays it draws the run's latest frame: the exact partition of its network (no hover labels,
colours kept from the previous frame), the counts, loss and accuracy, the network's links and the curves, in
the places the static view uses, so nothing jumps and nothing blanks.  Otherwise it draws the network on screen
with hover labels, the point panel (:mod:`views.point`) and the neuron panel (:mod:`views.network`).
"""

from __future__ import annotations

import time

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from explorer.errors import ExplorerError
from explorer.plane.partition import linear_labels
from explorer.plane.regions import RegionLimitError, enumerate_regions
from explorer.plot import figures
from explorer.plot.charts import training_figure
from explorer.plot.coloring import color_memory, stable_coloring
from explorer.plot.figures import PALETTES
from explorer.plot.overlays import add_overlays
from explorer.studies.timeline import cross_entropy
from explorer.train.fit import predict

from . import live, network, point, session, style
from .click import plot_click, point_from_payload
from .context import HASH_FUNCS, ViewContext
from .export import figure_export
from .state import SETTING

__all__ = ["render", "CLICK_TARGET"]

CLICK_TARGET = "explore-map"
MAP_HEIGHT, CLASSROOM_MAP_HEIGHT = 600, 480  # px; classroom: map, counts and buttons fit 1280×720
LIVE_TIME_LIMIT = 2.0  # seconds for one live frame's enumeration
LIVE_DIAGRAM_SECONDS = 2.0  # the network diagram follows the weights at most this often (the browser skips
                            # redrawing an unchanged chart, and a diagram of thousands of links is slow to draw)


def render(ctx: ViewContext) -> None:
    """Draw the tab for the network and partition in ``ctx``."""
    st.session_state.setdefault("point", None)
    st.session_state["live_polled"] = False  # a full run: the fragment has not polled since
    live.warm_up()
    payload = plot_click(CLICK_TARGET, key="explore_click")
    if payload is not None:
        clicked = point_from_payload(payload)
        if clicked is not None:
            point.select_point(*clicked)
    st.fragment(run_every=live.POLL_SECONDS if live.busy() else None)(_body)(ctx)


def _body(ctx: ViewContext) -> None:
    run = live.current()
    if run is not None and not run.busy and st.session_state.get("live_polled"):
        st.session_state.pop("live_polled")
        st.rerun()  # the run came to rest while this fragment polled: redraw the page with its network
    st.session_state["live_polled"] = run is not None and run.busy
    frame = run.frame if run is not None and run.playing else None
    font = style.figure_font(ctx.classroom)
    left, right = st.columns([3, 2], gap="medium")
    try:
        with left:
            if frame is not None:
                _live_map(ctx, frame, font)
            else:
                _static_map(ctx, font)
        with right:
            if live.controls():
                st.rerun()
            st.caption(live.status() or _trained_status(ctx))
            if frame is not None:
                network.render(_diagram_net(run, frame), None, font=font, live=True)
                fig = training_figure(frame.history, height=220)
                fig.update_layout(font_size=font)
                st.plotly_chart(fig, key="live_curves", theme=None, config={"displayModeBar": False})
                st.caption("Pause to inspect a point or a neuron of the network as it is now.")
            else:
                network.render(ctx.on_screen.net, ctx.regions, font=font)
                a, problem = point.analysis(ctx)
                point.panel(ctx, a, problem, font=font)
    except ExplorerError as exc:
        st.error(str(exc))
    if frame is None:
        session.publish_url()  # a rerun of this fragment alone (slider, pin) must update the link too


# ---- the static map ---------------------------------------------------------------------------------
def _static_map(ctx: ViewContext, font: int) -> None:
    s = st.session_state
    a, _ = point.analysis(ctx)
    selection = point.selection(a)
    height = CLASSROOM_MAP_HEIGHT if ctx.classroom else MAP_HEIGHT
    if ctx.regions is None:
        _metrics(None, ctx)
        st.warning(f"The regions are not drawn: {ctx.regions_note}")
        limit = int(s["s_max_regions"])
        st.button(f"Raise the region budget to {4 * limit:,}", on_click=_raise_budget, args=(4 * limit,))
        fig = figures.empty_map(ctx.domain, dataset=ctx.dataset, show_test=s["s_show_test"], selection=selection,
                                pinned=s["pinned"], anchors=ctx.on_screen.anchors, click_target=CLICK_TARGET,
                                height=height)
    else:
        _metrics(ctx.regions, ctx)
        base = _base_map(ctx.regions, ctx.dataset, s["s_color_by"], s["s_palette"], tuple(s["s_show_layers"]),
                         bool(s["s_show_decision"]), bool(s["s_show_test"]), network.selected_unit(), height)
        fig = add_overlays(go.Figure(base), selection=selection, pinned=s["pinned"],
                                   anchors=ctx.on_screen.anchors)
    fig.update_layout(font_size=font)
    _draw(fig)
    note = figures.simplification(ctx.regions) if ctx.regions is not None else ""
    if note:
        st.info(f"Simplified drawing: {note}")
    if not ctx.classroom:
        st.caption("Click anywhere on the map to inspect a point; hover near a region's centre for its id, "
                   "pattern and affine map; drag to zoom, double-click to reset.")
    figure_export(fig, "regions", key="explore_map")


@st.cache_resource(show_spinner=False, max_entries=8, hash_funcs=HASH_FUNCS)
def _base_map(regions, dataset, color_by: str, palette: str, layers: tuple, decision: bool, show_test: bool,
              unit: int | None, height: int) -> go.Figure:
    return figures.region_map(regions, color_by=color_by, palette=palette, dataset=dataset, show_test=show_test,
                              show_layers=layers, show_decision=decision, highlight_unit=unit,
                              click_target=CLICK_TARGET, height=height)


# ---- the live map -------------------------------------------------------------------------------------
def _live_map(ctx: ViewContext, frame, font: int) -> None:
    """The frame's exact partition, coloured like the previous frame where patterns persist (no hover)."""
    s = st.session_state
    height = CLASSROOM_MAP_HEIGHT if ctx.classroom else MAP_HEIGHT
    cache = s.setdefault("live_frame", {})
    if cache.get("epoch") != frame.epoch or cache.get("net") is not frame.net:
        try:
            regions = enumerate_regions(frame.net, ctx.domain, max_regions=int(s["s_max_regions"]),
                                        time_limit=LIVE_TIME_LIMIT)
        except RegionLimitError as exc:
            cache.update(epoch=frame.epoch, net=frame.net, regions=None, note=str(exc))
        else:
            colors = stable_coloring(regions, len(PALETTES[s["s_palette"]]), previous=cache.get("memory"))
            cache.update(epoch=frame.epoch, net=frame.net, regions=regions, colors=colors,
                         memory=color_memory(regions, colors), note="")
    regions = cache["regions"]
    _metrics(regions, ctx, history=frame.history)
    live.current().drawn(frame.epoch)  # the run may train its next chunk while the browser draws this one
    if regions is None:
        st.warning(f"This frame's regions are not drawn: {cache['note']}")
        fig = figures.empty_map(ctx.domain, dataset=ctx.dataset, show_test=s["s_show_test"], height=height,
                                click_target=CLICK_TARGET)
    else:
        fig = figures.region_map(regions, color_by=s["s_color_by"], palette=s["s_palette"], dataset=ctx.dataset,
                                 show_test=s["s_show_test"], show_layers=tuple(s["s_show_layers"]),
                                 show_decision=bool(s["s_show_decision"]), coloring=cache["colors"], hover=False,
                                 raster=True, click_target=CLICK_TARGET, height=height)
    add_overlays(fig, pinned=s["pinned"])  # the run trains a 2-input network: no slice anchors
    fig.update_layout(font_size=font)
    _draw(fig)


def _diagram_net(run, frame):
    """The network the live diagram shows: the frame's, refreshed every LIVE_DIAGRAM_SECONDS."""
    shown = st.session_state.setdefault("live_diagram", {})
    now = time.monotonic()
    if shown.get("run") is not run or now - shown.get("at", 0.0) >= LIVE_DIAGRAM_SECONDS:
        shown.update(run=run, at=now, net=frame.net)
    return shown["net"]


# ---- shared -------------------------------------------------------------------------------------------
def _trained_status(ctx: ViewContext) -> str:
    if ctx.on_screen.train_result is None:
        return "Play trains a network with the sidebar's settings: watch its regions move."
    return ctx.on_screen.source



def _draw(fig: go.Figure) -> None:
    st.plotly_chart(fig, key="explore_map", theme=None, config={
        "displaylogo": False, "scrollZoom": True, "toImageButtonOptions": {"format": "svg", "filename": "regions"}})


def _metrics(regions, ctx: ViewContext, *, history: dict | None = None) -> None:
    """Regions, linear regions, loss and accuracy in one row; one caption says which are exact."""
    cols = st.columns(3 if ctx.classroom else 4)
    label = "regions" if ctx.classroom else "activation regions"  # the projector's wide type: the short word
    if regions is None:
        cols[0].metric(label, "—", help="Over the region budget: not enumerated.")
    else:
        cols[0].metric(label, f"{regions.n_regions:,}",
                       help=f"Regions of the input box where a different set of neurons is active: each is a "
                            f"polygon, all enumerated exactly from the weights (in {1000 * regions.seconds:.0f} ms).")
        if not ctx.classroom:
            cols[3].metric("linear regions", f"{_n_linear(regions):,}",
                           help="Neighbouring activation regions with the same affine output map merged (exact).")
    loss, acc, split = _scores(ctx, history)
    cols[1].metric(f"loss ({split})" if split else "loss", "—" if loss is None else f"{loss:.3g}",
                   help="Mean cross-entropy of the network on the data.")
    cols[2].metric(f"accuracy ({split})" if split else "accuracy", "—" if acc is None else f"{acc:.0%}",
                   help="Share of points classified correctly.")
    if not ctx.classroom:
        st.caption("Region counts are exact: every region is a polygon computed from the weights, none is sampled.")


def _scores(ctx: ViewContext, history: dict | None) -> tuple[float | None, float | None, str]:
    """(loss, accuracy, split) of the network on screen (or of a live frame's history)."""
    if history is None and ctx.on_screen.train_result is not None:
        history = ctx.on_screen.train_result.history
    if history is not None and history.get("epoch"):
        test = history["test_acc"][-1] is not None
        key = "test" if test else "train"
        return history["test_loss" if test else "loss"][-1], history[f"{key}_acc"][-1], key
    if ctx.dataset is None or ctx.on_screen.full_net is not None:
        return None, None, ""
    return (*_data_scores(ctx.on_screen.net, ctx.dataset), "train")


@st.cache_resource(show_spinner=False, max_entries=16, hash_funcs=HASH_FUNCS)
def _data_scores(net, dataset) -> tuple[float, float]:
    x, y = dataset.x_train, dataset.y_train
    if net.n_outputs != (1 if dataset.n_classes == 2 else dataset.n_classes):
        return None, None
    return cross_entropy(net.forward(x), y), float(np.mean(predict(net, x) == y))


@st.cache_resource(show_spinner=False, max_entries=16, hash_funcs=HASH_FUNCS)
def _n_linear(regions) -> int:
    return int(len(np.unique(linear_labels(regions))))


def _raise_budget(limit: int) -> None:
    st.session_state["s_max_regions"] = min(limit, SETTING["max_regions"].hi)
