"""``study``: run a study (explorer.studies.cli) with an optional time limit on the whole run.

Without ``--time-limit`` a study is bounded by its own limits (per training run and per cell; ``--dry-run`` prints
the most they allow).  With it, the run is interrupted when the time is up: finished cells stay in the cache and
the same command resumes them.
"""

from __future__ import annotations

import _thread
import argparse
import contextlib
import threading

from .output import EXIT_INTERRUPTED, EXIT_STOPPED, stopped
from .parsing import MAX_TIME_LIMIT, number

__all__ = ["add_study", "run_study"]


def add_study(sub) -> None:
    from ..studies.cli import add_arguments

    p = sub.add_parser("study", help="train and measure a grid of networks (seeds, checkpoints, …) on Dask")
    add_arguments(p)
    p.add_argument("--time-limit", type=number(lo=0, lo_open=True, hi=MAX_TIME_LIMIT, what="a time limit in seconds"),
                   default=None, metavar="SECONDS",
                   help="stop the whole run after this many seconds, keeping finished cells for a rerun (default: "
                        "the study's own limits per training run and per cell)")
    p.set_defaults(handler=run_study)


def run_study(args: argparse.Namespace, *, document) -> int:
    """Plan or run the study; its report goes to ``document``.  Returns the exit status."""
    from ..studies.cli import run_cli

    timer, fired = None, threading.Event()
    if args.time_limit is not None:
        def interrupt() -> None:
            fired.set()
            _thread.interrupt_main()

        timer = threading.Timer(args.time_limit, interrupt)
        timer.daemon = True
        timer.start()
    try:
        with contextlib.redirect_stdout(document):
            status = run_cli(args)
    except KeyboardInterrupt:
        status = EXIT_INTERRUPTED
    finally:
        if timer is not None:
            timer.cancel()
    if fired.is_set() and status == EXIT_INTERRUPTED:
        import sys

        print(stopped(f"time limit of {args.time_limit:g} s; run the same command again to resume"), file=sys.stderr)
        return EXIT_STOPPED
    return status
