"""Studies run serially: the table agrees with direct library calls, the cache makes reruns and interrupted runs
resume, identical cells are computed once, budgets and failures keep their status, and the CLI plans and refuses."""

import copy

import numpy as np
import pandas as pd
import pytest

from explorer.__main__ import main
from explorer.ball.disk import disk_counts
from explorer.ball.local import one_region_radii
from explorer.plane.partition import decision_boundary
from explorer.plane.regions import enumerate_regions
from explorer.studies import measures as measures_module
from explorer.executor import SerialExecutor
from explorer.studies.run import COLUMNS, plan_study, run_study
from explorer.studies.spec import parse_study
from explorer.studies.tasks import study_points
from explorer.train.data import make_dataset
from explorer.train.fit import TrainConfig, train

SMALL = {
    "study": {"name": "small", "datasets": ["moons"], "architectures": [[5, 5]], "seeds": 1,
              "weight_decay": [0.0, 0.1]},
    "data": {"n_points": 60},
    "train": {"steps": 60, "checkpoints": 2, "batch_size": 16, "optimizer": "adamw", "lr": 0.02},
    "points": {"n": 8},
    "measures": {"local_complexity": {"radii": [0.3]}, "d_star": {}, "regions_2d": {}, "decision_boundary": {},
                 "accuracy": {}},
}
NUMBERS = ["value", "median", "q25", "q75"]


class CountingExecutor(SerialExecutor):
    def __init__(self):
        super().__init__(retries=0)
        self.keys = []

    def submit(self, fn, *args, tag=None, key=None):
        self.keys.append(key)
        super().submit(fn, *args, tag=tag, key=key)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    out = tmp_path_factory.mktemp("study")
    ex = CountingExecutor()
    result = run_study(parse_study(SMALL), executor=ex, out=out, figures=False)
    return result, out, ex


def test_table_agrees_with_direct_calls(small):
    result, _, _ = small
    table = result.table
    assert list(table.columns) == list(COLUMNS) and set(table["status"]) == {"complete"}
    data = make_dataset("moons", n_points=60, noise=0.1, test_fraction=0.2, seed=0)
    points = study_points("moons", {"n_points": 60, "noise": 0.1, "test_fraction": 0.2, "seed": 0}, n_points=8, seed=0)
    steps = sorted(table.loc[table["measure"] == "regions_2d", "step"].unique())
    assert steps[0] == 0 and steps[-1] == 60 and len(steps) == 3
    for wd in (0.0, 0.1):
        run = train(data, TrainConfig(hidden=(5, 5), optimizer="adamw", lr=0.02, batch_size=16, weight_decay=wd,
                                      seed=0, epochs=20, snapshot_epochs=(0, 1, 20)))
        for (epoch, net), step in zip(run.snapshots, steps):
            rows = table[(table["weight_decay"] == wd) & (table["step"] == step)]
            get = lambda m, **k: rows[(rows["measure"] == m) & np.logical_and.reduce(  # noqa: E731
                [rows[c] == v for c, v in k.items()] or [True])].iloc[0]
            regions = enumerate_regions(net, (-3, 3, -3, 3))
            assert get("regions_2d")["value"] == regions.n_regions
            assert get("decision_boundary", variant="pieces")["value"] == len(decision_boundary(regions))
            counts = disk_counts(net, points.centres["train"], 0.3)
            lc = get("local_complexity", points="train")
            assert (lc["value"], lc["median"], lc["n"]) == (counts.mean(), np.median(counts), 8)
            d_star = one_region_radii(net, points.centres["random"])
            assert get("d_star", points="random")["median"] == np.median(d_star)
            predicted = (net.forward(data.x_test)[:, 0] > 0).astype(int)
            assert get("accuracy", points="test", variant="accuracy")["value"] == np.mean(predicted == data.y_test)


def test_identical_cells_are_computed_once(small):
    result, _, ex = small
    table = result.table
    init = table[(table["step"] == 0) & (table["measure"] == "regions_2d")]
    assert init["cell"].nunique() == 1 and len(init) == 2  # same initial network under both weight decays
    assert len(ex.keys) == len(set(ex.keys)) == 2 + table.loc[table["cell"] != "", "cell"].nunique()


