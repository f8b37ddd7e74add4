"""Counting benchmark: exact counts, MIPBound at confidence 0.95 and upper bounds on a family of trained nets.

Run:  .venv/bin/python bench/bench_counting.py [--quick]

Family: MLPs trained with explorer.train.fit on make_dataset("blobs", dim=d, n_classes=3) for input
dimensions 2–10 and two or three hidden layers of 8–16 units, counted on the dataset's box [-3, 3]^d.
Table 1 compares the exact count (LP subdivision) with MIPBound (default options: 10 trials,
majority rule, dense XORs, 2 worker processes) and the upper bounds.  Table 2 compares the two exact
enumerators (LP subdivision vs MILP with no-good cuts) and justifies the default.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from explorer.count.bounds import format_count, layer_stats, upper_bounds  # noqa: E402
from explorer.count.compare import sampled_lower_bound  # noqa: E402
from explorer.train.data import make_dataset  # noqa: E402
from explorer.count.exact import count_exact  # noqa: E402
from explorer.count.milp import build_milp  # noqa: E402
from explorer.count.mipbound import mipbound  # noqa: E402
from explorer.train.fit import TrainConfig, train  # noqa: E402

FAMILY = [(2, (16, 16, 16)), (4, (10, 10, 10)), (4, (16, 16)), (6, (8, 8, 8)), (6, (10, 10)), (8, (8, 8, 8)),
          (10, (8, 8)), (10, (8, 8, 8)), (8, (12, 12)), (10, (12, 12))]
QUICK = FAMILY[:4]
ENUMERATOR_NETS = [(2, (8, 8)), (4, (8, 8)), (6, (8, 8, 8))]


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
        mb = mipbound(net, box, confidence=0.95, model=model)
        ub = {u.name: u.value for u in upper_bounds(net, stats=layer_stats(net, box))}
        sampled = sampled_lower_bound(net, box, n_samples=10_000)
        exact = ex.n_regions if ex.is_exact else f"≥{ex.n_regions}"
        print(f"{net.architecture:>14} {model.n_binaries:>4} {exact:>8} {ex.seconds:>6.1f} {mb.lower_bound:>8} "
              f"{mb.lower_bound / ex.n_regions:>5.2f} {mb.certain_lower_bound:>8} {2 ** mb.log2_bound:>8.0f} "
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the four smallest nets only")
    args = parser.parse_args()
    start = time.perf_counter()
    print("Table 1: exact count vs MIPBound (confidence 0.95) vs upper bounds, box [-3, 3]^d\n"
          "ratio = MIPBound / exact; speed = t_exact / t_MIPBound; tmo = FIND timeouts; "
          "2^(r*-a) = probabilistic part of MIPBound, certain = sampled/LP-confirmed regions\n")
    counting_table(QUICK if args.quick else FAMILY)
    print("\nTable 2: exact enumerators, LP subdivision (default) vs MILP with no-good cuts (30 s cap)\n")
    enumerator_table(ENUMERATOR_NETS[:2] if args.quick else ENUMERATOR_NETS, 30.0)
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
