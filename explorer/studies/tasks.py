"""The study's task kinds, as top-level functions of plain values (numpy arrays, dicts, numbers), so any
executor can ship them to another process or machine: torch and solver objects are built inside the task.

- :func:`train_task`: train one (dataset, architecture, seed, weight decay) run, keep the checkpoints.
- :func:`measure_task`: one measure at one checkpoint.

Results are keyed by :func:`content_key`, a hash of what is computed (network bytes, measure, options,
points), so a cache can skip finished cells on a rerun.
"""

from __future__ import annotations

import hashlib
import json
import math
import time

import numpy as np

from ..errors import ExplorerError
from ..net import Network
from .measures import MEASURES, StudyPoints

__all__ = ["CACHE_VERSION", "content_key", "net_arrays", "net_from_arrays", "study_points", "train_task",
           "measure_task"]

CACHE_VERSION = 1  # bump when a measure's meaning changes: old cache entries stop matching


def content_key(kind: str, *parts) -> str:
    """sha256 hex of ``kind`` and ``parts`` (dicts/lists as canonical JSON, arrays by dtype, shape and bytes)."""
    h = hashlib.sha256(f"{kind}:{CACHE_VERSION}".encode())
    for part in parts:
        _feed(h, part)
    return h.hexdigest()


def net_arrays(net: Network) -> dict:
    """A Network as plain values: {"weights": [W^l], "biases": [b^l], "activation", "alpha"}."""
    return {"weights": [np.asarray(W) for W in net.weights], "biases": [np.asarray(b) for b in net.biases],
            "activation": net.activation, "alpha": float(net.alpha)}


def net_from_arrays(arrays: dict) -> Network:
    """Inverse of :func:`net_arrays`."""
    return Network(tuple(arrays["weights"]), tuple(arrays["biases"]), arrays["activation"], arrays["alpha"])


def study_points(dataset: str, options: dict, *, n_points: int, seed: int) -> StudyPoints:
    """The dataset's arrays and the centres: ``n_points`` training and test points (seeded subsets) and as
    many uniform points of the data box, the same for every seed and checkpoint of the study."""
    from ..train.data import make_dataset

    data = make_dataset(dataset, **options)
    rng = np.random.default_rng(seed)
    pick = lambda x: x[np.sort(rng.choice(len(x), size=min(n_points, len(x)), replace=False))]  # noqa: E731
    centres = {"train": pick(data.x_train), "test": pick(data.x_test) if len(data.x_test) else data.x_test,
               "random": rng.uniform(data.domain[:, 0], data.domain[:, 1], size=(n_points, data.dim))}
    return StudyPoints(box=data.domain, x_train=data.x_train, y_train=data.y_train, x_test=data.x_test,
                       y_test=data.y_test, centres=centres)


def train_task(dataset: str, options: dict, config: dict, epochs: list, time_limit: float) -> dict:
    """Train one run and return its checkpoints as plain arrays.

    ``config`` holds explorer.train.fit.TrainConfig fields; the run lasts max(epochs) epochs and keeps a
    network after each epoch in ``epochs`` (0 = initialisation).  Returns {"epochs": [...], "nets": [net
    arrays], "status": "complete" | "time limit", "seconds"}: on the time limit, the checkpoints reached.
    """
    from ..train.data import make_dataset
    from ..train.fit import TrainConfig, train

    start = time.perf_counter()
    cfg = TrainConfig(**config, epochs=max(max(epochs), 1), snapshot_epochs=tuple(epochs))
    result = train(make_dataset(dataset, **options), cfg,
                   should_stop=lambda: time.perf_counter() - start > time_limit)
    kept = [(e, net) for e, net in result.snapshots if e in set(epochs)]
    return {"epochs": [e for e, _ in kept], "nets": [net_arrays(net) for _, net in kept],
            "status": "time limit" if result.stopped else "complete", "seconds": time.perf_counter() - start}


def measure_task(measure: str, net: dict, points: StudyPoints, options: dict) -> list[dict]:
    """Rows of one measure at one checkpoint (``net`` as from :func:`net_arrays`), each with ``seconds``.

    A refusal (ExplorerError: e.g. a network the measure cannot handle) becomes one row with status
    "refused" and the reason; other exceptions propagate so that the executor can retry the task.
    """
    start = time.perf_counter()
    spec = MEASURES[measure]
    try:
        rows = spec.run(net_from_arrays(net), points, options)
    except ExplorerError as exc:
        rows = [{"measure": measure, "points": "", "radius": math.nan, "variant": "", "value": math.nan,
                 "median": math.nan, "q25": math.nan, "q75": math.nan, "n": 0, "status": "refused",
                 "note": str(exc)}]
    seconds = time.perf_counter() - start
    return [{**row, "seconds": seconds} for row in rows]


def _feed(h, part) -> None:
    if isinstance(part, np.ndarray):
        a = np.ascontiguousarray(part)
        h.update(f"nd:{a.dtype.str}:{a.shape}:".encode())
        h.update(a.tobytes())
    elif isinstance(part, StudyPoints):
        for a in (part.box, part.x_train, part.y_train, part.x_test, part.y_test):
            _feed(h, a)
        for name in sorted(part.centres):
            h.update(name.encode())
            _feed(h, part.centres[name])
    elif isinstance(part, dict) and "weights" in part and "biases" in part:
        h.update(f"net:{part['activation']}:{part['alpha']!r}:".encode())
        for a in (*part["weights"], *part["biases"]):
            _feed(h, np.asarray(a, dtype=np.float64))
    else:
        h.update(json.dumps(part, sort_keys=True, default=_jsonable).encode())
        h.update(b"\x00")


def _jsonable(value):
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, (tuple, set)):
        return list(value)
    raise TypeError(f"cannot hash {type(value).__name__}")