def test_rerun_reads_every_cell_from_the_cache(small, tmp_path):
    result, out, _ = small
    again = run_study(parse_study(SMALL), executor=CountingExecutor(), out=out, figures=False)
    assert again.n_cached == result.n_cells == 3 * 2 * 5
    keep = [c for c in COLUMNS if c != "seconds"]
    pd.testing.assert_frame_equal(again.table[keep], result.table[keep])
    written = pd.read_parquet(out / "small.parquet")
    pd.testing.assert_frame_equal(written[keep], result.table[keep])
    assert len(pd.read_csv(out / "small.csv")) == len(result.table)


def test_interrupted_run_resumes_from_finished_cells(tmp_path):
    finished = []

    def stop_after_some(done, total, message):
        finished.append(message)
        if len(finished) == 6:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_study(parse_study(SMALL), scheduler="serial", out=tmp_path, figures=False, progress=stop_after_some)
    resumed = run_study(parse_study(SMALL), scheduler="serial", out=tmp_path, figures=False)
    assert resumed.n_cached >= 4 and resumed.n_failed == 0 and set(resumed.table["status"]) == {"complete"}


def test_budgets_and_failures_keep_their_status(tmp_path, monkeypatch):
    spec = copy.deepcopy(SMALL)
    spec["measures"] = {"regions_2d": {"max_regions": 2}, "d_star": {}}
    broken = measures_module.Measure("d_star", {"points": ["train"]}, False, lambda o, w: o,
                                     lambda *a: 1 / 0, lambda *a: 0.0, "fails")
    monkeypatch.setitem(measures_module.MEASURES, "d_star", broken)
    result = run_study(parse_study(spec), scheduler="serial", out=tmp_path, figures=False)
    rows = result.table.set_index("measure")
    assert set(rows.loc["regions_2d", "status"]) == {"budget"} and rows.loc["regions_2d", "value"].isna().all()
    assert set(rows.loc["d_star", "status"]) == {"failed"} and result.n_failed == 6
    assert rows.loc["d_star", "note"].str.contains("ZeroDivisionError").all()
    monkeypatch.undo()
    fixed = run_study(parse_study(spec), scheduler="serial", out=tmp_path, figures=False)
    assert fixed.n_failed == 0 and fixed.n_cached == 6  # the failures were not cached; the budget rows were


def test_nd_measures_bracket_the_exact_count(tmp_path):
    spec = {"study": {"datasets": ["blobs"], "architectures": [[4]], "seeds": 1},
            "data": {"n_points": 60, "dim": 3},
            "train": {"steps": 20, "checkpoints": 1, "batch_size": 48},
            "points": {"n": 3},
            "measures": {"count_exact": {"time_limit": 30}, "mipbound": {"trials": 2, "time_limit": 20},
                         "upper_bounds": {}, "local_complexity": {"radii": [0.5], "points": ["train"]},
                         "d_star": {"points": ["train"]}}}
    table = run_study(parse_study(spec), scheduler="serial", out=None).table
    last = table[table["step"] == table["step"].max()].set_index(["measure", "variant"])
    exact = last.loc[("count_exact", "exact"), "value"]
    assert last.loc[("count_exact", "exact"), "status"] == "complete"
    lower, upper = last.loc[("mipbound", "lower bound"), "value"], last.loc[("upper_bounds", "serra2018"), "value"]
    assert 1 <= lower <= exact <= upper
    assert exact <= 2 ** 4
    lc = last.loc[("local_complexity", "upper bound (symbolic)")]
    assert lc["value"] >= 1 and "not an exact count" in lc["note"]


def test_plan_counts_cells_and_estimates_work():
    plan = plan_study(parse_study(SMALL))
    assert plan.n_cells == 30 and len(plan.runs) == 2
    assert 0 < plan.cpu_seconds < plan.budget_seconds
    text = plan.describe(2)
    assert "2 training runs" in text and "30 measurement cells" in text and "steps 0, 3, 60" in text


def test_cli_dry_run_and_bad_file(tmp_path, capsys):
    path = tmp_path / "s.toml"
    good = '[study]\ndatasets = ["xor"]\narchitectures = [[3]]\n[train]\nsteps = 10\n[measures.d_star]\n'
    path.write_text(good)
    assert main(["study", str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "1 training runs" in out and "would write" in out
    path.write_text(good + "x = 1\n")
    assert main(["study", str(path), "--dry-run"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "unknown key 'x'" in err
    path.write_text(good)
    assert main(["study", str(path), "--scheduler", "local:0"]) == 2
    assert "local:N needs a worker count" in capsys.readouterr().err
