"""Figures: ``figures`` turns results into Plotly figures, ``teach`` the teaching figures, ``export`` writes
PNG, SVG and PDF, ``text`` says how numbers read (shared with the CLI and the app, without Plotly)."""
