"""Scaling on Dask, measured in one run: the small study of bench/scaling.toml on 1, 2 and 4 local workers, and one
exact count of a digits network distributed over the same numbers of workers against the serial count.

Run:  .venv/bin/python bench/bench_distributed.py [--workers 1 2 4] [--repeat 2] [--hidden 12 12] [--no-study]

Net: an MLP 64-12-12-10 trained on scikit-learn's digits (explorer.train.data.load_dataset("digits"): 1,437
training images, pixels/16 in [0, 1]) with full-batch Adam (lr 0.01, 400 steps, seed 0), counted on [0, 1]^64.
Every configuration must find the serial count's regions (the same set of patterns).  Columns: wall time of
the count (after the cluster's start-up and a warm-up count on every worker), CPU seconds used during it (this
process for the serial counts, the worker processes for the clusters), the cores that makes on average (CPU ÷
wall: what the other sessions on the machine left us), tasks and tasks that handed cells back, and the speed-up
over the serial count.  Configurations alternate (--repeat) and each keeps its fastest run; the load average
is printed with every run.  4 workers on a 2-core machine oversubscribe it ("simulated").
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from explorer.count.distributed import count_distributed  # noqa: E402
from explorer.count.exact import count_exact  # noqa: E402
from explorer.executor import open_executor  # noqa: E402
from explorer.net import Network  # noqa: E402
from study_scaling import cpu_seconds, study_table  # noqa: E402  (bench/ is on the path of a script in it)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--repeat", type=int, default=2, help="alternate the configurations this many times")
    ap.add_argument("--hidden", type=int, nargs="+", default=[12, 12], help="hidden widths of the digits net")
    ap.add_argument("--no-study", action="store_true", help="only the exact count")
    args = ap.parse_args()
    print(f"{os.cpu_count()} cores; load average {_load()} at start", flush=True)
    study = [] if args.no_study else _study(args.workers, args.repeat)
    count = count_table(tuple(args.hidden), args.workers, repeat=args.repeat)
    for lines in (study, count):
        if lines:
            print("\n" + "\n".join(lines))
    print(f"\nload average at the end {_load()}")


def _study(workers: list[int], repeat: int) -> list[str]:
    from explorer.studies.spec import load_study

    return study_table(load_study(ROOT / "bench" / "scaling.toml"), workers, repeat=repeat)


def count_table(hidden: tuple, workers: list[int], *, repeat: int) -> list[str]:
    """Time the serial count and the distributed one on each configuration; return the table's lines."""
    net, box = digits_net(hidden), np.tile([0.0, 1.0], (64, 1))
    _warm_up()
    configs = ["count_exact", "serial", *(f"local:{n}" for n in workers)]
    runs = {c: [] for c in configs}
    reference = None
    for _ in range(repeat):
        for config in configs:
            row = _count_once(net, box, config)
            if reference is None:
                reference = row.pop("patterns")
                print(f"{net.architecture} on [0, 1]^64: {len(reference):,} regions", flush=True)
            else:
                assert row.pop("patterns") == reference, f"{config} found other regions"
            runs[config].append(row)
            print(f"  {config:>11}: {row['wall']:6.1f} s, {row['cpu']:6.1f} CPU s, {row['tasks']} tasks "
                  f"({row['resplit']} handed cells back), start-up {row['startup']:.1f} s; load average {_load()}",
                  flush=True)
    base = min(r["wall"] for r in runs["count_exact"])
    lines = [f"| {net.architecture} digits net, [0, 1]^64 ({len(reference):,} regions) | workers | wall (s) | "
             "CPU (s) | cores used | tasks (handed back) | speed-up vs serial |", "|---|---|---|---|---|---|---|"]
    names = {"count_exact": "count_exact, this process", "serial": "count_distributed, serial executor"}
    for config in configs:
        row = min(runs[config], key=lambda r: r["wall"])
        n = int(config.split(":")[1]) if ":" in config else 1
        where = names.get(config, f"count_distributed, LocalCluster({n})" + (" (simulated)" if n > (os.cpu_count()
                                                                                                      or 1) else ""))
        lines.append(f"| {where} | {n} | {row['wall']:.1f} | {row['cpu']:.1f} | {row['cpu'] / row['wall']:.2f} | "
                     f"{row['tasks']} ({row['resplit']}) | {base / row['wall']:.2f}× |")
    return lines


def _count_once(net: Network, box: np.ndarray, config: str) -> dict:
    if config == "count_exact":
        c0, t0 = time.process_time(), time.perf_counter()
        result = count_exact(net, box, time_limit=3600)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        return dict(wall=wall, cpu=cpu, tasks=0, resplit=0, startup=0.0, patterns=_as_set(result))
    t0 = time.perf_counter()
    with open_executor(config) as ex:
        if config != "serial":
            ex.client.run(_warm_up)
        startup, cpu_clock = time.perf_counter() - t0, cpu_seconds(ex)
        c0, t1 = cpu_clock(), time.perf_counter()
        result = count_distributed(net, box, executor=ex, time_limit=3600)
        wall, cpu = time.perf_counter() - t1, cpu_clock() - c0
    assert result.count.is_exact and not result.events, result.events
    return dict(wall=wall, cpu=cpu, tasks=result.n_tasks, resplit=result.n_resplit, startup=startup,
                patterns=_as_set(result.count))


def digits_net(hidden: tuple) -> Network:
    """64 → hidden → 10, trained on the digits training split with 400 full-batch Adam steps."""
    from explorer.train.data import load_dataset
    from explorer.train.fit import TrainConfig, train

    data = load_dataset("digits")
    return train(data, TrainConfig(hidden=hidden, epochs=400, batch_size=len(data.x_train), lr=0.01, seed=0)).net


def _warm_up() -> None:
    """Load the compiled kernels of the walk, so that no configuration pays for them inside its timing."""
    rng = np.random.default_rng(0)
    count_exact(Network((rng.standard_normal((4, 3)), rng.standard_normal((1, 4))), (np.zeros(4), np.zeros(1))),
                [-1, 1])


def _as_set(count) -> set:
    return {row.tobytes() for row in np.packbits(count.patterns, axis=1)}


def _load() -> str:
    return "/".join(f"{v:.1f}" for v in os.getloadavg())


if __name__ == "__main__":
    main()
