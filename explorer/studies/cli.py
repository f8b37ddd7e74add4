"""``python -m explorer study STUDY.toml``: run a study (or print its plan) with a text progress bar on stderr."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ..errors import ExplorerError

__all__ = ["add_arguments", "run_cli", "TextProgress"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The study subcommand's arguments."""
    p.add_argument("spec", metavar="STUDY.toml", help="the study: grid, training and measures (docs/studies.md)")
    p.add_argument("--scheduler", default=None, metavar="WHERE",
                   help="local (default: a Dask LocalCluster, one worker per core), local:N, serial, or "
                        "tcp://HOST:8786 for a running `dask scheduler`")
    p.add_argument("--dry-run", action="store_true", help="print the grid and an estimate of the work, run nothing")
    p.add_argument("--out", default=None, metavar="DIR", help="output folder (default: out/NAME beside the file)")
    p.add_argument("--no-figures", action="store_true", help="write the table only")


def run_cli(args: argparse.Namespace) -> int:
    """Plan or run the study of ``args.spec``; returns the exit status (1 if some cells failed)."""
    from ..executor import describe_scheduler
    from .run import plan_study, run_study
    from .spec import load_study

    spec = load_study(args.spec)
    kind, workers = describe_scheduler(args.scheduler)
    plan = plan_study(spec)
    out = Path(args.out) if args.out else Path(args.spec).resolve().parent / "out" / spec.name
    if args.dry_run:
        print(plan.describe(workers or 2))
        print(f"would write {out}/{spec.name}.parquet (+ .csv and figures); cache {out / 'cache'}")
        return 0
    print(f"study {spec.name}: {len(plan.runs)} training runs, {plan.n_cells:,} cells, on "
          f"{'this process' if kind == 'serial' else args.scheduler or f'local:{workers}'}", file=sys.stderr)
    cache = out / "cache"  # delete it to recompute everything
    bar = TextProgress()
    try:
        result = run_study(spec, scheduler=args.scheduler, out=out, cache=cache, figures=not args.no_figures,
                           progress=bar)
    except KeyboardInterrupt:
        bar.close()
        print(f"interrupted: finished cells are in {cache}; run the same command again to resume.", file=sys.stderr)
        return 130
    bar.close()
    print(f"{result.n_cells:,} cells ({result.n_cached:,} from the cache, {result.n_failed} failed) in "
          f"{result.seconds:.1f} s on {result.executor}")
    for event in result.events:
        print(f"note: {event}")
    for path in result.files[:2]:
        print(f"wrote {path}")
    if len(result.files) > 2:
        print(f"wrote {len(result.files) - 2} figures to {out} (PNG and SVG)")
    _print_verdicts(result.table)
    return 1 if result.n_failed else 0


class TextProgress:
    """progress(done, total, message) as a bar on stderr: redrawn in place on a terminal, else a line every
    tenth of the work or 30 seconds."""

    def __init__(self, stream=None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start = time.perf_counter()
        self._last_tenth, self._last_time = -1, 0.0

    def __call__(self, done: int, total: int, message: str) -> None:
        now = time.perf_counter() - self.start
        frac = done / total if total else 1.0
        eta = f" · eta {_clock(now / frac - now)}" if 0 < frac < 1 else ""
        line = (f"[{'#' * int(30 * frac):<30}] {100 * frac:3.0f}% {done:,}/{total:,} · {_clock(now)}{eta} · "
                f"{message}")
        if self.tty:
            self.stream.write("\r" + line[:150].ljust(150))
            self.stream.flush()
        elif int(10 * frac) > self._last_tenth or now - self._last_time > 30 or done == total:
            self._last_tenth, self._last_time = int(10 * frac), now
            print(line, file=self.stream, flush=True)

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def _print_verdicts(table) -> None:
    from .verdicts import findings_verdicts, format_verdicts

    try:
        verdicts = findings_verdicts(table)
    except ExplorerError:
        return  # the study did not measure what the findings need
    print("\nLocal findings:")
    print(format_verdicts(verdicts))


def _clock(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600}h{seconds // 60 % 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"
