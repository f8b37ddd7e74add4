"""One network, one box, every count: exact, MIPBound-style and sampled lower bounds, analytic upper bounds,
and the tightest honest bracket lower ≤ N ≤ upper they give.

:func:`compare_counts` is what the app charts and what ``python -m explorer count`` prints.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from .bounds import LayerStats, layer_stats, upper_bounds
from .bracket import CERTAIN, EXACT, PROVEN_UPPER, Bound, Bracket, best_bracket
from ..errors import ExplorerError
from .distributed import count_distributed
from .exact import ExactCount, count_exact, sample_patterns
from .milp import build_milp
from .mipbound import MipBoundOptions, MipBoundResult, mipbound, tightening_share
from .trial import pin_one_thread
from ..net import Network, as_box

__all__ = ["CountEntry", "CountComparison", "compare_counts", "sampled_lower_bound"]


@dataclass(frozen=True)
class CountEntry:
    """One number of a comparison, as the app charts it.

    name : JSON key;  label : text with the citation;  value : int (None: not applicable)
    kind : "exact", "lower" or "upper";  status : "exact", "time limit", "complete", "n/a", …
    seconds : float
    """

    name: str
    label: str
    value: int | None
    kind: str
    status: str
    seconds: float


@dataclass(frozen=True, kw_only=True)
class CountComparison:
    """Every count of the activation regions of one network inside one box.

    Attributes
    ----------
    box : float64 ndarray (n0, 2)
    architecture, activation : str
    exact : ExactCount or None
        None if not requested; its ``n_regions`` is the count only when ``exact.status == "exact"``.
    mipbound : MipBoundResult or None
    upper : tuple of UpperBound
        trivial, zaslavsky, montufar2017, serra2018 and (with layer statistics) activation_aware.
    stats : LayerStats or None
        Stable units, most active units and ranks behind the activation-aware bound.
    sampled_lower : int
        Distinct patterns of ``sampled_points`` uniform box samples (a certain lower bound).
    sampled_points : int
    sampled_seconds : float
    epsilon : float
        ε of the MILP strict-activity rows (§2.3).
    seconds : float
        Wall time of the whole comparison.
    """

    box: np.ndarray
    architecture: str
    activation: str
    exact: ExactCount | None
    mipbound: MipBoundResult | None
    upper: tuple
    stats: LayerStats | None
    sampled_lower: int
    sampled_points: int
    sampled_seconds: float
    epsilon: float
    seconds: float

    @property
    def bracket(self) -> Bracket:
        """The tightest lower ≤ N ≤ upper of this comparison, each side naming its source and guarantee."""
        lowers = [Bound(value=self.sampled_lower, guarantee=CERTAIN,
                        source=f"distinct patterns of {self.sampled_points:,} uniform samples")]
        ex, mb = self.exact, self.mipbound
        if ex is not None:
            lowers.append(Bound(value=ex.n_regions, source=ex.label if ex.is_exact else
                                f"regions found by the exact count ({ex.status})",
                                guarantee=EXACT if ex.is_exact else CERTAIN))
        if mb is not None:
            lowers.append(Bound(value=mb.certain_lower_bound, source=f"{mb.label}: certain part", guarantee=CERTAIN))
            lowers.append(Bound(value=mb.probabilistic_lower_bound, source=f"{mb.label}: probabilistic part",
                                guarantee=f"probabilistic, confidence {mb.confidence:g}"))
        if ex is not None and ex.is_exact:
            count = Bound(value=ex.n_regions, source=ex.label, guarantee=EXACT)
            return Bracket(lower=count, upper=count)
        uppers = [Bound(value=u.value, source=u.label, guarantee=PROVEN_UPPER) for u in self.upper]
        return best_bracket(lowers, uppers)

    @property
    def entries(self) -> tuple[CountEntry, ...]:
        """Every number with its label, kind, status and seconds, lower bounds first, then exact, then upper."""
        out = [CountEntry("sampled_lower", f"distinct patterns of {self.sampled_points} uniform samples",
                          self.sampled_lower, "lower", "exact", self.sampled_seconds)]
        if self.mipbound is not None:
            mb = self.mipbound
            out.append(CountEntry("mipbound", f"{mb.label}, confidence {mb.confidence:g}", mb.lower_bound,
                                  "lower", mb.status, mb.seconds))
        if self.exact is not None:
            ex = self.exact
            out.append(CountEntry("exact", ex.label, ex.n_regions, "exact" if ex.is_exact else "lower", ex.status,
                                  ex.seconds))
        out += [CountEntry(u.name, u.label, u.value, "upper", "n/a" if u.value is None else "exact", u.seconds)
                for u in self.upper]
        return tuple(out)

    def upper_bound(self, name: str) -> int | None:
        """Value of the upper bound called ``name`` (None if absent or not applicable)."""
        return next((u.value for u in self.upper if u.name == name), None)

    def to_json(self) -> dict:
        """The CLI's JSON object; counts are exact JSON integers, ``"exact"`` is null unless finished."""
        ex, mb = self.exact, self.mipbound
        out = {
            "architecture": self.architecture, "activation": self.activation, "box": self.box.tolist(),
            "exact": ex.n_regions if ex is not None and ex.is_exact else None,
            "exact_status": None if ex is None else ex.status,
            "exact_found": None if ex is None else ex.n_regions,
            "exact_method": None if ex is None else ex.method,
            "exact_seconds": None if ex is None else ex.seconds,
            "mipbound": None if mb is None else {
                "lower_bound": mb.lower_bound, "source": mb.source, "guarantee": mb.guarantee,
                "certain_lower_bound": mb.certain_lower_bound,
                "probabilistic_lower_bound": mb.probabilistic_lower_bound,
                "log2_probabilistic": mb.log2_probabilistic, "confidence": mb.confidence, "mode": mb.mode,
                "trials": mb.trials, "k": mb.k, "alpha": mb.alpha, "level": mb.level, "cell_count": mb.cell_count,
                "levels": list(mb.levels), "counts": list(mb.counts), "pool_size": mb.pool_size,
                "strata": mb.strata, "offset": mb.offset,
                "solves": mb.solves, "timeouts": mb.timeouts, "epsilon": mb.epsilon, "n_binaries": mb.n_binaries,
                "status": mb.status, "seconds": mb.seconds, "label": mb.label},
            "bracket": self.bracket.to_json(),
            "upper_bounds": {u.name: u.value for u in self.upper},
            "upper_bound_labels": {u.name: u.label for u in self.upper},
            "sampled_lower": self.sampled_lower,
            "sampled_points": self.sampled_points,
            "epsilon": self.epsilon,
            "seconds": self.seconds,
        }
        if self.stats is not None:
            s = self.stats
            out["layers"] = {"unstable": s.unstable.tolist(), "stably_active": s.stably_active.tolist(),
                             "max_active": s.max_active.tolist(), "max_active_status": list(s.max_active_status),
                             "unstable_rank": s.unstable_rank.tolist(), "active_rank": s.active_rank.tolist()}
        return out


