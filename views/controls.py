"""Widgets drawn from the settings table: label, help, range or choices, step and format come from views.state."""

from __future__ import annotations

import streamlit as st

from .codec import Box, Choice, Flag, LearningRate, Number, Widths
from .state import SETTING

__all__ = ["control", "widths_controls", "box_controls"]


def control(name: str, *, where=None, **overrides):
    """Draw the widget of setting ``name`` bound to its session-state key, in ``where`` (default: ``st``).

    ``overrides`` replace the table's keyword arguments (e.g. a range that depends on the domain).
    """
    s = SETTING[name]
    where = st if where is None else where
    kwargs = {"label": s.label, "key": s.key, "help": s.help}
    if isinstance(s, LearningRate):
        draw = where.select_slider
        kwargs |= {"options": s.choices}
    elif isinstance(s, Number):
        draw = where.slider if s.widget == "slider" else where.number_input
        kwargs |= {"min_value": s.lo, "max_value": s.hi, "step": s.step, "format": s.format}
    elif isinstance(s, Choice):
        draw = where.radio if s.widget == "radio" else where.selectbox
        kwargs |= {"options": s.choices, "format_func": s.labels.get if s.labels else str}
        if s.widget == "radio":
            kwargs["horizontal"] = True
    elif isinstance(s, Flag):
        draw = where.toggle if s.widget == "toggle" else where.checkbox
    else:
        raise TypeError(f"setting {name!r} has no single widget")
    return draw(**(kwargs | overrides))


def widths_controls(name: str = "hidden", *, columns: int = 3) -> None:
    """The layer count and one width per layer of a Widths setting."""
    s: Widths = SETTING[name]
    st.slider(s.label, 1, s.max_layers, key=s.layers_key)
    cols = st.columns(columns)
    for i in range(int(st.session_state[s.layers_key])):
        cols[i % columns].number_input(s.layer_label.format(i=i + 1), s.units[0], s.units[1], step=1,
                                       key=f"{s.unit_key}{i}")


def box_controls(name: str = "domain") -> None:
    """One number input per bound of a Box setting, two per row.

    Unbounded: a loaded file may bring a box beyond the limit links accept, and its map is still drawn.
    """
    s: Box = SETTING[name]
    cols = st.columns(2)
    for i, key in enumerate(s.keys):
        cols[i % 2].number_input(key.removeprefix("s_"), step=s.step, key=key)
