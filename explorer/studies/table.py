"""Read a study's table back (Parquet or CSV, e.g. an upload), checked before use: size, columns, types."""

from __future__ import annotations

import io
from pathlib import Path

from ..errors import ExplorerError
from .run import COLUMNS

__all__ = ["read_study_table", "MAX_TABLE_BYTES", "study_tables"]

MAX_TABLE_BYTES = 50_000_000
_NUMERIC = ("seed", "weight_decay", "step", "epoch", "radius", "value", "median", "q25", "q75", "n", "seconds")
_TEXT = ("study", "dataset", "architecture", "measure", "points", "variant", "status", "note", "cell")


def read_study_table(source, *, filename: str | None = None):
    """The table of a study from a path or bytes; the format follows the suffix (.parquet or .csv).

    Raises
    ------
    ExplorerError : too large, unknown format, unreadable, or not a study table (missing columns, bad types).
    """
    import pandas as pd

    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise ExplorerError(f"no study table at {str(path)!r}.")
        if path.stat().st_size > MAX_TABLE_BYTES:
            raise ExplorerError(f"{path.name} is larger than {MAX_TABLE_BYTES // 1_000_000} MB; open a smaller table.")
        data, filename = path.read_bytes(), filename or path.name
    else:
        data = bytes(source)
    if len(data) > MAX_TABLE_BYTES:
        raise ExplorerError(f"the table is larger than {MAX_TABLE_BYTES // 1_000_000} MB; open a smaller one.")
    suffix = Path(filename or "").suffix.lower()
    try:
        if suffix == ".parquet":
            table = pd.read_parquet(io.BytesIO(data))
        elif suffix == ".csv":
            table = pd.read_csv(io.BytesIO(data), keep_default_na=False, na_values=[""])
        else:
            raise ExplorerError(f"a study table is a .parquet or .csv file; got {filename!r}.")
    except ExplorerError:
        raise
    except Exception as exc:  # noqa: BLE001  (readers raise assorted types on damaged files)
        raise ExplorerError(f"could not read {filename or 'the table'}: {type(exc).__name__}.") from None
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise ExplorerError(f"{filename or 'the table'} is not a study table: it lacks the columns "
                            f"{', '.join(missing)}.")
    table = table[list(COLUMNS)].copy()
    try:
        for column in _NUMERIC:
            table[column] = pd.to_numeric(table[column], errors="raise")
    except (ValueError, TypeError):
        raise ExplorerError(f"{filename or 'the table'} has non-numeric entries in the column {column!r}.") from None
    for column in _TEXT:
        table[column] = table[column].astype(object).fillna("").astype(str)
    return table


def study_tables(folder) -> list[Path]:
    """Study tables (``*.parquet``) found below ``folder`` (not following symlinks out of it), newest first."""
    root = Path(folder).resolve()
    if not root.is_dir():
        return []
    found = [p for p in root.rglob("*.parquet") if p.resolve().is_relative_to(root) and "cache" not in p.parts]
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)
