"""The Teach tab: layer-by-layer reveal, training timeline (colours kept from snapshot to snapshot), classic
constructions; every figure exports through views.export."""

from __future__ import annotations

from dataclasses import fields

import streamlit as st

from explorer.errors import ExplorerError
from explorer.plot.coloring import pattern_keys
from explorer.plot.figures import region_map
from explorer.plane.partition import linear_labels, unit_boundary
from explorer.train.presets import PRESETS, build, init_vs_trained, zaslavsky
from explorer.plane.regions import RegionLimitError
from explorer.plot.teach import depth_figure, layer_reveal, timeline_figure
from explorer.studies.timeline import snapshot_timeline
from explorer.train.fit import TrainConfig

from . import style
from .context import ViewContext, cache_key, get_regions
from .export import figure_export
from .session import PRESET_SECTION
from .state import COMPARISON

__all__ = ["render", "SECTIONS"]

SECTIONS = ("Layer by layer", "Training timeline", PRESET_SECTION)
_PLAY_SECONDS = 0.8  # one snapshot per tick while playing


def render(ctx: ViewContext) -> None:
    """Draw the tab for the network of ``ctx``; every control is namespaced 'teach_'."""
    section = st.radio("Teach", SECTIONS, horizontal=True, key="teach_section", label_visibility="collapsed")
    try:
        if section == SECTIONS[0]:
            _layers(ctx)
        elif section == SECTIONS[1]:
            _timeline(ctx)
        else:
            _presets(ctx)
    except RegionLimitError as exc:
        st.warning(f"{exc}")
    except ExplorerError as exc:
        st.error(f"{exc}")


# ---- 1. layer-by-layer reveal -------------------------------------------------------------------
def _layers(ctx: ViewContext) -> None:
    net = ctx.on_screen.net
    widths = net.hidden_widths
    depth = len(widths)
    k = st.slider("Partition after hidden layer", 1, depth, depth, key="teach_layer") if depth > 1 else 1
    options = [None] + list(range(sum(widths[:k - 1]), sum(widths[:k])))
    unit = st.selectbox(f"Show one neuron of layer {k} alone", options, key=f"teach_unit_{k}",
                        format_func=lambda u: "all new boundaries of this layer" if u is None else
                        f"neuron {u - sum(widths[:k - 1]) + 1} of layer {k}")
    regions = get_regions(net.truncated(k), ctx.domain)
    before = get_regions(net.truncated(k - 1), ctx.domain).n_regions if k > 1 else 1
    fig = layer_reveal(regions, unit=unit, dataset=ctx.dataset)
    st.plotly_chart(fig, key="teach_layer_map", config={"displaylogo": False})
    new = regions.n_regions - before
    st.markdown(f"After layer **{k}** of {depth}: **{regions.n_regions:,}** regions "
                f"({'+' if new >= 0 else ''}{new:,} from the {widths[k - 1]} neurons of layer {k}; "
                f"{before:,} before it).")
    if unit is not None and not len(unit_boundary(regions, unit)):
        st.caption("This neuron never switches inside the box: it is always active or always inactive here.")
    elif unit is not None:
        st.caption("A neuron of layer 1 switches along a straight line; a later neuron's pre-activation is "
                   "affine on each region of the layers before it, so its boundary bends where they switch.")
    figure_export(fig, f"layer{k}" + ("" if unit is None else f"_unit{unit}"), key="teach_layer_map")


# ---- 2. training timeline -------------------------------------------------------------------------
def _timeline(ctx: ViewContext) -> None:
    result = ctx.on_screen.train_result
    if result is None or len(result.snapshots) < 2 or ctx.dataset is None:
        st.info("Train a network with snapshots (keep a snapshot every k epochs) to step through its training "
                "here.")
        return
    snapshots = result.snapshots
    timeline = _cached_timeline(snapshots, ctx.dataset, ctx.domain)
    playing = st.session_state.get("teach_playing", False)
    st.fragment(run_every=_PLAY_SECONDS if playing else None)(_timeline_step)(ctx, timeline)


def _timeline_step(ctx: ViewContext, timeline) -> None:
    """One tick: the Play/Pause button, the snapshot slider (advanced while playing) and what it shows."""
    ss = st.session_state
    snapshots = ctx.on_screen.train_result.snapshots
    last = len(snapshots) - 1
    playing = ss.get("teach_playing", False)
    if st.button("⏸ Pause" if playing else "▶ Play", key="teach_play"):
        ss["teach_playing"] = not playing
        if not playing and ss.get("teach_snapshot", 0) >= last:
            ss["teach_snapshot"] = 0
        st.rerun()  # the whole page: the fragment's timer starts or stops with the new state
    if playing:
        ss["teach_snapshot"] = min(ss.get("teach_snapshot", 0) + 1, last)
        if ss["teach_snapshot"] == last:  # stop at the end and redraw the page so the button reads Play
            ss["teach_playing"] = False
            st.rerun()
    s = st.select_slider("Snapshot (epoch)", options=list(range(len(snapshots))), key="teach_snapshot",
                         format_func=lambda i: f"epoch {snapshots[i][0]}")
    epoch, net = snapshots[s]
    left, right = st.columns([3, 2])
    with left:
        regions = get_regions(net, ctx.domain)
        colors = timeline.colors[s]  # kept from snapshot to snapshot: a region keeps its colour while it persists
        coloring = [colors[k] for k in pattern_keys(regions)] if len(colors) == regions.n_regions else None
        fig = region_map(regions, dataset=ctx.dataset, height=520, coloring=coloring)
        fig.update_layout(font_size=style.figure_font(ctx.classroom))
        st.plotly_chart(fig, key="teach_timeline_map", config={"displaylogo": False})
    with right:
        count = int(timeline.n_regions[s])
        a, b = st.columns(2)
        a.metric("regions", f"{count:,}" if count >= 0 else "over budget")
        b.metric("mean d* (train)", f"{timeline.mean_d_star[s]:.4g}")
        a.metric("loss (train)", f"{timeline.loss[s]:.4f}")
        b.metric("accuracy (train)", f"{timeline.accuracy[s]:.1%}")
        chart = timeline_figure(timeline, current=s)
        chart.update_layout(height=420, font_size=style.figure_font(ctx.classroom))
        st.plotly_chart(chart, key="teach_timeline_chart", config={"displaylogo": False})
        figure_export(chart, "timeline", key="teach_timeline_chart", width_in=3.5, height_in=5.0)
    figure_export(fig, f"epoch{epoch}", key="teach_timeline_map")


