"""The sidebar: dataset, architecture and training, load / save, view options.

:func:`context` also builds the :class:`~views.context.ViewContext` every tab receives.  Widgets are drawn from
the settings table (:mod:`views.controls`); settings and the network on screen live in :mod:`views.session`;
training is a live run (:mod:`views.live`: Play / Pause / Step / Reset above the map, Train here) whose network
goes on screen when it pauses or ends.  In classroom mode the sections a lecturer changes come first and open.
"""

from __future__ import annotations

import streamlit as st

from explorer.plane.regions import RegionLimitError

from . import files, live, session
from .context import OnScreen, ViewContext, get_regions
from .controls import box_controls, control, widths_controls
from .state import MULTICLASS, SETTING

__all__ = ["context", "render"]


def context() -> ViewContext:
    """Start or continue the session (example, link, finished training) and build the context every tab
    receives, from the settings in session state; call :func:`render` afterwards to draw the controls."""
    session.init()
    if "url_net" in st.session_state:
        files.open_link(st.session_state.pop("url_net"))
    if st.session_state.pop("url_train", False):
        live.start(play=True, animate=False, budget=live.LINK_SECONDS)  # a link retrains its network, bounded
    live.adopt()
    net = session.on_screen().net
    st.session_state["s_show_layers"] = [l for l in st.session_state["s_show_layers"] if l < len(net.hidden_widths)]
    if st.session_state["s_neuron"] > net.n_hidden:
        st.session_state["s_neuron"] = 0
    return _context()


def render() -> None:
    """Draw the sidebar's controls (after the tabs, so that the map reaches the browser first)."""
    classroom = bool(st.session_state["s_classroom"])
    with st.sidebar:
        for warning in st.session_state.pop("url_warnings", []):
            st.warning(f"Link: {warning}")
        wanted = st.session_state.get("link_wanted")
        if wanted:
            st.info(f"This link shows an uploaded network (fingerprint {wanted}) whose weights it does not carry: "
                    "upload its file under Load and save to see it. Until then the map shows the example network.")
        shown = session.on_screen()
        st.markdown(f"**{shown.original.architecture}** · {shown.source}")
        with st.expander("Network and training", expanded=True):
            _training_controls(classroom)
        with st.expander("Data", expanded=True):
            _data_controls(classroom)
        with st.expander("View", expanded=not classroom):
            _view_controls(shown, classroom)
        with st.expander("Load and save", expanded=bool(wanted) or "load_warning" in st.session_state):
            files.controls()
        control("classroom")


# ---- context --------------------------------------------------------------------------------------
def _context() -> ViewContext:
    shown = session.on_screen()
    domain = session.domain()
    dataset = session.dataset() if shown.full_net is None and st.session_state["s_show_data"] else None
    regions, note = None, ""
    try:
        regions = get_regions(shown.net, domain, max_regions=int(st.session_state["s_max_regions"]))
    except RegionLimitError as exc:
        note = str(exc)
    return ViewContext(on_screen=shown, domain=domain, regions=regions, dataset=dataset,
                       classroom=bool(st.session_state["s_classroom"]), regions_note=note)


# ---- data and training ----------------------------------------------------------------------------
def _data_controls(classroom: bool) -> None:
    control("dataset")
    if st.session_state["s_dataset"] in MULTICLASS:
        control("n_classes")
    control("noise")
    if not classroom:
        control("n_points")
        control("test_fraction")
        control("seed")


def _training_controls(classroom: bool) -> None:
    widths_controls()
    control("lr")
    control("activation")
    if st.session_state["s_activation"] == "leaky_relu":
        control("alpha")
    control("epochs")
    if not classroom:
        control("optimizer")
        control("batch_size")
        control("weight_decay")
        control("animate")
    st.button("Train", type="primary", on_click=live.start, width="stretch", disabled=live.playing(),
              help="Same as ▶ Play above the map: train with these settings and watch the map change.")
    message = st.session_state.get("train_message")
    if message:
        {"error": st.error, "info": st.info}.get(message[0], st.success)(message[1])


# ---- view -----------------------------------------------------------------------------------------
def _view_controls(shown: OnScreen, classroom: bool) -> None:
    control("color_by")
    control("palette")
    n_layers = len(shown.net.hidden_widths)
    st.multiselect(SETTING["show_layers"].label, list(range(n_layers)), format_func=lambda l: f"layer {l + 1}",
                   key="s_show_layers")
    control("show_decision")
    control("show_data")
    if not classroom:
        control("show_test")
        box_controls()
        control("max_regions")
