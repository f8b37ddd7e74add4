"""Reproduce Zhu, Lin & Tang's two local findings on moons: d* during training, and N_B at data vs random points.

Run:  .venv/bin/python bench/local_findings.py  [--seeds 3 --epochs 200 --every 20 --radius 0.25 --points 150]
Prints one table per training seed and a summary, and writes PNG plots (HTML if static export fails) to
bench/out/.  Whatever the numbers say is reported; nothing here assumes the paper's direction.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from explorer.train.data import make_dataset  # noqa: E402
from explorer.studies.findings import local_findings  # noqa: E402
from explorer.train.fit import TrainConfig, train  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"
COLUMNS = [("epoch", "epoch", "{:>5d}"), ("d*~ train", "d_star_median_train", "{:>10.4f}"),
           ("d*~ rand", "d_star_median_random", "{:>10.4f}"), ("p(d*)", "p_d_star", "{:>8.1e}"),
           ("N_B mean tr", "n_mean_train", "{:>11.2f}"), ("N_B mean rd", "n_mean_random", "{:>11.2f}"),
           ("p(N_B)", "p_n", "{:>8.1e}"), ("A~ train", "bound_median_train", "{:>9.0f}"),
           ("A~ rand", "bound_median_random", "{:>9.0f}"), ("1-reg tr", "one_region_train", "{:>8.2f}"),
           ("1-reg rd", "one_region_random", "{:>8.2f}")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--every", type=int, default=20)
    ap.add_argument("--radius", type=float, default=0.25)
    ap.add_argument("--points", type=int, default=150)
    ap.add_argument("--hidden", type=int, nargs="+", default=[16, 16])
    args = ap.parse_args()
    start = time.perf_counter()
    OUT.mkdir(parents=True, exist_ok=True)
    dataset = make_dataset("moons", n_points=500, noise=0.1, seed=0)
    runs = []
    for seed in range(args.seeds):
        t0 = time.perf_counter()
        result = train(dataset, TrainConfig(hidden=tuple(args.hidden), epochs=args.epochs, seed=seed,
                                            snapshot_every=args.every))
        t1 = time.perf_counter()
        findings = local_findings(result.snapshots, dataset.x_train, dataset.domain, radius=args.radius,
                                  n_samples=args.points, seed=seed)
        rows = findings.table()
        runs.append((seed, result, findings, rows))
        print(f"\nseed {seed}: 2-{'-'.join(map(str, args.hidden))}-1 on moons (500 points, noise 0.1), final train "
              f"accuracy {result.history['train_acc'][-1]:.3f}; training {t1 - t0:.1f} s, measurements "
              f"{findings.seconds:.1f} s; balls of radius {args.radius} around {args.points} training and "
              f"{args.points} uniform points of the domain [-3, 3]^2")
        print("  ".join(f"{name:>{len(fmt.format(0)) if 'd' in fmt else len(fmt.format(0.0))}}" for name, _, fmt
                        in COLUMNS))
        for row in rows:
            print("  ".join(fmt.format(row[key]) for _, key, fmt in COLUMNS))
    _summary(runs, args.radius)
    _plots(runs, args.radius)
    print(f"\ntotal {time.perf_counter() - start:.1f} s; plots in {OUT}")


def _summary(runs, radius: float) -> None:
    """Finding (a): change of median d* at training points from the first to the last snapshot; finding
    (b): mean N_B at training vs random centres at the last snapshot."""
    print("\nsummary (first → last snapshot, per seed)")
    for seed, _, f, rows in runs:
        a0, a1 = rows[0], rows[-1]
        trend = "grew" if a1["d_star_median_train"] > a0["d_star_median_train"] else "shrank"
        more = "more" if a1["n_mean_train"] > a1["n_mean_random"] else "fewer"
        print(f"  seed {seed}: (a) median d* at training points {a0['d_star_median_train']:.4f} → "
              f"{a1['d_star_median_train']:.4f} ({trend}); at random points {a0['d_star_median_random']:.4f} → "
              f"{a1['d_star_median_random']:.4f}.  (b) balls at training points hold {more} regions: mean "
              f"N_B {a1['n_mean_train']:.2f} vs {a1['n_mean_random']:.2f} (p = {a1['p_n']:.1e}); at "
              f"initialisation {a0['n_mean_train']:.2f} vs {a0['n_mean_random']:.2f}.")


def _plots(runs, radius: float) -> None:
    fig = make_subplots(rows=1, cols=3, subplot_titles=(
        "(a) median d* (distance to nearest boundary)", f"(b) mean exact N_B, r = {radius}",
        "mean headline local upper bound"))
    colours = {"train": "#d62728", "random": "#1f77b4"}
    for seed, _, f, rows in runs:
        epochs = [row["epoch"] for row in rows]
        for side in ("train", "random"):
            style = dict(color=colours[side], dash="solid" if side == "train" else "dot")
            name = f"{'training' if side == 'train' else 'random'} points, seed {seed}"
            fig.add_trace(go.Scatter(x=epochs, y=[row[f"d_star_median_{side}"] for row in rows], mode="lines+markers",
                                     line=style, name=name, legendgroup=name), row=1, col=1)
            fig.add_trace(go.Scatter(x=epochs, y=[row[f"n_mean_{side}"] for row in rows], mode="lines+markers",
                                     line=style, name=name, legendgroup=name, showlegend=False), row=1, col=2)
            bounds = f.bound_train if side == "train" else f.bound_random
            fig.add_trace(go.Scatter(x=epochs, y=bounds.mean(axis=1), mode="lines+markers", line=style, name=name,
                                     legendgroup=name, showlegend=False), row=1, col=3)
    for col in (1, 2, 3):
        fig.update_xaxes(title_text="epoch", row=1, col=col)
    fig.update_yaxes(type="log", row=1, col=3)
    fig.update_layout(width=1500, height=480, template="simple_white",
                      title="Local findings after Zhu, Lin & Tang (2020), measured on moons")
    _write(fig, "local_findings")

    seed, _, f, _ = runs[0]
    hist = make_subplots(rows=1, cols=2, subplot_titles=(f"d* at the last snapshot (seed {seed})",
                                                        f"exact N_B at the last snapshot (seed {seed})"))
    for side, d, n in (("train", f.d_star_train[-1], f.n_exact_train[-1]),
                       ("random", f.d_star_random[-1], f.n_exact_random[-1])):
        hist.add_trace(go.Histogram(x=d, name=f"{side} points", marker_color=colours[side], opacity=0.6,
                                    nbinsx=30), row=1, col=1)
        hist.add_trace(go.Histogram(x=n, name=f"{side} points", marker_color=colours[side], opacity=0.6,
                                    showlegend=False, xbins=dict(size=1)), row=1, col=2)
    hist.update_layout(barmode="overlay", width=1100, height=420, template="simple_white")
    _write(hist, "local_findings_histograms")


def _write(fig: go.Figure, name: str) -> None:
    try:
        fig.write_image(OUT / f"{name}.png", scale=1)
        print(f"wrote {OUT / (name + '.png')}")
    except Exception as exc:  # kaleido needs a Chromium; fall back to interactive HTML
        fig.write_html(OUT / f"{name}.html")
        print(f"static export failed ({type(exc).__name__}: {exc}); wrote {OUT / (name + '.html')}")


if __name__ == "__main__":
    main()
