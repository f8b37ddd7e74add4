"""A study's TOML file, validated strictly: the grid (datasets × architectures × seeds × weight decays ×
checkpoints) and the measures to take at every checkpoint.

Every problem raises one :class:`~explorer.errors.ExplorerError` that names the key, what was got and what
is allowed.  A minimal file::

    [study]
    name = "smoke"
    datasets = ["moons"]
    architectures = [[8, 8]]
    seeds = 2

    [train]
    steps = 2000
    checkpoints = 6          # step 0 plus 6 log-spaced steps up to 2000

    [measures.local_complexity]
    radii = [0.25]
"""

from __future__ import annotations

import difflib
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ExplorerError
from ..train.data import DATASETS
from ..train.fit import MAX_EPOCHS, MAX_HIDDEN_LAYERS, MAX_UNITS, OPTIMIZERS
from .measures import MEASURES

__all__ = ["StudySpec", "TrainSpec", "load_study", "parse_study", "log_steps", "LIMITS"]

LIMITS = {"datasets": 20, "architectures": 20, "seeds": 1000, "weight_decay": 10, "checkpoints": 200,
          "steps": 1_000_000, "points": 5000, "radii": 10, "time_limit": 86_400.0, "cells": 200_000,
          "retries": 10}
_SECTIONS = {"study", "data", "train", "points", "measures", "run"}
_STUDY_KEYS = {"name", "datasets", "architectures", "seeds", "weight_decay"}
_DATA_KEYS = {"n_points", "noise", "test_fraction", "seed", "dim", "n_classes"}
_TRAIN_KEYS = {"steps", "checkpoints", "batch_size", "lr", "optimizer", "time_limit"}
_POINT_KEYS = {"n", "seed"}
_RUN_KEYS = {"retries", "cell_time_limit"}


@dataclass(frozen=True)
class TrainSpec:
    """Training shared by every run of the grid.

    steps : optimiser steps;  marks : a count of log-spaced checkpoints, or a tuple of requested steps
    batch_size, lr, optimizer : as in explorer.train.fit.TrainConfig;  time_limit : seconds per training run
    """

    steps: int
    marks: object
    batch_size: int
    lr: float
    optimizer: str
    time_limit: float

    def steps_per_epoch(self, n_train: int) -> int:
        """Optimiser steps in one pass over ``n_train`` points."""
        return math.ceil(n_train / min(self.batch_size, n_train))

    def checkpoints(self, n_train: int) -> tuple[int, ...]:
        """Steps at which a run on ``n_train`` points is measured: whole epochs, 0 = initialisation."""
        unit = self.steps_per_epoch(n_train)
        if isinstance(self.marks, tuple):
            return tuple(sorted({unit * round(s / unit) for s in self.marks}))
        return log_steps(self.steps, self.marks, step_unit=unit)


