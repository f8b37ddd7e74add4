"""Linear-region explorer: `streamlit run app.py`.

A thin entry: page set-up, the sidebar (which returns the shared ViewContext), one tab per view, and the
single place where an ExplorerError becomes a message on the page.
"""

from __future__ import annotations

import importlib.util
import time

import streamlit as st

from explorer.errors import ExplorerError

st.set_page_config(page_title="Linear-region explorer", page_icon="◇", layout="wide")

from views import explore, findings, higher, sidebar  # noqa: E402  (after set_page_config)

TABS = {"Explore": explore.render, "Higher dimensions": higher.render, "Local findings": findings.render}
if importlib.util.find_spec("views.teach") is not None:
    from views import teach  # noqa: E402

    TABS["Teach"] = teach.render


def main() -> None:
    start = time.perf_counter()
    try:
        ctx = sidebar.render()
    except ExplorerError as exc:
        st.error(str(exc))
        return
    tabs = st.tabs(list(TABS), key="app_tab", on_change="rerun")
    for tab, render in zip(tabs, TABS.values()):
        if tab.open is False:
            continue
        with tab:
            try:
                render(ctx)
            except ExplorerError as exc:
                st.error(str(exc))
    st.session_state["perf_run_ms"] = 1000 * (time.perf_counter() - start)


main()
