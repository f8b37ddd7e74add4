"""Latency and tightness of the local-bound certifiers: one table row per (architecture, certifier).

Run:  .venv/bin/python bench/local_bench.py
Columns: median wall time of certify_chain up to the certifier (ms), Σ k_l, headline bound, and for 2-input
nets the exact N_B; last, the full local_bounds call the app makes (symbolic, 20,000 and 2,000 samples).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from explorer.ball.certify import CERTIFIERS, EXACT_MAX_UNITS, certify_chain  # noqa: E402
from explorer.ball.local import global_bound, local_bounds  # noqa: E402
from explorer.net import Network  # noqa: E402


def random_net(seed: int, dims) -> Network:
    rng = np.random.default_rng(seed)
    return Network(tuple(rng.normal(size=(m, n)) / np.sqrt(n) for n, m in zip(dims, dims[1:])),
                   tuple(rng.normal(size=m) * 0.3 for m in dims[1:]))


def timed(fn, repeat: int):
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times)), out


def main() -> None:
    cases = [((2, 32, 32, 1), 0.3), ((2, 16, 16, 16, 1), 0.5), ((10, 64, 64, 1), 0.2), ((784, 100, 100, 10), 0.05)]
    print(f"{'architecture':>16} {'r':>5} {'certifier':>10} {'ms':>9} {'Σk':>5} {'headline':>14} {'exact N_B':>9}")
    for dims, r in cases:
        net = random_net(0, dims)
        x0 = np.random.default_rng(1).normal(size=dims[0]) * 0.3
        exact = local_bounds(net, x0, r, n_samples=0).n_exact if dims[0] == 2 else None
        for name in CERTIFIERS:
            if name == "exact" and net.n_hidden > EXACT_MAX_UNITS:
                continue
            seconds, chain = timed(lambda: certify_chain(net, x0, r, certifier=name, time_limit=60), 3 if name in
                                   ("lp", "exact") else 20)
            from explorer.ball.local import _certifier_bound  # the same bound local_bounds reports

            row = _certifier_bound(net, chain[-1], global_bound(net))
            print(f"{net.architecture:>16} {r:>5} {name:>10} {seconds * 1e3:>9.2f} {sum(row.k):>5} "
                  f"{row.headline:>14,} {'' if exact is None else exact:>9}")
    net, x0 = random_net(0, (2, 32, 32, 1)), np.array([0.1, 0.2])
    for n in (20_000, 2_000):
        seconds, b = timed(lambda: local_bounds(net, x0, 0.3, n_samples=n), 20)
        print(f"\nlocal_bounds 2-32-32-1, symbolic, {n:,} samples, exact disk count: median {seconds * 1e3:.1f} ms "
              f"(N_B = {b.n_exact}, bound {b.headline:,})")


if __name__ == "__main__":
    main()
