"""Linear-region explorer: `streamlit run app.py`.

A thin entry: page set-up, the sidebar (which returns the shared ViewContext), one tab per view, the URL
write-back, and the single place where an ExplorerError becomes a message on the page.
"""

from __future__ import annotations

import streamlit as st

from explorer.errors import ExplorerError

st.set_page_config(page_title="Linear-region explorer", page_icon="◇", layout="wide")

from views import explore, findings, higher, session, sidebar, style, teach  # noqa: E402  (after set_page_config)
from views.state import TAB_LABELS  # noqa: E402

TABS = {TAB_LABELS["explore"]: explore.render, TAB_LABELS["higher"]: higher.render,
        TAB_LABELS["findings"]: findings.render, TAB_LABELS["teach"]: teach.render}


def shown(fn, *args):
    """Run ``fn(*args)``; an ExplorerError becomes one message on the page and the result None."""
    try:
        return fn(*args)
    except ExplorerError as exc:
        st.error(str(exc))
        return None


def main() -> None:
    ctx = shown(sidebar.context)
    style.apply(bool(st.session_state.get("s_classroom")))
    if ctx is not None:
        if st.session_state.get("app_tab") not in TABS:
            st.session_state.pop("app_tab", None)
        for tab, render in zip(st.tabs(list(TABS), key="app_tab", on_change="rerun"), TABS.values()):
            if tab.open is not False:
                with tab:
                    shown(render, ctx)
    shown(sidebar.render)
    if ctx is not None:
        session.publish_url()


main()
