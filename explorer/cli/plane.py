"""``regions`` and ``figure``: the exact partition of a 2-input network (or of a 2-D slice) within budgets.

Before enumerating, the first layer's lines alone give a lower bound on the number of regions
(:func:`explorer.plane.arrangement.first_layer_cells`), so a network whose first layer already exceeds
``--max-regions`` (a 2-2000-2000-1 net has about two million) stops at once instead of filling the memory.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ..errors import ExplorerError
from ..net import Network, as_box
from .output import MemoryBudget, Outcome, stopped
from .parsing import add_box, add_budgets, add_json, add_model, add_plane, count, number

__all__ = ["add_regions", "add_figure", "run_regions", "run_figure", "load_checkpoint",
           "box_of", "REGIONS_SECONDS", "REGIONS_MAX", "FIGURE_MAX", "MAX_DISKS"]

REGIONS_SECONDS = 30.0
REGIONS_MAX = 250_000
FIGURE_MAX = 50_000  # a map with more polygons is unreadable on paper (and slow to write)
MAX_DISKS = 20


def add_regions(sub) -> None:
    p = sub.add_parser("regions", help="exact activation and linear regions of a 2-input network or a 2-D slice")
    add_model(p)
    add_box(p, "box to partition (with --plane: AMIN AMAX BMIN BMAX in plane coordinates, default -0.5 1.5)")
    add_plane(p)
    add_budgets(p, seconds=REGIONS_SECONDS, regions=REGIONS_MAX)
    add_json(p)
    p.add_argument("--polygons", action="store_true", help="with --json: add every region's vertices and pattern")
    p.set_defaults(handler=run_regions)


def add_figure(sub) -> None:
    p = sub.add_parser("figure", help="export the region map as PNG, SVG or PDF")
    add_model(p)
    add_box(p, "box to draw (with --plane: AMIN AMAX BMIN BMAX in plane coordinates, default -0.5 1.5)")
    add_plane(p)
    p.add_argument("--out", required=True, help="FILE.png, FILE.svg or FILE.pdf (the suffix picks the format)")
    p.add_argument("--color-by", default="region", help="region | class | output | gradient-norm | "
                   "gradient-direction | active-units")
    p.add_argument("--palette", default="okabe-ito", help="okabe-ito | tol-light (colour-blind safe) | pastel")
    p.add_argument("--disk", nargs=3, type=number(what="a disk's X, Y or R"), action="append", metavar=("X", "Y", "R"),
                   default=[], help=f"outline the disk and label it with its exact region count (repeatable, at most "
                                    f"{MAX_DISKS}; the disk must lie inside the box)")
    p.add_argument("--decision-boundary", action="store_true", help="draw the exact decision boundary")
    size, points = number(what="a size in inches"), number(what="a size in points")  # ranges: PaperStyle's
    p.add_argument("--width-in", type=size, default=3.5)
    p.add_argument("--height-in", type=size, default=3.5)
    p.add_argument("--width-pt", type=points, default=None, help="width in points (overrides --width-in)")
    p.add_argument("--height-pt", type=points, default=None, help="height in points (overrides --height-in)")
    p.add_argument("--font", default="serif", help="font family (default serif)")
    p.add_argument("--font-size", type=number(what="a font size in points"), default=9.0,
                   help="font size in points (default 9)")
    p.add_argument("--dpi", type=count(lo=30, hi=2400, what="a resolution in dots per inch"), default=300,
                   help="PNG resolution (default 300)")
    add_budgets(p, seconds=REGIONS_SECONDS, regions=FIGURE_MAX, regions_help="most regions to draw")
    add_json(p, "print one JSON object (path, format, size, regions, status) on stdout")
    p.set_defaults(handler=run_figure)


def run_regions(args: argparse.Namespace) -> Outcome:
    from ..plane.partition import linear_labels
    from ..plane.regions import RegionLimitError, enumerate_regions

    checkpoint = load_checkpoint(args)
    box = box_of(args, checkpoint)
    net = _plane_net(args, checkpoint.net)
    flat = box.reshape(-1).tolist()  # xmin, xmax, ymin, ymax
    payload = {"count": None, "linear_count": None, "seconds": None, "architecture": checkpoint.net.architecture,
               "activation": checkpoint.net.activation, "domain": flat}
    where = f"box {tuple(flat)}"
    if args.plane is not None:
        payload["plane"] = {"points": args.plane, "coordinates": "x = p0 + a·(p1 − p0) + b·(p2 − p0)",
                            "anchors": [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]], "hidden_units": net.n_hidden,
                            "pooling_units": net.pooling_units}
        where = f"plane through {args.plane}, (a, b) in {tuple(flat)}"
    head = f"network {payload['architecture']} ({payload['activation']}), {where}"
    try:
        _check_first_layer(net, box, args.max_regions)
        regions = enumerate_regions(net, box, max_regions=args.max_regions, time_limit=args.time_limit)
    except RegionLimitError as exc:
        status = stopped(str(exc))
        return Outcome(payload={**payload, "status": status}, lines=[head, status], status=status)
    labels = linear_labels(regions)
    payload |= {"count": regions.n_regions, "linear_count": int(labels.max()) + 1 if len(labels) else 0,
                "seconds": regions.seconds, "status": "complete"}
    if args.polygons:
        patterns = regions.patterns.astype(int).tolist()
        payload["regions"] = [{"vertices": regions.polygon(i).tolist(), "pattern": patterns[i]}
                              for i in range(regions.n_regions)]
        if net.unit_labels:
            payload["unit_labels"] = list(net.unit_labels)
    lines = [head, f"activation regions: {payload['count']}", f"linear regions:     {payload['linear_count']}",
             f"enumeration time:   {regions.seconds:.4f} s"]
    return Outcome(payload=payload, lines=lines)


def run_figure(args: argparse.Namespace) -> Outcome:
    """Region map with publication styling, written as PNG, SVG (polygons as paths) or PDF."""
    from ..plane.regions import RegionLimitError, enumerate_regions
    from ..plot.export import FORMATS, PaperStyle, publication_style, write_figure
    from ..plot.figures import region_map
    from ..plot.teach import add_disks

    out = Path(args.out)
    if out.suffix.lower().lstrip(".") not in FORMATS:
        raise ExplorerError(f"cannot tell the format of {args.out!r}; end the file name in .png, .svg or .pdf.")
    if not out.parent.is_dir():
        raise ExplorerError(f"the folder {str(out.parent)!r} does not exist; create it first.")
    if len(args.disk) > MAX_DISKS:
        raise ExplorerError(f"at most {MAX_DISKS} disks per figure; got {len(args.disk)}.")
    style = PaperStyle(width_in=args.width_in, height_in=args.height_in, width_pt=args.width_pt,
                       height_pt=args.height_pt, font_family=args.font, font_size=args.font_size)
    checkpoint = load_checkpoint(args)
    box = box_of(args, checkpoint)
    net = _plane_net(args, checkpoint.net)
    _check_disks(args.disk, box)
    payload = {"path": str(out), "format": out.suffix.lower().lstrip("."), "architecture": checkpoint.net.architecture,
               "domain": box.reshape(-1).tolist(), "regions": None}
    try:
        _check_first_layer(net, box, args.max_regions)
        regions = enumerate_regions(net, box, max_regions=args.max_regions, time_limit=args.time_limit)
    except RegionLimitError as exc:
        status = stopped(f"{exc} No figure was written")
        return Outcome(payload={**payload, "path": None, "status": status}, lines=[status], status=status)
    color_by = args.color_by.replace("-", " ").replace("_", " ")
    fig = region_map(regions, color_by=color_by, palette=args.palette, show_decision=args.decision_boundary)
    fig = add_disks(fig, args.disk, regions=regions)
    if args.plane is not None:  # the three points spanning the slice, at (a, b) = (0, 0), (1, 0), (0, 1)
        fig.add_scatter(x=[0, 1, 0], y=[0, 0, 1], mode="markers+text", text=["p0", "p1", "p2"],
                        textposition="top right", marker=dict(color="black", size=7), showlegend=False)
        fig.update_layout(xaxis_title="a", yaxis_title="b")
    fig = publication_style(fig, style)
    with MemoryBudget.paused():  # the exporting browser keeps its own memory policy
        path = write_figure(fig, out, dpi=args.dpi)
    width, height = fig.layout.width / 96, fig.layout.height / 96
    payload |= {"path": str(path), "width_in": width, "height_in": height, "regions": regions.n_regions,
                "bytes": path.stat().st_size, "status": "complete"}
    line = (f"wrote {path} ({path.suffix[1:].upper()}, {width:g} x {height:g} in, {regions.n_regions} regions, "
            f"{path.stat().st_size / 1024:.1f} KB)")
    return Outcome(payload=payload, lines=[line])


def load_checkpoint(args: argparse.Namespace):
    """The MODEL file as an explorer.io checkpoint."""
    from ..io.files import load

    return load(args.model, activation=args.activation, layers=args.layers)


def box_of(args: argparse.Namespace, checkpoint) -> np.ndarray:
    """The --box (n0, 2); else [-0.5, 1.5]² on a --plane, the checkpoint's own box, or [-3, 3] on every input."""
    n_inputs = 2 if getattr(args, "plane", None) is not None else checkpoint.net.n_inputs
    if args.box is not None:
        return as_box(args.box, n_inputs)
    if getattr(args, "plane", None) is not None:
        return as_box((-0.5, 1.5), 2)
    if checkpoint.box is not None:
        return checkpoint.box
    return as_box((-3.0, 3.0), n_inputs)


