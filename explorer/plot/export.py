"""Static export of Plotly figures (PNG, SVG, PDF) with publication styling, through one kept-alive Kaleido.

Sizes: a figure is laid out in CSS pixels at 96 per inch, so a width of w inches is ``96 w`` layout pixels,
a PDF page of ``72 w`` points and a PNG of ``w · dpi`` pixels (Kaleido's scale = dpi / 96); font sizes are
given in points (1 pt = 96/72 px).  SVG and PDF stay vector: polygons are paths, and publication_style
draws each colour's polygons as one path.

Kaleido 1.x drives a Chromium found on the machine (Debian: ``apt install chromium``); starting it costs
seconds, so the first export starts one Kaleido per process on its own event-loop thread (what
``kaleido.start_sync_server`` does, but owned here so that a browser that fails to start raises instead of
blocking forever, and every request has a deadline); later exports, from any thread, reuse it.
"""

from __future__ import annotations

import asyncio
import atexit
import csv
import io
import os
import shutil
import threading
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import plotly.graph_objects as go

from ..errors import ExplorerError
from .style import PALETTES

__all__ = ["FORMATS", "CSS_PX_PER_INCH", "POINTS_PER_INCH", "TIMEOUT", "PaperStyle", "publication_style",
           "write_figure", "export_bytes", "exporter_available", "server_running", "table_csv"]

FORMATS = ("png", "svg", "pdf")
CSS_PX_PER_INCH = 96.0
POINTS_PER_INCH = 72.0
TIMEOUT = 60.0  # seconds for the browser to start, and for one image
_NO_CHROMIUM = ("static export needs a Chromium browser and none was found; install one "
                "(Debian/Ubuntu: apt install chromium) or set BROWSER_PATH to its executable.")
_LOCK = threading.Lock()
_STATE: dict = {}  # "available": (bool, reason) once detected; "server": the running _Server


def exporter_available() -> tuple[bool, str]:
    """(True, path of the browser) if Kaleido can export here, else (False, what to install); detected once."""
    with _LOCK:
        if "available" not in _STATE:
            _STATE["available"] = _detect()
        return _STATE["available"]


def server_running() -> bool:
    """True while this process has a Kaleido server (started by the first export, kept until exit)."""
    return _STATE.get("server") is not None


def export_bytes(fig: go.Figure, fmt: str, *, dpi: float = 300.0) -> bytes:
    """The figure as PNG, SVG or PDF bytes, at its layout size (PNG: ``dpi`` pixels per 96 layout pixels).

    Raises
    ------
    ExplorerError : unknown format, bad dpi, no Chromium, or the browser failed to render.
    """
    fmt = str(fmt).lower().lstrip(".")
    if fmt not in FORMATS:
        raise ExplorerError(f"cannot export to {fmt!r}; choose one of {', '.join(FORMATS)}.")
    if not (isinstance(dpi, (int, float)) and 10 <= dpi <= 2400):
        raise ExplorerError(f"dpi must be a number in 10–2400; got {dpi!r}.")
    ok, reason = exporter_available()
    if not ok:
        raise ExplorerError(reason)
    width = fig.layout.width or 700
    height = fig.layout.height or 500
    opts = {"format": fmt, "width": width, "height": height, "scale": dpi / CSS_PX_PER_INCH if fmt == "png" else 1}
    server = _server()
    try:
        return server.render(fig, opts)
    except Exception as exc:  # noqa: BLE001  (the browser's failures arrive as assorted types)
        with _LOCK:  # a server that failed once is not trusted again: the next export starts a new one
            if _STATE.get("server") is server:
                _STATE["server"] = None
        server.close()
        raise ExplorerError(f"the {fmt.upper()} export failed in the browser ({_why(exc)}); check that "
                            f"{reason} starts.") from exc


def write_figure(fig: go.Figure, path, *, dpi: float = 300.0) -> Path:
    """Write the figure to ``path``; the suffix (.png, .svg, .pdf) chooses the format.  Returns the path.

    Raises
    ------
    ExplorerError : unknown suffix, missing folder, no Chromium, or a failed render.
    """
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ExplorerError(f"cannot tell the format of {str(path)!r}; end the file name in "
                            f"{', '.join('.' + f for f in FORMATS)}.")
    if not path.parent.is_dir():
        raise ExplorerError(f"the folder {str(path.parent)!r} does not exist; create it first.")
    data = export_bytes(fig, fmt, dpi=dpi)
    path.write_bytes(data)
    return path


