"""Exact n-D counting benchmark: the compiled, certified subdivision walk against the LP subdivision it replaced.

Run:  .venv/bin/python bench/bench_exact.py [--quick] [--time-limit S]

Nets: MLPs trained with explorer.train.fit on scikit-learn's bundled 8×8 digits (1,797 images, the
64 pixels divided by 16 into [0, 1], Adam, lr 0.01, 400 full-batch steps, seed 0), counted on the
box [0, 1]^64; and random Gaussian nets (weights N(0, 1), biases N(0, 0.25)) on [−1, 1]^n0.  Each
net is counted by both counters in the same process, one after the other, with the same samples;
the table gives both counts, whether the sets of patterns agree, both times and the speed-up.  The
old counter is the pre-walk code kept in tests/count/subdivision_reference.py.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from explorer.count.exact import count_exact  # noqa: E402
from explorer.net import Network  # noqa: E402
from explorer.train.data import Dataset  # noqa: E402
from explorer.train.fit import TrainConfig, train  # noqa: E402
from tests.count.subdivision_reference import reference_count  # noqa: E402

DIGITS = [(8, 8), (10, 10), (12, 12), (8, 8, 8)]
SYNTHETIC = [(4, (16, 16)), (6, (12, 12)), (8, (8, 8, 8)), (16, (8, 8))]
QUICK_DIGITS, QUICK_SYNTHETIC = DIGITS[:1], SYNTHETIC[:2]


def digits_net(hidden: tuple) -> Network:
    """An MLP 64 → hidden → 10 trained on all of scikit-learn's digits, pixels scaled to [0, 1]."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x, y = digits.data / 16.0, digits.target.astype(np.int64)
    data = Dataset("digits", x, y, x[:0], y[:0], 10, np.tile([0.0, 1.0], (64, 1)), {"source": "sklearn digits"})
    return train(data, TrainConfig(hidden=hidden, epochs=400, batch_size=len(x), lr=0.01, seed=0)).net


def random_net(n0: int, hidden: tuple, seed: int = 0) -> Network:
    rng = np.random.default_rng(seed)
    dims = (n0, *hidden, 1)
    return Network(tuple(rng.standard_normal((b, a)) for a, b in zip(dims[:-1], dims[1:])),
                   tuple(0.5 * rng.standard_normal(b) for b in dims[1:]))


def compare(name: str, net: Network, box, time_limit: float) -> None:
    start = time.perf_counter()
    n_old, status, old_patterns, old_lps = reference_count(net, box, time_limit=time_limit)
    t_old = time.perf_counter() - start
    start = time.perf_counter()
    new = count_exact(net, box, time_limit=time_limit)
    t_new = time.perf_counter() - start
    same = "yes" if {p.tobytes() for p in old_patterns} == {p.tobytes() for p in new.patterns} else "NO"
    old_txt = f"{n_old:,}" if status == "exact" else f">{n_old:,}"
    new_txt = f"{new.n_regions:,}" if new.is_exact else f">{new.n_regions:,}"
    speed = f"{t_old / t_new:.1f}x" if status == "exact" else f">{t_old / t_new:.1f}x"
    print(f"{name:>16} {old_txt:>10} {new_txt:>10} {same:>5} {old_lps:>9,} {new.n_solves:>9,} {t_old:>9.1f} "
          f"{t_new:>8.1f} {speed:>8}", flush=True)


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else "?"
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one digits net and two synthetic nets")
    parser.add_argument("--time-limit", type=float, default=1800.0, help="seconds per count (default 1800)")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    count_exact(random_net(3, (4, 4)), [-1, 1])                 # load the compiled walk once
    head = (f"{'net':>16} {'old':>10} {'new':>10} {'same':>5} {'old LPs':>9} {'new LPs':>9} {'t_old s':>9} "
            f"{'t_new s':>8} {'speed-up':>8}")
    print(head)
    print("-" * len(head))
    for hidden in QUICK_DIGITS if args.quick else DIGITS:
        net = digits_net(hidden)
        compare(net.architecture, net, [0, 1], args.time_limit)
    for n0, hidden in QUICK_SYNTHETIC if args.quick else SYNTHETIC:
        net = random_net(n0, hidden)
        compare(net.architecture + " rnd", net, [-1, 1], args.time_limit)
    print(f"after: load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