def _check_first_layer(net: Network, box: np.ndarray, max_regions: int) -> None:
    from ..plane.arrangement import first_layer_cells
    from ..plane.regions import RegionLimitError

    if net.n_hidden == 0 or net.weights[0].shape[0] < 2:
        return
    cells = first_layer_cells(net, box, stop_above=max_regions)
    if cells > max_regions:
        raise RegionLimitError(f"the {net.weights[0].shape[0]:,} units of layer 1 alone cut the box into more than "
                               f"{max_regions:,} regions (--max-regions); raise it (and --max-memory) or shrink the "
                               "box.")


def _check_disks(disks: list, box: np.ndarray) -> None:
    for k, (x, y, r) in enumerate(disks, start=1):
        if r <= 0:
            raise ExplorerError(f"disk {k} needs a radius R > 0; got {r:g}.")
        if not (box[0, 0] <= x - r and x + r <= box[0, 1] and box[1, 0] <= y - r and y + r <= box[1, 1]):
            raise ExplorerError(f"disk {k} ({x:g}, {y:g}, r = {r:g}) reaches outside the box {box.reshape(-1).tolist()}"
                                "; its exact count is taken from the map, so enlarge --box or shrink the disk.")


def _plane_net(args: argparse.Namespace, net: Network) -> Network:
    """The network itself, or with --plane the 2-input network on the plane through the three POINTS."""
    if args.plane is None:
        if net.n_inputs != 2:
            raise ExplorerError(f"exact regions need 2 inputs and the network takes {net.n_inputs}; pass --plane "
                                "POINTS.npy (three input points, one per row) to partition the plane through them.")
        return net
    from ..plane.regions import plane_slice

    path, n0 = Path(args.plane), net.n_inputs
    if not path.is_file():
        raise ExplorerError(f"there is no file '{args.plane}' for --plane; save three points with numpy.save.")
    if path.stat().st_size > 24 * n0 + 4096:
        raise ExplorerError(f"'{args.plane}' is larger than 3 points of {n0} coordinates; --plane needs an "
                            f"array of shape (3, {n0}).")
    try:
        points = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError):
        raise ExplorerError(f"'{args.plane}' is not a NumPy .npy array; save the points with numpy.save.") from None
    if points.shape != (3, n0) or points.dtype.kind not in "iuf":
        raise ExplorerError(f"--plane needs 3 points of {n0} numbers (an array of shape (3, {n0})); "
                            f"'{args.plane}' holds {points.dtype} of shape {points.shape}.")
    p0, p1, p2 = points.astype(np.float64)
    if not np.isfinite(points).all():
        raise ExplorerError(f"the points in '{args.plane}' contain NaN or infinite values.")
    u, v = p1 - p0, p2 - p0
    w = v - u * (np.dot(u, v) / np.dot(u, u)) if np.dot(u, u) > 0 else u
    if np.linalg.norm(w) <= 1e-12 * max(np.linalg.norm(v), np.finfo(float).tiny):
        raise ExplorerError(f"the three points in '{args.plane}' are collinear (or two coincide), so they span no "
                            "plane; choose three points that are not on one line.")
    return plane_slice(net, p0, u, v).net
