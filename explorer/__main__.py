"""Command line: python -m explorer {regions,local,count,figure} MODEL … | study STUDY.toml  (bad input: one line on
stderr, exit 2).

Every model subcommand reads a box the same way (``--box``, or its older spelling ``--domain``): LO HI for the same
interval on every input, or 2·n0 numbers LO1 HI1 LO2 HI2 … (for two inputs: XMIN XMAX YMIN YMAX)."""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from .errors import ExplorerError
from .net import as_box

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except ExplorerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m explorer", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("regions", help="exact activation and linear regions of a 2-input network or a 2-D slice")
    _model_args(p)
    _box_arg(p, "box to partition (with --plane: AMIN AMAX BMIN BMAX in plane coordinates, default -0.5 1.5)")
    _plane_arg(p)
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--polygons", action="store_true", help="with --json: add every region's vertices and pattern")
    p.set_defaults(handler=_cmd_regions)

    p = sub.add_parser("local", help="local upper bounds and exact counts of regions inside a ball")
    _model_args(p)
    p.add_argument("--center", nargs="+", type=float, required=True, metavar="X")
    p.add_argument("--radius", type=float, required=True)
    p.add_argument("--norm", choices=("2", "inf", "1"), default="2")
    p.add_argument("--certifier", default="symbolic", help="lipschitz | ibp | symbolic | lp | exact")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_cmd_local)

    p = sub.add_parser("count", help="exact counts, MIPBound lower bounds and upper bounds in any dimension")
    _model_args(p)
    _box_arg(p, "box to count in")
    p.add_argument("--exact", action="store_true")
    p.add_argument("--mipbound", action="store_true")
    p.add_argument("--trials", type=int, default=None, help="MIPBound trials (default: chosen by its pilot)")
    p.add_argument("--confidence", type=float, default=0.95)
    p.add_argument("--xor-length", default="3", help="XORs of MIPBound's MILP searches: 'dense' or an integer k")
    p.add_argument("--time-limit", type=float, default=120.0, help="seconds for the whole request")
    p.add_argument("--upper", action="store_true")
    p.add_argument("--scheduler", default=None, metavar="WHERE",
                   help="run the exact count and MIPBound as Dask tasks: local:N (a LocalCluster of N workers), "
                        "local (one per core), tcp://HOST:8786 (a running `dask scheduler`) or serial; default: "
                        "this process")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_cmd_count)

    p = sub.add_parser("figure", help="export the region map as PNG, SVG or PDF")
    _model_args(p)
    _box_arg(p, "box to draw (with --plane: AMIN AMAX BMIN BMAX in plane coordinates, default -0.5 1.5)")
    _plane_arg(p)
    p.add_argument("--out", required=True, help="FILE.png, FILE.svg or FILE.pdf (the suffix picks the format)")
    p.add_argument("--color-by", default="region", help="region | class | output | gradient-norm | "
                   "gradient-direction | active-units")
    p.add_argument("--palette", default="okabe-ito", help="okabe-ito | tol-light (colour-blind safe) | pastel")
    p.add_argument("--disk", nargs=3, type=float, action="append", metavar=("X", "Y", "R"), default=[],
                   help="outline the disk and label it with its exact region count (repeatable)")
    p.add_argument("--decision-boundary", action="store_true", help="draw the exact decision boundary")
    p.add_argument("--width-in", type=float, default=3.5)
    p.add_argument("--height-in", type=float, default=3.5)
    p.add_argument("--width-pt", type=float, default=None, help="width in points (overrides --width-in)")
    p.add_argument("--height-pt", type=float, default=None, help="height in points (overrides --height-in)")
    p.add_argument("--font", default="serif", help="font family (default serif)")
    p.add_argument("--font-size", type=float, default=9.0, help="font size in points (default 9)")
    p.add_argument("--dpi", type=float, default=300.0, help="PNG resolution (default 300)")
    p.set_defaults(handler=_cmd_figure)

    p = sub.add_parser("study", help="train and measure a grid of networks (seeds, checkpoints, …) on Dask")
    _study_args(p)
    p.set_defaults(handler=_cmd_study)
    return parser


