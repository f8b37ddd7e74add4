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
    peak = _held_out(train, lambda mean, i: int(np.nanargmax(mean)))
    trough = _held_out(train, lambda mean, i: int(np.nanargmin(mean[:peak[i] + 1])))
    values = train.to_numpy()
    rows = np.arange(len(values))
    rise = values[rows, peak] - values[rows, trough]
    fall = values[rows, peak] - values[:, -1]
    answers, lines = [], []
    for key, idx in _groups(train):
        p_r, p_f = _wilcoxon(rise[idx], "greater"), _wilcoxon(fall[idx], "greater")
        answers.append(_two_part(p_r < alpha, p_f < alpha))
        top = train.iloc[idx].mean(axis=0)
        steps = train.columns[peak[idx]]
        lines.append(f"{_name(key)}: {answers[-1]} (rise p = {p_r:.2g}, fall p = {p_f:.2g}); mean N_B at training "
                     f"points {top.iloc[0]:.2f} (init) → {top.max():.2f} (peak, step {top.idxmax():,}) → "
                     f"{top.iloc[-1]:.2f} (last); held-out peaks at steps {min(steps):,}–{max(steps):,}; rise > 0 in "
                     f"{int((rise[idx] > 0).sum())}/{len(idx)} seeds, fall > 0 in "
                     f"{int((fall[idx] > 0).sum())}/{len(idx)}")
    p_rise, p_fall = _wilcoxon(rise, "greater"), _wilcoxon(fall, "greater")
    summary = (f"Regions in balls of radius {radius:g} at training points, peak and trough chosen on the other seeds "
               f"of each group: median rise {np.median(rise):+.2f}, median fall after the peak {np.median(fall):+.2f}; "
               f"pooled one-sided Wilcoxon p = {p_rise:.2g} (rise), {p_fall:.2g} (fall), n = {len(rise)} networks; "
               f"{_tally(answers, 'yes')}.")
    return Verdict("Does local complexity at training points rise and then fall?",
                   _overall(answers, _two_part(p_rise < alpha, p_fall < alpha)), summary, max(p_rise, p_fall),
                   len(rise), tuple(lines))