def compare_counts(net: Network, box, *, exact: bool = True, run_mipbound: bool = True, upper: bool = True,
                   time_limit: float = 120.0, seed: int = 0, n_samples: int = 10_000,
                   options: MipBoundOptions | None = None, trials: int | None = None,
                   confidence: float | None = None, workers: int | None = None, max_regions: int | None = None,
                   executor=None,
                   progress: Callable[[float, str], None] | None = None) -> CountComparison:
    """Exact count, MIPBound, sampled lower bound and upper bounds of ``net`` over ``box`` within ``time_limit``.

    Budget: the MILP's bound tightening stops at 20 % of ``time_limit`` (2 % when MIPBound alone runs in strata
    mode, which does not search the MILP) and the measured layer statistics
    at 35 % (both keep sound looser bounds past that), MIPBound gets at most 40 % of what is left
    (all of it without the exact count), the exact enumeration the rest (it returns a certain lower
    bound with its status if cut short).  ``options`` configures MIPBound; ``trials``, ``confidence``
    and ``workers``, when given, replace those fields of it.  With ``executor`` (an
    :class:`explorer.executor.Executor`), MIPBound's phases and the exact count (:mod:`explorer.count.distributed`)
    run as tasks on its workers.  ``max_regions`` caps the exact count (status "capped"; None: its default).
    The result's ``bracket`` is the tightest lower ≤ N ≤ upper of them all.

    Raises
    ------
    ExplorerError
        Bad box, time limit or MIPBound options.
    """
    start = time.perf_counter()
    box = as_box(box, net.n_inputs)
    if not time_limit > 0:
        raise ExplorerError(f"the time limit must be positive; got {time_limit}.")
    given = {k: v for k, v in (("trials", trials), ("confidence", confidence), ("workers", workers)) if v is not None}
    options = replace(options or MipBoundOptions(), **given)

    def left() -> float:
        return max(0.1, time_limit - (time.perf_counter() - start))

    def report(lo: float, hi: float):
        if progress is None:
            return None
        return lambda f, msg: progress(lo + (hi - lo) * min(max(f, 0.0), 1.0), msg)

    share = 0.2 if exact or not run_mipbound else tightening_share(options)      # of the time: bound tightening
    model = build_milp(net, box, deadline=start + share * time_limit)
    t = time.perf_counter()
    sampled = sampled_lower_bound(net, box, n_samples=n_samples, seed=seed)
    sampled_seconds = time.perf_counter() - t
    stats = layer_stats(net, box, time_limit=min(5.0, 0.1 * left() / max(1, len(net.hidden_widths))),
                        deadline=start + 0.35 * time_limit) if upper else None
    bounds = upper_bounds(net, stats=stats) if upper else ()
    if progress is not None:
        progress(0.05, "upper bounds done")
    pool = None if executor is None else executor.as_pool(setup=pin_one_thread)
    mb = mipbound(net, box, time_limit=0.4 * left() if exact else left(), seed=seed, options=options, model=model,
                  executor=pool, progress=report(0.05, 0.4)) if run_mipbound else None
    if exact and executor is not None:
        ex = count_distributed(net, box, executor=executor, time_limit=left(), seed=seed, max_regions=max_regions,
                               progress=report(0.4, 1.0)).count
    else:
        ex = count_exact(net, box, time_limit=left(), seed=seed, max_regions=max_regions,
                         progress=report(0.4, 1.0)) if exact else None
    return CountComparison(box=box, architecture=net.architecture, activation=net.activation, exact=ex, mipbound=mb,
                           upper=bounds, stats=stats, sampled_lower=sampled, sampled_points=n_samples,
                           sampled_seconds=sampled_seconds, epsilon=model.epsilon,
                           seconds=time.perf_counter() - start)


def sampled_lower_bound(net: Network, box, *, n_samples: int = 10_000, seed: int = 0) -> int:
    """#distinct patterns s(x) of ``n_samples`` uniform points of the box: a certain lower bound.

    >>> from explorer.net import Network
    >>> net = Network(([[1.0, 0.0], [0.0, 1.0]], [[1.0, 1.0]]), ([0.0, 0.0], [0.0]))
    >>> sampled_lower_bound(net, [-1, 1])
    4
    """
    if int(n_samples) < 1:
        raise ExplorerError(f"n_samples must be a positive integer; got {n_samples}.")
    _, G = sample_patterns(net, box, n_samples=int(n_samples), seed=seed)
    return int(len(np.unique(np.packbits(G > 0, axis=1), axis=0)))
