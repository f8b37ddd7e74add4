"""The sidebar: dataset, architecture and training (live progress and Stop), load / save, view options.

:func:`context` also builds the :class:`~views.context.ViewContext` every tab receives.  Widgets are drawn from
the settings table (:mod:`views.controls`); settings and the network on screen live in :mod:`views.session`;
training runs as a background job whose network replaces the one on screen when it ends (Stop keeps the
partial network).
"""

from __future__ import annotations

import streamlit as st

from explorer.errors import ExplorerError
from explorer.plane.regions import RegionLimitError
from explorer.plot import figures

from . import files, session
from .context import OnScreen, ViewContext, get_regions, training_summary
from .controls import box_controls, control, widths_controls
from .jobs import Job, adopt_training, show_job, start_training
from .state import MULTICLASS, SETTING, train_config

__all__ = ["context", "progress", "render"]


def context() -> ViewContext:
    """Start or continue the session (example, link, finished training) and build the context every tab
    receives, from the settings in session state; call :func:`render` afterwards to draw the controls."""
    session.init()
    if st.session_state.pop("url_train", False):
        _start_training()
    _adopt_training()
    n_layers = len(session.on_screen().net.hidden_widths)
    st.session_state["s_show_layers"] = [l for l in st.session_state["s_show_layers"] if l < n_layers]
    return _context()


def progress() -> None:
    """While training runs: progress bar, live loss and accuracy, and Stop (drawn where it is called)."""
    show_job("train_job", extra=_live_curves)


def render() -> None:
    """Draw the sidebar's controls (after the tabs, so that the map reaches the browser first)."""
    classroom = bool(st.session_state["s_classroom"])
    with st.sidebar:
        for warning in st.session_state.pop("url_warnings", []):
            st.warning(f"Link: {warning}")
        shown = session.on_screen()
        st.markdown(f"### {shown.original.architecture}")
        st.caption(shown.source)
        with st.expander("Data", expanded=not classroom):
            _data_controls(classroom)
        with st.expander("Network and training", expanded=True):
            _training_controls(classroom)
        with st.expander("Load and save", expanded=False):
            files.controls()
        with st.expander("View", expanded=not classroom):
            _view_controls(shown, classroom)
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
    control("activation")
    if st.session_state["s_activation"] == "leaky_relu":
        control("alpha")
    control("lr")
    control("epochs")
    if not classroom:
        control("optimizer")
        control("batch_size")
        control("weight_decay")
    job: Job | None = st.session_state.get("train_job")
    st.button("Train", type="primary", on_click=_start_training, disabled=job is not None and not job.done,
              width="stretch")
    message = st.session_state.get("train_message")
    if message:
        (st.error if message[0] == "error" else st.success)(message[1])
    if job is not None and not job.done:
        st.caption("Training… progress, live loss and accuracy, and Stop are shown above the tabs.")


def _start_training() -> None:
    st.session_state.pop("train_message", None)
    try:
        state = session.widget_state()
        dataset, config = session.dataset(), train_config(state, snapshot_every=max(1, state.epochs // 10))
    except ExplorerError as exc:
        st.session_state["train_message"] = ("error", str(exc))
        return
    start_training("train_job", dataset, config)


def _live_curves(job: Job) -> None:
    if job.points:
        history = {k: [p.get(k) for p in job.points] for k in ("epoch", "loss", "test_loss", "train_acc", "test_acc")}
        st.plotly_chart(figures.training_figure(history), config={"displayModeBar": False})


def _adopt_training() -> None:
    try:
        trained = adopt_training("train_job")
    except ExplorerError as exc:
        st.session_state["train_message"] = ("error", str(exc))
        return
    if trained is None:
        return
    history = trained.train_result.history
    acc = next((a for a in history["test_acc"][-1:] + history["train_acc"][-1:] if a is not None), None)
    st.session_state["train_message"] = ("ok", training_summary(trained.train_result)
                                         + (f" · accuracy {acc:.0%}" if acc is not None else ""))
    session.set_on_screen(trained)


# ---- view -----------------------------------------------------------------------------------------
def _view_controls(shown: OnScreen, classroom: bool) -> None:
    control("color_by")
    n_layers = len(shown.net.hidden_widths)
    st.multiselect(SETTING["show_layers"].label, list(range(n_layers)), format_func=lambda l: f"layer {l + 1}",
                   key="s_show_layers")
    control("show_decision")
    control("show_data")
    if not classroom:
        control("show_test")
        control("palette")
        box_controls()
        control("max_regions")
