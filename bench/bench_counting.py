"""Counting benchmark: exact counts, MIPBound at confidence 0.95 and upper bounds on trained nets.

Run:  .venv/bin/python bench/bench_counting.py [--quick]      (tables 1–2: synthetic blobs)
      .venv/bin/python bench/bench_counting.py --real         (tables 3–5: real data, the claim of issue 15)

Tables 3–5 (issue 15): MLPs trained on all of scikit-learn's digits (8×8 pixels / 16 → [0, 1], Adam, 400
full-batch steps, seed 0) and on three held-out sets (breast_cancer, wine, iris; min-max to [0, 1]), counted on
[0, 1]^n0.  Each row runs as a user would: the net saved as a checkpoint, then ``python -m explorer count
--exact`` (capped at 300 s: "> N") and ``count --mipbound --time-limit T --seed s`` as fresh processes, T =
a tenth of the exact count's seconds in the same run, seeds 0–2 (default options: strata mode, 2 workers
forked warm by the command).  It reports seed 0's certain part, probabilistic part (confidence 0.95),
headline and ratio to the exact count, the smallest ratio of the three seeds, the proven upper bound, and
the load average next to the times (2 cores shared with other jobs).  Table 5 compares the modes on the
largest digits net at the same T.

Family: MLPs trained with explorer.train.fit on make_dataset("blobs", dim=d, n_classes=3) for input
dimensions 2–10 and two or three hidden layers of 8–16 units, counted on the dataset's box [-3, 3]^d.
Table 1 compares the exact count (LP subdivision) with MIPBound (default options, 2 worker processes,
time limit t_exact/10 but at least 1 s) and the upper bounds.  Table 2 compares the two exact
enumerators (LP subdivision vs MILP with no-good cuts) and justifies the default.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from explorer.count.bounds import layer_stats, upper_bounds  # noqa: E402
from explorer.io.files import checkpoint_bytes  # noqa: E402
from explorer.plot.text import format_count  # noqa: E402
from explorer.count.compare import sampled_lower_bound  # noqa: E402
from explorer.train.data import make_dataset  # noqa: E402
from explorer.count.exact import count_exact  # noqa: E402
from explorer.count.milp import build_milp  # noqa: E402
from explorer.count.mipbound import MipBoundOptions, mipbound  # noqa: E402
from explorer.train.data import load_dataset  # noqa: E402
from explorer.train.fit import TrainConfig, train  # noqa: E402

FAMILY = [(2, (16, 16, 16)), (4, (10, 10, 10)), (4, (16, 16)), (6, (8, 8, 8)), (6, (10, 10)), (8, (8, 8, 8)),
          (10, (8, 8)), (10, (8, 8, 8)), (8, (12, 12)), (10, (12, 12))]
QUICK = FAMILY[:4]
ENUMERATOR_NETS = [(2, (8, 8)), (4, (8, 8)), (6, (8, 8, 8))]
DIGITS_NETS = [("digits", (8, 8)), ("digits", (10, 10)), ("digits", (12, 12)), ("digits", (8, 8, 8)),
               ("digits", (10, 10, 10))]
HELD_OUT = [("breast_cancer", (20, 20)), ("wine", (24, 24, 24)), ("iris", (64, 64, 64)),   # exact counts of 10–30 s
            ("wine", (28, 28, 28))]                                                           # and of minutes
EXACT_CAP = 300.0
MODES = [  # (what, options) of table 5
    ("strata mode, planner's t and k (default)", dict()),
    ("strata mode, rule all (k = t)", dict(mode="strata", rule="all")),
    ("strata mode, at most 512 strata", dict(mode="strata", strata_target=512)),
    ("MILP counting trials (the former default)", dict(mode="count")),
    ("MILP nested trials, s = 1", dict(mode="nested", trials=10, rule="majority")),
]
SEEDS = 3


def trained(dim: int, hidden: tuple):
    ds = make_dataset("blobs", dim=dim, n_classes=3, n_points=600, seed=dim)
    return train(ds, TrainConfig(hidden=hidden, epochs=100, seed=0)).net, ds.domain


def counting_table(family: list) -> None:
    head = (f"{'net':>14} {'unst':>4} {'exact':>8} {'t_ex':>6} {'MIPBound':>8} {'ratio':>5} {'certain':>8} "
            f"{'2^(r*-a)':>8} {'t_mip':>5} {'speed':>5} {'tmo':>3} {'sampled':>7} {'aware':>10} {'serra18':>10} "
            f"{'montufar':>10}")
    print(head)
    print("-" * len(head))
    for dim, hidden in family:
        net, box = trained(dim, hidden)
        ex = count_exact(net, box, time_limit=400)
        model = build_milp(net, box)
        mb = mipbound(net, box, time_limit=max(1.0, ex.seconds / 10), model=model)
        ub = {u.name: u.value for u in upper_bounds(net, stats=layer_stats(net, box))}
        sampled = sampled_lower_bound(net, box, n_samples=10_000)
        exact = ex.n_regions if ex.is_exact else f"≥{ex.n_regions}"
        print(f"{net.architecture:>14} {model.n_binaries:>4} {exact:>8} {ex.seconds:>6.1f} {mb.lower_bound:>8} "
              f"{mb.lower_bound / ex.n_regions:>5.2f} {mb.certain_lower_bound:>8} {mb.probabilistic_lower_bound:>8} "
              f"{mb.seconds:>5.1f} {ex.seconds / mb.seconds:>5.1f} {mb.timeouts:>3} {sampled:>7} "
              f"{format_count(ub['activation_aware']):>10} {format_count(ub['serra2018']):>10} "
              f"{format_count(ub['montufar2017']):>10}", flush=True)


def enumerator_table(nets: list, time_limit: float) -> None:
    head = f"{'net':>14} {'LP regions':>10} {'t_LP':>6} {'LPs':>7} {'MILP regions':>12} {'status':>10} {'t_MILP':>7} {'solves':>6}"
    print(head)
    print("-" * len(head))
    for dim, hidden in nets:
        net, box = trained(dim, hidden)
        lp = count_exact(net, box, time_limit=time_limit)
        milp = count_exact(net, box, method="milp", time_limit=time_limit)
        print(f"{net.architecture:>14} {lp.n_regions:>10} {lp.seconds:>6.1f} {lp.n_solves:>7} {milp.n_regions:>12} "
              f"{milp.status:>10} {milp.seconds:>7.1f} {milp.n_solves:>6}", flush=True)


def real_net(name: str, hidden: tuple):
    """A net trained as issue 15 says: Adam, 400 full-batch steps, seed 0, on [0, 1]-scaled real data (digits:
    all 1,797 images, as ``bench/bench_exact.py`` trains them, which gives the issue's nets)."""
    if name == "digits":
        from bench.bench_exact import digits_net

        return digits_net(hidden), np.tile([0.0, 1.0], (64, 1))
    ds = load_dataset(name)
    net = train(ds, TrainConfig(hidden=hidden, epochs=400, batch_size=len(ds.x_train), seed=0)).net
    return net, ds.domain


def real_table(nets: list, rows: dict) -> None:
    """Each row as a user runs it: the net saved as a checkpoint, ``count --exact`` and then ``count --mipbound
    --time-limit T --seed s`` as fresh processes of the CLI, T = a tenth of the exact count's seconds."""
    head = (f"{'data':>13} {'net':>15} {'unst':>4} {'exact':>9} {'t_exact':>7} {'load':>4} {'T':>5} {'certain':>8} "
            f"{'probabil.':>9} {'headline':>9} {'ratio':>6} {'min3':>5} {'r/t/k':>8} {'t_MIP':>5} {'load':>4} "
            f"{'upper':>10}")
    print(head)
    print("-" * len(head))
    for name, hidden in nets:
        net, box = real_net(name, hidden)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "net.pt"
            path.write_bytes(checkpoint_bytes(net, box=box))
            load_exact = os.getloadavg()[0]
            ex = cli_count(path, "--exact", "--time-limit", f"{EXACT_CAP:g}", "--max-regions", "100000000",
                           "--max-memory", "8")
            T = min(ex["exact_seconds"], EXACT_CAP) / 10
            load_mip = os.getloadavg()[0]
            runs = [cli_count(path, "--mipbound", "--time-limit", f"{T:.3f}", "--seed", str(seed))["mipbound"]
                    for seed in range(SEEDS)]
        mb = runs[0]
        found = ex["exact_found"]
        ub = min(u.value for u in upper_bounds(net, stats=layer_stats(net, box)) if u.value is not None)
        exact = f"{found:,}" if ex["exact"] is not None else f"> {found:,}"
        ratios = [r["lower_bound"] / found for r in runs]
        ratio = f"{ratios[0]:.3f}" if ex["exact"] is not None else f"< {ratios[0]:.2f}"
        plan = f"{mb['level']}/{mb['trials']}/{mb['k']}" if mb["mode"] == "strata" else mb["mode"]
        print(f"{name:>13} {net.architecture:>15} {mb['n_binaries']:>4} {exact:>9} {ex['exact_seconds']:>7.1f} "
              f"{load_exact:>4.1f} {T:>5.2f} {mb['certain_lower_bound']:>8,} {mb['probabilistic_lower_bound']:>9,} "
              f"{mb['lower_bound']:>9,} {ratio:>6} {min(ratios):>5.3f} {plan:>8} {mb['seconds']:>5.2f} "
              f"{load_mip:>4.1f} {format_count(ub):>10}", flush=True)
        rows[f"{name}:{net.architecture}"] = {"exact": found, "exact_status": ex["exact_status"],
                                             "t_exact": ex["exact_seconds"], "T": T, "ratios": ratios,
                                             "certain": [r["certain_lower_bound"] for r in runs],
                                             "probabilistic": [r["probabilistic_lower_bound"] for r in runs]}


def cli_count(path: Path, *args: str) -> dict:
    """``python -m explorer count PATH ARGS --json`` in a fresh process: its JSON document."""
    done = subprocess.run([sys.executable, "-m", "explorer", "count", str(path), *args, "--json"],
                          capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent, check=False)
    if done.returncode not in (0, 3):
        raise SystemExit(f"count {' '.join(args)} failed: {done.stderr.strip()}")
    return json.loads(done.stdout)


def mode_table(name: str, hidden: tuple, rows: dict) -> None:
    net, box = real_net(name, hidden)
    row = rows[f"{name}:{net.architecture}"]
    model = build_milp(net, box)
    print(f"{name} {net.architecture}, exact {row['exact']:,} ({row['exact_status']}), T = {row['T']:.2f} s, "
          f"seed 0\n")
    head = f"{'mode':<46} {'certain':>8} {'probabil.':>9} {'headline':>9} {'ratio':>6} {'t':>5} {'load':>4}"
    print(head)
    print("-" * len(head))
    for label, kwargs in MODES:
        load = os.getloadavg()[0]
        mb = mipbound(net, box, time_limit=row["T"], model=model, options=MipBoundOptions(**kwargs))
        print(f"{label:<46} {mb.certain_lower_bound:>8,} {mb.probabilistic_lower_bound:>9,} {mb.lower_bound:>9,} "
              f"{mb.lower_bound / row['exact']:>6.3f} {mb.seconds:>5.2f} {load:>4.1f}", flush=True)


def real_tables(quick: bool) -> None:
    rows: dict = {}
    print(f"Table 3: digits (n0 = 64, box [0, 1]^64), MIPBound defaults with T = t_exact/10 (exact capped at "
          f"{EXACT_CAP:g} s); ratio = seed 0's headline / exact, min3 = smallest ratio of seeds 0–{SEEDS - 1}, "
          f"r/t/k = the strata mode's level, trials and k, upper = the smallest proven upper bound\n"
          f"machine: {os.cpu_count()} cores shared with other jobs; load = 1-minute load average when the exact "
          f"count and MIPBound started\n")
    real_table(DIGITS_NETS[:2] if quick else DIGITS_NETS, rows)
    print("\nTable 4: held-out real data (min-max to [0, 1]^n0), same protocol\n")
    real_table(HELD_OUT[:1] if quick else HELD_OUT, rows)
    print("\nTable 5: modes, same T (in this process, its pool of workers started once and kept, as in the app)\n")
    net, box = real_net("wine", (4,))
    mipbound(net, box, time_limit=1.0)                  # starts MIPBound's process pool (kept for every row)
    time.sleep(3.0)
    mode_table("digits", (10, 10) if quick else (12, 12), rows)
    out = Path(__file__).resolve().parent / "out"
    out.mkdir(exist_ok=True)
    (out / "real_counts.json").write_text(json.dumps(rows, indent=1))
    print(f"\nload average at the end {os.getloadavg()[0]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the smallest nets only")
    parser.add_argument("--real", action="store_true", help="tables 3–5 (real data) instead of tables 1–2")
    args = parser.parse_args()
    start = time.perf_counter()
    if args.real:
        real_tables(args.quick)
        print(f"\ntotal {time.perf_counter() - start:.0f} s")
        return
    print("Table 1: exact count vs MIPBound (confidence 0.95) vs upper bounds, box [-3, 3]^d\n"
          "ratio = MIPBound / exact; speed = t_exact / t_MIPBound; tmo = FIND timeouts; "
          "2^(r*-a) = probabilistic part of MIPBound, certain = regions proven by samples, subdivision, LP\n")
    counting_table(QUICK if args.quick else FAMILY)
    print("\nTable 2: exact enumerators, LP subdivision (default) vs MILP with no-good cuts (30 s cap)\n")
    enumerator_table(ENUMERATOR_NETS[:2] if args.quick else ENUMERATOR_NETS, 30.0)
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
