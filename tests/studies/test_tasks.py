"""Task kinds: content keys, networks as plain arrays, training with snapshot epochs and a time limit, the cache."""

import numpy as np
import pytest

from explorer.errors import ExplorerError
from explorer.studies.cache import ResultCache
from explorer.studies.tasks import content_key, measure_task, net_arrays, net_from_arrays, study_points, train_task
from explorer.train.data import make_dataset
from explorer.train.fit import TrainConfig, train
from tests.conftest import random_network

OPTIONS = {"n_points": 60, "noise": 0.1, "test_fraction": 0.2, "seed": 0}
CONFIG = {"hidden": (4,), "optimizer": "adam", "lr": 0.01, "batch_size": 16, "weight_decay": 0.0, "seed": 1}


def test_content_key_depends_on_what_is_computed_only():
    net = net_arrays(random_network((3, 3)))
    same = net_arrays(net_from_arrays(net))
    assert content_key("m", net, {"a": 1, "b": [1, 2]}) == content_key("m", same, {"b": [1, 2], "a": 1})
    nudged = net_arrays(net_from_arrays(net))
    nudged["weights"][0] = nudged["weights"][0].copy()
    nudged["weights"][0][0, 0] = np.nextafter(nudged["weights"][0][0, 0], np.inf)  # one ulp
    keys = {content_key("m", net, {"a": 1}), content_key("m", nudged, {"a": 1}), content_key("m", net, {"a": 2}),
            content_key("n", net, {"a": 1})}
    assert len(keys) == 4


def test_train_task_keeps_the_snapshot_epochs_and_stops_at_its_time_limit():
    data = make_dataset("moons", **OPTIONS)
    run = train_task("moons", OPTIONS, CONFIG, [0, 2, 5], 600.0)
    assert run["epochs"] == [0, 2, 5] and run["status"] == "complete"
    direct = train(data, TrainConfig(**CONFIG, epochs=5))
    assert net_from_arrays(run["nets"][-1]).equals(direct.net)
    stopped = train_task("moons", OPTIONS, CONFIG, [0, 2, 5], 0.0)
    assert stopped["status"] == "time limit" and stopped["epochs"] == [0]
    with pytest.raises(ExplorerError, match="snapshot_epochs must be a list of epochs in 0–5"):
        TrainConfig(epochs=5, snapshot_epochs=(0, 6))


def test_a_refusal_is_a_row_and_runs_round_trip_through_the_cache(tmp_path):
    points = study_points("moons", OPTIONS, n_points=5, seed=0)
    wide = net_arrays(random_network((3,), n0=3))  # a 3-input network on 2-D points
    [row] = measure_task("d_star", wide, points, {"points": ["train"], "time_limit": 5.0})
    assert row["status"] == "refused" and "shape (B, 3)" in row["note"] and np.isnan(row["value"])
    cache = ResultCache(tmp_path)
    run = train_task("moons", OPTIONS, CONFIG, [0, 3], 600.0)
    cache.put_run("k" * 64, run)
    back = cache.run("k" * 64)
    assert back["epochs"] == [0, 3] and all(net_from_arrays(a).equals(net_from_arrays(b))
                                            for a, b in zip(back["nets"], run["nets"]))
    cache.put_rows("r" * 64, [row])
    assert np.isnan(cache.rows("r" * 64)[0]["value"]) and cache.rows("x" * 64) is None
    (tmp_path / "rr" / f"{'r' * 64}.json").write_text("{broken")
    assert cache.rows("r" * 64) is None  # a damaged entry is recomputed, not trusted
    assert ResultCache(None).rows("r" * 64) is None