@dataclass(frozen=True)
class StudySpec:
    """A validated study.

    name : str, used in file names;  datasets : tuple of (name, make_dataset keyword dict)
    architectures : tuple of hidden-width tuples;  seeds : tuple of int;  weight_decay : tuple of float
    train : TrainSpec;  n_points : centres per point set (train, test, random);  point_seed : int
    measures : tuple of (measure name, option dict with defaults filled in, "time_limit" included)
    retries : attempts after a failure per task
    """

    name: str
    datasets: tuple
    architectures: tuple
    seeds: tuple
    weight_decay: tuple
    train: TrainSpec
    n_points: int
    point_seed: int
    measures: tuple
    retries: int

    @property
    def n_runs(self) -> int:
        """Training runs: datasets × architectures × seeds × weight decays."""
        return len(self.datasets) * len(self.architectures) * len(self.seeds) * len(self.weight_decay)

    @property
    def n_cells(self) -> int:
        """Measurement cells: training runs × checkpoints × measures."""
        per_dataset = sum(len(self.train.checkpoints(_train_size(o))) for _, o in self.datasets)
        return per_dataset * (self.n_runs // len(self.datasets)) * len(self.measures)


def load_study(path) -> StudySpec:
    """Read and validate a study TOML file."""
    path = Path(path)
    if not path.is_file():
        raise ExplorerError(f"no study file at {str(path)!r}; give the path of a .toml file.")
    if path.stat().st_size > 1_000_000:
        raise ExplorerError(f"the study file {path.name} is larger than 1 MB; a study needs a few dozen lines.")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ExplorerError(f"{path.name} is not valid TOML: {exc}.") from None
    return parse_study(data, default_name=path.stem)


def parse_study(data: dict, *, default_name: str = "study") -> StudySpec:
    """Validate a study given as the dictionary of its TOML file (see the module docstring)."""
    if not isinstance(data, dict):
        raise ExplorerError(f"a study is a TOML table; got {type(data).__name__}.")
    _known(data, _SECTIONS, "the study file")
    study = _table(data, "study", required=True)
    _known(study, _STUDY_KEYS, "[study]")
    name = study.get("name", default_name)
    if not (isinstance(name, str) and name and len(name) <= 64 and all(c.isalnum() or c in "-_" for c in name)):
        raise ExplorerError(f"[study] name must be 1–64 letters, digits, '-' or '_' (it names the output files); "
                            f"got {name!r}.")
    data_opts = _table(data, "data")
    datasets = tuple((d, _dataset_options(d, data_opts)) for d in _names(study, "datasets"))
    for d in set(data_opts) - _DATA_KEYS - set(DATASETS):
        _unknown(d, _DATA_KEYS | set(DATASETS), "[data]")
    for d in set(data_opts) & set(DATASETS) - {n for n, _ in datasets}:
        raise ExplorerError(f"[data.{d}] gives options for a dataset that [study] datasets does not list.")
    architectures = _architectures(study.get("architectures"))
    seeds = _seeds(study.get("seeds", 1))
    decays = _number_list(study.get("weight_decay", [0.0]), "[study] weight_decay", 0.0, 1.0,
                          LIMITS["weight_decay"], closed=True)
    train = _train(_table(data, "train", required=True), min(_train_size(o) for _, o in datasets))
    points = _table(data, "points")
    _known(points, _POINT_KEYS, "[points]")
    n_points = _integer(points.get("n", 100), "[points] n", 2, LIMITS["points"])
    point_seed = _integer(points.get("seed", 0), "[points] seed", 0, 2**32 - 1)
    run = _table(data, "run")
    _known(run, _RUN_KEYS, "[run]")
    retries = _integer(run.get("retries", 2), "[run] retries", 0, LIMITS["retries"])
    cell_limit = _seconds(run.get("cell_time_limit", 120.0), "[run] cell_time_limit")
    measures = _measures(_table(data, "measures", required=True), cell_limit, datasets)
    spec = StudySpec(name=name, datasets=datasets, architectures=architectures, seeds=seeds, weight_decay=decays,
                     train=train, n_points=n_points, point_seed=point_seed, measures=measures, retries=retries)
    if spec.n_cells > LIMITS["cells"]:
        raise ExplorerError(f"the study has {spec.n_cells:,} cells (runs × checkpoints × measures); the limit is "
                            f"{LIMITS['cells']:,}. Use fewer seeds, checkpoints or measures, or split the study.")
    return spec


def log_steps(steps: int, count: int, *, step_unit: int = 1) -> tuple[int, ...]:
    """Step 0 and ``count`` steps spaced evenly on a log scale from ``step_unit`` to ``steps``, rounded to
    multiples of ``step_unit`` (duplicates merged, so short runs get fewer).

    >>> log_steps(10_000, 4)
    (0, 1, 22, 464, 10000)
    >>> log_steps(100, 4, step_unit=13)
    (0, 13, 26, 52, 104)
    """
    top = math.ceil(steps / step_unit)
    epochs = np.unique(np.round(np.geomspace(1, top, count)).astype(np.int64)) if count > 1 else np.array([top])
    return (0, *(int(e) * step_unit for e in epochs))


# ---- sections ----------------------------------------------------------------------------------------
def _dataset_options(name: str, data_opts: dict) -> dict:
    shared = {k: v for k, v in data_opts.items() if k in _DATA_KEYS}
    own = data_opts.get(name, {})
    if not isinstance(own, dict):
        raise ExplorerError(f"[data.{name}] must be a table of dataset options; got {own!r}.")
    _known(own, _DATA_KEYS, f"[data.{name}]")
    options = {"n_points": 500, "noise": 0.1, "test_fraction": 0.2, "seed": 0, **shared, **own}
    from ..train.data import make_dataset

    try:
        make_dataset(name, **options)
    except ExplorerError as exc:
        raise ExplorerError(f"[data] for {name}: {exc}") from None
    return options


def _train_size(options: dict) -> int:
    return options["n_points"] - int(round(options["test_fraction"] * options["n_points"]))


def _train(train: dict, n_train: int) -> TrainSpec:
    _known(train, _TRAIN_KEYS, "[train]")
    steps = _integer(train.get("steps"), "[train] steps", 1, LIMITS["steps"])
    batch = _integer(train.get("batch_size", 64), "[train] batch_size", 1, 1_000_000)
    unit = math.ceil(n_train / min(batch, n_train))  # optimiser steps per epoch
    if math.ceil(steps / unit) > MAX_EPOCHS:
        raise ExplorerError(f"[train] steps = {steps:,} needs {math.ceil(steps / unit):,} epochs of {unit} steps; "
                            f"training allows {MAX_EPOCHS:,}. Use a smaller batch_size or fewer steps.")
    marks = train.get("checkpoints", 12)
    if isinstance(marks, list):
        ok = all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s <= steps for s in marks)
        if not ok or not marks or len(marks) > LIMITS["checkpoints"]:
            raise ExplorerError(f"[train] checkpoints must be 1–{LIMITS['checkpoints']} steps in 0–{steps}, or a "
                                f"count of log-spaced steps; got {marks!r}.")
        marks = tuple(sorted(set(marks)))
    else:
        marks = _integer(marks, "[train] checkpoints", 1, LIMITS["checkpoints"])
    optimizer = train.get("optimizer", "adam")
    if optimizer not in OPTIMIZERS:
        raise ExplorerError(f"[train] optimizer must be one of {', '.join(OPTIMIZERS)}; got {optimizer!r}.")
    lr = _number_list([train.get("lr", 0.01)], "[train] lr", 0.0, 10.0, 1)[0]
    return TrainSpec(steps=steps, marks=marks, batch_size=batch, lr=lr, optimizer=optimizer,
                     time_limit=_seconds(train.get("time_limit", 1800.0), "[train] time_limit"))