def _finding_a(ds, alpha: float) -> Verdict:
    late = {}  # per point set: d* at the last checkpoint minus d* at its held-out lowest point
    for points in ("train", "random"):
        curves = ds.xs(points, level="points")
        low = _held_out(curves, lambda mean, i: int(np.nanargmin(mean)))
        late[points] = curves.to_numpy()[:, -1] - curves.to_numpy()[np.arange(len(curves)), low]
    train = ds.xs("train", level="points")
    half = train.columns[len(train.columns) // 2]
    drift = (train.iloc[:, -1] - train[half]).to_numpy()  # pre-specified window: the late half of the checkpoints
    answers, lines = [], []
    for key, idx in _groups(train):
        p_up, p_drift = _wilcoxon(late["train"][idx], "greater"), _wilcoxon(drift[idx])
        answers.append(_grows(p_up, p_drift, float(np.median(drift[idx])), alpha))
        lines.append(f"{_name(key)}: {answers[-1]} (rise p = {p_up:.2g}, late-half p = {p_drift:.2g}); median d* at "
                     f"training points changed by "
                     f"{np.median(late['train'][idx]):+.4f} from its low point to the last checkpoint (grew in "
                     f"{int((late['train'][idx] > 0).sum())}/{len(idx)} seeds), at random points by "
                     f"{np.median(late['random'][idx]):+.4f}; from step {half:,} to the last: "
                     f"{np.median(drift[idx]):+.4f}")
    p_up, p_drift = _wilcoxon(late["train"], "greater"), _wilcoxon(drift)
    summary = (f"Median d* at training points, from its low point (chosen on the other seeds) to the last checkpoint: "
               f"median change {np.median(late['train']):+.4f} (pooled one-sided Wilcoxon p = {p_up:.2g}), at "
               f"random points {np.median(late['random']):+.4f}; over the late half of the checkpoints (from step "
               f"{half:,}) {np.median(drift):+.4f} (two-sided p = {p_drift:.2g}); n = {len(drift)} networks; "
               f"{_tally(answers, 'yes')}.")
    return Verdict("Do boundaries move away from training points late in training (Zhu et al., finding a)?",
                   _overall(answers, _grows(p_up, p_drift, float(np.median(drift)), alpha)), summary, p_up,
                   len(drift), tuple(lines))


def _finding_b(lc, radius: float, alpha: float) -> Verdict:
    present = set(lc.index.get_level_values("points"))
    if not {"train", "random"} <= present:
        raise ExplorerError("finding (b) needs local_complexity at training and random points; add both to its "
                            "points.")
    train = lc.xs("train", level="points")
    last = {p: lc.xs(p, level="points").loc[train.index].iloc[:, -1].to_numpy() for p in present}
    diff = last["train"] - last["random"]
    answers, lines = [], []
    for key, idx in _groups(train):
        p_g = _wilcoxon(diff[idx])
        answers.append(_direction(p_g, float(np.median(diff[idx])), alpha,
                                  opposite="no: fewer regions at training points"))
        lines.append(f"{_name(key)}: {answers[-1]} (p = {p_g:.2g}); mean N_B {last['train'][idx].mean():.2f} at "
                     f"training vs {last['random'][idx].mean():.2f} at random points"
                     + (f" and {last['test'][idx].mean():.2f} at test points" if "test" in last else "")
                     + f"; more at training points in {int((diff[idx] > 0).sum())}/{len(idx)} seeds")
    p = _wilcoxon(diff)
    extra = ""
    if "test" in last:
        d_test = last["train"] - last["test"]
        extra = f"; training minus test points {np.median(d_test):+.2f} (p = {_wilcoxon(d_test):.2g})"
    summary = (f"Regions in balls of radius {radius:g} at the last checkpoint: training minus random centres, median "
               f"{np.median(diff):+.2f} (ratio {np.median(last['train'] / last['random']):.2f}; pooled two-sided "
               f"Wilcoxon p = {p:.2g}, n = {len(diff)}){extra}; {_tally(answers, 'yes')}.")
    overall = _direction(p, float(np.median(diff)), alpha, opposite="no: fewer regions at training points")
    return Verdict("Do balls at training points hold more regions than at random points (finding b)?",
                   _overall(answers, overall), summary, p, len(diff), tuple(lines))


# ---- helpers --------------------------------------------------------------------------------------------
def _held_out(curves, pick) -> np.ndarray:
    """For every network (row), the checkpoint index that ``pick`` chooses on the mean curve of the other
    networks of its group (its own curve if it is alone): choosing on the others keeps the test unbiased."""
    out = np.zeros(len(curves), dtype=np.int64)
    values = curves.to_numpy()
    for _, idx in _groups(curves):
        for i in idx:
            others = [j for j in idx if j != i] or [i]
            mean = values[others].mean(axis=0)
            out[i] = pick(mean, i)
    return out


def _groups(curves):
    """(group key, row positions) per (dataset, architecture, weight decay)."""
    keys = list(curves.index.droplevel("seed"))
    for key in dict.fromkeys(keys):
        yield key, np.flatnonzero([k == key for k in keys])


def _two_part(rises: bool, falls: bool) -> str:
    return {(True, True): "yes", (True, False): "rises, no significant fall",
            (False, True): "falls, no significant rise", (False, False): "no evidence"}[(rises, falls)]


def _grows(p_up: float, p_drift: float, drift: float, alpha: float) -> str:
    if p_up < alpha:
        return "yes"
    return "no: d* shrank" if p_drift < alpha and drift < 0 else "not significant"


def _overall(answers: list[str], pooled: str) -> str:
    """The groups' common answer, else "mixed" (the pooled test is in the summary)."""
    return answers[0] if len(set(answers)) == 1 else f"mixed (pooled: {pooled})"


def _tally(answers: list[str], word: str) -> str:
    return f"{word} in {answers.count(word)} of {len(answers)} groups"


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
    return float(wilcoxon(x, alternative=alternative, zero_method="pratt").pvalue)


def _name(key) -> str:
    dataset, arch, wd = key
    return f"{dataset} {arch}, weight decay {wd:g}"


