"""Toy classification datasets after TensorFlow Playground (2-D), plus Gaussian blobs in up to 64 dimensions.

Every generator draws from ``numpy.random.default_rng(seed)``, so a dataset is a pure function of its
settings.  Points live in about [-2.5, 2.5]^d and the domain is the box [-3, 3]^d around them; ``noise``
is the standard deviation of Gaussian jitter in those units (for blobs it widens the clusters).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ExplorerError

__all__ = ["Dataset", "DATASETS", "make_dataset", "HALF_WIDTH"]

DATASETS = ("moons", "circles", "spiral", "xor", "blobs", "checkerboard")
HALF_WIDTH = 3.0  # the domain is [-HALF_WIDTH, HALF_WIDTH]^d
_MULTICLASS = ("spiral", "blobs")  # the others are binary by construction
_LIMITS = {"n_points": (4, 200_000), "dim": (2, 64), "n_classes": (2, 10)}


@dataclass(frozen=True)
class Dataset:
    """A labelled point set split into training and test parts.

    Attributes
    ----------
    name : one of DATASETS
    x_train : float64 ndarray (n_train, d);  y_train : int64 ndarray (n_train,) with labels 0..n_classes-1
    x_test : float64 ndarray (n_test, d);    y_test : int64 ndarray (n_test,)
    n_classes : number of classes
    domain : float64 ndarray (d, 2), the box [lo, hi] per input that frames the data
    settings : JSON-able dict; ``make_dataset(**settings)`` regenerates the dataset exactly
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    domain: np.ndarray
    settings: dict

    @property
    def dim(self) -> int:
        """Input dimension d."""
        return self.x_train.shape[1]


