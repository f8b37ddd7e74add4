"""One export path for every figure and table of the app: a "Figure" popover (PNG, SVG, PDF with the CLI's
publication styling, or HTML) and a "CSV" download button.

Figures are styled by explorer.plot.export.publication_style, the styling of ``python -m explorer figure``,
and written by the same kept-alive Kaleido; files are made only when their button is clicked.  Without a
Chromium, the popover says so and offers HTML (and the chart's own camera button, PNG).
"""

from __future__ import annotations

import streamlit as st

from explorer.plot.export import PaperStyle, export_bytes, exporter_available, publication_style, table_csv

__all__ = ["figure_export", "table_export", "FONTS"]

FONTS = ("serif", "sans-serif", "Times New Roman", "Arial", "Helvetica")
_MIME = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf", "html": "text/html"}


def figure_export(fig, name: str, *, key: str, width_in: float = 3.5, height_in: float = 3.5,
                  label: str = "⤓ Figure") -> None:
    """A popover (``label``) exporting ``fig`` as ``name``.png/.svg/.pdf (paper styling) or .html.

    Its controls (size in inches, font, font size, legend) are computed only while the popover is open.
    """
    popover = st.popover(label, key=f"{key}_export", on_change="rerun",
                         help="Download this figure for a paper: PNG (300 dpi), SVG or PDF, or HTML.")
    if popover.open is False:
        return
    with popover:
        a, b = st.columns(2)
        width = a.number_input("width (in)", 1.0, 20.0, width_in, 0.25, key=f"{key}_w")
        height = b.number_input("height (in)", 1.0, 20.0, height_in, 0.25, key=f"{key}_h")
        font = a.selectbox("font", FONTS, key=f"{key}_font")
        size = b.number_input("font size (pt)", 5.0, 24.0, 9.0, 0.5, key=f"{key}_fs")
        legend = st.checkbox("legend", False, key=f"{key}_legend")
        style = PaperStyle(width_in=width, height_in=height, font_family=font, font_size=size, legend=legend)
        ok, reason = exporter_available()
        formats = ("png", "svg", "pdf") if ok else ()
        cols = st.columns(len(formats) + 1)
        for col, fmt in zip(cols, formats):
            col.download_button(fmt.upper(), data=_deferred(fig, style, fmt), file_name=f"{name}.{fmt}",
                                mime=_MIME[fmt], key=f"{key}_{fmt}", width="stretch", on_click="ignore")
        cols[-1].download_button("HTML", data=lambda: fig.to_html(include_plotlyjs="cdn"), file_name=f"{name}.html",
                                 mime=_MIME["html"], key=f"{key}_html", width="stretch", on_click="ignore")
        st.caption("PNG at 300 dpi; SVG and PDF keep regions as vector paths; no title or hover markers."
                   if ok else f"{reason} Meanwhile: HTML, or the chart's camera button (PNG).")


def table_export(rows, name: str, *, key: str) -> None:
    """A "CSV" download button for a table given as a sequence of dicts."""
    rows = list(rows)
    st.download_button("⤓ CSV", data=lambda: table_csv(rows), file_name=f"{name}.csv", mime="text/csv",
                       key=f"{key}_csv", disabled=not rows, help="Download this table as CSV.", on_click="ignore")


def _deferred(fig, style: PaperStyle, fmt: str):
    """The export as a zero-argument callable: Streamlit runs it only when the button is clicked."""
    return lambda: export_bytes(publication_style(fig, style), fmt)
