"""Command line: python -m explorer {regions,local,count,figure} MODEL …  (bad input: one line on stderr, exit 2)."""

from __future__ import annotations

import argparse
import json
import sys

from .errors import ExplorerError

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

    p = sub.add_parser("regions", help="exact activation and linear regions of a 2-input network")
    _model_args(p)
    p.add_argument("--domain", nargs=4, type=float, metavar=("XMIN", "XMAX", "YMIN", "YMAX"), default=None,
                   help="box to partition (default: the checkpoint's domain, else -3 3 -3 3)")
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
    p.add_argument("--domain", nargs="+", type=float, required=True, metavar="B",
                   help="LO HI for the box [LO,HI]^n0, or 2·n0 numbers LO1 HI1 LO2 HI2 …")
    p.add_argument("--exact", action="store_true")
    p.add_argument("--mipbound", action="store_true")
    p.add_argument("--trials", type=int, default=None, help="MIPBound trials (default: chosen by its pilot)")
    p.add_argument("--confidence", type=float, default=0.95)
    p.add_argument("--xor-length", default="3", help="XORs of MIPBound's MILP searches: 'dense' or an integer k")
    p.add_argument("--time-limit", type=float, default=120.0, help="seconds for the whole request")
    p.add_argument("--upper", action="store_true")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_cmd_count)

    p = sub.add_parser("figure", help="export the region map as PNG, SVG or PDF")
    _model_args(p)
    p.add_argument("--domain", nargs=4, type=float, metavar=("XMIN", "XMAX", "YMIN", "YMAX"), default=None,
                   help="box to draw (default: the checkpoint's domain, else -3 3 -3 3)")
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
    return parser


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="MODEL", help="state_dict, TorchScript, ONNX or explorer checkpoint file")
    p.add_argument("--activation", default=None, help="relu | leaky_relu:ALPHA (for state_dict files)")


def _emit(payload: dict, as_json: bool, lines: list[str]) -> int:
    if as_json:
        print(json.dumps(payload))
    else:
        print("\n".join(lines))
    return 0


def _load(args: argparse.Namespace):
    from .io.files import load

    return load(args.model, activation=args.activation)


def _box(args: argparse.Namespace, checkpoint) -> tuple[float, float, float, float]:
    """The --domain box, else the checkpoint's own domain, else [-3, 3]^2."""
    if args.domain is not None:
        return tuple(float(v) for v in args.domain)
    if checkpoint.domain is not None and checkpoint.domain.shape == (2, 2):
        return tuple(float(v) for v in checkpoint.domain.reshape(-1))
    return (-3.0, 3.0, -3.0, 3.0)


def _cmd_regions(args: argparse.Namespace) -> int:
    from .plane.partition import linear_labels
    from .plane.regions import enumerate_regions

    checkpoint = _load(args)
    box = _box(args, checkpoint)
    regions = enumerate_regions(checkpoint.net, box)
    labels = linear_labels(regions)
    payload = {"count": regions.n_regions, "linear_count": int(labels.max()) + 1 if len(labels) else 0,
               "seconds": regions.seconds, "architecture": checkpoint.net.architecture,
               "activation": checkpoint.net.activation, "domain": list(box)}
    if args.polygons:
        patterns = regions.patterns.astype(int).tolist()
        payload["regions"] = [{"vertices": regions.polygon(i).tolist(), "pattern": patterns[i]}
                              for i in range(regions.n_regions)]
    lines = [f"network {payload['architecture']} ({payload['activation']}), domain {box}",
             f"activation regions: {payload['count']}",
             f"linear regions:     {payload['linear_count']}",
             f"enumeration time:   {regions.seconds:.4f} s"]
    return _emit(payload, args.json, lines)


def _cmd_local(args: argparse.Namespace) -> int:
    """Bounds on the regions in a ball; the headline is the least bound over every affordable certifier."""
    import math

    from .ball.certify import CERTIFIERS
    from .io.files import load_network
    from .ball.local import EXACT_AUTO_UNITS, local_bounds

    net = load_network(args.model, activation=args.activation)
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
    from .count.bounds import format_count
    from .count.compare import compare_counts
    from .count.mipbound import MipBoundOptions
    from .io.files import load_network

    net = load_network(args.model, activation=args.activation)
    everything = not (args.exact or args.mipbound or args.upper)
    options = MipBoundOptions(trials=args.trials, confidence=args.confidence, xor_length=args.xor_length)
    with _solver_output_to_stderr(args.json):
        result = compare_counts(net, args.domain, exact=args.exact or everything,
                                run_mipbound=args.mipbound or everything, upper=args.upper or everything,
                                options=options, time_limit=args.time_limit)
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

    from .plot.export import FORMATS, publication_style, write_figure
    from .plot.figures import region_map
    from .plane.regions import enumerate_regions
    from .plot.teach import add_disks

    out = Path(args.out)
    if out.suffix.lower().lstrip(".") not in FORMATS:
        raise ExplorerError(f"cannot tell the format of {args.out!r}; end the file name in .png, .svg or .pdf.")
    checkpoint = _load(args)
    box = _box(args, checkpoint)
    regions = enumerate_regions(checkpoint.net, box)
    color_by = args.color_by.replace("-", " ").replace("_", " ")
    fig = region_map(regions, color_by=color_by, palette=args.palette, show_decision=args.decision_boundary)
    fig = add_disks(fig, args.disk, regions=regions)
    fig = publication_style(fig, width_in=args.width_in, height_in=args.height_in, width_pt=args.width_pt,
                            height_pt=args.height_pt, font_family=args.font, font_size=args.font_size)
    path = write_figure(fig, out, dpi=args.dpi)
    width, height = fig.layout.width / 96, fig.layout.height / 96
    print(f"wrote {path} ({path.suffix[1:].upper()}, {width:g} x {height:g} in, {regions.n_regions} regions, "
          f"{path.stat().st_size / 1024:.1f} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
