"""Run a study: train every run of the grid once with checkpoints, measure every checkpoint as its own task,
and gather one tidy table (one row per run × checkpoint × measure × point set / radius / variant).

Resumable: every finished training run and measurement is stored in a cache keyed by the content hash of
what it computed, the moment it finishes, so a rerun (or a run after an interruption) skips finished cells.
Identical cells (e.g. the same initial network under two weight decays) are computed once.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import ExplorerError
from .cache import ResultCache
from ..executor import Executor, open_executor
from .measures import MEASURES
from .spec import StudySpec, load_study
from .tasks import content_key, measure_task, net_from_arrays, study_points, train_task

__all__ = ["StudyRun", "StudyPlan", "StudyResult", "plan_study", "run_study", "COLUMNS"]

COLUMNS = ("study", "dataset", "architecture", "seed", "weight_decay", "step", "epoch", "measure", "points",
           "radius", "variant", "value", "median", "q25", "q75", "n", "status", "seconds", "note", "cell")
_ORDER = ["dataset", "architecture", "seed", "weight_decay", "step", "measure", "points", "radius", "variant"]


@dataclass(frozen=True)
class StudyRun:
    """One training run of the grid.

    dataset : name;  options : make_dataset keywords;  hidden : widths;  seed : int;  weight_decay : float
    steps_per_epoch : int;  steps : checkpoint steps (0 = initialisation);  epochs : the same in epochs
    """

    dataset: str
    options: dict
    hidden: tuple
    seed: int
    weight_decay: float
    steps_per_epoch: int
    steps: tuple
    epochs: tuple

    @property
    def architecture(self) -> str:
        return "-".join(map(str, self.hidden))


@dataclass(frozen=True, eq=False)
class StudyPlan:
    """The grid of a study and a rough estimate of its work.

    runs : tuple of StudyRun;  n_cells : measurement cells;  cpu_seconds : estimated total work (rough: a
    per-measure cost model calibrated on a 2-core laptop-class machine);  budget_seconds : the most the cells
    and runs may take by their time limits
    """

    spec: StudySpec
    runs: tuple
    n_cells: int
    cpu_seconds: float
    budget_seconds: float

    def describe(self, n_workers: int = 1) -> str:
        """The grid, the measures and the estimate, as lines of text."""
        s = self.spec
        lines = [f"study {s.name}: {len(s.datasets)} datasets × {len(s.architectures)} architectures × "
                 f"{len(s.seeds)} seeds × {len(s.weight_decay)} weight decays = {len(self.runs)} training runs "
                 f"of {s.train.steps:,} steps ({s.train.optimizer}, lr {s.train.lr:g}, batch {s.train.batch_size})"]
        for name, options in s.datasets:
            run = next(r for r in self.runs if r.dataset == name)
            lines.append(f"  {name} ({options['n_points']} points, noise {options['noise']:g}): "
                         f"{len(run.steps)} checkpoints at steps {', '.join(f'{t:,}' for t in run.steps)}")
        decays = ", ".join(f"{w:g}" for w in s.weight_decay)
        lines.append(f"  architectures {', '.join(dict.fromkeys(r.architecture for r in self.runs))}"
                     f"; seeds {', '.join(map(str, s.seeds))}; weight decay {decays}")
        lines.append(f"  measures ({s.n_points} centres per point set):")
        for name, options in s.measures:
            shown = {k: v for k, v in options.items() if k != "time_limit"}
            lines.append(f"    {name}: {MEASURES[name].description}; {shown or ''} time limit "
                         f"{options['time_limit']:g} s per cell")
        wall = self.cpu_seconds / max(n_workers, 1)
        lines.append(f"{self.n_cells:,} measurement cells + {len(self.runs)} training runs; estimated work "
                     f"≈ {_duration(self.cpu_seconds)} (≈ {_duration(wall)} on {n_workers} worker"
                     f"{'s' * (n_workers != 1)}); at most {_duration(self.budget_seconds)} by the time limits")
        return "\n".join(lines)


@dataclass(frozen=True, eq=False)
class StudyResult:
    """Outcome of :func:`run_study`.

    table : pandas.DataFrame with COLUMNS (``value`` NaN where nothing was measured; ``status`` says why)
    files : written paths (table, CSV copy, figures);  n_cells : cells in the table's grid;  n_cached : cells
    read from the cache;  n_failed : cells whose task failed after its retries;  events : what happened to
    workers;  executor : where it ran;  seconds : wall time
    """

    table: object
    files: tuple
    n_cells: int
    n_cached: int
    n_failed: int
    events: tuple
    executor: str
    seconds: float


def plan_study(spec: StudySpec) -> StudyPlan:
    """The training runs and cells of ``spec`` and an estimate of the work (nothing is computed)."""
    from ..net import Network
    import numpy as np

    runs, cpu, budget = [], 0.0, 0.0
    for name, options in spec.datasets:
        n_train = options["n_points"] - int(round(options["test_fraction"] * options["n_points"]))
        unit = spec.train.steps_per_epoch(n_train)
        steps = spec.train.checkpoints(n_train)
        for hidden in spec.architectures:
            dims = (options.get("dim", 2), *hidden, 1)
            probe = Network(tuple(np.zeros((dims[k + 1], dims[k])) for k in range(len(dims) - 1)),
                            tuple(np.zeros(dims[k + 1]) for k in range(len(dims) - 1)))
            per_cell = sum(MEASURES[m].cost(probe, spec.n_points, o) for m, o in spec.measures)
            per_train = steps[-1] * 4e-4 * (1 + sum(hidden) / 64)
            for seed in spec.seeds:
                for wd in spec.weight_decay:
                    runs.append(StudyRun(name, options, hidden, seed, wd, unit, steps, tuple(t // unit for t in steps)))
                    cpu += per_train + len(steps) * per_cell
                    budget += spec.train.time_limit + len(steps) * sum(o["time_limit"] for _, o in spec.measures)
    n_cells = sum(len(r.steps) for r in runs) * len(spec.measures)
    return StudyPlan(spec=spec, runs=tuple(runs), n_cells=n_cells, cpu_seconds=cpu, budget_seconds=budget)


def run_study(spec, *, scheduler: str | None = None, executor: Executor | None = None, out=None,
              cache: bool | str | Path = True, figures: bool = True,
              progress: Callable[[int, int, str], None] | None = None) -> StudyResult:
    """Run every cell of ``spec`` (a StudySpec or the path of a study TOML file) and gather the table.

    Parameters
    ----------
    scheduler : "serial", "local" (default: a LocalCluster with one worker per core), "local:N" or
        "tcp://HOST:PORT"; ignored when ``executor`` is given (it is then left open)
    out : folder for NAME.parquet, NAME.csv and the figures (PNG and SVG); None writes nothing
    cache : True (OUT/cache, or no cache without ``out``), False, or a folder
    figures : write the figures (needs a Chromium for static export; a failure is reported, not raised)
    progress : called as progress(done, total, message) after every finished task

    Raises
    ------
    ExplorerError : a bad spec, scheduler or output folder.  Failed tasks do not raise: their rows carry
    status "failed" and the reason, and they are not cached, so a rerun tries them again.
    """
    import pandas as pd

    start = time.perf_counter()
    spec = load_study(spec) if isinstance(spec, (str, Path)) else spec
    if not isinstance(spec, StudySpec):
        raise ExplorerError(f"run_study needs a StudySpec or a study file path; got {type(spec).__name__}.")
    out = None if out is None else Path(out)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    root = (out / "cache" if out is not None else None) if cache is True else (None if cache is False else cache)
    plan = plan_study(spec)
    owned = executor is None
    executor = open_executor(scheduler, retries=spec.retries) if owned else executor
    try:
        state = _Gather(spec, plan, ResultCache(root), executor, progress)
        state.run()
    finally:
        if owned:
            executor.close()
    table = pd.DataFrame(state.rows, columns=list(COLUMNS)).sort_values(_ORDER, kind="stable", ignore_index=True)
    files, events = [], list(executor.events())
    if out is not None:
        files += [out / f"{spec.name}.parquet", out / f"{spec.name}.csv"]
        table.to_parquet(files[0], index=False)
        table.to_csv(files[1], index=False)
        if figures:
            from .plots import write_study_figures

            try:
                files += write_study_figures(table, out, spec.name)
            except ExplorerError as exc:
                events.append(f"figures not written: {exc}")
    return StudyResult(table=table, files=tuple(files), n_cells=plan.n_cells, n_cached=state.cached,
                       n_failed=state.failed, events=tuple(events), executor=executor.description,
                       seconds=time.perf_counter() - start)


class _Gather:
    """The bookkeeping of one run: submit what the cache lacks, store what finishes, collect rows."""

    def __init__(self, spec: StudySpec, plan: StudyPlan, cache: ResultCache, executor: Executor, progress) -> None:
        self.spec, self.plan, self.cache, self.executor, self.progress = spec, plan, cache, executor, progress
        self.points = {name: study_points(name, options, n_points=spec.n_points, seed=spec.point_seed)
                       for name, options in spec.datasets}
        self.rows: list[dict] = []
        self.waiting: dict[str, list[dict]] = {}  # measure key -> cells (row prefixes) waiting for it
        self.total = plan.n_cells + len(plan.runs)
        self.done = self.cached = self.failed = 0

    def run(self) -> None:
        for run in self.plan.runs:
            config = {"hidden": run.hidden, "optimizer": self.spec.train.optimizer, "lr": self.spec.train.lr,
                      "batch_size": self.spec.train.batch_size, "weight_decay": run.weight_decay, "seed": run.seed}
            key = content_key("train", run.dataset, run.options, config, list(run.epochs))
            stored = self.cache.run(key)
            if stored is not None and stored["status"] == "complete":
                self._trained(run, stored, cached=True)
            else:
                self.executor.submit(train_task, run.dataset, run.options, config, list(run.epochs),
                                     self.spec.train.time_limit, tag=("train", run, key), key=f"train-{key}")
        for outcome in self.executor.outcomes():
            kind, item, key = outcome.tag
            if kind == "train":
                if outcome.error is None:
                    self.cache.put_run(key, outcome.value)
                    self._trained(item, outcome.value, cached=False)
                else:
                    self._train_failed(item, outcome.error)
            else:
                if outcome.error is None:
                    self.cache.put_rows(key, outcome.value)
                self._measured(item, key, outcome.value, outcome.error)

    def _trained(self, run: StudyRun, stored: dict, *, cached: bool) -> None:
        reached = dict(zip(stored["epochs"], stored["nets"]))
        base = {"study": self.spec.name, "dataset": run.dataset, "architecture": run.architecture, "seed": run.seed,
                "weight_decay": run.weight_decay}
        last = max(reached) if reached else 0
        reached_step = last * run.steps_per_epoch
        self.rows.append({**base, "step": reached_step, "epoch": last, "measure": "training",
                          "points": "", "radius": math.nan, "variant": "steps", "value": float(reached_step),
                          "median": math.nan, "q25": math.nan, "q75": math.nan, "n": 0, "status": stored["status"],
                          "seconds": stored["seconds"], "note": "", "cell": ""})
        self._tick(f"trained {run.dataset} {run.architecture} seed {run.seed} wd {run.weight_decay:g}"
                   + (" (cached)" if cached else ""))
        for epoch, step in zip(run.epochs, run.steps):
            if epoch not in reached:  # training stopped at its time limit before this checkpoint
                self.done += len(self.spec.measures)
                continue
            net = reached[epoch]
            for name, options in self.spec.measures:
                key = content_key("measure", name, net, self.points[run.dataset], options)
                cell = {**base, "step": step, "epoch": epoch, "cell": key}
                stored_rows = self.cache.rows(key)
                if stored_rows is not None:
                    self._emit(cell, stored_rows)
                    self.cached += 1
                    self._tick(f"{name} at step {step:,} (cached)")
                    continue
                if key not in self.waiting:
                    net_from_arrays(net)  # validate before shipping
                    self.executor.submit(measure_task, name, net, self.points[run.dataset], options,
                                         tag=("measure", name, key), key=f"{name}-{key}")
                self.waiting.setdefault(key, []).append(cell)

    def _measured(self, name: str, key: str, rows, error: str | None) -> None:
        for cell in self.waiting.pop(key, []):
            if error is None:
                self._emit(cell, rows)
            else:
                self.failed += 1
                self._emit(cell, [{"measure": name, "points": "", "radius": math.nan, "variant": "",
                                   "value": math.nan, "median": math.nan, "q25": math.nan, "q75": math.nan, "n": 0,
                                   "status": "failed", "note": error, "seconds": math.nan}])
            self._tick(f"{name}: {cell['dataset']} {cell['architecture']} seed {cell['seed']} step {cell['step']:,}")

    def _train_failed(self, run: StudyRun, error: str) -> None:
        self.failed += 1
        self.rows.append({"study": self.spec.name, "dataset": run.dataset, "architecture": run.architecture,
                          "seed": run.seed, "weight_decay": run.weight_decay, "step": 0, "epoch": 0,
                          "measure": "training", "points": "", "radius": math.nan, "variant": "steps",
                          "value": math.nan, "median": math.nan, "q25": math.nan, "q75": math.nan, "n": 0,
                          "status": "failed", "seconds": math.nan, "note": error, "cell": ""})
        self.done += len(run.steps) * len(self.spec.measures)
        self._tick(f"training failed: {run.dataset} {run.architecture} seed {run.seed}")

    def _emit(self, cell: dict, rows: list[dict]) -> None:
        self.rows.extend({**cell, **row} for row in rows)

    def _tick(self, message: str) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, self.total, message)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
