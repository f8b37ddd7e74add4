"""Figures: ``figures`` turns results into Plotly figures, ``teach`` the teaching figures, ``export`` writes
PNG, SVG and PDF."""
