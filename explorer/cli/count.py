"""``count``: exact count, MIPBound lower bound, sampled lower bound and upper bounds inside a box, within budgets.

The status (and exit status 3) reports an exact count cut short by ``--max-regions`` or the time: it is then a
certain lower bound.  MIPBound always spends its share of the time, so its trials stopping at their share is
its ordinary end (the payload's ``mipbound.status`` and the text say so), not an early stop.
MIPBound trials are capped at MAX_TRIALS (the binomial confidence of more trials is not computed in float64) and
share the time limit with everything else: each costs about 10 ms of set-up on a worker whatever its share of
the time, so more than TRIALS_PER_SECOND trials per second of ``--time-limit`` are refused (they would overrun it).
"""

from __future__ import annotations

import argparse
import contextlib

from ..errors import ExplorerError
from .output import COMPLETE, Outcome, stopped
from .parsing import add_box, add_budgets, add_json, add_model, count, number
from .plane import box_of, load_checkpoint

__all__ = ["add_count", "run_count", "COUNT_SECONDS", "COUNT_MAX_REGIONS", "MAX_TRIALS", "TRIALS_PER_SECOND"]

COUNT_SECONDS = 40.0
COUNT_MAX_REGIONS = 1_000_000
MAX_TRIALS = 1000
TRIALS_PER_SECOND = 25


def add_count(sub) -> None:
    p = sub.add_parser("count", help="exact counts, MIPBound lower bounds and upper bounds in any dimension")
    add_model(p)
    add_box(p, "box to count in")
    p.add_argument("--exact", action="store_true")
    p.add_argument("--mipbound", action="store_true")
    p.add_argument("--trials", type=count(lo=1, hi=MAX_TRIALS, what="a number of trials"), default=None,
                   help=f"MIPBound trials, 1–{MAX_TRIALS} (default: chosen by its pilot)")
    p.add_argument("--confidence", type=number(lo=0, lo_open=True, hi=1, hi_open=True, what="a confidence"),
                   default=0.95)
    p.add_argument("--xor-length", type=_xor_length, default=3,
                   help="XORs of MIPBound's MILP searches: 'dense' or an integer k from 1 to 1,000 (default 3)")
    p.add_argument("--seed", type=count(lo=0, hi=2**32 - 1, what="a seed"), default=0,
                   help="seed of MIPBound's random choices and of the sampled lower bound (default 0)")
    p.add_argument("--upper", action="store_true")
    p.add_argument("--scheduler", default=None, metavar="WHERE",
                   help="run the exact count and MIPBound as Dask tasks: local:N (a LocalCluster of N workers), "
                        "local (one per core), tcp://HOST:8786 (a running `dask scheduler`) or serial; default: "
                        "this process")
    add_budgets(p, seconds=COUNT_SECONDS, regions=COUNT_MAX_REGIONS,
                regions_help="most regions the exact count may find before it stops (a certain lower bound then)")
    add_json(p)
    p.set_defaults(handler=run_count)


def run_count(args: argparse.Namespace) -> Outcome:
    """Exact count, MIPBound lower bound, sampled lower bound and upper bounds inside a box (all if none chosen)."""
    from ..count.compare import compare_counts
    from ..count.mipbound import MipBoundOptions
    from ..plot.text import format_count

    everything = not (args.exact or args.mipbound or args.upper)
    mipbound = args.mipbound or everything
    if args.trials is not None and mipbound and args.trials > TRIALS_PER_SECOND * args.time_limit:
        raise ExplorerError(f"{args.trials:,} MIPBound trials need --time-limit {args.trials / TRIALS_PER_SECOND:g} "
                            f"or more (at most {TRIALS_PER_SECOND} trials a second); lower --trials or raise the "
                            "limit.")
    options = MipBoundOptions(trials=args.trials, confidence=args.confidence, xor_length=args.xor_length)
    checkpoint = load_checkpoint(args)
    box = box_of(args, checkpoint)
    if mipbound and args.scheduler is None and args.own_process:  # before any HiGHS solve: workers fork from here
        from ..count.pool import start_fresh

        start_fresh(options.workers)
    with _executor(args.scheduler) as executor:
        result = compare_counts(checkpoint.net, box, exact=args.exact or everything,
                                run_mipbound=mipbound, upper=args.upper or everything,
                                options=options, time_limit=args.time_limit, max_regions=args.max_regions,
                                seed=args.seed,
                                executor=executor)
    notes = []
    if result.exact is not None and not result.exact.is_exact:
        notes.append(f"exact count: {result.exact.status} after {result.exact.n_regions:,} regions (a certain "
                     "lower bound)")
    status = stopped("; ".join(notes)) if notes else COMPLETE
    payload = {**result.to_json(), "status": status}
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
                     f"{mb.seconds:.1f} s" + ("" if mb.status == COMPLETE else "; some trials stopped at their "
                                              "share of the time, the bound stays valid") + ")")
    lines.append(f"sampled lower:     {format_count(result.sampled_lower)} ({result.sampled_points} points)")
    lines += [f"{u.label}: {format_count(u.value)}" + (f" ({u.note})" if u.value is None else "")
              for u in result.upper]
    if status != COMPLETE:
        lines.append(status)
    return Outcome(payload=payload, lines=lines, status=status)


def _executor(scheduler: str | None):
    """The executor of --scheduler (closed on leaving), or none: without the option, counting stays in this process."""
    if scheduler is None:
        return contextlib.nullcontext(None)
    from ..executor import open_executor

    return open_executor(scheduler)


def _xor_length(text: str):
    """argparse type of --xor-length: 'dense' or a whole number 1–1000."""
    if str(text).strip().lower() == "dense":
        return "dense"
    try:
        return count(lo=1, hi=1000, what="an XOR length")(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"needs 'dense' or an XOR length from 1 to 1,000; got {str(text)[:40]!r}"
                                         ) from None
