"""Study files: a valid file gives the grid it says; every problem gives one ExplorerError naming the key."""

import copy

import pytest

from explorer.errors import ExplorerError
from explorer.studies.spec import LIMITS, load_study, log_steps, parse_study

BASE = {
    "study": {"name": "t", "datasets": ["moons"], "architectures": [[4, 4]], "seeds": 2, "weight_decay": [0.0, 0.1]},
    "data": {"n_points": 100},
    "train": {"steps": 1000, "checkpoints": 4, "batch_size": 20},
    "points": {"n": 10},
    "measures": {"local_complexity": {"radii": [0.2]}, "d_star": {}},
}


def _with(path: str, value):
    data = copy.deepcopy(BASE)
    *parents, last = path.split(".")
    node = data
    for key in parents:
        node = node.setdefault(key, {})
    if value is _DROP:
        del node[last]
    else:
        node[last] = value
    return data


_DROP = object()


def test_valid_file_gives_the_grid(tmp_path):
    path = tmp_path / "grid.toml"
    path.write_text('[study]\ndatasets = ["moons", "xor"]\narchitectures = [[4], [3, 3]]\nseeds = [5, 7]\n'
                    '[train]\nsteps = 100\ncheckpoints = [0, 10, 50, 100]\nbatch_size = 80\n'
                    '[measures.regions_2d]\ntime_limit = 5\n[measures.accuracy]\n')
    spec = load_study(path)
    assert spec.name == "grid"  # from the file name
    assert spec.architectures == ((4,), (3, 3)) and spec.seeds == (5, 7) and spec.weight_decay == (0.0,)
    assert spec.train.checkpoints(400) == (0, 10, 50, 100)  # 400 training points, batch 80: 5 steps per epoch
    assert dict(spec.measures)["regions_2d"]["time_limit"] == 5.0
    assert dict(spec.measures)["accuracy"]["time_limit"] == 120.0  # the default cell budget
    assert spec.n_runs == 8 and spec.n_cells == 8 * 4 * 2


def test_checkpoints_round_to_whole_epochs_on_a_log_scale():
    assert log_steps(10_000, 4) == (0, 1, 22, 464, 10_000)
    assert log_steps(1000, 1, step_unit=7) == (0, 1001)
    spec = parse_study(BASE)
    steps = spec.train.checkpoints(80)  # 80 training points, batch 20: 4 steps per epoch
    assert steps[0] == 0 and steps[-1] == 1000 and all(s % 4 == 0 for s in steps)
    assert spec.train.checkpoints(80) == tuple(sorted(set(steps)))


@pytest.mark.parametrize("path, value, match", [
    ("study.colour", 1, r"\[study\] has an unknown key 'colour'"),
    ("measures.local_complexity.radius", [0.1], r"unknown key 'radius'\. Did you mean 'radii'\?"),
    ("measures.regionz_2d", {}, r"Did you mean 'regions_2d'\?"),
    ("extra", {}, r"unknown key 'extra'"),
    ("study.datasets", ["moon"], r"Did you mean 'moons'\?"),
    ("study.architectures", [[4, 0]], r"architectures must be"),
    ("study.architectures", [[4] * 7], r"architectures must be"),
    ("study.seeds", 10**6, r"seeds must be an integer in 1–1,000"),
    ("study.seeds", [1, 1], r"distinct seeds"),
    ("study.weight_decay", [-0.1], r"weight_decay must be"),
    ("study.name", "../x", r"name must be"),
    ("train.steps", 0, r"steps must be an integer"),
    ("train.steps", 10**9, r"steps must be an integer"),
    ("train.steps", _DROP, r"steps must be an integer in 1–1,000,000; got None"),
    ("train.checkpoints", [0, 5000], r"checkpoints must be"),
    ("train.optimizer", "lbfgs", r"optimizer must be one of"),
    ("train.lr", float("nan"), r"lr must be"),
    ("train.time_limit", 1e9, r"time_limit must be a number in \(0, 86400\]"),
    ("run.cell_time_limit", 0, r"cell_time_limit must be"),
    ("run.retries", 99, r"retries must be"),
    ("points.n", 10**6, r"\[points\] n must be"),
    ("measures.local_complexity.radii", [0.0], r"radii must be"),
    ("measures.local_complexity.points", ["train", "holdout"], r"points must be"),
    ("measures.local_complexity.time_limit", -1, r"time_limit must be"),
    ("measures.mipbound", {"trials": 0}, r"trials must be"),
    ("measures", {}, r"\[measures\] is empty"),
    ("data.noise", 5.0, r"\[data\] for moons: noise must be"),
    ("data.spiral", {"noise": 0.1}, r"\[data.spiral\] gives options for a dataset that"),
])
def test_each_problem_is_one_clear_error(path, value, match):
    with pytest.raises(ExplorerError, match=match):
        parse_study(_with(path, value))


def test_absurd_grids_and_2d_measures_on_nd_data_are_refused():
    long = _with("train.steps", 50_000)
    long["train"]["batch_size"] = 1000  # full batch: one step per epoch
    with pytest.raises(ExplorerError, match=r"needs 50,000 epochs of 1 steps; training allows 10,000"):
        parse_study(long)
    big = _with("study.seeds", 1000)
    big["train"]["checkpoints"] = 200
    big["train"]["steps"] = 10**6
    big["train"]["batch_size"] = 1
    big["data"]["n_points"] = 1000
    with pytest.raises(ExplorerError, match=f"limit is {LIMITS['cells']:,}"):
        parse_study(big)
    flat = _with("study.datasets", ["blobs"])
    flat["data"]["dim"] = 5
    flat["measures"]["regions_2d"] = {}
    with pytest.raises(ExplorerError, match=r"\[measures.regions_2d\] needs 2-input networks"):
        parse_study(flat)


def test_file_errors(tmp_path):
    with pytest.raises(ExplorerError, match="no study file"):
        load_study(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[study\nname = 1")
    with pytest.raises(ExplorerError, match="not valid TOML"):
        load_study(bad)
