"""Streamlit views of the explorer: one module per tab, plus the sidebar, the shared context and the click component.

These modules import Streamlit and are only meant to run inside ``streamlit run app.py`` (or AppTest); the
library in ``explorer/`` never imports them.
"""
