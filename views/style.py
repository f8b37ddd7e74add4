"""The page's look: no empty band above the tabs, no dimming while a live frame is drawn, and in classroom mode
type a back row can read.

Streamlit keeps ~6 rem of padding above the main block and ~4 rem above the sidebar's content; on a
1280×720 projector that is a tenth of the screen, so both shrink to what the header's menu button needs.
Classroom mode scales the whole page (Streamlit sizes in rem) and the figures' fonts (:data:`FIGURE_FONT`).
"""

from __future__ import annotations

import streamlit as st

__all__ = ["apply", "figure_font", "FIGURE_FONT", "CLASSROOM_FIGURE_FONT"]

FIGURE_FONT = 13  # px, as explorer.plot.style.FONT
CLASSROOM_FIGURE_FONT = 17

_BASE = """
[data-testid="stMainBlockContainer"] { padding-top: 2.25rem; padding-bottom: 2rem; }
[data-testid="stSidebarHeader"] { height: 2.6rem; margin-bottom: 0; }
[data-testid="stSidebarUserContent"] { padding-top: 0.25rem; }
[data-testid="stMetric"] { padding: 0; }
[data-testid="stMetricValue"] { font-size: 1.9rem; line-height: 1.15; }
[data-stale="true"] { opacity: 1 !important; transition: none !important; }
"""
_CLASSROOM = """
html { font-size: 18px; }
[data-testid="stMetricLabel"] p { font-size: 1rem; }
[data-testid="stMetricValue"] { font-size: 2.1rem; }
"""


def apply(classroom: bool) -> None:
    """Add the page's styles (classroom: larger type)."""
    st.html(f"<style>{_BASE}{_CLASSROOM if classroom else ''}</style>")


def figure_font(classroom: bool) -> int:
    """Font size in px for the app's figures."""
    return CLASSROOM_FIGURE_FONT if classroom else FIGURE_FONT
