"""Datasets: toy sets after TensorFlow Playground (2-D), Gaussian blobs, real data and the user's own tables.

Toy sets (:func:`make_dataset`): every generator draws from ``numpy.random.default_rng(seed)``, so a dataset
is a pure function of its settings.  Points live in about [-2.5, 2.5]^d and the domain is the box [-3, 3]^d
around them; ``noise`` is the standard deviation of Gaussian jitter in those units (blobs: wider clusters).

Real data (:func:`load_dataset`, bundled with scikit-learn, no download) and uploaded CSV/NPZ tables
(:func:`read_table`) are scaled to [0, 1] per feature (digits: pixel/16; the others: min-max over all
rows), so their domain is the box [0, 1]^d in which the networks trained on them are counted.
"""

from __future__ import annotations

from dataclasses import dataclass

import csv
import hashlib
import io
import math
import zipfile

import numpy as np

from ..errors import ExplorerError

__all__ = ["Dataset", "DATASETS", "REAL_DATASETS", "make_dataset", "load_dataset", "read_table", "HALF_WIDTH",
           "MAX_TABLE_BYTES", "MAX_ROWS", "MAX_FEATURES", "MAX_CLASSES", "MAX_CELLS"]

DATASETS = ("moons", "circles", "spiral", "xor", "blobs", "checkerboard")
HALF_WIDTH = 3.0  # the domain is [-HALF_WIDTH, HALF_WIDTH]^d
_MULTICLASS = ("spiral", "blobs")  # the others are binary by construction
_LIMITS = {"n_points": (4, 200_000), "dim": (2, 64), "n_classes": (2, 10)}


