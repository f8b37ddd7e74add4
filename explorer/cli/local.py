"""``local``: proven upper bounds, sampled and (2-D) exact counts of the regions inside a ball, within budgets."""

from __future__ import annotations

import argparse

from ..errors import ExplorerError
from .output import COMPLETE, Outcome, stopped
from .parsing import add_budgets, add_json, add_model, count, number

__all__ = ["add_local", "run_local", "LOCAL_SECONDS", "MAX_SAMPLES"]

LOCAL_SECONDS = 60.0  # the library default of local_bounds
MAX_SAMPLES = 1_000_000


def add_local(sub) -> None:
    from ..ball.local import MAX_DISK_REGIONS

    p = sub.add_parser("local", help="local upper bounds and exact counts of regions inside a ball")
    add_model(p)
    p.add_argument("--center", nargs="+", type=number(what="a coordinate of the centre"), required=True, metavar="X")
    p.add_argument("--radius", type=number(lo=0, lo_open=True, what="a radius"), required=True)
    p.add_argument("--norm", choices=("2", "inf", "1"), default="2")
    p.add_argument("--certifier", default="symbolic", help="lipschitz | ibp | symbolic | lp | exact")
    p.add_argument("--samples", type=count(lo=0, hi=MAX_SAMPLES), default=20_000, metavar="N",
                   help="uniform points of the ball for the sampled lower side (default 20,000)")
    add_budgets(p, seconds=LOCAL_SECONDS, regions=MAX_DISK_REGIONS,
                regions_help="most regions the exact count (2-input networks) may enumerate")
    add_json(p)
    p.set_defaults(handler=run_local)


def run_local(args: argparse.Namespace) -> Outcome:
    """Bounds on the regions in a ball; the headline is the least proven bound over every affordable certifier."""
    from ..ball.certify import CERTIFIERS
    from ..ball.local import EXACT_AUTO_UNITS, local_bounds
    from ..io.files import load_network

    net = load_network(args.model, activation=args.activation, layers=args.layers)
    if args.certifier not in CERTIFIERS:
        raise ExplorerError(f"unknown certifier {args.certifier!r}; use one of {', '.join(CERTIFIERS)}.")
    last = max(CERTIFIERS.index(args.certifier), CERTIFIERS.index(
        "exact" if net.n_hidden <= EXACT_AUTO_UNITS else "lp"))
    b = local_bounds(net, args.center, args.radius, norm=args.norm, certifier=CERTIFIERS[last], n_samples=args.samples,
                     time_limit=args.time_limit, max_regions=args.max_regions)
    row = next(c for c in b.per_certifier if c.certifier == args.certifier)
    status = COMPLETE if b.status == COMPLETE else stopped(b.status)
    payload = {
        "exact": b.n_exact, "upper_bound": b.upper_bound, "radius_one_region": b.d_star,
        "sampled_lower": b.n_sampled, "samples": b.n_samples, "certifier": row.certifier,
        "k_certified": list(row.k), "k_sampled": list(b.k_sampled),
        "k_exact": None if b.k_exact is None else list(b.k_exact),
        "bounds": {c.certifier: {"A": c.bound_a, "B": c.bound_b, "headline": c.headline, "k": list(c.k),
                                 "status": c.status, "seconds": c.seconds} for c in b.per_certifier},
        "global_bound": b.global_bound, "one_region_unit": None if b.d_star_unit is None else list(b.d_star_unit),
        "center": b.center.tolist(), "radius": b.radius, "norm": b.norm, "exact_source": b.exact_source,
        "label": b.label, "architecture": net.architecture, "seconds": b.seconds, "status": status}
    layers = lambda ks: " ".join(str(v) for v in ks)  # noqa: E731
    ball = f"‖x − {b.center.tolist()}‖_{b.norm} < {b.radius:g}"
    lines = [f"network {net.architecture} ({net.activation}), ball {ball}",
             f"{b.label}: N_B ≤ {b.upper_bound:,}  (proven; least of min(A, B, global bound) over: "
             f"{', '.join(c.certifier for c in b.per_certifier)})",
             f"  {row.certifier}: A = {row.bound_a:,}, B = {row.bound_b:,}, k per layer = {layers(row.k)}",
             f"exact N_B:         {'—' if b.n_exact is None else b.n_exact}  ({b.exact_source})",
             f"sampled N_B ≥      {b.n_sampled}  ({b.n_samples:,} points), k sampled = {layers(b.k_sampled)}",
             f"one-region radius  d* = {b.d_star:.6g} (unit {b.d_star_unit}): the ball "
             f"{'holds one region' if b.one_region else 'crosses a boundary'}",
             f"time:              {b.seconds:.3f} s"]
    if status != COMPLETE:
        lines.append(status)
    return Outcome(payload=payload, lines=lines, status=status)