def _study_args(p: argparse.ArgumentParser) -> None:
    from .studies.cli import add_arguments

    add_arguments(p)


def _cmd_study(args: argparse.Namespace) -> int:
    from .studies.cli import run_cli

    return run_cli(args)


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="MODEL", help="state_dict, safetensors, TorchScript, ONNX or explorer checkpoint")
    p.add_argument("--activation", default=None, help="relu | leaky_relu:ALPHA (for state_dict files)")
    p.add_argument("--layers", default=None, metavar="FILE.json",
                   help="JSON description of the layers (for state_dict / safetensors files of CNNs; default: "
                        "MODEL.json beside MODEL if it exists)")


def _plane_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--plane", default=None, metavar="POINTS.npy",
                   help="partition the plane x = p0 + a·(p1 − p0) + b·(p2 − p0) through the three rows of "
                        "POINTS (an array of shape (3, n_inputs)), in (a, b) coordinates")


def _box_arg(p: argparse.ArgumentParser, what: str) -> None:
    """The one box option of every subcommand (``--domain`` is its older spelling)."""
    p.add_argument("--box", "--domain", dest="box", nargs="+", type=float, default=None, metavar="B",
                   help=f"{what}: LO HI (the same interval on every input) or 2·n0 numbers LO1 HI1 LO2 HI2 … "
                   "(2-D: XMIN XMAX YMIN YMAX); default: the checkpoint's box, else -3 3")


def _emit(payload: dict, as_json: bool, lines: list[str]) -> int:
    if as_json:
        print(json.dumps(payload))
    else:
        print("\n".join(lines))
    return 0


def _load(args: argparse.Namespace):
    from .io.files import load

    return load(args.model, activation=args.activation, layers=args.layers)


def _box(args: argparse.Namespace, checkpoint) -> np.ndarray:
    """The --box (n0, 2); else [-0.5, 1.5]² on a --plane, the checkpoint's own box, or [-3, 3] on every input."""
    n_inputs = 2 if getattr(args, "plane", None) is not None else checkpoint.net.n_inputs
    if args.box is not None:
        return as_box(args.box, n_inputs)
    if getattr(args, "plane", None) is not None:
        return as_box((-0.5, 1.5), 2)
    if checkpoint.box is not None:
        return checkpoint.box
    return as_box((-3.0, 3.0), n_inputs)


def _cmd_regions(args: argparse.Namespace) -> int:
    from .plane.partition import linear_labels
    from .plane.regions import enumerate_regions

    checkpoint = _load(args)
    box = _box(args, checkpoint)
    net = _plane_net(args, checkpoint.net)
    regions = enumerate_regions(net, box)
    labels = linear_labels(regions)
    flat = box.reshape(-1).tolist()  # xmin, xmax, ymin, ymax
    payload = {"count": regions.n_regions, "linear_count": int(labels.max()) + 1 if len(labels) else 0,
               "seconds": regions.seconds, "architecture": checkpoint.net.architecture,
               "activation": checkpoint.net.activation, "domain": flat}
    where = f"box {tuple(flat)}"
    if args.plane is not None:
        payload["plane"] = {"points": args.plane, "coordinates": "x = p0 + a·(p1 − p0) + b·(p2 − p0)",
                            "anchors": [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]], "hidden_units": net.n_hidden,
                            "pooling_units": net.pooling_units}
        where = f"plane through {args.plane}, (a, b) in {tuple(flat)}"
    if args.polygons:
        patterns = regions.patterns.astype(int).tolist()
        payload["regions"] = [{"vertices": regions.polygon(i).tolist(), "pattern": patterns[i]}
                              for i in range(regions.n_regions)]
        if net.unit_labels:
            payload["unit_labels"] = list(net.unit_labels)
    lines = [f"network {payload['architecture']} ({payload['activation']}), {where}",
             f"activation regions: {payload['count']}",
             f"linear regions:     {payload['linear_count']}",
             f"enumeration time:   {regions.seconds:.4f} s"]
    return _emit(payload, args.json, lines)


