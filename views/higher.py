"""Higher dimensions tab (placeholder while the counting modules settle)."""

from __future__ import annotations

import streamlit as st

from .context import ViewContext

__all__ = ["render"]


def render(ctx: ViewContext) -> None:
    st.info("Coming soon.")
