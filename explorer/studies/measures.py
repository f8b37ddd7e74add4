"""What a study measures at one checkpoint: each measure maps (Network, the study's points, options) to tidy
rows, within its cell's time limit, and says how far it got in each row's status.

Row fields: ``measure``, ``points`` (train / test / random or ""), ``radius`` (NaN if none), ``variant``
(what kind of number: "exact", a bound's name, …), ``value`` (the number; the mean over centres for
per-point measures), ``median``, ``q25``, ``q75``, ``n`` (centres measured), ``status`` ("complete", "time
limit", …) and ``note``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import ExplorerError
from ..net import Network

__all__ = ["Measure", "MEASURES", "StudyPoints", "POINT_SETS"]

POINT_SETS = ("train", "test", "random")


@dataclass(frozen=True, eq=False)
class StudyPoints:
    """The data a measure sees, as plain arrays (the same for every checkpoint of a dataset).

    box : float64 (n0, 2), the data box;  x_train, x_test : float64 (n, n0);  y_train, y_test : int64 (n,)
    centres : dict point-set name -> float64 (P, n0), the ball centres and d* points
    """

    box: np.ndarray
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    centres: dict


@dataclass(frozen=True, eq=False)
class Measure:
    """One kind of measurement.

    name : key in [measures.NAME];  defaults : its options (``time_limit`` comes from the study)
    two_d_only : needs 2-input networks;  check : (options, where) -> options, raises ExplorerError
    run : (Network, StudyPoints, options) -> list of rows;  cost : (Network, n_points, options) -> seconds
        (a rough estimate for ``--dry-run``)
    """

    name: str
    defaults: dict
    two_d_only: bool
    check: Callable
    run: Callable
    cost: Callable
    description: str


def _row(measure: str, *, value: float, status: str = "complete", points: str = "", radius: float = math.nan,
         variant: str = "", values: np.ndarray | None = None, note: str = "") -> dict:
    """One tidy row; ``values`` (per centre) fill the median and quartiles."""
    v = np.asarray(values if values is not None else [], dtype=np.float64)
    q = np.quantile(v, [0.5, 0.25, 0.75]) if v.size else (math.nan,) * 3
    return {"measure": measure, "points": points, "radius": float(radius), "variant": variant, "value": float(value),
            "median": float(q[0]), "q25": float(q[1]), "q75": float(q[2]), "n": int(v.size), "status": status,
            "note": note}


def _box_tuple(box: np.ndarray, grow: float = 0.0) -> tuple:
    return (box[0, 0] - grow, box[0, 1] + grow, box[1, 0] - grow, box[1, 1] + grow)


def _sets(options: dict, where: str) -> dict:
    sets = options["points"]
    if not (isinstance(sets, list) and sets and all(s in POINT_SETS for s in sets) and len(set(sets)) == len(sets)):
        raise ExplorerError(f"{where} points must be a non-empty list drawn from {', '.join(POINT_SETS)}; "
                            f"got {sets!r}.")
    return options


# ---- exact 2-D partition: regions_2d and decision_boundary ----------------------------------------------
def _check_regions(options: dict, where: str) -> dict:
    cap = options["max_regions"]
    if isinstance(cap, bool) or not isinstance(cap, int) or not 1 <= cap <= 10_000_000:
        raise ExplorerError(f"{where} max_regions must be an integer in 1–10,000,000; got {cap!r}.")
    return options


def _partition(net: Network, box: tuple, options: dict):
    from ..plane.regions import RegionLimitError, enumerate_regions

    try:
        return enumerate_regions(net, box, max_regions=options["max_regions"], time_limit=options["time_limit"]), ""
    except RegionLimitError as exc:
        return None, str(exc)


def _regions_2d(net: Network, data: StudyPoints, options: dict) -> list[dict]:
    regions, why = _partition(net, _box_tuple(data.box), options)
    if regions is None:
        return [_row("regions_2d", value=math.nan, status="budget", variant="exact", note=why)]
    return [_row("regions_2d", value=regions.n_regions, variant="exact")]


def _decision_boundary(net: Network, data: StudyPoints, options: dict) -> list[dict]:
    from ..plane.partition import decision_boundary

    regions, why = _partition(net, _box_tuple(data.box), options)
    if regions is None:
        return [_row("decision_boundary", value=math.nan, status="budget", variant=v, note=why)
                for v in ("pieces", "length")]
    seg = decision_boundary(regions)  # (S, 2, 2)
    length = float(np.linalg.norm(seg[:, 1] - seg[:, 0], axis=1).sum()) if len(seg) else 0.0
    return [_row("decision_boundary", value=len(seg), variant="pieces",
                 note="linear pieces: one segment per region the boundary crosses"),
            _row("decision_boundary", value=length, variant="length")]


# ---- local measures at the centres --------------------------------------------------------------------
def _check_local(options: dict, where: str) -> dict:
    _sets(options, where)
    radii = options["radii"]
    if not (isinstance(radii, list) and 0 < len(radii) <= 10 and all(
            isinstance(r, (int, float)) and not isinstance(r, bool) and math.isfinite(r) and 0 < r <= 100
            for r in radii)):
        raise ExplorerError(f"{where} radii must be 1–10 numbers in (0, 100]; got {radii!r}.")
    if options["certifier"] not in ("lipschitz", "ibp", "symbolic"):
        raise ExplorerError(f"{where} certifier must be lipschitz, ibp or symbolic; got {options['certifier']!r}.")
    return {**options, "radii": sorted(float(r) for r in radii)}


def _local_complexity(net: Network, data: StudyPoints, options: dict) -> list[dict]:
    """Exact N_B in every ball (2-D: disk counts on one partition); in n-D the certified local upper bound."""
    start, limit = time.perf_counter(), options["time_limit"]
    if net.n_inputs == 2:
        from ..ball.disk import disk_counts

        grown = {"max_regions": 10_000_000, "time_limit": limit}
        regions, why = _partition(net, _box_tuple(data.box, max(options["radii"]) * 1.01), grown)
        rows = []
        for name in options["points"]:
            for r in options["radii"]:
                if regions is None:
                    rows.append(_row("local_complexity", value=math.nan, status="budget", points=name, radius=r,
                                     variant="exact", note=why))
                    continue
                counts = disk_counts(net, data.centres[name], r, regions=regions)
                rows.append(_row("local_complexity", value=counts.mean(), points=name, radius=r, variant="exact",
                                 values=counts, note="exact regions in the open disk"))
        return rows
    from ..ball.local import local_bounds

    rows = []
    for name in options["points"]:
        for r in options["radii"]:
            bounds = []
            for x in data.centres[name]:
                if time.perf_counter() - start > limit:
                    break
                bounds.append(float(local_bounds(net, x, r, certifier=options["certifier"], n_samples=0).headline))
            n = len(data.centres[name])
            status = "complete" if len(bounds) == n else f"time limit ({len(bounds)} of {n} centres)"
            rows.append(_row("local_complexity", value=np.mean(bounds) if bounds else math.nan, status=status,
                             points=name, radius=r, variant=f"upper bound ({options['certifier']})", values=bounds,
                             note="n-D: a certified upper bound on the regions in the ball, not an exact count"))
    return rows


def _d_star(net: Network, data: StudyPoints, options: dict) -> list[dict]:
    from ..ball.local import one_region_radii

    rows = []
    for name in options["points"]:
        d = one_region_radii(net, data.centres[name])
        rows.append(_row("d_star", value=float(np.mean(d)), points=name, variant="exact", values=d,
                         note="ℓ2 distance to the nearest region boundary"))
    return rows


def _accuracy(net: Network, data: StudyPoints, options: dict) -> list[dict]:
    from ..train.fit import predict
    from .timeline import cross_entropy

    rows = []
    for split, x, y in (("train", data.x_train, data.y_train), ("test", data.x_test, data.y_test)):
        if len(x) == 0:
            continue
        rows.append(_row("accuracy", value=cross_entropy(net.forward(x), y), points=split, variant="loss"))
        rows.append(_row("accuracy", value=float(np.mean(predict(net, x) == y)), points=split, variant="accuracy"))
    return rows


# ---- counts in any dimension --------------------------------------------------------------------------
def _count_exact(net: Network, data: StudyPoints, options: dict) -> list[dict]:
    from ..count.exact import count_exact

    result = count_exact(net, data.box, time_limit=options["time_limit"])
    status = "complete" if result.is_exact else result.status
    note = "" if result.is_exact else "regions found before the budget: a lower bound"
    return [_row("count_exact", value=result.n_regions, status=status, variant="exact", note=note)]


def _check_mipbound(options: dict, where: str) -> dict:
    trials = options["trials"]
    if isinstance(trials, bool) or not isinstance(trials, int) or not 1 <= trials <= 200:
        raise ExplorerError(f"{where} trials must be an integer in 1–200; got {trials!r}.")
    return options


def _mipbound(net: Network, data: StudyPoints, options: dict) -> list[dict]:
    from ..count.mipbound import MipBoundOptions, mipbound

    result = mipbound(net, data.box, time_limit=options["time_limit"],
                      options=MipBoundOptions(trials=options["trials"], workers=1))
    return [_row("mipbound", value=result.lower_bound, status=result.status, variant="lower bound",
                 note=f"{result.guarantee}; certain {result.certain_lower_bound}")]


def _upper_bounds(net: Network, data: StudyPoints, options: dict) -> list[dict]:
    from ..count.bounds import upper_bounds

    rows = []
    for bound in upper_bounds(net):
        if bound.value is None:
            continue
        try:
            value = float(bound.value)
        except OverflowError:
            value = math.inf
        rows.append(_row("upper_bounds", value=value, variant=bound.name, note=bound.label))
    return rows


def _same(options: dict, where: str) -> dict:
    return options


def _units(net: Network) -> int:
    return max(net.n_hidden, 1)


MEASURES = {m.name: m for m in (
    Measure("regions_2d", {"max_regions": 1_000_000}, True, _check_regions, _regions_2d,
            lambda net, n, o: 2e-3 + 1e-6 * _units(net) ** 2, "exact regions in the data box (2-D)"),
    Measure("decision_boundary", {"max_regions": 1_000_000}, True, _check_regions, _decision_boundary,
            lambda net, n, o: 5e-3 + 2e-6 * _units(net) ** 2,
            "linear pieces and length of the decision boundary (2-D)"),
    Measure("local_complexity", {"radii": [0.25], "points": list(POINT_SETS), "certifier": "symbolic"}, False,
            _check_local, _local_complexity,
            lambda net, n, o: len(o["radii"]) * len(o["points"]) * n * (2e-4 if net.n_inputs == 2 else 2e-3),
            "regions in balls around the centres (exact in 2-D, certified upper bound in n-D)"),
    Measure("d_star", {"points": list(POINT_SETS)}, False, _sets, _d_star,
            lambda net, n, o: 1e-3 + 1e-5 * n * len(o["points"]), "distance d* to the nearest region boundary"),
    Measure("accuracy", {}, False, _same, _accuracy, lambda net, n, o: 1e-3, "loss and accuracy, train and test"),
    Measure("count_exact", {}, False, _same, _count_exact, lambda net, n, o: o["time_limit"] / 4,
            "exact regions in the data box, any dimension (lower bound on a time limit)"),
    Measure("mipbound", {"trials": 5}, False, _check_mipbound, _mipbound, lambda net, n, o: o["time_limit"] / 2,
            "MIPBound lower bound (Serra & Ramalingam 2020)"),
    Measure("upper_bounds", {}, False, _same, _upper_bounds, lambda net, n, o: 1e-3, "global upper bounds"),
)}
