"""Regions inside a ball around a point: ``primitives`` (the ℓp ball and the relaxation of σ), ``certify``
(enclosures of every pre-activation), ``ballmodel`` (the solver-based certifiers), ``disk`` (exact counts in 2-D),
``local`` (local upper bounds, d*, radius profiles)."""