def _cached_timeline(snapshots, dataset, domain):
    """snapshot_timeline, computed once per (snapshot networks, dataset settings, domain) and session."""
    key = (tuple((e, cache_key(n)) for e, n in snapshots), cache_key(dataset), tuple(domain))
    store = st.session_state.setdefault("teach_timelines", {})
    if key not in store:
        with st.spinner(f"Measuring {len(snapshots)} snapshots (regions, d*, loss, accuracy)…"):
            store.clear()  # one timeline per session is enough
            store[key] = snapshot_timeline(snapshots, dataset, domain)
    return store[key]


# ---- 3. classic constructions --------------------------------------------------------------------------
def _presets(ctx: ViewContext) -> None:
    names = list(PRESETS) + [COMPARISON]
    titles = {name: PRESETS[name][0] for name in PRESETS} | {COMPARISON: "initialisation vs trained"}
    name = st.selectbox("Construction", names, key="teach_preset", format_func=titles.get)
    if name == COMPARISON:
        _init_vs_trained(ctx)
        return
    _, default, (lo, hi) = PRESETS[name]
    label = "depth k" if name in ("sawtooth", "folded") else "number of lines n"
    n = st.slider(label, lo, hi, default, key=f"teach_preset_{name}")
    preset = build(f"{name}:{n}", box=ctx.domain)
    regions = get_regions(preset.net, preset.box)
    linear = int(linear_labels(regions).max()) + 1
    fig = region_map(regions, height=560, show_decision=False)  # constructions are about regions, not classes
    st.plotly_chart(fig, key="teach_preset_map", config={"displaylogo": False})
    a, b, c = st.columns(3)
    a.metric("exact (enumerated)", f"{regions.n_regions:,}")
    b.metric("closed form", f"{preset.closed_form:,}", help=preset.formula)
    c.metric("linear regions", f"{linear:,}", help=f"closed form {preset.linear_closed_form:,}")
    agree = regions.n_regions == preset.closed_form and linear == preset.linear_closed_form
    (st.success if agree else st.error)(f"{preset.title}: {preset.formula} — "
                                        f"{'matches' if agree else 'does NOT match'} the exact count.")
    st.caption(preset.explanation)
    if name in ("sawtooth", "folded") and not ctx.classroom:
        axes = 2 if name == "folded" else 1
        depths = list(range(1, n + 1))
        exact = [get_regions(build(f"{name}:{k}", box=ctx.domain).net, ctx.domain).n_regions for k in depths]
        chart = depth_figure(depths, exact, [(2 ** k) ** axes for k in depths],
                             shallow=[zaslavsky(2 * axes * k) for k in depths])
        st.plotly_chart(chart, key="teach_depth_chart", config={"displaylogo": False})
        st.caption("Dashed: the most regions one hidden layer with the same number of units can make in the "
                   "plane, 1 + n + C(n, 2).")
        figure_export(chart, f"{name}_depth", key="teach_depth_chart", width_in=3.5, height_in=2.5)
    figure_export(fig, preset.spec.replace(":", "_"), key="teach_preset_map")


def _init_vs_trained(ctx: ViewContext) -> None:
    provenance = ctx.on_screen.provenance
    training = provenance.get("training") if isinstance(provenance, dict) else None
    if ctx.dataset is None or not training:
        st.info("This comparison needs a network trained here or a checkpoint that records its dataset and "
                "training settings (the shipped examples do).")
        return
    known = {f.name for f in fields(TrainConfig)}
    config = TrainConfig(**{k: tuple(v) if k == "hidden" else v for k, v in training.items() if k in known})
    init, trained = init_vs_trained(ctx.dataset, config, trained=ctx.on_screen.net, box=ctx.domain)
    cols = st.columns(2)
    for col, preset, key in ((cols[0], init, "init"), (cols[1], trained, "trained")):
        with col:
            regions = get_regions(preset.net, preset.box)
            st.markdown(f"**{preset.title}**: {regions.n_regions:,} regions")
            fig = region_map(regions, dataset=ctx.dataset, height=420)
            st.plotly_chart(fig, key=f"teach_cmp_{key}", config={"displaylogo": False})
            st.caption(preset.explanation)
            figure_export(fig, key, key=f"teach_cmp_{key}")
