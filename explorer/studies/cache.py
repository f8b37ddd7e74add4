"""Finished cells on disk, keyed by the content hash of what was computed (explorer.studies.tasks.content_key).

Measurement rows are JSON files, training checkpoints ``.npz`` files, under ``ROOT/<first two hex>/``.
Each entry is written to a temporary file and renamed, so an interrupted run leaves whole entries only.
"""

from __future__ import annotations

import io
import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["ResultCache"]


class ResultCache:
    """A directory of finished results; ``None`` as root keeps nothing (every lookup misses)."""

    def __init__(self, root) -> None:
        self.root = None if root is None else Path(root)

    def rows(self, key: str) -> list[dict] | None:
        """The rows stored under ``key``, or None."""
        path = self._path(key, ".json")
        if path is None or not path.is_file():
            return None
        try:
            rows = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # a damaged entry is recomputed
        return [{k: (math.nan if v is None and k in ("radius", "value", "median", "q25", "q75") else v)
                 for k, v in row.items()} for row in rows]

    def put_rows(self, key: str, rows: list[dict]) -> None:
        """Store ``rows`` as JSON (NaN as null; the reader turns null back into NaN)."""
        clean = [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()} for row in rows]
        self._write(key, ".json", json.dumps(clean, allow_nan=True).encode())

    def run(self, key: str) -> dict | None:
        """A stored training run ({"epochs", "nets", "status", "seconds"}), or None."""
        path = self._path(key, ".npz")
        if path is None or not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(bytes(z["meta"]).decode())
                nets = [{"weights": [z[f"c{c}_W{l}"] for l in range(meta["layers"])],
                         "biases": [z[f"c{c}_b{l}"] for l in range(meta["layers"])],
                         "activation": meta["activation"], "alpha": meta["alpha"]} for c in range(len(meta["epochs"]))]
        except (OSError, ValueError, KeyError):
            return None
        return {"epochs": meta["epochs"], "nets": nets, "status": meta["status"], "seconds": meta["seconds"]}

    def put_run(self, key: str, run: dict) -> None:
        """Store a training run from explorer.studies.tasks.train_task."""
        nets = run["nets"]
        meta = {"epochs": list(run["epochs"]), "status": run["status"], "seconds": run["seconds"],
                "layers": len(nets[0]["weights"]) if nets else 0,
                "activation": nets[0]["activation"] if nets else "relu", "alpha": nets[0]["alpha"] if nets else 0.0}
        arrays = {"meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)}
        for c, net in enumerate(nets):
            for l, (W, b) in enumerate(zip(net["weights"], net["biases"])):
                arrays[f"c{c}_W{l}"], arrays[f"c{c}_b{l}"] = W, b
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        self._write(key, ".npz", buffer.getvalue())

    def _path(self, key: str, suffix: str) -> Path | None:
        return None if self.root is None else self.root / key[:2] / f"{key}{suffix}"

    def _write(self, key: str, suffix: str, data: bytes) -> None:
        path = self._path(key, suffix)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

