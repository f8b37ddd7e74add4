"""How large a CNN can be sliced exactly in under a second: digits CNNs of growing width, one plane each.

Each network is the shipped example's recipe (assets/make_examples.py: Conv3x3(c) ReLU Conv3x3(2c) ReLU
AvgPool2 Flatten Linear(10), trained 400 full-batch Adam epochs on scikit-learn's digits, seed 0) with
c = 4 … 24.  The slice is the plane through the README's three test images (a "0", a "4" and a "7"), domain
[-0.5, 1.5]² in (a, b) — the default of ``regions --plane``.  Reported per network: hidden units, seconds to
fold the TorchScript-equivalent module into the dense Network, activation regions on the slice and the
wall time of ``enumerate_regions`` (median of three runs in this process), so the comparison is within one run.

Usage: python bench/bench_cnn_slice.py [--quick]
"""

from __future__ import annotations

import importlib.util
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from explorer.io import from_module  # noqa: E402
from explorer.plane.regions import enumerate_regions, plane_slice  # noqa: E402

BOX = (-0.5, 1.5, -0.5, 1.5)


def _examples():
    spec = importlib.util.spec_from_file_location("make_examples", ROOT / "assets" / "make_examples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(quick: bool) -> None:
    examples = _examples()
    print(f"{'network':34s} {'hidden':>6s} {'test acc':>8s} {'fold s':>7s} {'regions':>8s} {'slice s':>8s}")
    for c in (4, 8) if quick else (4, 6, 8, 10, 12, 16, 24):
        model, (X_test, y_test), accuracy = examples.train_digits_cnn((c, 2 * c))
        start = time.perf_counter()
        net = from_module(model, input_shape=(1, 8, 8))
        fold = time.perf_counter() - start
        p0, p1, p2 = examples.digits_points(X_test, y_test)
        plane = plane_slice(net, p0, p1 - p0, p2 - p0).net
        runs = [enumerate_regions(plane, BOX) for _ in range(3)]
        seconds = statistics.median(r.seconds for r in runs)
        print(f"{net.architecture:34s} {net.n_hidden:6d} {accuracy[1]:8.3f} {fold:7.3f} {runs[0].n_regions:8d} "
              f"{seconds:8.3f}", flush=True)


if __name__ == "__main__":
    main("--quick" in sys.argv)
