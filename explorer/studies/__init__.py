"""Measurements over many networks or checkpoints.

``spec`` (a study's TOML file, validated), ``measures`` (what is measured at a checkpoint), ``tasks`` (task
kinds as functions of plain arrays, run by :mod:`explorer.executor`: serial, a Dask LocalCluster or a Dask
cluster), ``cache`` (finished cells by content hash), ``run`` (:func:`run.run_study`, :func:`run.plan_study`),
``table`` (reading a study's table back), ``plots`` (bands over seeds), ``verdicts`` (tests of the local
findings), ``cli`` (the ``study`` subcommand); ``timeline`` (regions along one training run) and ``findings``
(Zhu et al.'s two local findings on one run's snapshots) serve the app.
"""

from importlib import import_module

_ENTRY_POINTS = {"run_study": "run", "plan_study": "run", "load_study": "spec", "parse_study": "spec",
                 "findings_verdicts": "verdicts", "read_study_table": "table"}

__all__ = list(_ENTRY_POINTS)


def __getattr__(name: str):
    if name in _ENTRY_POINTS:  # lazily: importing explorer.studies stays cheap (no pandas, no Dask)
        value = getattr(import_module(f".{_ENTRY_POINTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'explorer.studies' has no attribute {name!r}")