@dataclass(frozen=True)
class PaperStyle:
    """How a figure is styled for a paper (validated when built).

    width_in, height_in : size in inches;  width_pt, height_pt : size in points, overriding the inches if given
    font_family : one font for every text;  font_size : in points (3–72)
    palette : None, or a key of figures.PALETTES ('okabe-ito' and 'tol-light' are colour-blind safe) that sets
        the colour cycle of traces without colours of their own
    title, legend : keep the figure's title and legend

    Raises
    ------
    ExplorerError : a non-positive or huge size, a bad font size, or an unknown palette.
    """

    width_in: float | None = 3.5
    height_in: float | None = 3.5
    width_pt: float | None = None
    height_pt: float | None = None
    font_family: str = "serif"
    font_size: float = 9.0
    palette: str | None = None
    title: bool = False
    legend: bool = False

    def __post_init__(self) -> None:
        _inches(self.width_pt, self.width_in, "width")
        _inches(self.height_pt, self.height_in, "height")
        if not (isinstance(self.font_size, (int, float)) and 3 <= self.font_size <= 72):
            raise ExplorerError(f"font_size is in points and must lie in 3–72; got {self.font_size!r}.")
        if self.palette is not None and self.palette not in PALETTES:
            raise ExplorerError(f"unknown palette {self.palette!r}; choose one of {', '.join(PALETTES)}.")

    @property
    def size_in(self) -> tuple[float, float]:
        """(width, height) in inches."""
        return _inches(self.width_pt, self.width_in, "width"), _inches(self.height_pt, self.height_in, "height")


def publication_style(fig: go.Figure, style: PaperStyle | None = None, **changes) -> go.Figure:
    """A copy of ``fig`` styled for a paper: exact size, one font, white background, thin black axes.

    ``style`` (default ``PaperStyle()``) says how; any of its fields can also be given, or overridden, by
    keyword, e.g. ``publication_style(fig, width_pt=252, height_pt=144)``.  The layout gets 96 px per inch.
    No UI chrome: no title or legend (unless asked), no sliders or menus, no invisible hover markers (each
    would be one more SVG element), tight margins (axes grow them to fit their labels).  Filled polygon
    traces (``fill="toself"``, NaN-separated) become one layout path shape each, filled *and* outlined:
    Plotly strokes a trace's line as one SVG path per polygon, a shape as a single path, so a region map
    exports as one path per colour.  Region maps take their colours from ``region_map(palette=…)``.

    Raises
    ------
    ExplorerError : see :class:`PaperStyle`.
    """
    style = PaperStyle() if style is None else style
    style = replace(style, **changes) if changes else style
    w_in, h_in = style.size_in
    out = go.Figure(fig)
    out.data = [t for t in out.data if not _invisible(t)]
    _fills_as_shapes(out)
    px = style.font_size * CSS_PX_PER_INCH / POINTS_PER_INCH
    pad = round(px / 2)
    out.update_layout(width=w_in * CSS_PX_PER_INCH, height=h_in * CSS_PX_PER_INCH, autosize=False,
                      font=dict(family=style.font_family, size=px, color="black"), paper_bgcolor="white",
                      plot_bgcolor="white", margin=dict(l=pad, r=pad, t=pad, b=pad, pad=0, autoexpand=True),
                      sliders=[], updatemenus=[], dragmode=False, hovermode=False)
    if not style.title:
        out.update_layout(title_text=None)
    out.update_layout(showlegend=style.legend)
    out.update_xaxes(automargin=True, showline=True, linecolor="black", linewidth=0.75, mirror=True, ticks="outside",
                     tickcolor="black", ticklen=px / 3, showgrid=False, zeroline=False, title_standoff=pad)
    out.update_yaxes(automargin=True, showline=True, linecolor="black", linewidth=0.75, mirror=True, ticks="outside",
                     tickcolor="black", ticklen=px / 3, showgrid=False, zeroline=False, title_standoff=pad)
    out.update_annotations(font=dict(family=style.font_family, size=px))
    if style.palette is not None:
        out.update_layout(colorway=list(PALETTES[style.palette]))
    return out


def table_csv(rows) -> bytes:
    """A table (a sequence of dicts; the first row's keys, then any new ones, are the columns) as UTF-8 CSV.

    None becomes an empty cell; numbers keep every digit (``repr`` of floats); integers of any size stay exact.
    """
    rows = list(rows)
    columns = list(dict.fromkeys(k for row in rows for k in row))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else repr(row[c]) if isinstance(row[c], float) else row[c]
                         for c in columns])
    return out.getvalue().encode("utf-8")


