"""Statistical answers to the three local-findings questions from a study's table, whichever way they come out.

Unit of replication: one network = (dataset, architecture, seed, weight decay); its curve over checkpoints is
the per-checkpoint mean (N_B) or median (d*) over the study's centres.  Tests are Wilcoxon signed-rank tests
across networks (centres within one network are not independent, seeds are).

1. **Rise then fall** of the regions in balls at training points (Humayun, Balestriero & Baraniuk): for each
   held-out seed, the peak step t* and the trough before it are chosen on the mean curve of the *other*
   seeds of its group (so picking the peak does not bias the test); rise = LC(t*) − LC(trough),
   fall = LC(t*) − LC(last); both tested one-sided > 0.
2. **Finding (a)** of Zhu, Lin & Tang (boundaries move away from training points late in training): the change
   of median d* at training points over the late half of the checkpoints (log-spaced), tested two-sided; the
   same at random points and for the ratio train / random, to tell a move away from the data from a coarser
   partition everywhere.
3. **Finding (b)** (balls at training points hold more regions than at random points): mean N_B at training
   minus random centres at the last checkpoint, tested two-sided; the same against test points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ExplorerError

__all__ = ["Verdict", "findings_verdicts", "format_verdicts"]

_NET = ["dataset", "architecture", "seed", "weight_decay"]
_GROUP = ["dataset", "architecture", "weight_decay"]


@dataclass(frozen=True)
class Verdict:
    """The answer to one question.

    question : str;  answer : "yes", "no: …" (significant the other way), "no evidence" / "not significant", or
        which half of a two-part question holds
    summary : one sentence with the effect sizes and p-values;  p_value : float (the deciding test)
    n : networks tested;  groups : tuple of str, one line per (dataset, architecture, weight decay)
    """

    question: str
    answer: str
    summary: str
    p_value: float
    n: int
    groups: tuple


def findings_verdicts(table, *, radius: float | None = None, alpha: float = 0.05) -> list[Verdict]:
    """The three verdicts (module docstring) from a table with the local_complexity and d_star measures.

    ``radius`` picks the ball radius (default: the largest in the table).

    Raises
    ------
    ExplorerError : the measures are missing, or there are fewer than 2 checkpoints.
    """
    lc_all = table[(table["measure"] == "local_complexity") & (table["status"] == "complete")]
    if lc_all.empty or not (table["measure"] == "d_star").any():
        raise ExplorerError("the verdicts need the local_complexity and d_star measures in the study.")
    radius = float(lc_all["radius"].max()) if radius is None else float(radius)
    lc = _curves(lc_all[np.isclose(lc_all["radius"], radius)], "value")
    ds = _curves(table[(table["measure"] == "d_star") & (table["status"] == "complete")], "median")
    if lc.shape[1] < 2:
        raise ExplorerError("the verdicts need at least 2 checkpoints per network.")
    return [_rise_and_fall(lc, radius, alpha), _finding_a(ds, alpha), _finding_b(lc, radius, alpha)]


def format_verdicts(verdicts: list[Verdict]) -> str:
    """The verdicts as text: question, answer and summary, then one line per group."""
    lines = []
    for v in verdicts:
        lines.append(f"{v.question} -> {v.answer.upper()}. {v.summary}")
        lines += [f"    {g}" for g in v.groups]
    return "\n".join(lines)


# ---- the three questions --------------------------------------------------------------------------------
def _rise_and_fall(lc, radius: float, alpha: float) -> Verdict:
    train = lc.xs("train", level="points")
    rise, fall, groups = [], [], []
    for key, block in train.groupby(level=_GROUP):
        r_g, f_g, peaks = [], [], []
        for i in range(len(block)):
            others = block.drop(block.index[i]) if len(block) > 1 else block
            mean = others.mean(axis=0).to_numpy()
            peak = int(np.nanargmax(mean))
            trough = int(np.nanargmin(mean[:peak + 1]))
            curve = block.iloc[i].to_numpy()
            r_g.append(curve[peak] - curve[trough])
            f_g.append(curve[peak] - curve[-1])
            peaks.append(int(block.columns[peak]))
        rise += r_g
        fall += f_g
        top = block.mean(axis=0)
        groups.append(f"{_name(key)}: peak at step {max(set(peaks), key=peaks.count):,}; mean N_B at training "
                      f"points {top.iloc[0]:.2f} (init) → {top.max():.2f} (peak) → {top.iloc[-1]:.2f} (last); "
                      f"rise > 0 in {sum(x > 0 for x in r_g)}/{len(r_g)} seeds, fall > 0 in "
                      f"{sum(x > 0 for x in f_g)}/{len(f_g)}")
    p_rise, p_fall = _wilcoxon(rise, "greater"), _wilcoxon(fall, "greater")
    answer = {(True, True): "yes", (True, False): "rises, no significant fall",
              (False, True): "falls, no significant rise", (False, False): "no evidence"}[(p_rise < alpha,
                                                                                          p_fall < alpha)]
    summary = (f"Regions in balls of radius {radius:g} at training points, peak chosen on the other seeds: median "
               f"rise {np.median(rise):+.2f} (one-sided Wilcoxon p = {p_rise:.2g}), median fall after the peak "
               f"{np.median(fall):+.2f} (p = {p_fall:.2g}), n = {len(rise)} networks.")
    return Verdict("Does local complexity at training points rise and then fall?", answer, summary,
                   max(p_rise, p_fall), len(rise), tuple(groups))


def _finding_a(ds, alpha: float) -> Verdict:
    late = ds.columns[len(ds.columns) // 2]
    change = {}
    for points in ("train", "random"):
        curves = ds.xs(points, level="points")
        change[points] = curves.iloc[:, -1] - curves[late]
    train, random = ds.xs("train", level="points"), ds.xs("random", level="points")
    ratio = (train.iloc[:, -1] / random.iloc[:, -1]) - (train[late] / random[late])
    p_train, p_random, p_ratio = (_wilcoxon(change["train"]), _wilcoxon(change["random"]), _wilcoxon(ratio))
    med = float(np.median(change["train"]))
    answer = _direction(p_train, med, alpha, opposite="no: d* shrank")
    groups = []
    for key, block in train.groupby(level=_GROUP):
        rb = random.loc[block.index]
        groups.append(f"{_name(key)}: median d* at training points {block[late].mean():.4f} (step {late:,}) → "
                      f"{block.iloc[:, -1].mean():.4f} (last), at random points {rb[late].mean():.4f} → "
                      f"{rb.iloc[:, -1].mean():.4f}; grew in {int((block.iloc[:, -1] > block[late]).sum())}/"
                      f"{len(block)} seeds")
    summary = (f"Median d* at training points from step {late:,} to the last checkpoint: median change {med:+.4f} "
               f"(two-sided Wilcoxon p = {p_train:.2g}); at random points {np.median(change['random']):+.4f} "
               f"(p = {p_random:.2g}); ratio train/random {np.median(ratio):+.3f} (p = {p_ratio:.2g}); "
               f"n = {len(change['train'])} networks.")
    return Verdict("Do boundaries move away from training points late in training (Zhu et al., finding a)?",
                   answer, summary, p_train, len(change["train"]), tuple(groups))


def _finding_b(lc, radius: float, alpha: float) -> Verdict:
    last = {p: lc.xs(p, level="points").iloc[:, -1] for p in ("train", "test", "random")
            if p in lc.index.get_level_values("points")}
    if "random" not in last:
        raise ExplorerError("finding (b) needs local_complexity at random points; add 'random' to its points.")
    diff = last["train"] - last["random"].loc[last["train"].index]
    p = _wilcoxon(diff)
    ratio = float(np.median(last["train"] / last["random"].loc[last["train"].index]))
    extra = ""
    if "test" in last:
        d_test = last["train"] - last["test"].loc[last["train"].index]
        extra = f"; training vs test points: median difference {np.median(d_test):+.2f} (p = {_wilcoxon(d_test):.2g})"
    answer = _direction(p, float(np.median(diff)), alpha, opposite="no: fewer regions at training points")
    groups = []
    for key, block in last["train"].groupby(level=_GROUP):
        rb = last["random"].loc[block.index]
        groups.append(f"{_name(key)}: mean N_B {block.mean():.2f} at training vs {rb.mean():.2f} at random points; "
                      f"more in {int((block > rb).sum())}/{len(block)} seeds")
    summary = (f"Regions in balls of radius {radius:g} at the last checkpoint: training minus random centres, median "
               f"{np.median(diff):+.2f} (ratio {ratio:.2f}; two-sided Wilcoxon p = {p:.2g}, n = {len(diff)}){extra}.")
    return Verdict("Do balls at training points hold more regions than at random points (finding b)?", answer,
                   summary, p, len(diff), tuple(groups))


# ---- helpers --------------------------------------------------------------------------------------------
def _direction(p: float, effect: float, alpha: float, *, opposite: str) -> str:
    if p >= alpha:
        return "not significant"
    return "yes" if effect > 0 else opposite


def _curves(rows, column: str):
    """Networks × checkpoints: index (dataset, architecture, seed, weight_decay, points), columns = steps."""
    wide = rows.pivot_table(index=[*_NET, "points"], columns="step", values=column, aggfunc="first")
    return wide.dropna(axis=0, how="any").sort_index(axis=1)


def _wilcoxon(values, alternative: str = "two-sided") -> float:
    from scipy.stats import wilcoxon

    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0 or np.all(x == 0):
        return 1.0
    return float(wilcoxon(x, alternative=alternative).pvalue)


def _name(key) -> str:
    dataset, arch, wd = key
    return f"{dataset} {arch}, weight decay {wd:g}"


