"""Plain words for every number the app shows: what it is, in one short line, and whether it is exact, certain
or a bound; the longer explanation goes behind a "?" help.  Shared by the views and the figures (no Plotly).

Kinds of number: **exact** (computed, nothing left out), **certain lower bound** (regions found and proven to
exist), **proven upper bound** (no more regions can exist), **estimate** (holds with a stated probability).
"""

from __future__ import annotations

__all__ = ["KINDS", "CERTIFIER_NAMES", "certifier_name", "proven_local_bound", "LOCAL_BOUND_HELP",
           "WHY_BOUND_IS_HIGHER", "FINDINGS_COLUMNS", "readable_columns", "exact_source_text"]

KINDS = {"exact": "exact", "lower": "certain lower bound", "upper": "proven upper bound",
         "estimate": "estimate (holds with the stated confidence)"}
CERTIFIER_NAMES = {"lipschitz": "Lipschitz (fastest, loosest)", "ibp": "interval arithmetic",
                   "symbolic": "symbolic intervals", "lp": "LP relaxation",
                   "exact": "MILP (exact neuron ranges)"}
WHY_BOUND_IS_HIGHER = (
    "Why the bound can sit far above the exact count: it only knows *how many* neurons of each layer may switch "
    "inside the ball, not where their lines fall, so it counts every way that many lines could cut the ball. "
    "Even the MILP certifier, which finds each neuron's exact range, leaves that gap: it makes the neuron "
    "count exact, not the region count.")
LOCAL_BOUND_HELP = (
    "A proven upper bound on the regions meeting the ball (the recursion bound B, after Zhu, Lin & Tang 2020, "
    "capped by the global bound of Serra et al. 2018). The certifier decides which neurons may switch inside "
    "the ball; a neuron it cannot prove stable counts as switching, so the bound stays sound. "
    + WHY_BOUND_IS_HIGHER)
FINDINGS_COLUMNS = {
    "epoch": "epoch",
    "d_star_median_train": "median d* at training points", "d_star_median_random": "median d* at random points",
    "d_star_mean_train": "mean d* at training points", "d_star_mean_random": "mean d* at random points",
    "p_d_star": "p-value, d* (Mann–Whitney)",
    "n_mean_train": "mean regions in ball, training points", "n_mean_random": "mean regions in ball, random points",
    "n_median_train": "median regions in ball, training points",
    "n_median_random": "median regions in ball, random points",
    "p_n": "p-value, regions (Mann–Whitney)",
    "bound_median_train": "median upper bound, training points",
    "bound_median_random": "median upper bound, random points",
    "one_region_train": "share of balls in one region, training points",
    "one_region_random": "share of balls in one region, random points",
}


def certifier_name(certifier: str) -> str:
    """What users see for a certifier ('exact' reads 'MILP (exact neuron ranges)': its neuron ranges are
    exact, its region count is a bound)."""
    return CERTIFIER_NAMES.get(certifier, certifier)


def proven_local_bound(bounds) -> int:
    """The proven local upper bound of a LocalBounds: the library's headline ``upper_bound``, the least over its
    certifiers of min(A, B, Theorem 1) (local-bounds spec §3; B ≤ A, so in practice min(B, Theorem 1))."""
    return bounds.upper_bound


def readable_columns(row: dict, names: dict = FINDINGS_COLUMNS) -> dict:
    """A table row with its snake_case keys replaced by words (keys without a name are kept)."""
    return {names.get(k, k): v for k, v in row.items()}


def exact_source_text(source: str) -> str:
    """How an exact disk count was obtained, in plain words."""
    if source.startswith("not computed"):
        return source
    if "given partition" in source:
        return "counted from the map's own region polygons"
    return "counted from the region polygons of a box around the ball"
