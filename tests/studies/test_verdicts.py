"""Verdicts on constructed tables whose answers are known; study tables read back from Parquet, CSV and uploads."""

import numpy as np
import pandas as pd
import pytest

from explorer.errors import ExplorerError
from explorer.studies.plots import findings_figure, measure_figure, seed_bands
from explorer.studies.run import COLUMNS
from explorer.studies.table import read_study_table, study_tables
from explorer.studies.verdicts import findings_verdicts, format_verdicts

STEPS = [0, 10, 100, 1000, 10000]


def constructed_table(lc_train, d_train, *, seeds=8, lc_random=2.0, d_random=0.3, noise=0.05, lc_decayed=None):
    """A study table with the given per-checkpoint curves at training points (plus seeded noise per network);
    ``lc_decayed`` replaces the regions curve under weight decay 0.1."""
    rng = np.random.default_rng(0)
    rows = []
    for seed in range(seeds):
        for wd in (0.0, 0.1):
            for s, step in enumerate(STEPS):
                base = {"study": "t", "dataset": "moons", "architecture": "8-8", "seed": seed, "weight_decay": wd,
                        "step": step, "epoch": step, "radius": 0.3, "variant": "exact", "q25": np.nan,
                        "q75": np.nan, "n": 50, "status": "complete", "seconds": 0.1, "note": "", "cell": f"c{s}"}
                jitter = lambda: 1 + noise * rng.standard_normal()  # noqa: E731
                lc_curve = lc_decayed if lc_decayed is not None and wd > 0 else lc_train
                for points, lc, d in (("train", lc_curve[s], d_train[s]), ("test", lc_curve[s], d_train[s]),
                                      ("random", lc_random, d_random)):
                    rows.append({**base, "measure": "local_complexity", "points": points, "value": lc * jitter(),
                                 "median": lc})
                    rows.append({**base, "measure": "d_star", "points": points, "radius": np.nan,
                                 "value": d * jitter(), "median": d * jitter()})
    return pd.DataFrame(rows, columns=list(COLUMNS))


def test_known_answers_yes():
    table = constructed_table(lc_train=[3, 2, 6, 5, 3.5], d_train=[0.2, 0.2, 0.1, 0.15, 0.3])
    rise, a, b = findings_verdicts(table)
    assert (rise.answer, a.answer, b.answer) == ("yes", "yes", "yes")
    assert rise.n == a.n == b.n == 16 and rise.p_value < 1e-3 and b.p_value < 1e-3
    assert "(peak, step 100)" in rise.groups[0] and "more at training points in 8/8 seeds" in b.groups[0]
    text = format_verdicts([rise, a, b])
    assert text.count("-> YES") == 3


def test_known_answers_the_other_way():
    table = constructed_table(lc_train=[2, 2.5, 3, 4, 5], d_train=[0.3, 0.3, 0.3, 0.2, 0.1], lc_random=8.0)
    rise, a, b = findings_verdicts(table)
    assert rise.answer == "rises, no significant fall"  # the peak is the last checkpoint: no fall
    assert a.answer == "no: d* shrank" and b.answer == "no: fewer regions at training points"
    flat = findings_verdicts(constructed_table(lc_train=[2] * 5, d_train=[0.3] * 5, noise=0.0))
    assert [v.answer for v in flat] == ["no evidence", "not significant", "not significant"]


def test_groups_that_disagree_give_a_mixed_answer():
    table = constructed_table(lc_train=[3, 2, 6, 5, 3.5], d_train=[0.2] * 5, lc_decayed=[2, 3, 4, 5, 6])
    rise, _, b = findings_verdicts(table)
    assert rise.answer.startswith("mixed") and "yes in 1 of 2 groups" in rise.summary
    assert [g.split(":")[1].split(" (")[0].strip() for g in rise.groups] == ["yes", "rises, no significant fall"]
    assert b.answer == "yes"


def test_verdicts_need_the_measures():
    table = constructed_table(lc_train=[3] * 5, d_train=[0.2] * 5)
    with pytest.raises(ExplorerError, match="local_complexity and d_star"):
        findings_verdicts(table[table["measure"] != "d_star"])


def test_seed_bands_and_figures():
    table = constructed_table(lc_train=[3, 2, 6, 5, 3.5], d_train=[0.2, 0.2, 0.1, 0.15, 0.3], noise=0.0)
    part = table[(table["measure"] == "local_complexity") & (table["points"] == "random")]
    bands = seed_bands(part)
    assert bands["step"].tolist() == STEPS and np.allclose(bands["mean"], 2.0) and np.allclose(bands["sd"], 0.0)
    assert (bands["n"] == 16).all()
    fig = findings_figure(table)
    names = {t.name for t in fig.data if t.showlegend}
    assert "train points, weight decay 0.1" in names and "random points, weight decay 0" in names
    assert len(measure_figure(table, "d_star").data) == 2 * 3 * 2  # 2 panels × 3 point sets × (band + line)
    with pytest.raises(ExplorerError, match="no rows"):
        measure_figure(table, "mipbound")


def test_tables_read_back_and_bad_files_are_refused(tmp_path):
    table = constructed_table(lc_train=[3] * 5, d_train=[0.2] * 5)
    table.to_parquet(tmp_path / "a.parquet", index=False)
    table.to_csv(tmp_path / "a.csv", index=False)
    back = read_study_table(tmp_path / "a.parquet")
    pd.testing.assert_frame_equal(back, table, check_dtype=False)
    from_csv = read_study_table((tmp_path / "a.csv").read_bytes(), filename="a.csv")
    assert np.allclose(from_csv["value"], table["value"]) and (from_csv["points"] == table["points"]).all()
    assert study_tables(tmp_path) == [tmp_path / "a.parquet"] and study_tables(tmp_path / "none") == []
    with pytest.raises(ExplorerError, match="lacks the columns"):
        read_study_table(table.drop(columns=["status"]).to_csv(index=False).encode(), filename="b.csv")
    with pytest.raises(ExplorerError, match="could not read"):
        read_study_table(b"PAR1 not really", filename="c.parquet")
    with pytest.raises(ExplorerError, match=".parquet or .csv"):
        read_study_table(b"x", filename="d.xlsx")
    bad = table.copy()
    bad["value"] = "many"
    with pytest.raises(ExplorerError, match="non-numeric entries in the column 'value'"):
        read_study_table(bad.to_csv(index=False).encode(), filename="e.csv")
