"""Zhu, Lin & Tang's two local findings, measured over training snapshots: d* and N_B at data vs random points.

(a) During training, does the distance d* from training points to the nearest region boundary grow?
(b) Do balls centred at training points hold more regions than balls centred at random points of the
box?  Both are measured, never assumed: :meth:`Findings.table` reports whichever way they come out.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..ball.local import local_bounds, one_region_radii
from ..ball.primitives import check_ball
from ..errors import ExplorerError
from ..net import as_box

__all__ = ["Findings", "local_findings"]


@dataclass(frozen=True, eq=False, kw_only=True)
class Findings:
    """Per-snapshot measurements at S snapshots, P training points and Q random points of the box.

    Attributes
    ----------
    epochs : int64 ndarray (S,)
    train_points : float64 ndarray (P, n0);  random_points : float64 ndarray (Q, n0)
    d_star_train, d_star_random : float64 ndarray (S, P), (S, Q): one-region radius d* at each point
    n_exact_train, n_exact_random : int64 ndarray (S, P), (S, Q): exact N_B of the ball (None if n0 ≠ 2)
    bound_train, bound_random : float64 ndarray (S, P), (S, Q): headline local upper bound (as a float)
    k_train, k_random : int64 ndarray (S, P), (S, Q): certified cutting neurons Σ_l k_l
    radius : float;  norm, certifier : str;  seconds : float
    """

    epochs: np.ndarray
    train_points: np.ndarray
    random_points: np.ndarray
    d_star_train: np.ndarray
    d_star_random: np.ndarray
    n_exact_train: np.ndarray | None
    n_exact_random: np.ndarray | None
    bound_train: np.ndarray
    bound_random: np.ndarray
    k_train: np.ndarray
    k_random: np.ndarray
    radius: float
    norm: str
    certifier: str
    seconds: float

    def table(self) -> list[dict]:
        """One row per snapshot: medians and means for training vs random centres, and two-sided
        Mann–Whitney p-values (d*, and N_B or the bound when no exact count exists)."""
        from scipy.stats import mannwhitneyu  # 0.3 s to import: not on the app's first page load

        counts_t = self.n_exact_train if self.n_exact_train is not None else self.bound_train
        counts_r = self.n_exact_random if self.n_exact_random is not None else self.bound_random
        rows = []
        for s, epoch in enumerate(self.epochs):
            rows.append({
                "epoch": int(epoch),
                "d_star_median_train": float(np.median(self.d_star_train[s])),
                "d_star_median_random": float(np.median(self.d_star_random[s])),
                "d_star_mean_train": float(np.mean(self.d_star_train[s])),
                "d_star_mean_random": float(np.mean(self.d_star_random[s])),
                "p_d_star": float(mannwhitneyu(self.d_star_train[s], self.d_star_random[s]).pvalue),
                "n_mean_train": float(np.mean(counts_t[s])), "n_mean_random": float(np.mean(counts_r[s])),
                "n_median_train": float(np.median(counts_t[s])), "n_median_random": float(np.median(counts_r[s])),
                "p_n": float(mannwhitneyu(counts_t[s], counts_r[s]).pvalue),
                "bound_median_train": float(np.median(self.bound_train[s])),
                "bound_median_random": float(np.median(self.bound_random[s])),
                "one_region_train": float(np.mean(self.d_star_train[s] >= self.radius)),
                "one_region_random": float(np.mean(self.d_star_random[s] >= self.radius)),
            })
        return rows


def local_findings(snapshots: Sequence, train_points, box, *, radius: float, n_samples: int = 200,
                   norm: str = "2", certifier: str = "symbolic", seed: int = 0,
                   progress: Callable[[float, str], None] | None = None) -> Findings:
    """Measure d*, exact N_B (2-D) and the local bound at training points and at random points of ``box``.

    For every (epoch, Network) in ``snapshots`` (e.g. ``TrainResult.snapshots``), the same ``n_samples``
    training points (a seeded subset) and ``n_samples`` uniform points of ``box`` (any form of
    :func:`explorer.net.as_box`) are the centres of balls of radius ``radius``.  In 2-D, one exact partition of
    the box grown by the radius per snapshot serves every ball.

    Raises
    ------
    ExplorerError : no snapshots, a bad radius/norm/certifier, or points and box that do not match the network.

    Notes
    -----
    Cost per snapshot: one enumeration of the grown box (2-D) plus 2·n_samples local bounds.
    """
    start = time.perf_counter()
    if len(snapshots) == 0:
        raise ExplorerError("local_findings needs at least one (epoch, network) snapshot; train with "
                            "snapshot_every > 0.")
    train_points = np.atleast_2d(np.asarray(train_points, dtype=np.float64))
    n0 = snapshots[0][1].n_inputs
    box = as_box(box, n0)
    if train_points.shape[1] != n0:
        raise ExplorerError(f"training points must have shape (P, {n0}); got {train_points.shape}.")
    if not (isinstance(n_samples, (int, np.integer)) and n_samples >= 2):
        raise ExplorerError(f"n_samples must be an integer ≥ 2; got {n_samples!r}.")
    p = check_ball(snapshots[0][1], np.zeros(n0), radius, norm)[2]
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(train_points), size=min(n_samples, len(train_points)), replace=False)
    centres = {"train": train_points[pick], "random": rng.uniform(box[:, 0], box[:, 1], size=(n_samples, n0))}
    out = {f"{what}_{side}": [] for what in ("d", "n", "bound", "k") for side in centres}
    for s, (epoch, net) in enumerate(snapshots):
        regions = None
        if n0 == 2:  # the region engine (compiled kernels) is loaded for 2-input networks only
            from ..plane.regions import enumerate_regions

            regions = enumerate_regions(net, box + [-radius, radius])
        for side, X in centres.items():
            out[f"d_{side}"].append(one_region_radii(net, X, norm=p))
            rows = [local_bounds(net, x, radius, norm=p, certifier=certifier, n_samples=0, regions=regions)
                    for x in X]
            out[f"n_{side}"].append([b.n_exact if b.n_exact is not None else -1 for b in rows])
            out[f"bound_{side}"].append([float(b.headline) for b in rows])
            out[f"k_{side}"].append([sum(b.k_certified) for b in rows])
        if progress is not None:
            progress((s + 1) / len(snapshots), f"snapshot {s + 1}/{len(snapshots)} (epoch {epoch})")
    arr = {key: np.array(value) for key, value in out.items()}
    exact = n0 == 2
    return Findings(epochs=np.array([e for e, _ in snapshots], dtype=np.int64), train_points=centres["train"],
                    random_points=centres["random"], d_star_train=arr["d_train"], d_star_random=arr["d_random"],
                    n_exact_train=arr["n_train"] if exact else None, n_exact_random=arr["n_random"] if exact else None,
                    bound_train=arr["bound_train"], bound_random=arr["bound_random"],
                    k_train=arr["k_train"].astype(np.int64), k_random=arr["k_random"].astype(np.int64),
                    radius=float(radius), norm=p, certifier=certifier, seconds=time.perf_counter() - start)
