"""Training timeline: per snapshot, the region count, the mean distance d* from training points to the
nearest boundary, and loss and accuracy, all recomputed exactly from the snapshot's network; and region
colours that stay put from one snapshot to the next (a region keeps its colour while its pattern persists)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..ball.local import one_region_radii
from ..errors import ExplorerError
from ..net import as_box
from ..plot.coloring import color_memory, stable_coloring
from ..plane.regions import RegionLimitError, enumerate_regions
from ..train.data import Dataset
from ..train.fit import predict

__all__ = ["Timeline", "snapshot_timeline", "cross_entropy"]


@dataclass(frozen=True, eq=False, kw_only=True)
class Timeline:
    """Measurements at S training snapshots.

    Attributes
    ----------
    epochs : int64 (S,)
    n_regions : int64 (S,), activation regions in ``box``; -1 where the region budget was exceeded
    mean_d_star : float64 (S,), mean over training points of d*(x) = ℓ2 distance to the boundary of x's region
    loss, accuracy : float64 (S,), mean cross-entropy and accuracy on the training points
    test_loss, test_accuracy : float64 (S,), the same on the test points (NaN without test points)
    colors : tuple (S,) of {packed pattern bytes: colour index in [0, n_colors)}: the "region" colouring of each
        snapshot (explorer.plot.coloring.stable_coloring, keeping the previous snapshot's colours); {} where
        the region budget was exceeded.  Pass ``coloring=[colors[s][k] for k in pattern_keys(regions)]``.
    box : (xmin, xmax, ymin, ymax)
    seconds : wall time
    """

    epochs: np.ndarray
    n_regions: np.ndarray
    mean_d_star: np.ndarray
    loss: np.ndarray
    accuracy: np.ndarray
    test_loss: np.ndarray
    test_accuracy: np.ndarray
    colors: tuple
    box: tuple
    seconds: float


def snapshot_timeline(snapshots: Sequence, dataset: Dataset, box, *, max_regions: int | None = 60_000,
                      n_colors: int = 8, progress: Callable[[float, str], None] | None = None) -> Timeline:
    """Measure every (epoch, Network) of ``snapshots`` (``TrainResult.snapshots``) on ``dataset``.

    Loss is the training objective of explorer.train.fit (binary cross-entropy on one logit, softmax
    cross-entropy on K logits) evaluated in float64 on the snapshot itself, so epoch 0 is measured too.

    Raises
    ------
    ExplorerError : no snapshots, a network that does not take 2 inputs, or a dataset of another dimension.

    Notes
    -----
    Cost per snapshot: one exact enumeration of ``box`` and its adjacency, plus one forward pass with Jacobians
    per point.
    """
    start = time.perf_counter()
    if len(snapshots) == 0:
        raise ExplorerError("the timeline needs snapshots; train with snapshot_every > 0.")
    if dataset.dim != 2 or snapshots[0][1].n_inputs != 2:
        raise ExplorerError(f"the timeline draws 2-D networks on 2-D data; got {snapshots[0][1].n_inputs} inputs "
                            f"and {dataset.dim}-D data.")
    box = tuple(float(v) for v in as_box(box, 2).reshape(-1))
    rows, colors, memory = [], [], {}
    for s, (epoch, net) in enumerate(snapshots):
        try:
            regions = enumerate_regions(net, box, max_regions=max_regions)
            count = regions.n_regions
            memory = color_memory(regions, stable_coloring(regions, n_colors, previous=memory))
        except RegionLimitError:
            count, memory = -1, {}
        colors.append(memory)
        d_star = one_region_radii(net, dataset.x_train)
        rows.append((epoch, count, float(np.mean(d_star)), *_scores(net, dataset.x_train, dataset.y_train),
                     *_scores(net, dataset.x_test, dataset.y_test)))
        if progress is not None:
            progress((s + 1) / len(snapshots), f"snapshot {s + 1}/{len(snapshots)} (epoch {epoch})")
    epochs, counts, d_star, loss, accuracy, test_loss, test_accuracy = zip(*rows)
    return Timeline(epochs=np.array(epochs, np.int64), n_regions=np.array(counts, np.int64),
                    mean_d_star=np.array(d_star, float), loss=np.array(loss, float), accuracy=np.array(accuracy, float),
                    test_loss=np.array(test_loss, float), test_accuracy=np.array(test_accuracy, float),
                    colors=tuple(colors), box=box,
                    seconds=time.perf_counter() - start)


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
