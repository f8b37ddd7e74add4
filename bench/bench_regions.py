"""Exact enumeration versus a dense-grid sampler on random networks, box [-3, 3]^2.

For each network: exact activation regions, enumeration seconds, regions per second and peak memory
(resident set of a fresh process), then the distinct activation patterns a 1000 x 1000 grid finds and
its time, so one sees what exactness costs and what a grid misses.  Weights follow PyTorch's default
``nn.Linear`` initialisation, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases, seed 0.

Optional: with BERZINS_DIR pointing at a runner of the public edge-subdivision code (Berzins, ICML 2023)
that takes an .npz network (``python $BERZINS_DIR/run_berzins.py NET.npz`` printing JSON with "seconds"),
its time on the same network is measured in the same run.  That code is not part of this repository.

Usage: python bench/bench_regions.py [--quick]
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from explorer.net import Network  # noqa: E402
from explorer.plane.regions import enumerate_regions  # noqa: E402

NETS = {
    "2-16-16-1": [16, 16],
    "2-32-32-32-1": [32, 32, 32],
    "2-64-64-64-1": [64, 64, 64],
    "2-128-128-128-1": [128, 128, 128],
    "2-560-560-560-1 (~1M regions)": [560, 560, 560],
}
BOX = (-3.0, 3.0, -3.0, 3.0)
GRID = 1000


def torch_like_net(widths: list[int], seed: int = 0) -> Network:
    """A 2-input ReLU net with PyTorch's default Linear initialisation (numpy generator, fixed seed)."""
    rng = np.random.default_rng(seed)
    ws, bs, n = [], [], 2
    for w in widths + [1]:
        bound = 1 / np.sqrt(n)
        ws.append(rng.uniform(-bound, bound, size=(w, n)))
        bs.append(rng.uniform(-bound, bound, size=w))
        n = w
    return Network(tuple(ws), tuple(bs))


def grid_patterns(net: Network, n: int = GRID, chunk: int = 50_000) -> tuple[int, float]:
    """Distinct activation patterns at the n x n cell centres of the box, and the seconds it took."""
    start = time.perf_counter()
    xs = BOX[0] + (np.arange(n) + 0.5) * (BOX[1] - BOX[0]) / n
    ys = BOX[2] + (np.arange(n) + 0.5) * (BOX[3] - BOX[2]) / n
    pts = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
    keys = []
    for lo in range(0, len(pts), chunk):
        packed = np.packbits(net.patterns(pts[lo:lo + chunk]), axis=1)
        keys.append(np.unique(packed.view(np.dtype((np.void, packed.shape[1]))).ravel()))
    distinct = np.unique(np.concatenate(keys))
    return len(distinct), time.perf_counter() - start


def run_one(name: str) -> dict:
    net = torch_like_net(NETS[name])
    enumerate_regions(torch_like_net([8, 8]), BOX)  # warm up imports and caches
    regions = enumerate_regions(net, BOX)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    n_grid, grid_s = grid_patterns(net)
    out = {"net": name, "regions": regions.n_regions, "seconds": regions.seconds, "peak_mb": peak_mb,
           "grid_distinct": n_grid, "grid_seconds": grid_s}
    runner = os.environ.get("BERZINS_DIR")
    if runner and len(NETS[name]) <= 3 and max(NETS[name]) <= 128:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "net.npz"
            np.savez(path, **{f"{k}{i}": a for i, (W, b) in enumerate(zip(net.weights, net.biases))
                              for k, a in (("W", W), ("b", b))})
            res = subprocess.run([sys.executable, str(Path(runner) / "run_berzins.py"), str(path)],
                                 capture_output=True, text=True, check=True)
            out["berzins_seconds"] = json.loads(res.stdout.strip().splitlines()[-1])["seconds"]
    return out


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--one":
        print(json.dumps(run_one(sys.argv[2])))
        return
    names = list(NETS)[:-1] if "--quick" in sys.argv else list(NETS)
    header = (f"{'network':28} {'regions':>9} {'enum s':>8} {'regions/s':>10} {'peak MB':>8} "
              f"{'grid 1000² patterns':>20} {'grid s':>7} {'missed by grid':>15}")
    with_berzins = bool(os.environ.get("BERZINS_DIR"))
    print(header + (f" {'Berzins s':>10} {'speed-up':>8}" if with_berzins else ""))
    for name in names:
        res = subprocess.run([sys.executable, __file__, "--one", name], capture_output=True, text=True, check=True)
        r = json.loads(res.stdout.strip().splitlines()[-1])
        line = (f"{r['net']:28} {r['regions']:>9,} {r['seconds']:>8.3f} {r['regions'] / r['seconds']:>10,.0f} "
                f"{r['peak_mb']:>8.0f} {r['grid_distinct']:>20,} {r['grid_seconds']:>7.2f} "
                f"{r['regions'] - r['grid_distinct']:>9,} ({100 * (1 - r['grid_distinct'] / r['regions']):.0f}%)")
        if "berzins_seconds" in r:
            line += f" {r['berzins_seconds']:>10.3f} {r['berzins_seconds'] / r['seconds']:>7.1f}x"
        print(line, flush=True)


if __name__ == "__main__":
    main()
