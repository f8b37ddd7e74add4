"""Live training, as in TensorFlow Playground: Play / Pause, Step and Reset, with the run in the background.

A :class:`~views.jobs.LiveRun` lives under ``st.session_state["live_run"]``.  While it is busy (building,
playing, stepping) the Explore tab polls it every :data:`POLL_SECONDS`, and while it plays it redraws the map,
the counts and the curves from its latest frame; when it rests (paused), its network goes on screen, so every tab (and the link) shows it;
when it ends, the trained network with its snapshots replaces the one on screen.  Play resumes a paused run
unless the data or training settings changed since, in which case it starts a new one; Reset puts a freshly
initialised network on screen (epoch 0, paused).
"""

from __future__ import annotations

import threading

import streamlit as st

from explorer.errors import ExplorerError

from . import session
from .context import OnScreen, training_summary
from .jobs import LiveRun
from .state import train_config

__all__ = ["KEY", "POLL_SECONDS", "LINK_SECONDS", "current", "playing", "busy", "start", "adopt", "controls", "status",
           "warm_up"]

KEY = "live_run"
POLL_SECONDS = 0.35  # the page asks for a new frame this often while a run plays
LINK_SECONDS = 30.0  # a run a link starts plays this long on its own, then pauses until the user presses Play


def current() -> LiveRun | None:
    """The session's live run, if any."""
    return st.session_state.get(KEY)


def playing() -> bool:
    """True while the session's run is playing (the page should poll it)."""
    run = current()
    return run is not None and run.playing


def busy() -> bool:
    """True while the session's run builds, plays or steps (the page should poll it)."""
    run = current()
    return run is not None and run.busy


def start(*, play: bool = True, animate: bool | None = None, budget: float | None = None) -> None:
    """A new run from the data and training settings (the old one is dropped); errors become a message.

    animate : pace the run to be watched (default: the session's "Animate training" setting)
    budget : seconds the run may play before it pauses and says so (None: until it ends)
    """
    st.session_state.pop("train_message", None)
    try:
        state = session.widget_state()
        dataset, config = session.dataset(), train_config(state, snapshot_every=max(1, state.epochs // 10))
    except ExplorerError as exc:
        st.session_state["train_message"] = ("error", str(exc))
        return
    old = current()
    if old is not None:
        old.close()
    animate = bool(st.session_state["s_animate"]) if animate is None else animate
    st.session_state[KEY] = LiveRun(dataset, config, play=play, animate=animate, budget=budget)
    st.session_state.pop("live_adopted", None)


def adopt() -> None:
    """Put the run's network on screen when it has ended (then drop it) or rests paused at a new epoch."""
    run = current()
    if run is None or run.busy:
        return
    if run.state == "failed":
        del st.session_state[KEY]
        st.session_state["train_message"] = ("error", run.error)
        return
    result = run.result()
    epoch = result.history["epoch"][-1] if result.history["epoch"] else 0
    if run.finished:
        del st.session_state[KEY]
    elif st.session_state.get("live_adopted") == epoch:
        return
    st.session_state["live_adopted"] = epoch
    shown = OnScreen.trained(run.dataset, run.config, result)
    session.set_on_screen(shown)
    acc = next((a for a in result.history["test_acc"][-1:] + result.history["train_acc"][-1:] if a is not None), None)
    st.session_state["train_message"] = ("ok", training_summary(result) + ("" if acc is None else
                                                                           f" · accuracy {acc:.0%}"))
    if run.over_budget and not run.finished:
        run.over_budget = False  # said once
        st.session_state["train_message"] = ("info", (
            f"The link's training paused after {run.seconds:.0f} s at epoch {epoch} of {run.config.epochs} (a link "
            f"trains for at most {LINK_SECONDS:.0f} s on its own): press Play to go on, or change the settings."))


def controls(*, where=None) -> bool:
    """Play/Pause, Step and Reset buttons in one row; returns True if one was clicked (rerun the page then)."""
    where = st if where is None else where
    run = current()
    cols = where.columns([2, 1, 1], gap="small")
    resume = run is not None and not run.finished and run.frame is not None and run.frame.epoch > 0
    label, icon = ("Pause", ":material/pause:") if playing() else \
        ("Resume" if resume else "Play", ":material/play_arrow:")
    clicked = cols[0].button(label, icon=icon, key="live_toggle", type="primary", on_click=_toggle, width="stretch",
                             help="Train with the settings of the sidebar and watch the regions move.")
    clicked |= cols[1].button(":material/skip_next:", key="live_step", on_click=_step, width="stretch",
                              help="Step: train a few more epochs, then pause.")
    clicked |= cols[2].button(":material/restart_alt:", key="live_reset", on_click=start, kwargs={"play": False},
                              width="stretch", help="Reset: a freshly initialised network (epoch 0) with the "
                                                    "sidebar's settings.")
    return clicked


def status() -> str:
    """One line on the run: 'epoch 40 of 200 · playing', or '' without a run."""
    run = current()
    if run is None:
        return ""
    if run.frame is None:
        return "building the network…"
    word = {"playing": "training", "paused": "paused", "done": "done"}.get(run.state, run.state)
    return f"epoch {run.frame.epoch} of {run.config.epochs} · {word} · {run.seconds:.1f} s"


@st.cache_resource(show_spinner=False)
def warm_up() -> threading.Thread:
    """Import torch once per server process in the background (seconds), so the first Play starts at once."""
    thread = threading.Thread(target=lambda: __import__("torch"), name="explorer-import-torch", daemon=True)
    thread.start()
    return thread


def _toggle() -> None:
    run = current()
    if run is not None and run.playing:
        run.pause()
        return
    if run is not None and not run.finished and _matches(run):
        run.play()
        return
    start(play=True)


def _step() -> None:
    run = current()
    if run is None or run.finished or not _matches(run):
        start(play=False)
        run = current()
        if run is None:
            return
    run.pause()
    run.step()


def _matches(run: LiveRun) -> bool:
    try:
        state = session.widget_state()
        return run.matches(session.dataset(), train_config(state, snapshot_every=max(1, state.epochs // 10)))
    except ExplorerError:
        return False