@dataclass(frozen=True)
class Dataset:
    """A labelled point set split into training and test parts.

    Attributes
    ----------
    name : one of DATASETS or REAL_DATASETS, or "table" (an uploaded CSV/NPZ)
    x_train : float64 ndarray (n_train, d);  y_train : int64 ndarray (n_train,) with labels 0..n_classes-1
    x_test : float64 ndarray (n_test, d);    y_test : int64 ndarray (n_test,)
    n_classes : number of classes
    domain : float64 ndarray (d, 2), the box [lo, hi] per input that frames the data
    settings : JSON-able dict; ``make_dataset(**settings)`` (toy sets) or ``load_dataset(**settings)``
        (real sets) regenerates the dataset exactly; a table's settings hold its label column and the
        SHA-256 of its bytes
    feature_names : tuple of str (d,), empty for toy sets
    feature_range : float64 ndarray (d, 2) or None
        Raw [min, max] per feature that the scaling maps to [0, 1]: raw = min + x·(max − min).
    image_shape : (rows, cols) or None
        For image data (digits: (8, 8)): input i is pixel (i // cols, i % cols).
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    domain: np.ndarray
    settings: dict
    feature_names: tuple = ()
    feature_range: np.ndarray | None = None
    image_shape: tuple | None = None

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
    return Dataset(name=name, x_train=x[n_test:], y_train=y[n_test:], x_test=x[:n_test], y_test=y[:n_test],
                   n_classes=n_classes, domain=domain, settings=settings)


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


# ---- real data (bundled with scikit-learn) and the user's own tables --------------------------------------
REAL_DATASETS = ("digits", "wine", "breast_cancer", "iris")
MAX_TABLE_BYTES = 64 * 2**20    # an uploaded table above 64 MB is refused before it is parsed
MAX_ROWS = 200_000
MAX_FEATURES = 1024
MAX_CLASSES = 50
MAX_CELLS = 5_000_000           # 40 MB of float64 once parsed


def load_dataset(name: str, *, test_fraction: float = 0.2, seed: int = 0) -> Dataset:
    """A real dataset shipped with scikit-learn, scaled to [0, 1] per feature, split at random.

    digits: 1,797 images of 8×8 pixels (values 0–16, divided by 16), 10 classes; wine (178 × 13, 3 classes),
    breast_cancer (569 × 30, 2 classes), iris (150 × 4, 3 classes): min-max over all rows.  The domain is
    [0, 1]^d; ``round(test_fraction · n)`` rows drawn with ``default_rng(seed)`` form the test set.

    Raises
    ------
    ExplorerError
        An unknown name, a test fraction outside [0, 0.9] or a negative seed.

    Examples
    --------
    >>> ds = load_dataset("iris", seed=1)
    >>> ds.x_train.shape, ds.x_test.shape, ds.n_classes, float(ds.x_train.min()) >= 0.0
    ((120, 4), (30, 4), 3, True)
    """
    if name not in REAL_DATASETS:
        raise ExplorerError(f"unknown real dataset {name!r}; choose one of {', '.join(REAL_DATASETS)}.")
    _check_split(test_fraction, seed)
    import sklearn.datasets

    bunch = getattr(sklearn.datasets, f"load_{name}")()
    raw = np.asarray(bunch.data, dtype=np.float64)
    if name == "digits":
        lo, hi = np.zeros(raw.shape[1]), np.full(raw.shape[1], 16.0)
    else:
        lo, hi = raw.min(axis=0), raw.max(axis=0)
    settings = {"name": name, "test_fraction": float(test_fraction), "seed": int(seed)}
    return _scaled(name, raw, np.asarray(bunch.target, dtype=np.int64), lo, hi, settings,
                   tuple(str(f) for f in bunch.feature_names), (8, 8) if name == "digits" else None)


def read_table(data: bytes, *, kind: str = "csv", label: str | None = None, test_fraction: float = 0.2,
               seed: int = 0) -> Dataset:
    """The user's table (CSV or NPZ bytes) as a Dataset: numeric feature columns scaled to [0, 1], one label column.

    CSV: comma-separated text (UTF-8), a header row if any cell of the first row is not a number
    (otherwise columns are named "0", "1", …).  NPZ: arrays ``x`` (n, d) and ``y`` (n,), or one 2-D array
    whose columns are named "0", "1", ….  ``label`` names the label column (default: the last one);
    labels are categories (text or numbers), numbered in sorted order.  Features are scaled by min-max
    over all rows; the domain is [0, 1]^d.

    Raises
    ------
    ExplorerError
        One sentence per problem: too many bytes, rows, columns or classes; a non-numeric, empty, NaN or
        infinite feature cell; ragged rows; an unknown label column; one class only; a constant column;
        an unreadable file.
    """
    if not isinstance(data, (bytes, bytearray)):
        raise ExplorerError(f"read_table needs the file's bytes; got {type(data).__name__}.")
    if len(data) > MAX_TABLE_BYTES:
        raise ExplorerError(f"the table has {len(data) / 2**20:.1f} MB; the limit is {MAX_TABLE_BYTES / 2**20:g} MB.")
    _check_split(test_fraction, seed)
    if kind == "csv":
        names, x, labels = _csv_table(bytes(data), label)
    elif kind == "npz":
        names, x, labels = _npz_table(bytes(data), label)
    else:
        raise ExplorerError(f"the table kind must be 'csv' or 'npz'; got {kind!r}.")
    if x.shape[0] < 4:
        raise ExplorerError(f"the table needs at least 4 rows; it has {x.shape[0]}.")
    bad = ~np.isfinite(x)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ExplorerError(f"column {names[col]!r} holds {x[row, col]} in data row {row + 1}; every feature "
                            "must be a finite number.")
    classes, y = np.unique(labels, return_inverse=True)
    if classes.size < 2:
        raise ExplorerError(f"the label column holds one class only ({str(classes[0])!r}); a classifier needs two "
                            "or more.")
    if classes.size > MAX_CLASSES:
        raise ExplorerError(f"the label column holds {classes.size} classes; the limit is {MAX_CLASSES}.")
    lo, hi = x.min(axis=0), x.max(axis=0)
    constant = np.flatnonzero(hi - lo <= 1e-12 * np.maximum(1.0, np.abs(hi)))
    if constant.size:
        raise ExplorerError(f"column {names[constant[0]]!r} is constant ({lo[constant[0]]:g}); drop it, it cannot "
                            "be scaled to [0, 1].")
    settings = {"name": "table", "label": label, "sha256": hashlib.sha256(data).hexdigest(),
                "test_fraction": float(test_fraction), "seed": int(seed)}
    return _scaled("table", x, y.astype(np.int64), lo, hi, settings, tuple(names), None)


def _check_split(test_fraction, seed) -> None:
    if not (isinstance(test_fraction, (int, float, np.floating)) and 0 <= test_fraction <= 0.9):
        raise ExplorerError(f"test_fraction must lie in [0, 0.9]; got {test_fraction!r}.")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ExplorerError(f"seed must be a non-negative integer; got {seed!r}.")


def _scaled(name, raw, y, lo, hi, settings, names, image_shape) -> Dataset:
    """Scale raw (n, d) to [0, 1] by x = (raw − lo)/(hi − lo), shuffle with the seed and split."""
    x = np.clip((raw - lo) / (hi - lo), 0.0, 1.0)
    order = np.random.default_rng(settings["seed"]).permutation(len(x))
    x, y = x[order], y[order]
    n_test = int(round(settings["test_fraction"] * len(x)))
    d = x.shape[1]
    return Dataset(name=name, x_train=x[n_test:], y_train=y[n_test:], x_test=x[:n_test], y_test=y[:n_test],
                   n_classes=int(y.max()) + 1, domain=np.tile([0.0, 1.0], (d, 1)), settings=settings,
                   feature_names=names, feature_range=np.stack([lo, hi], axis=1).astype(np.float64),
                   image_shape=image_shape)


def _number(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None


def _csv_table(data: bytes, label: str | None) -> tuple[list, np.ndarray, np.ndarray]:
    cells = data.count(b",") + data.count(b"\n") + 1         # an upper bound, known before parsing
    if cells > MAX_CELLS:
        raise ExplorerError(f"the CSV file has about {cells:,} cells; the limit is {MAX_CELLS:,}.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ExplorerError(f"the CSV file is not UTF-8 text (byte {exc.start}).") from None
    rows = (r for r in csv.reader(io.StringIO(text)) if any(c.strip() for c in r))
    try:
        first = next(rows, None)
        if first is None:
            raise ExplorerError("the CSV file holds no rows.")
        header = any(_number(c) is None for c in first)
        names = [c.strip() for c in first] if header else [str(i) for i in range(len(first))]
        _check_shape(0, len(names))
        col = _label_column(names, label)
        feats = [i for i in range(len(names)) if i != col]
        values, labels = [], []                              # one float64 row per data row: 8 bytes a cell
        for r, row in enumerate(rows if header else _chain(first, rows), start=1):
            _check_shape(r, len(names))
            if len(row) != len(names):
                raise ExplorerError(f"data row {r} has {len(row)} cells; the header has {len(names)}.")
            parsed = [_number(row[i]) for i in feats]
            if None in parsed:
                i = feats[parsed.index(None)]
                what = "an empty cell" if not row[i].strip() else f"{row[i].strip()[:20]!r}, not a number,"
                raise ExplorerError(f"column {names[i]!r} holds {what} in data row {r}.")
            values.append(np.array(parsed))
            labels.append(row[col].strip())
    except csv.Error as exc:
        raise ExplorerError(f"the CSV file cannot be parsed: {exc}.") from None
    x = np.array(values).reshape(len(values), len(feats))
    numeric = [_number(v) for v in labels]
    lab = np.array([float(v) for v in numeric]) if all(v is not None and math.isfinite(v) for v in numeric) \
        else np.array(labels)                                # numeric labels sort as numbers
    return [names[i] for i in feats], x, lab


def _chain(first: list, rows):
    yield first
    yield from rows


def _npz_table(data: bytes, label: str | None) -> tuple[list, np.ndarray, np.ndarray]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            total = sum(i.file_size for i in zf.infolist())
            if total > MAX_TABLE_BYTES:
                raise ExplorerError(f"the NPZ file unpacks to {total / 2**20:.0f} MB; the limit is "
                                    f"{MAX_TABLE_BYTES / 2**20:g} MB.")
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except ExplorerError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise ExplorerError(f"the NPZ file cannot be read ({exc}); save it with numpy.savez.") from None
    if {"x", "y"} <= set(arrays):
        x, y = arrays["x"], arrays["y"]
        if x.ndim != 2 or y.ndim != 1 or len(y) != len(x):
            raise ExplorerError(f"the NPZ arrays need x of shape (n, d) and y of shape (n,); got {x.shape} and "
                                f"{y.shape}.")
        if label is not None:
            raise ExplorerError("an NPZ file with arrays x and y takes its labels from y; give no label column.")
        table, col = np.column_stack([x.astype(object), y.astype(object)]), x.shape[1]
        names = [str(i) for i in range(x.shape[1])] + ["y"]
    elif len(arrays) == 1 and next(iter(arrays.values())).ndim == 2:
        table = next(iter(arrays.values()))
        names = [str(i) for i in range(table.shape[1])]
        _check_shape(table.shape[0], table.shape[1])
        col = _label_column(names, label)
    else:
        raise ExplorerError(f"the NPZ file must hold arrays x and y, or one 2-D table; it holds {sorted(arrays)}.")
    _check_shape(table.shape[0], table.shape[1])
    feats = [i for i in range(len(names)) if i != col]
    try:
        x = np.asarray(table[:, feats], dtype=np.float64)
    except (TypeError, ValueError):
        raise ExplorerError("the NPZ feature columns must be numbers.") from None
    labels = table[:, col]
    labels = labels.astype(str) if labels.dtype.kind in "OUS" else labels
    if labels.dtype.kind == "f" and not np.isfinite(labels).all():
        raise ExplorerError("the NPZ labels must be finite numbers or text.")
    return [names[i] for i in feats], x, labels


def _check_shape(rows: int, cols: int) -> None:
    if rows > MAX_ROWS:
        raise ExplorerError(f"the table has {rows:,} rows; the limit is {MAX_ROWS:,}.")
    if cols - 1 > MAX_FEATURES:
        raise ExplorerError(f"the table has {cols - 1:,} feature columns; the limit is {MAX_FEATURES:,}.")
    if cols < 2:
        raise ExplorerError(f"the table needs feature columns and a label column; it has {cols} column(s).")


def _label_column(names: list, label: str | None) -> int:
    if label is None:
        return len(names) - 1
    if label not in names:
        raise ExplorerError(f"no column is called {label!r}; the columns are {', '.join(names[:12])}"
                            + (", …" if len(names) > 12 else "") + ".")
    return names.index(label)
