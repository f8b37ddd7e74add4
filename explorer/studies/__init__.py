"""Measurements over many networks or checkpoints: ``timeline`` (regions along a training run), ``findings``
(Zhu et al.'s two local findings)."""
