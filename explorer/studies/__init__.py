"""Measurements over many networks or checkpoints.

``spec`` (a study's TOML file, validated), ``measures`` (what is measured at a checkpoint), ``tasks`` (task
kinds as functions of plain arrays), ``executor`` (serial, Dask LocalCluster or a Dask cluster), ``cache``
(finished cells by content hash), ``run`` (:func:`run.run_study`, :func:`run.plan_study`), ``table`` (reading a
study's table back), ``plots`` (bands over seeds), ``verdicts`` (tests of the local findings), ``cli`` (the
``study`` subcommand); ``timeline`` (regions along one training run) and ``findings`` (Zhu et al.'s two local
findings on one run's snapshots) serve the app.
"""
