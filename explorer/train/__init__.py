"""Networks made here: ``data`` (toy datasets), ``fit`` (training with torch), ``presets`` (constructions with
closed-form counts)."""