def make_dataset(name: str, *, n_points: int = 500, noise: float = 0.1, test_fraction: float = 0.2,
                 seed: int = 0, dim: int = 2, n_classes: int = 2) -> Dataset:
    """Generate one of the toy datasets and split it at random into training and test points.

    Classes get equal shares of the ``n_points`` points (the first classes one more when it does not
    divide), except for xor and checkerboard, whose labels follow from the uniform positions;
    ``round(test_fraction · n_points)`` points, drawn at random, form the test set.  Labels are
    those of the clean points, so noise makes classes overlap.

    - moons: two interleaving half circles, rescaled by 1.5 and centred.
    - circles: a disk of radius 1.25 (class 1) inside a ring 1.75 ≤ r ≤ 2.5 (class 0).
    - spiral: ``n_classes`` arms r = 2.5 t, angle 3.5 π t + 2π k / n_classes, t ∈ [0, 1].
    - xor: uniform points in [-2.5, 2.5]² pushed 0.125 off the axes; class = [x·y > 0].
    - blobs: ``n_classes`` Gaussian clusters in ``dim`` dimensions (sd 0.4 + 2·noise) centred at
      distance 1.5 from the origin in random directions (evenly spaced angles in 2-D).
    - checkerboard: uniform points in [-2.5, 2.5]², 4 × 4 cells, class = parity of the cell.

    Raises
    ------
    ExplorerError
        for an unknown name or parameters out of range (n_points 4–200000, noise 0–1, test_fraction
        0–0.9, dim 2–64 for blobs and 2 otherwise, n_classes 2–10 for spiral and blobs, 2 otherwise).

    Examples
    --------
    >>> ds = make_dataset("xor", n_points=100, noise=0.0, seed=1)
    >>> ds.x_train.shape, ds.x_test.shape, bool(((ds.x_train[:, 0] * ds.x_train[:, 1] > 0) == ds.y_train).all())
    ((80, 2), (20, 2), True)
    """
    settings = _validate(name, n_points, noise, test_fraction, seed, dim, n_classes)
    rng = np.random.default_rng(seed)
    counts = np.full(n_classes, n_points // n_classes) + (np.arange(n_classes) < n_points % n_classes)
    y = np.repeat(np.arange(n_classes), counts)  # (n,)
    x, y = _GENERATORS[name](rng, y, counts, float(noise), dim, n_classes)  # (n, d), (n,)
    order = rng.permutation(n_points)
    x, y = x[order], y[order].astype(np.int64)
    n_test = int(round(test_fraction * n_points))
    domain = np.tile([-HALF_WIDTH, HALF_WIDTH], (dim, 1)).astype(np.float64)
    return Dataset(name, x[n_test:], y[n_test:], x[:n_test], y[:n_test], n_classes, domain, settings)


def _validate(name, n_points, noise, test_fraction, seed, dim, n_classes) -> dict:
    if name not in DATASETS:
        raise ExplorerError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}.")
    for key, value in (("n_points", n_points), ("dim", dim), ("n_classes", n_classes), ("seed", seed)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ExplorerError(f"{key} must be an integer; got {value!r}.")
    lo, hi = _LIMITS["n_points"]
    if not lo <= n_points <= hi:
        raise ExplorerError(f"n_points must lie in {lo}–{hi}; got {n_points}.")
    if seed < 0:
        raise ExplorerError(f"seed must be a non-negative integer; got {seed}.")
    if not (isinstance(noise, (int, float, np.floating)) and 0 <= noise <= 1):
        raise ExplorerError(f"noise must be a number in [0, 1] (standard deviation in data units); got {noise!r}.")
    if not (isinstance(test_fraction, (int, float, np.floating)) and 0 <= test_fraction <= 0.9):
        raise ExplorerError(f"test_fraction must lie in [0, 0.9]; got {test_fraction!r}.")
    if dim != 2 and name != "blobs":
        raise ExplorerError(f"the {name} dataset is 2-D; got dim={dim}. Use blobs for higher dimensions.")
    if not _LIMITS["dim"][0] <= dim <= _LIMITS["dim"][1]:
        raise ExplorerError(f"dim must lie in 2–64; got {dim}.")
    if n_classes != 2 and name not in _MULTICLASS:
        raise ExplorerError(f"the {name} dataset has 2 classes; got n_classes={n_classes}. Use spiral or "
                            "blobs for more classes.")
    if not _LIMITS["n_classes"][0] <= n_classes <= _LIMITS["n_classes"][1]:
        raise ExplorerError(f"n_classes must lie in 2–10; got {n_classes}.")
    if n_points < 2 * n_classes:
        raise ExplorerError(f"n_points must be at least 2 per class ({2 * n_classes}); got {n_points}.")
    return {"name": name, "n_points": int(n_points), "noise": float(noise), "test_fraction": float(test_fraction),
            "seed": int(seed), "dim": int(dim), "n_classes": int(n_classes)}


# ---- generators: (rng, balanced labels y (n,), counts (K,), noise, dim, K) -> (points (n, d), labels (n,)) ----
def _jitter(rng, x: np.ndarray, noise: float) -> np.ndarray:
    return x + noise * rng.standard_normal(x.shape)


def _moons(rng, y, counts, noise, dim, k):
    t = np.pi * rng.random(y.size)
    upper = np.stack([np.cos(t), np.sin(t)], axis=1)  # (n, 2)
    lower = np.stack([1 - np.cos(t), 0.5 - np.sin(t)], axis=1)
    x = np.where((y == 0)[:, None], upper, lower)
    return _jitter(rng, 1.5 * (x - [0.5, 0.25]), noise), y


def _circles(rng, y, counts, noise, dim, k):
    r = np.where(y == 1, 1.25 * rng.random(y.size), 1.75 + 0.75 * rng.random(y.size))
    angle = 2 * np.pi * rng.random(y.size)
    return _jitter(rng, r[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1), noise), y


def _spiral(rng, y, counts, noise, dim, k):
    t = np.concatenate([np.linspace(0, 1, c) for c in counts])  # (n,), arm parameter per point
    angle = 3.5 * np.pi * t + 2 * np.pi * y / k
    return _jitter(rng, 2.5 * t[:, None] * np.stack([np.sin(angle), np.cos(angle)], axis=1), noise), y


def _xor(rng, y, counts, noise, dim, k):
    x = rng.uniform(-2.5, 2.5, (y.size, 2))
    x = np.clip(x + 0.125 * np.sign(x), -2.5, 2.5)  # keep clean points off the axes
    return _jitter(rng, x, noise), (x[:, 0] * x[:, 1] > 0).astype(np.int64)


def _blobs(rng, y, counts, noise, dim, k):
    if dim == 2:
        angle = 2 * np.pi * (np.arange(k) / k + rng.random())
        centres = np.stack([np.cos(angle), np.sin(angle)], axis=1)  # (K, 2)
    else:
        centres = rng.standard_normal((k, dim))
        centres /= np.linalg.norm(centres, axis=1, keepdims=True)  # (K, d) unit directions
    return 1.5 * centres[y] + (0.4 + 2 * noise) * rng.standard_normal((y.size, dim)), y


def _checkerboard(rng, y, counts, noise, dim, k):
    x = rng.uniform(-2.5, 2.5, (y.size, 2))
    cells = np.floor(x / 1.25).astype(np.int64)  # (n, 2) cell indices -2..1
    return _jitter(rng, x, noise), (cells[:, 0] + cells[:, 1]) % 2


_GENERATORS = {"moons": _moons, "circles": _circles, "spiral": _spiral, "xor": _xor, "blobs": _blobs,
               "checkerboard": _checkerboard}