def _cmd_local(args: argparse.Namespace) -> int:
    """Bounds on the regions in a ball; the headline is the least bound over every affordable certifier."""
    import math

    from .ball.certify import CERTIFIERS
    from .ball.local import EXACT_AUTO_UNITS, local_bounds
    from .io.files import load_network

    net = load_network(args.model, activation=args.activation, layers=args.layers)
    if args.certifier not in CERTIFIERS:
        raise ExplorerError(f"unknown certifier {args.certifier!r}; use one of {', '.join(CERTIFIERS)}.")
    last = max(CERTIFIERS.index(args.certifier), CERTIFIERS.index(
        "exact" if net.n_hidden <= EXACT_AUTO_UNITS else "lp"))
    b = local_bounds(net, args.center, args.radius, norm=args.norm, certifier=CERTIFIERS[last])
    row = next(c for c in b.per_certifier if c.certifier == args.certifier)
    finite = lambda v: v if math.isfinite(v) else None  # noqa: E731  (JSON has no infinity)
    payload = {
        "exact": b.n_exact, "upper_bound": b.upper_bound, "radius_one_region": finite(b.d_star),
        "sampled_lower": b.n_sampled, "certifier": row.certifier, "k_certified": list(row.k),
        "k_sampled": list(b.k_sampled), "k_exact": None if b.k_exact is None else list(b.k_exact),
        "bounds": {c.certifier: {"A": c.bound_a, "B": c.bound_b, "B_conditional": True, "headline": c.headline,
                                 "k": list(c.k), "status": c.status, "seconds": c.seconds}
                   for c in b.per_certifier},
        "global_bound": b.global_bound, "one_region_unit": None if b.d_star_unit is None else list(b.d_star_unit),
        "center": b.center.tolist(), "radius": b.radius, "norm": b.norm, "exact_source": b.exact_source,
        "label": b.label, "architecture": net.architecture, "seconds": b.seconds}
    layers = lambda ks: " ".join(str(v) for v in ks)  # noqa: E731
    lines = [f"network {net.architecture} ({net.activation}), ball ‖x − {b.center.tolist()}‖_{b.norm} < {b.radius:g}",
             f"{b.label}: N_B ≤ {b.upper_bound:,}  (tightest of: {', '.join(c.certifier for c in b.per_certifier)})",
             f"  {row.certifier}: A = {row.bound_a:,}, B = {row.bound_b:,} (conditional), k per layer = {layers(row.k)}",
             f"exact N_B:         {'—' if b.n_exact is None else b.n_exact}  ({b.exact_source})",
             f"sampled N_B ≥      {b.n_sampled}  ({b.n_samples:,} points), k sampled = {layers(b.k_sampled)}",
             f"one-region radius  d* = {b.d_star:.6g} (unit {b.d_star_unit}): the ball "
             f"{'holds one region' if b.one_region else 'crosses a boundary'}",
             f"time:              {b.seconds:.3f} s"]
    return _emit(payload, args.json, lines)


def _cmd_count(args: argparse.Namespace) -> int:
    """Exact count, MIPBound lower bound, sampled lower bound and upper bounds inside a box (all if none chosen)."""
    from .count.compare import compare_counts
    from .count.mipbound import MipBoundOptions
    from .plot.text import format_count

    checkpoint = _load(args)
    everything = not (args.exact or args.mipbound or args.upper)
    options = MipBoundOptions(trials=args.trials, confidence=args.confidence, xor_length=args.xor_length)
    with _solver_output_to_stderr(args.json), _executor(args.scheduler) as executor:
        result = compare_counts(checkpoint.net, _box(args, checkpoint), exact=args.exact or everything,
                                run_mipbound=args.mipbound or everything, upper=args.upper or everything,
                                options=options, time_limit=args.time_limit, executor=executor)
    payload = result.to_json()
    box = result.box
    shown = f"[{box[0, 0]:g}, {box[0, 1]:g}]^{len(box)}" if (box == box[0]).all() else str(box.tolist())
    lines = [f"network {result.architecture} ({result.activation}), box {shown}",
             f"bracket:           {result.bracket.text()}"]
    if result.exact is not None:
        ex = result.exact
        lines.append(f"exact count:       {format_count(ex.n_regions)} ({ex.status}, {ex.seconds:.1f} s)")
    if result.mipbound is not None:
        mb = result.mipbound
        prob = (f"{format_count(mb.probabilistic_lower_bound)} at confidence {mb.confidence:g}"
                if mb.probabilistic_lower_bound else "none")
        lines.append(f"MIPBound lower:    {format_count(mb.lower_bound)} ({mb.guarantee}; certain "
                     f"{format_count(mb.certain_lower_bound)}, probabilistic {prob}; {mb.mode} trials, "
                     f"{mb.seconds:.1f} s)")
    lines.append(f"sampled lower:     {format_count(result.sampled_lower)} ({result.sampled_points} points)")
    lines += [f"{u.label}: {format_count(u.value)}" + (f" ({u.note})" if u.value is None else "")
              for u in result.upper]
    return _emit(payload, args.json, lines)


