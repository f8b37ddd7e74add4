"""Scaling of a study on Dask: the same small study (bench/scaling.toml) in this process and on LocalClusters
of 1, 2 and 4 workers (4 on a 2-core machine oversubscribes: "simulated" workers), in one run.

Run:  .venv/bin/python bench/study_scaling.py [--workers 1 2 4] [--repeat 1]
Prints the wall time of the study (after the cluster's start-up and a warm-up task on every worker, which
imports torch and loads the compiled kernels), the start-up itself, the work (sum of task times), the CPU
seconds the workers used and the cores that makes on average (CPU ÷ wall: what other sessions left us), and the
speed-up over 1 worker.  Every configuration recomputes everything (no cache) and must give the same table
as the serial run; --repeat alternates the configurations and keeps each one's fastest run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from explorer.executor import DaskExecutor, open_executor  # noqa: E402
from explorer.studies.run import COLUMNS, run_study  # noqa: E402
from explorer.studies.spec import load_study  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", default=str(ROOT / "bench" / "scaling.toml"))
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--repeat", type=int, default=1, help="alternate the configurations this many times")
    args = ap.parse_args()
    print("\n" + "\n".join(study_table(load_study(args.spec), args.workers, repeat=args.repeat)))


def study_table(spec, workers: list[int], *, repeat: int = 1) -> list[str]:
    """Run ``spec`` serially and on LocalClusters of each number of ``workers`` (alternating, ``repeat`` times,
    keeping each configuration's fastest run); print one line per run and return the table's lines."""
    keep = [c for c in COLUMNS if c != "seconds"]
    print(f"{spec.name}: {spec.n_runs} training runs, {spec.n_cells} cells; {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f} at start")
    configs = ["serial", *(f"local:{n}" for n in workers)]
    _warm_up()
    times = {c: [] for c in configs}
    reference = None
    for _ in range(repeat):
        for config in configs:
            t0 = time.perf_counter()
            with open_executor(config) as ex:
                if isinstance(ex, DaskExecutor):
                    ex.client.run(_warm_up)
                cpu_clock = cpu_seconds(ex)
                t1, c1 = time.perf_counter(), cpu_clock()
                result = run_study(spec, executor=ex, cache=False)
                t2, cpu = time.perf_counter(), cpu_clock() - c1
            work = _work(result.table)
            times[config].append((t2 - t1, t1 - t0, work, cpu))
            table = result.table[keep]
            if reference is None:
                reference = table
            assert table.equals(reference), f"{config} gave another table"
            print(f"  {config:>8}: {t2 - t1:6.1f} s running, {t1 - t0:5.1f} s start-up and warm-up, {work:6.1f} s "
                  f"of task time, {cpu:6.1f} CPU s; {result.n_failed} failed; load average {os.getloadavg()[0]:.1f}",
                  flush=True)
    base = min(times[f"local:{workers[0]}"])[0]
    lines = [f"| study ({spec.n_cells} cells) | workers | wall (s) | start-up + warm-up (s) | task time (s) | CPU (s) | "
             f"cores used | speed-up vs {workers[0]} worker |", "|---|---|---|---|---|---|---|---|"]
    for config in configs:
        run, startup, work, cpu = min(times[config])
        n = 1 if config == "serial" else int(config.split(":")[1])
        where = "this process (serial)" if config == "serial" else f"LocalCluster({n})" + (
            " (simulated)" if n > (os.cpu_count() or 1) else "")
        lines.append(f"| {where} | {n} | {run:.1f} | {startup:.1f} | {work:.1f} | {cpu:.1f} | {cpu / run:.2f} | "
                     f"{base / run:.2f}× |")
    lines.append(f"\nload average at the end {os.getloadavg()[0]:.1f}; every configuration gave the same table")
    return lines


def cpu_seconds(executor):
    """A clock of the CPU seconds the executor's processes have used: this process (serial) or the sum over the
    Dask workers (one round trip per reading)."""
    if isinstance(executor, DaskExecutor):
        return lambda: sum(executor.client.run(time.process_time).values())
    return time.process_time


def _warm_up() -> None:
    """Import torch and load the compiled kernels, so that no configuration pays for them inside its timing."""
    import torch  # noqa: F401

    from explorer.ball.disk import disk_counts
    from explorer.net import Network

    net = Network(([[1.0, 0.0], [0.0, 1.0]], [[1.0, 1.0]]), ([0.0, 0.0], [0.0]))
    disk_counts(net, [[0.1, 0.2]], 0.5)


def _work(table) -> float:
    """Seconds of task time: each measured cell once, plus the training runs."""
    cells = table[table["cell"] != ""].drop_duplicates("cell")
    return float(cells["seconds"].sum() + table.loc[table["measure"] == "training", "seconds"].sum())


if __name__ == "__main__":
    main()
