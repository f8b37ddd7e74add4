"""Session state shared by the sidebar and the tabs: the settings' widgets, the network on screen, and the URL.

Every setting of :data:`views.state.SETTINGS` lives in ``st.session_state`` under its widget keys (mapped by
the table: ``"s_" + name`` for most, ``s_layers`` / ``s_units_i`` for hidden, ``s_xmin`` … for the domain,
``pinned``); the tab and the preset are read from the tabs and the Teach tab's widgets.  The network on screen
is an :class:`~views.context.OnScreen` under ``"on_screen"``.  A session starts on the shipped example, then
on the state of the URL's query parameters; every run writes the view back into the URL, so a link
reproduces it (a link whose data or training settings differ from the example's retrains deterministically;
a link made after an upload names that network instead: :mod:`views.netlink`).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from explorer.errors import ExplorerError
from explorer.io import load
from explorer.train.data import Dataset, make_dataset
from explorer.train.presets import parse_spec

from .codec import DEFAULT
from .context import OnScreen
from .state import (COMPARISON, SETTING, TAB_LABELS, AppState, dataset_kwargs, from_query, made_with,
                    needs_training, session_defaults, session_values, state_values, to_query)

__all__ = ["EXAMPLE", "PRESET_SECTION", "init", "on_screen", "set_on_screen", "apply_fields", "apply_state",
           "widget_state", "app_state", "publish_url", "dataset", "domain"]

EXAMPLE = Path(__file__).resolve().parent.parent / "assets" / "moons_2x16.pt"
PRESET_SECTION = "Classic constructions"  # the Teach tab's section of presets


def init() -> None:
    """First run of a session: the example network, then the URL's state; later runs keep hidden widgets' values."""
    ss = st.session_state
    for key, default in session_defaults().items():
        ss[key] = ss[key] if key in ss else default  # re-assigning keeps values of hidden widgets
    if "on_screen" in ss:
        return
    ckpt = _example()
    name = ckpt.provenance.get("dataset", {}).get("name", "moons")
    set_on_screen(OnScreen(ckpt.net, f"example network ({name}, {ckpt.net.architecture})", ckpt.provenance,
                           ckpt.box))  # the settings' defaults are its recipe (tests/views/test_state.py)
    params = st.query_params.to_dict()
    if params:
        state, warnings = from_query(params)
        apply_state(state)
        ss["url_warnings"], ss["url_train"] = warnings, needs_training(state)
        if state.net:
            ss["url_net"] = state.net  # shown (or asked for) by views.files.open_link


def on_screen() -> OnScreen:
    """The network on screen."""
    return st.session_state["on_screen"]


def set_on_screen(shown: OnScreen) -> None:
    """Put a network on screen (the network a link asked a file for is no longer awaited)."""
    st.session_state["on_screen"] = shown
    st.session_state.pop("link_wanted", None)


def apply_fields(values: dict) -> None:
    """Show settings {name: value} in their widgets (call before the widgets are drawn).

    Each value is read leniently by its setting, so widgets only ever hold values within their range;
    unusable values and unknown names are skipped.
    """
    for name, raw in values.items():
        if name in SETTING:
            value, _ = SETTING[name].read(raw)
            if value is not DEFAULT:
                st.session_state.update(session_values({name: value}))


def apply_state(state: AppState) -> None:
    """Put a shared state into the widgets (before they are drawn): settings, pinned points, tab and preset."""
    st.session_state.update(session_values(vars(state)))
    st.session_state["app_tab"] = TAB_LABELS[state.tab]
    if state.preset:
        name = state.preset if state.preset == COMPARISON else parse_spec(state.preset)[0]
        st.session_state.update({"app_tab": TAB_LABELS["teach"], "teach_section": PRESET_SECTION,
                                 "teach_preset": name})
        if name != COMPARISON:
            st.session_state[f"teach_preset_{name}"] = parse_spec(state.preset)[1]


def widget_state() -> AppState:
    """The state the widgets hold (read leniently: a value out of range is clamped)."""
    return from_query(state_values(st.session_state))[0]


def app_state() -> AppState:
    """The shareable state of the session: the view's settings and the settings that made the network.

    For a network trained here (or the example) the data and training fields are those it was made with,
    so a link reproduces the network on screen, not sliders moved since.  An uploaded network is named by
    ``net`` (its fingerprint, and its weights when small), as is the one a link asked a file for while the
    page waits for it.
    """
    values = state_values(st.session_state)
    shown = on_screen()
    wanted = st.session_state.get("link_wanted", "")
    if shown.full_net is None and not wanted:
        values |= made_with(shown.provenance or {})
    values["net"] = shown.link or wanted
    values["tab"] = {v: k for k, v in TAB_LABELS.items()}.get(st.session_state.get("app_tab"), "explore")
    values["preset"] = _preset()
    return from_query(values)[0]


def publish_url() -> None:
    """Write the session's state into the URL when it changed (not while a live run is playing)."""
    run = st.session_state.get("live_run")
    if run is not None and run.playing:
        return
    query = to_query(app_state())
    if query != st.query_params.to_dict():
        st.query_params.from_dict(query)


def dataset() -> Dataset:
    """The dataset the data settings describe."""
    return _make_dataset(**dataset_kwargs(widget_state()))


def domain() -> tuple[float, float, float, float]:
    """The map's box from the settings."""
    box = tuple(float(v) for v in SETTING["domain"].from_session(st.session_state))
    if not (box[0] < box[1] and box[2] < box[3]):
        raise ExplorerError(f"the map's domain needs xmin < xmax and ymin < ymax; got x from {box[0]} to "
                            f"{box[1]} and y from {box[2]} to {box[3]}. Fix it under View.")
    return box


def _preset() -> str:
    ss = st.session_state
    if ss.get("app_tab") != TAB_LABELS["teach"] or ss.get("teach_section") != PRESET_SECTION:
        return ""
    name = ss.get("teach_preset")
    if name == COMPARISON:
        return COMPARISON
    n = ss.get(f"teach_preset_{name}")
    return f"{name}:{n}" if name and n is not None else ""


@st.cache_resource(show_spinner=False)
def _example():
    return load(EXAMPLE)


@st.cache_resource(show_spinner=False, max_entries=32)
def _make_dataset(**kwargs) -> Dataset:
    return make_dataset(**kwargs)
