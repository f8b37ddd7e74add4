"""Scaling of a study on Dask: the same small study (bench/scaling.toml) in this process and on LocalClusters
of 1, 2 and 4 workers (4 on a 2-core machine oversubscribes: "simulated" workers), in one run.

Run:  .venv/bin/python bench/study_scaling.py [--workers 1 2 4] [--repeat 1]
Prints wall time with and without the cluster's start-up, and the speed-up over 1 worker.  Every
configuration recomputes everything (no cache) and must give the same table as the serial run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from explorer.studies.executor import open_executor  # noqa: E402
from explorer.studies.run import COLUMNS, run_study  # noqa: E402
from explorer.studies.spec import load_study  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", default=str(ROOT / "bench" / "scaling.toml"))
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--repeat", type=int, default=1, help="alternate the configurations this many times")
    args = ap.parse_args()
    spec = load_study(args.spec)
    keep = [c for c in COLUMNS if c != "seconds"]
    print(f"{spec.name}: {spec.n_runs} training runs, {spec.n_cells} cells; {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f} at start")
    configs = ["serial", *(f"local:{n}" for n in args.workers)]
    times = {c: [] for c in configs}
    reference = None
    for _ in range(args.repeat):
        for config in configs:
            t0 = time.perf_counter()
            with open_executor(config) as ex:
                t1 = time.perf_counter()
                result = run_study(spec, executor=ex, cache=False)
                t2 = time.perf_counter()
            times[config].append((t2 - t1, t2 - t0))
            table = result.table[keep]
            if reference is None:
                reference = table
            assert table.equals(reference), f"{config} gave another table"
            print(f"  {config:>8}: {t2 - t1:6.1f} s running, {t2 - t0:6.1f} s with start-up; "
                  f"{result.n_failed} failed", flush=True)
    base = min(t for t, _ in times[f"local:{args.workers[0]}"])
    print(f"\n| where | workers | wall (s) | with start-up (s) | speed-up vs {args.workers[0]} worker |")
    print("|---|---|---|---|---|")
    for config in configs:
        run, total = min(times[config])
        workers = 1 if config == "serial" else int(config.split(":")[1])
        where = "this process (serial)" if config == "serial" else f"LocalCluster({workers})"
        print(f"| {where} | {workers} | {run:.1f} | {total:.1f} | {base / run:.2f}× |")
    print(f"\nload average at the end {os.getloadavg()[0]:.1f}; every configuration gave the same table")


if __name__ == "__main__":
    main()