# ---- the server ------------------------------------------------------------------------------------
class _Server:
    """One Kaleido (one headless Chromium with one tab) driven from its own event-loop thread.

    Requests from any thread are scheduled on that loop and wait at most TIMEOUT seconds; Kaleido queues
    them on its tab, so concurrent exports are served one after the other.
    """

    def __init__(self) -> None:
        import kaleido

        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._loop.run_forever, name="explorer-kaleido", daemon=True).start()

        async def start():
            k = kaleido.Kaleido(n=1, timeout=TIMEOUT)
            await k.open()
            return k

        try:
            self._kaleido = self._run(start())
        except BaseException:
            self._loop.call_soon_threadsafe(self._loop.stop)
            raise
        atexit.register(self.close)

    def render(self, fig: go.Figure, opts: dict) -> bytes:
        return self._run(self._kaleido.calc_fig(fig, opts=opts))

    def close(self) -> None:
        """Close the browser and stop the loop (idempotent)."""
        if not self._loop.is_running():
            return
        try:
            self._run(self._kaleido.close(), timeout=10)
        except Exception:  # noqa: BLE001  (closing a broken browser may fail; the process goes anyway)
            pass
        self._loop.call_soon_threadsafe(self._loop.stop)

    def _run(self, coro, timeout: float = TIMEOUT):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)


def _server() -> _Server:
    """The process's server, started on first use."""
    with _LOCK:
        if _STATE.get("server") is None:
            try:
                _STATE["server"] = _Server()
            except Exception as exc:  # noqa: BLE001
                raise ExplorerError(f"could not start the browser for export ({_why(exc)}); check that "
                                    f"{_STATE['available'][1]} runs, or install one with apt install chromium.") from exc
        return _STATE["server"]


# ---- helpers ----------------------------------------------------------------------------------
def _detect() -> tuple[bool, str]:
    try:
        import kaleido  # noqa: F401
        from choreographer.browsers.chromium import Chromium
    except ImportError:
        return False, "static export needs the kaleido package (pip install 'kaleido>=1.0') and a Chromium."
    env = os.environ.get("BROWSER_PATH")
    if env:
        found = shutil.which(env) or (env if os.access(env, os.X_OK) else None)
        return (True, found) if found else (False, f"BROWSER_PATH={env!r} is not an executable; " + _NO_CHROMIUM)
    try:
        path = Chromium.find_browser(skip_local=False)
    except Exception:  # noqa: BLE001  (a broken lookup means: not available)
        path = None
    if path and os.access(path, os.X_OK):
        return True, str(path)
    return False, _NO_CHROMIUM


def _why(exc: BaseException) -> str:
    """'Type: first line of the message' (choreographer packs several sentences into a tuple)."""
    text = str(exc.args[0]) if exc.args else ""
    return f"{type(exc).__name__}: {text.splitlines()[0][:160]}" if text else type(exc).__name__


def _inches(points: float | None, inches: float | None, what: str) -> float:
    value = points / POINTS_PER_INCH if points is not None else inches
    if not (isinstance(value, (int, float)) and 0.5 <= value <= 40):
        raise ExplorerError(f"the figure {what} must lie between 0.5 and 40 inches (36–2880 points); got "
                            f"{points if points is not None else inches!r} {'pt' if points is not None else 'in'}.")
    return float(value)


def _fills_as_shapes(fig: go.Figure) -> None:
    """Replace every filled lines-only scatter on the main axes by a path shape with the same fill and outline.

    Shapes are drawn below all traces in their order, like the fills they replace; coordinates keep every
    digit (``repr``), so the vector output loses nothing.
    """
    keep, shapes = [], list(fig.layout.shapes)
    for t in fig.data:
        convert = (t.type == "scatter" and t.fill == "toself" and t.mode == "lines" and t.fillcolor is not None
                   and t.xaxis in (None, "x") and t.yaxis in (None, "y") and t.x is not None and len(t.x))
        if not convert:
            keep.append(t)
            continue
        width = 2 if t.line.width is None else t.line.width
        shapes.append(dict(type="path", path=_svg_path(t.x, t.y), xref="x", yref="y", layer="below",
                           fillcolor=t.fillcolor, opacity=1 if t.opacity is None else t.opacity,
                           line=dict(color=t.line.color or "rgba(0,0,0,0)", width=width, dash=t.line.dash)))
    fig.data = keep
    fig.layout.shapes = shapes


def _svg_path(x, y) -> str:
    """'M x,y L x,y … Z' with one closed subpath per NaN-separated run of points."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    gap = np.isnan(x) | np.isnan(y)
    parts, pen_up = [], True
    for xi, yi, g in zip(x.tolist(), y.tolist(), gap.tolist()):
        if g:
            if not pen_up:
                parts.append("Z")
            pen_up = True
            continue
        parts.append(f"{'M' if pen_up else 'L'}{xi!r},{yi!r}")
        pen_up = False
    if not pen_up:
        parts.append("Z")
    return "".join(parts)


def _invisible(trace) -> bool:
    """A markers-only trace drawn fully transparent (hover targets): nothing to see on paper."""
    marker = getattr(trace, "marker", None)
    return getattr(trace, "mode", None) == "markers" and marker is not None and marker.opacity == 0