def _measures(table: dict, cell_limit: float, datasets: tuple) -> tuple:
    if not table:
        raise ExplorerError(f"[measures] is empty; add at least one of {', '.join(MEASURES)}, e.g. "
                            "[measures.local_complexity].")
    out = []
    for name, options in table.items():
        if name not in MEASURES:
            _unknown(name, set(MEASURES), "[measures]")
        if not isinstance(options, dict):
            raise ExplorerError(f"[measures.{name}] must be a table of options (may be empty); got {options!r}.")
        measure = MEASURES[name]
        _known(options, set(measure.defaults) | {"time_limit"}, f"[measures.{name}]")
        if measure.two_d_only:
            flat = [d for d, o in datasets if o.get("dim", 2) != 2]
            if flat:
                raise ExplorerError(f"[measures.{name}] needs 2-input networks, but dataset {flat[0]} is not 2-D; "
                                    "drop the measure or the dataset.")
        full = {**measure.defaults, **options,
                "time_limit": _seconds(options.get("time_limit", cell_limit), f"[measures.{name}] time_limit")}
        out.append((name, measure.check(full, f"[measures.{name}]")))
    return tuple(out)


# ---- values ------------------------------------------------------------------------------------------
def _table(data: dict, key: str, *, required: bool = False) -> dict:
    if key not in data:
        if required:
            raise ExplorerError(f"the study file needs a [{key}] table.")
        return {}
    if not isinstance(data[key], dict):
        raise ExplorerError(f"[{key}] must be a table; got {data[key]!r}.")
    return data[key]


