"""Counting regions in any dimension: ``milp`` (the MILP model), ``exact`` (exact counts), ``mipbound``
(probabilistic lower bounds), ``bounds`` (proven upper bounds), ``compare`` (all of them side by side)."""