def _executor(scheduler: str | None):
    """The executor of --scheduler (closed on leaving), or none: without the option, counting stays in this process."""
    from contextlib import nullcontext

    if scheduler is None:
        return nullcontext(None)
    from .executor import open_executor

    return open_executor(scheduler)


class _solver_output_to_stderr:
    """With ``active``, file descriptor 1 points at stderr while the solver works (HiGHS prints its banner
    from C++ to fd 1 when it is first constructed), so that stdout holds only the JSON document."""

    def __init__(self, active: bool) -> None:
        self.active, self.saved = active, None

    def __enter__(self):
        if self.active:
            import os

            sys.stdout.flush()
            self.saved = os.dup(1)
            os.dup2(2, 1)
        return self

    def __exit__(self, *exc) -> None:
        if self.saved is not None:
            import os

            sys.stdout.flush()
            os.dup2(self.saved, 1)
            os.close(self.saved)


def _cmd_figure(args: argparse.Namespace) -> int:
    """Region map with publication styling, written as PNG, SVG (polygons as paths) or PDF."""
    from pathlib import Path

    from .plane.regions import enumerate_regions
    from .plot.export import FORMATS, PaperStyle, publication_style, write_figure
    from .plot.figures import region_map
    from .plot.teach import add_disks

    out = Path(args.out)
    if out.suffix.lower().lstrip(".") not in FORMATS:
        raise ExplorerError(f"cannot tell the format of {args.out!r}; end the file name in .png, .svg or .pdf.")
    checkpoint = _load(args)
    box = _box(args, checkpoint)
    regions = enumerate_regions(_plane_net(args, checkpoint.net), box)
    color_by = args.color_by.replace("-", " ").replace("_", " ")
    fig = region_map(regions, color_by=color_by, palette=args.palette, show_decision=args.decision_boundary)
    fig = add_disks(fig, args.disk, regions=regions)
    if args.plane is not None:  # the three points spanning the slice, at (a, b) = (0, 0), (1, 0), (0, 1)
        fig.add_scatter(x=[0, 1, 0], y=[0, 0, 1], mode="markers+text", text=["p0", "p1", "p2"],
                        textposition="top right", marker=dict(color="black", size=7), showlegend=False)
        fig.update_layout(xaxis_title="a", yaxis_title="b")
    fig = publication_style(fig, PaperStyle(width_in=args.width_in, height_in=args.height_in, width_pt=args.width_pt,
                                            height_pt=args.height_pt, font_family=args.font, font_size=args.font_size))
    path = write_figure(fig, out, dpi=args.dpi)
    width, height = fig.layout.width / 96, fig.layout.height / 96
    print(f"wrote {path} ({path.suffix[1:].upper()}, {width:g} x {height:g} in, {regions.n_regions} regions, "
          f"{path.stat().st_size / 1024:.1f} KB)")
    return 0


def _plane_net(args: argparse.Namespace, net):
    """The network itself, or with --plane the 2-input network on the plane through the three POINTS."""
    from pathlib import Path

    import numpy as np

    if args.plane is None:
        if net.n_inputs != 2:
            raise ExplorerError(f"exact regions need 2 inputs and the network takes {net.n_inputs}; pass --plane "
                                "POINTS.npy (three input points, one per row) to partition the plane through them.")
        return net
    from .plane.regions import plane_slice

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


if __name__ == "__main__":
    sys.exit(main())