def _known(table: dict, allowed: set, where: str) -> None:
    for key in table:
        if key not in allowed:
            _unknown(key, allowed, where)


def _unknown(key: str, allowed: set, where: str) -> None:
    close = difflib.get_close_matches(str(key), sorted(allowed), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else f" Allowed: {', '.join(sorted(allowed))}."
    raise ExplorerError(f"{where} has an unknown key {key!r}.{hint}")


def _names(study: dict, key: str) -> tuple:
    names = study.get(key)
    if not (isinstance(names, list) and names and all(isinstance(n, str) for n in names)):
        raise ExplorerError(f"[study] {key} must be a non-empty list of names; got {names!r}.")
    if len(names) > LIMITS[key] or len(set(names)) != len(names):
        raise ExplorerError(f"[study] {key} must list at most {LIMITS[key]} distinct names; got {names!r}.")
    for n in names:
        if n not in DATASETS:
            _unknown(n, set(DATASETS), f"[study] {key}")
    return tuple(names)


def _architectures(value) -> tuple:
    ok = isinstance(value, list) and 0 < len(value) <= LIMITS["architectures"] and all(
        isinstance(a, list) and 1 <= len(a) <= MAX_HIDDEN_LAYERS and all(
            isinstance(w, int) and not isinstance(w, bool) and 1 <= w <= MAX_UNITS for w in a) for a in value)
    if not ok:
        raise ExplorerError(f"[study] architectures must be a list of 1–{LIMITS['architectures']} hidden-width "
                            f"lists (1–{MAX_HIDDEN_LAYERS} layers of 1–{MAX_UNITS} units), e.g. [[16, 16]]; got "
                            f"{value!r}.")
    return tuple(dict.fromkeys(tuple(a) for a in value))


def _seeds(value) -> tuple:
    if isinstance(value, int) and not isinstance(value, bool):
        return tuple(range(_integer(value, "[study] seeds", 1, LIMITS["seeds"])))
    if not (isinstance(value, list) and 0 < len(value) <= LIMITS["seeds"] and len(set(value)) == len(value)):
        raise ExplorerError(f"[study] seeds must be a count (1–{LIMITS['seeds']}) or a list of distinct seeds; "
                            f"got {value!r}.")
    return tuple(_integer(s, "[study] seeds", 0, 2**32 - 1) for s in value)


def _integer(value, where: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ExplorerError(f"{where} must be an integer in {lo:,}–{hi:,}; got {value!r}.")
    return value


def _seconds(value, where: str) -> float:
    return _number_list([value], where, 0.0, LIMITS["time_limit"], 1)[0]


def _number_list(value, where: str, lo: float, hi: float, most: int, *, closed: bool = False) -> tuple:
    """Finite numbers in (lo, hi] (or [lo, hi] when closed), at most ``most`` of them."""
    values = value if isinstance(value, list) else [value]
    ok = 0 < len(values) <= most and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        and (lo <= v if closed else lo < v) and v <= hi for v in values)
    if not ok:
        side = "[" if closed else "("
        raise ExplorerError(f"{where} must be {'a number' if most == 1 else f'1–{most} numbers'} in "
                            f"{side}{lo:g}, {hi:g}]; got {value!r}.")
    return tuple(float(v) for v in values)
