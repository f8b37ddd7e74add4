"""Counting regions in any dimension: ``milp`` (the MILP model), ``exact`` (exact counts; its engine in
``subdivision``, ``walk``, ``simplex``, ``scaling``; ``distributed``: one count as tasks on many workers),
``mipbound`` (probabilistic lower bounds), ``bounds`` (proven upper bounds; certified inputs from ``tighten``),
``compare`` (all of them side by side), ``sampling``."""
