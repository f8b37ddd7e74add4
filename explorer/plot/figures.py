"""Plotly region maps of the explorer: filled exact polygons, boundaries, data, a selected ball, pins.

Every function returns a ``plotly.graph_objects.Figure`` and imports no Streamlit, so the app and the CLI
export draw the same pictures.  Region maps group same-colour polygons into one trace (NaN-separated
subpaths), so a map has a few dozen traces whatever the number of regions; hover text sits on one marker
per region (its interior point).  Colours of the "region" colouring come from a greedy colouring of the
adjacency graph in which each region first tries the colour its activation pattern hashes to, so
neighbours differ and colours stay put across reruns and, given the previous frame's colours, across the
frames of a run (explorer.plot.coloring).  Lines over the fills have casings (explorer.plot.style), and data
points wear their class colour, the colour of the regions predicted as that class.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import plotly.colors as pc
import plotly.graph_objects as go

from ..errors import ExplorerError
from ..net import as_box
from ..plane.partition import decision_boundary, layer_boundaries, unit_boundary
from ..plane.regions import Regions
from ..train.data import Dataset
from .coloring import stable_coloring
from .overlays import Selection, add_overlays
from .style import DECISION_LINE, FONT, NEURON_LINE, PALETTES, X1, X2, LineStyle, cased_lines, class_color, layer_line

__all__ = ["COLOR_BY", "PALETTES", "FONT", "RASTER_REGIONS", "PlotFrame", "MapOptions", "pixel_to_data", "region_map",
           "empty_map", "region_colors", "pattern_strings", "affine_strings", "affine_text", "simplification",
           "polygon_traces", "neuron_name"]

COLOR_BY = ("region", "class", "output", "gradient norm", "gradient direction", "active units")
RASTER_REGIONS = 20_000  # from here on: fills and outlines as one image, hover markers in WebGL
RASTER_PIXELS = 1400  # longer side of that image
_SCALES = {"output": "RdBu", "gradient norm": "Cividis", "gradient direction": "Twilight",
           "active units": "Viridis"}
_BINS = 24  # continuous colourings are drawn with this many colour levels
_OUTLINE_PX = 4.0  # regions thinner than this on screen (typically) are drawn without outlines


@dataclass(frozen=True)
class PlotFrame:
    """Pixel geometry of a rendered Plotly plot area (as reported by the browser).

    left, top : offset of the plot area inside the figure's div, px;  width, height : its size, px
    x_range, y_range : data values at the left/right and bottom/top edges of the plot area
    """

    left: float
    top: float
    width: float
    height: float
    x_range: tuple[float, float]
    y_range: tuple[float, float]


@dataclass(frozen=True, eq=False)
class MapOptions:
    """How a region map is drawn: the colouring, the lines and overlays it shows, and its frame.

    color_by : one of COLOR_BY;  palette : key of PALETTES (used by "region" and "class")
    show_layers : 0-based hidden layers whose neurons' boundaries are drawn;  show_decision : draw the exact
        decision boundary
    dataset : 2-D data drawn over the map (training points; test points too if ``show_test``)
    selection, pinned, anchors : overlays, see :func:`explorer.plot.overlays.add_overlays`
    highlight_unit : pattern index of one hidden neuron whose exact (bent) zero set is drawn highlighted
    coloring : colour indices (R,) into the palette for the "region" colouring (e.g. from
        explorer.plot.coloring.stable_coloring with the previous frame's colours); None: computed here
    hover : one hover marker per region with its id, pattern and affine map (off for fast live frames)
    raster : draw fills and outlines as one image (True), as vector paths (False), or as an image only from
        RASTER_REGIONS regions on (None); the image has twice the figure's height in pixels, at most RASTER_PIXELS
    click_target : name stored in ``layout.meta`` so that a click listener can find the figure
    height : figure height in pixels
    """

    color_by: str = "region"
    palette: str = "okabe-ito"
    show_layers: Sequence[int] = ()
    show_decision: bool = True
    dataset: Dataset | None = None
    show_test: bool = False
    selection: Selection | None = None
    pinned: Sequence[tuple[float, float]] = ()
    anchors: np.ndarray | None = None
    highlight_unit: int | None = None
    coloring: np.ndarray | None = None
    hover: bool = True
    raster: bool | None = None
    click_target: str | None = None
    height: int = 620


def pixel_to_data(px: float, py: float, frame: PlotFrame) -> tuple[float, float] | None:
    """Data coordinates of the pixel (px, py) of the figure's div (y down), or None outside the plot area.

    x = x0 + (px − left)/width · (x1 − x0) and y = y1 − (py − top)/height · (y1 − y0) for linear axes.
    """
    values = (px, py, frame.left, frame.top, frame.width, frame.height, *frame.x_range, *frame.y_range)
    if not all(np.isfinite(v) for v in values) or frame.width <= 0 or frame.height <= 0:
        return None
    u, v = (px - frame.left) / frame.width, (py - frame.top) / frame.height
    if not (0.0 <= u <= 1.0 and 0.0 <= v <= 1.0):
        return None
    (x0, x1), (y0, y1) = frame.x_range, frame.y_range
    return float(x0 + u * (x1 - x0)), float(y1 - v * (y1 - y0))


def region_map(regions: Regions, options: MapOptions | None = None, **changes) -> go.Figure:
    """The exact partition as filled polygons, with optional boundaries, data, a selected ball and pins.

    ``options`` (default ``MapOptions()``) says how; any of its fields can also be given, or overridden, by
    keyword, e.g. ``region_map(regions, color_by="class", height=400)``.
    """
    o = _options(options, changes)
    fills, colorbar = region_colors(regions, color_by=o.color_by, palette=o.palette, coloring=o.coloring)
    lo, hi = regions.domain.min(axis=0), regions.domain.max(axis=0)
    box = (lo[0], hi[0], lo[1], hi[1])
    px = o.height / max(box[3] - box[2], box[1] - box[0])  # screen pixels per unit, about
    outline = _outline_width(regions, px)
    raster = regions.n_regions >= RASTER_REGIONS if o.raster is None else o.raster
    traces = [] if raster else polygon_traces(regions, fills, outline=outline)
    if o.hover:
        traces.append(_hover_trace(regions))
    if colorbar is not None:
        traces.append(colorbar)
    for layer in o.show_layers:
        if not 0 <= layer < len(regions.net.hidden_widths):
            raise ExplorerError(f"layer {layer + 1} does not exist; the network has "
                                f"{len(regions.net.hidden_widths)} hidden layers.")
        seg = layer_boundaries(regions, layer)
        traces += cased_lines(seg, f"layer {layer + 1} neurons", _thinned(layer_line(layer), seg, px, box))
    if o.show_decision:
        seg = decision_boundary(regions)
        traces += cased_lines(seg, "decision boundary", _thinned(DECISION_LINE, seg, px, box))
    if o.highlight_unit is not None:
        seg = unit_boundary(regions, o.highlight_unit)
        traces += cased_lines(seg, neuron_name(regions.net, o.highlight_unit), _thinned(NEURON_LINE, seg, px, box))
    fig = _map_figure(traces, box, o)
    if raster:
        image = _raster(regions, fills, box, outline > 0, min(RASTER_PIXELS, 2 * o.height))
        fig.add_layout_image(source=image, xref="x", yref="y", x=box[0],
                             y=box[3], sizex=box[1] - box[0], sizey=box[3] - box[2], sizing="stretch",
                             layer="below")
    return add_overlays(fig, selection=o.selection, pinned=o.pinned, anchors=o.anchors)


def empty_map(box, options: MapOptions | None = None, **changes) -> go.Figure:
    """The frame of a region map without regions (when the partition is too large), with data and overlays.

    box : the 2-D box drawn (xmin xmax ymin ymax, or any form of :func:`explorer.net.as_box`);  ``options`` and
    keywords as for :func:`region_map` (the colouring and boundary options have nothing to act on here).
    """
    o = _options(options, changes)
    fig = _map_figure([], tuple(float(v) for v in as_box(box, 2).reshape(-1)), o)
    return add_overlays(fig, selection=o.selection, pinned=o.pinned, anchors=o.anchors)


def region_colors(regions: Regions, *, color_by: str = "region", palette: str = "okabe-ito",
                  coloring: np.ndarray | None = None):
    """Fill colour of every region and, for continuous colourings, a colour-bar trace.

    Returns (colors, colorbar): ``colors`` is a (R,) array of CSS colour strings.  "region" uses the colour
    indices ``coloring`` (default: explorer.plot.coloring.stable_coloring); "class" the class colours of
    explorer.plot.style.class_color.  Continuous values (output, gradient norm or direction, active units)
    are taken on each region (exactly: the output at its interior point) and drawn in ``_BINS`` levels.
    """
    if color_by not in COLOR_BY:
        raise ExplorerError(f"unknown colouring {color_by!r}; choose one of {', '.join(COLOR_BY)}.")
    if palette not in PALETTES:
        raise ExplorerError(f"unknown palette {palette!r}; choose one of {', '.join(PALETTES)}.")
    colors = np.array(PALETTES[palette], dtype=object)
    if color_by == "region":
        index = stable_coloring(regions, len(colors)) if coloring is None else np.asarray(coloring) % len(colors)
        return colors[index], None
    out = regions.out_grad[:, :, 0] * regions.points[:, None, 0] + regions.out_grad[:, :, 1] * \
        regions.points[:, None, 1] + regions.out_bias  # (R, n_out) outputs at interior points
    top = np.argmax(out, axis=1) if out.shape[1] > 1 else np.zeros(len(out), dtype=int)
    if color_by == "class":
        cls = (out[:, 0] > 0).astype(int) if out.shape[1] == 1 else top
        return colors[cls % len(colors)], None
    grad = regions.out_grad[np.arange(len(top)), top]  # (R, 2) gradient of the leading output
    values = {"output": out[np.arange(len(top)), top],
              "gradient norm": np.hypot(grad[:, 0], grad[:, 1]),
              "gradient direction": np.degrees(np.arctan2(grad[:, 1], grad[:, 0])),
              "active units": regions.patterns.sum(axis=1).astype(float)}[color_by]
    if color_by == "gradient direction":
        lo, hi = -180.0, 180.0
    elif color_by == "output":
        hi = max(float(np.abs(values).max(initial=0.0)), 1e-12)
        lo = -hi
    else:
        lo, hi = float(values.min(initial=0.0)), float(values.max(initial=1.0))
        hi = hi if hi > lo else lo + 1.0
    level = np.clip(((values - lo) / (hi - lo) * _BINS).astype(int), 0, _BINS - 1)
    scale = _SCALES[color_by]
    swatch = np.array(pc.sample_colorscale(scale, (np.arange(_BINS) + 0.5) / _BINS), dtype=object)
    bar = go.Scatter(x=[None], y=[None], mode="markers", hoverinfo="skip", showlegend=False,
                     marker=dict(colorscale=scale, cmin=lo, cmax=hi, color=[lo], showscale=True,
                                 colorbar=dict(title=color_by, thickness=14, len=0.8)))
    return swatch[level], bar


def pattern_strings(regions: Regions) -> list[str]:
    """Activation pattern of every region as bits per layer, layers separated by '|' (1 = active)."""
    bits = np.where(regions.patterns, "1", "0")
    cuts = np.cumsum(regions.net.hidden_widths)[:-1]
    return ["|".join("".join(part) for part in np.split(row, cuts)) for row in bits]


def affine_strings(regions: Regions, *, digits: int = 3) -> list[str]:
    """The output map of every region as text (see :func:`affine_text`)."""
    return [affine_text(g, b, digits=digits) for g, b in zip(regions.out_grad, regions.out_bias)]


def affine_text(grad: np.ndarray, bias: np.ndarray, *, digits: int = 3) -> str:
    """An affine map x -> grad @ x + bias as text, e.g. 'f = 1.2·x₁ − 0.5·x₂ + 0.3' (outputs joined by <br>).

    grad : (n_out, 2);  bias : (n_out,)
    """
    names = ["f"] if len(grad) == 1 else [f"f{k}" for k in range(len(grad))]
    return "<br>".join(f"{name} = {g[0]:.{digits}g}·x₁ {_signed(g[1], digits)}·x₂ {_signed(c, digits)}"
                       for name, g, c in zip(names, grad, bias))


def simplification(regions: Regions) -> str:
    """What the region map leaves out for this partition ('' when nothing)."""
    if regions.n_regions >= RASTER_REGIONS:
        return (f"{regions.n_regions:,} regions: fills and outlines are one image of at most {RASTER_PIXELS} px "
                "(zooming in shows its pixels; shrink the domain to redraw in detail); hover labels sit at region "
                "centres and give id and active-unit count only (click a point for the rest).")
    return ""


def neuron_name(net, unit: int) -> str:
    """'neuron j of layer l' (both counted from 1) of a pattern index of ``net`` (an explorer Network).

    Raises
    ------
    ExplorerError : ``unit`` is not a hidden neuron of ``net``.
    """
    if isinstance(unit, bool) or not isinstance(unit, (int, np.integer)) or not 0 <= unit < net.n_hidden:
        raise ExplorerError(f"neuron index must lie in 0..{net.n_hidden - 1}; got {unit!r}.")
    layer = int(net.unit_layers()[unit])
    return f"neuron {unit - sum(net.hidden_widths[:layer]) + 1} of layer {layer + 1}"


def polygon_traces(regions: Regions, colors: np.ndarray, *, outline: float = 0.7) -> list:
    """One filled trace per distinct colour of ``colors`` (R,): that colour's polygons, closed and NaN-separated,
    outlined ``outline`` px wide in dark grey (0: no outline; a hairline of the fill colour covers the seams)."""
    counts = np.diff(regions.offsets)
    traces = []
    for color in sorted(set(colors.tolist())):
        idx = np.flatnonzero(colors == color)
        xy = _closed_paths(regions, idx, counts)
        traces.append(go.Scatter(x=xy[:, 0], y=xy[:, 1], mode="lines", fill="toself", fillcolor=color,
                                 line=dict(width=outline or 0.5, color="rgba(40,40,40,0.55)" if outline else color),
                                 hoverinfo="skip", showlegend=False, name="regions"))
    return traces


# ---- helpers ----------------------------------------------------------------------------------------
def _thinned(style: LineStyle, segments: np.ndarray, px_per_unit: float, box: tuple) -> LineStyle:
    """``style``, or thinner (then fainter) lines without casing when they would cover more than a quarter of
    the plot (a thousand teeth of a deep sawtooth would otherwise paint it black)."""
    seg = np.asarray(segments, dtype=float).reshape(-1, 2, 2)
    length = float(np.hypot(*(seg[:, 1] - seg[:, 0]).T).sum()) * px_per_unit  # px
    area = (box[1] - box[0]) * (box[3] - box[2]) * px_per_unit ** 2
    width = max(style.width, style.casing_width)
    if length * width <= 0.25 * area:
        return style
    thin = 0.25 * area / max(length, 1e-9)  # px: the width at which the lines cover a quarter of the plot
    alpha = min(1.0, thin / 0.5)  # below half a pixel: fainter instead of thinner
    r, g, b = pc.hex_to_rgb(style.color) if style.color.startswith("#") else (0, 0, 0)
    return replace(style, color=f"rgba({r},{g},{b},{alpha:.3f})", width=max(thin, 0.5), casing_width=0.0)


def _outline_width(regions: Regions, px_per_unit: float) -> float:
    """Outline width in px: 0.7, or 0 when the typical region is thinner than _OUTLINE_PX on screen (many
    sliver regions, e.g. a deep sawtooth, would otherwise be all outline and look black).

    Thickness of a polygon = 2·area / perimeter (the width of a long strip, the inradius of a disk).
    """
    v, off = regions.vertices, regions.offsets
    nxt = np.arange(len(v)) + 1
    nxt[off[1:] - 1] = off[:-1]  # (T,) the next vertex of each polygon, wrapping around
    cross = v[:, 0] * v[nxt, 1] - v[nxt, 0] * v[:, 1]
    edge = np.hypot(*(v[nxt] - v).T)
    area = 0.5 * np.abs(np.add.reduceat(cross, off[:-1]))
    thickness = 2 * area / np.maximum(np.add.reduceat(edge, off[:-1]), 1e-300)
    return 0.7 if np.median(thickness) * px_per_unit >= _OUTLINE_PX else 0.0


def _raster(regions: Regions, colors: np.ndarray, box: tuple, outline: bool, pixels: int = RASTER_PIXELS) -> str:
    """The filled (and outlined) polygons as a PNG data URI covering ``box`` (y up), longer side ``pixels``.

    A palette image (one entry per colour) with fast compression: a few dozen kB, made in tens of ms.
    """
    from PIL import Image, ImageColor, ImageDraw

    w, h = box[1] - box[0], box[3] - box[2]
    W, H = (pixels, max(1, round(pixels * h / w))) if w >= h else (max(1, round(pixels * w / h)), pixels)
    pix = np.empty_like(regions.vertices)  # (T, 2) pixel coordinates, rows from the top
    pix[:, 0] = (regions.vertices[:, 0] - box[0]) / w * W
    pix[:, 1] = (box[3] - regions.vertices[:, 1]) / h * H
    names, index = np.unique(np.asarray(colors, dtype=str), return_inverse=True)
    palette = [ImageColor.getrgb("#FFFFFF"), ImageColor.getrgb("#7A7A7A")] + [ImageColor.getrgb(c) for c in names]
    img = Image.new("P", (W, H), 0)
    img.putpalette([v for rgb in palette for v in rgb[:3]])
    draw = ImageDraw.Draw(img)
    edge = 1 if outline else None
    for i, (a, b) in zip((index + 2).tolist(), zip(regions.offsets[:-1].tolist(), regions.offsets[1:].tolist())):
        draw.polygon([tuple(p) for p in pix[a:b].tolist()], fill=i, outline=edge if edge is not None else i)
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _closed_paths(regions: Regions, idx: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Vertices of polygons ``idx``, each closed by repeating its first vertex, then a NaN row: (Σ(k+2), 2)."""
    k = counts[idx]
    out_len = k + 2
    pos = np.concatenate([[0], np.cumsum(out_len)[:-1]])  # start of each polygon in the output
    out = np.full((int(out_len.sum()), 2), np.nan)
    src = np.repeat(regions.offsets[idx], k) + (np.arange(k.sum()) - np.repeat(np.cumsum(k) - k, k))
    dst = np.repeat(pos, k) + (np.arange(k.sum()) - np.repeat(np.cumsum(k) - k, k))
    out[dst] = regions.vertices[src]
    out[pos + k] = regions.vertices[regions.offsets[idx]]
    return out


def _hover_trace(regions: Regions):
    """Invisible markers at region interior points carrying id, pattern and affine map (id and number of
    active units only for large partitions, as compact integer data)."""
    if regions.n_regions >= RASTER_REGIONS:
        data = np.stack([np.arange(regions.n_regions), regions.patterns.sum(axis=1)], axis=1).astype(np.int32)
        return go.Scattergl(x=regions.points[:, 0].astype(np.float32), y=regions.points[:, 1].astype(np.float32),
                            mode="markers", customdata=data, marker=dict(size=7, opacity=0.0), showlegend=False,
                            hovertemplate="region %{customdata[0]} (%{customdata[1]} active units)<extra></extra>",
                            name="region info")
    text = [f"region {i}<br>pattern {_wrap(p)}<br>{m}" for i, (p, m) in
            enumerate(zip(pattern_strings(regions), affine_strings(regions)))]
    return go.Scatter(x=regions.points[:, 0], y=regions.points[:, 1], mode="markers", hovertext=text,
                      hoverinfo="text", marker=dict(size=7, opacity=0.0), showlegend=False, name="region info")


def _data_traces(dataset: Dataset, show_test: bool, palette: str) -> list:
    """Data points by class, in the class colour (that of the regions predicted as the class), dark-rimmed."""
    traces = []
    parts = [("", dataset.x_train, dataset.y_train, "circle")]
    if show_test and len(dataset.x_test):
        parts.append((" (test)", dataset.x_test, dataset.y_test, "triangle-up"))
    for split, x, y, symbol in parts:
        kind = go.Scattergl if len(x) > 2000 else go.Scatter
        for c in range(dataset.n_classes):
            pts = x[y == c]
            traces.append(kind(x=pts[:, 0], y=pts[:, 1], mode="markers", name=f"class {c}{split}",
                               legendgroup=f"class {c}", hoverinfo="skip",
                               marker=dict(symbol=symbol, size=7, color=class_color(c, palette),
                                           line=dict(width=1.2, color="#1A1A1A"))))
    return traces


def _map_figure(traces: list, box: tuple, o: MapOptions) -> go.Figure:
    if o.dataset is not None and o.dataset.dim == 2:
        traces = traces + _data_traces(o.dataset, o.show_test, o.palette)
    fig = go.Figure(traces)
    fig.update_layout(
        template="none", height=o.height, margin=dict(l=45, r=10, t=30, b=40), font=FONT,
        xaxis=dict(range=[box[0], box[1]], title=dict(text=X1, standoff=2), constrain="domain", showgrid=False,
                   zeroline=False, automargin=True),
        yaxis=dict(range=[box[2], box[3]], title=dict(text=X2, standoff=2), scaleanchor="x", scaleratio=1,
                   constrain="domain", showgrid=False, zeroline=False, automargin=True),
        hovermode="closest", uirevision="region-map", plot_bgcolor="#FFFFFF",
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="left", x=0.0, bgcolor="rgba(255,255,255,0)",
                    itemsizing="constant"),
        meta=dict(click_target=o.click_target) if o.click_target else None)
    return fig


def _options(options: MapOptions | None, changes: dict) -> MapOptions:
    """``options`` (default MapOptions()) with the fields in ``changes`` replaced."""
    options = MapOptions() if options is None else options
    return replace(options, **changes) if changes else options


def _wrap(bits: str, width: int = 48) -> str:
    return "<br>".join(bits[i:i + width] for i in range(0, len(bits), width)) or "(none)"


def _signed(v: float, digits: int) -> str:
    return f"− {abs(v):.{digits}g}" if v < 0 else f"+ {v:.{digits}g}"
