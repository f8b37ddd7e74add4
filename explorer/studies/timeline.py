"""Training timeline: per snapshot, the region count, the mean distance d* from training points to the
nearest boundary, and loss and accuracy, all recomputed exactly from the snapshot's network."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..train.data import Dataset
from ..errors import ExplorerError
from ..ball.local import one_region_radii
from ..plane.regions import RegionLimitError, enumerate_regions
from ..train.fit import predict

__all__ = ["Timeline", "snapshot_timeline", "cross_entropy"]


@dataclass(frozen=True, eq=False)
class Timeline:
    """Measurements at S training snapshots.

    Attributes
    ----------
    epochs : int64 (S,)
    n_regions : int64 (S,), activation regions in ``domain``; -1 where the region budget was exceeded
    mean_d_star : float64 (S,), mean over training points of d*(x) = ℓ2 distance to the boundary of x's region
    loss, accuracy : float64 (S,), mean cross-entropy and accuracy on the training points
    test_loss, test_accuracy : float64 (S,), the same on the test points (NaN without test points)
    domain : (xmin, xmax, ymin, ymax)
    seconds : wall time
    """

    epochs: np.ndarray
    n_regions: np.ndarray
    mean_d_star: np.ndarray
    loss: np.ndarray
    accuracy: np.ndarray
    test_loss: np.ndarray
    test_accuracy: np.ndarray
    domain: tuple
    seconds: float


def snapshot_timeline(snapshots: Sequence, dataset: Dataset, domain, *, max_regions: int | None = 60_000,
                      progress: Callable[[float, str], None] | None = None) -> Timeline:
    """Measure every (epoch, Network) of ``snapshots`` (``TrainResult.snapshots``) on ``dataset``.

    Loss is the training objective of explorer.train.fit (binary cross-entropy on one logit, softmax
    cross-entropy on K logits) evaluated in float64 on the snapshot itself, so epoch 0 is measured too.

    Raises
    ------
    ExplorerError : no snapshots, a network that does not take 2 inputs, or a dataset of another dimension.

    Notes
    -----
    Cost per snapshot: one exact enumeration of ``domain`` plus one forward pass with Jacobians per point.
    """
    start = time.perf_counter()
    if len(snapshots) == 0:
        raise ExplorerError("the timeline needs snapshots; train with snapshot_every > 0.")
    if dataset.dim != 2 or snapshots[0][1].n_inputs != 2:
        raise ExplorerError(f"the timeline draws 2-D networks on 2-D data; got {snapshots[0][1].n_inputs} inputs "
                            f"and {dataset.dim}-D data.")
    box = tuple(float(v) for v in np.asarray(domain, dtype=float).reshape(-1))
    rows = []
    for s, (epoch, net) in enumerate(snapshots):
        try:
            count = enumerate_regions(net, box, max_regions=max_regions).n_regions
        except RegionLimitError:
            count = -1
        d_star = one_region_radii(net, dataset.x_train)
        rows.append((epoch, count, float(np.mean(d_star)), *_scores(net, dataset.x_train, dataset.y_train),
                     *_scores(net, dataset.x_test, dataset.y_test)))
        if progress is not None:
            progress((s + 1) / len(snapshots), f"snapshot {s + 1}/{len(snapshots)} (epoch {epoch})")
    cols = list(zip(*rows))
    return Timeline(np.array(cols[0], np.int64), np.array(cols[1], np.int64), *(np.array(c, float) for c in cols[2:]),
                    box, time.perf_counter() - start)


def cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Mean cross-entropy: softplus(f) − y·f for one logit (B, 1), logsumexp(f) − f_y for K logits (B, K)."""
    logits = np.asarray(logits, dtype=np.float64)
    if logits.shape[1] == 1:
        f = logits[:, 0]
        return float(np.mean(np.logaddexp(0.0, f) - labels * f))
    top = logits.max(axis=1, keepdims=True)
    lse = top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))
    return float(np.mean(lse - logits[np.arange(len(labels)), labels]))


def _scores(net, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    if len(x) == 0:
        return float("nan"), float("nan")
    return cross_entropy(net.forward(x), y), float(np.mean(predict(net, x) == y))
