"""Training timeline: per-snapshot counts, d*, loss and accuracy agree with the engine and with training."""

import numpy as np
import pytest

from explorer.train.data import make_dataset
from explorer.errors import ExplorerError
from explorer.ball.local import one_region_radius
from explorer.plane.regions import enumerate_regions
from explorer.studies.timeline import cross_entropy, snapshot_timeline
from explorer.train.fit import TrainConfig, train

BOX = (-3.0, 3.0, -3.0, 3.0)


@pytest.fixture(scope="module")
def run():
    dataset = make_dataset("moons", n_points=160, seed=1)
    result = train(dataset, TrainConfig(hidden=(6, 6), epochs=12, snapshot_every=4, seed=3))
    return dataset, result


def test_timeline_matches_enumeration_d_star_and_training_history(run):
    dataset, result = run
    timeline = snapshot_timeline(result.snapshots, dataset, BOX)
    assert timeline.epochs.tolist() == [0, 4, 8, 12]
    for s, (epoch, net) in enumerate(result.snapshots):
        assert timeline.n_regions[s] == enumerate_regions(net, BOX).n_regions
        d_star = [one_region_radius(net, x)[0] for x in dataset.x_train]  # the scalar d* of explorer.ball.local
        assert timeline.mean_d_star[s] == pytest.approx(np.mean(d_star), rel=1e-12)
    history = result.history
    idx = [history["epoch"].index(e) for e in timeline.epochs[1:]]
    np.testing.assert_allclose(timeline.loss[1:], np.array(history["loss"])[idx], rtol=1e-5)
    np.testing.assert_allclose(timeline.test_loss[1:], np.array(history["test_loss"])[idx], rtol=1e-5)
    np.testing.assert_array_equal(timeline.accuracy[1:], np.array(history["train_acc"])[idx])
    assert timeline.loss[0] > timeline.loss[-1]  # epoch 0 is measured too (training reports no epoch 0)


def test_region_budget_marks_the_snapshot(run):
    dataset, result = run
    timeline = snapshot_timeline(result.snapshots[:2], dataset, BOX, max_regions=3)
    assert timeline.n_regions.tolist() == [-1, -1]


def test_cross_entropy_closed_forms():
    assert cross_entropy(np.zeros((4, 1)), np.array([0, 1, 0, 1])) == pytest.approx(np.log(2))
    assert cross_entropy(np.zeros((2, 3)), np.array([0, 2])) == pytest.approx(np.log(3))
    big = np.array([[800.0], [-800.0]])  # no overflow: softplus through logaddexp
    assert cross_entropy(big, np.array([1, 0])) == 0.0


def test_needs_snapshots_and_2d(run):
    dataset, result = run
    with pytest.raises(ExplorerError, match="snapshot_every"):
        snapshot_timeline((), dataset, BOX)
    with pytest.raises(ExplorerError, match="2-D"):
        snapshot_timeline(result.snapshots, make_dataset("blobs", n_points=40, dim=3), BOX)
