"""The network panel: the layer diagram (click a neuron to highlight its exact zero set on the map) and the
selected neuron's own map, as TF Playground's neuron thumbnails but with exact lines.

The selected neuron is the setting ``neuron`` (1-based through the hidden layers, 0: none), so links keep it.
"""

from __future__ import annotations

import streamlit as st

from explorer.net import Network
from explorer.plane.regions import Regions
from explorer.plot.network import network_figure, neuron_map

from .export import figure_export

__all__ = ["render", "selected_unit"]

_KEY = "network_diagram"


def selected_unit() -> int | None:
    """Pattern index of the selected neuron, or None."""
    n = int(st.session_state.get("s_neuron", 0))
    return n - 1 if n > 0 else None


def render(net: Network, regions: Regions | None, *, font: int, height: int = 250, live: bool = False) -> None:
    """Draw the diagram of ``net`` and, when a neuron is selected, its map on ``regions`` (if not None); while
    training (``live``) the diagram alone, its links following the weights."""
    unit = selected_unit()
    fig = network_figure(net, selected=unit, height=height, click_target=_KEY)
    fig.update_layout(font_size=font)
    st.plotly_chart(fig, key=_KEY, on_select=_pick, selection_mode="points", theme=None,
                    config={"displayModeBar": False})
    if live:
        return
    thumb = None
    if unit is None:
        st.caption("Click a neuron to see where it switches: its exact zero set, bent by earlier layers.")
    elif regions is not None:
        thumb = neuron_map(regions, unit, height=height)
        thumb.update_layout(font_size=font)
        st.plotly_chart(thumb, key="neuron_map", theme=None, config={"displayModeBar": False})
    cols = st.columns(2)
    with cols[0]:
        figure_export(fig, "network", key=_KEY, width_in=5.0, height_in=3.0, label="⤓ Diagram")
    if thumb is not None:
        with cols[1]:
            figure_export(thumb, f"neuron_{unit + 1}", key="neuron_map", label="⤓ Neuron map")


def _pick() -> None:
    """A click on the diagram: a hidden neuron selects it (again: unselects), anything else unselects."""
    event = st.session_state.get(_KEY)
    points = (event or {}).get("selection", {}).get("points", []) if isinstance(event, dict) else \
        getattr(getattr(event, "selection", None), "points", [])
    units = [p.get("customdata") for p in points if isinstance(p, dict)]
    units = [u[0] if isinstance(u, list) else u for u in units]
    unit = next((int(u) for u in units if isinstance(u, (int, float)) and u >= 0), None)
    st.session_state["s_neuron"] = 0 if unit is None or unit + 1 == st.session_state.get("s_neuron") else unit + 1
