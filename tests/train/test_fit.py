"""Training: bitwise determinism, callbacks and Stop, snapshots, output conventions and limits."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from explorer.io import files as io
from explorer.train.data import make_dataset
from explorer.errors import ExplorerError
from explorer.train.fit import TrainConfig, Trainer, init_network, predict, train, training_provenance

MOONS = make_dataset("moons", n_points=200, noise=0.1, seed=1)
QUICK = TrainConfig(hidden=(8, 8), epochs=15, batch_size=32)


def same_weights(a, b) -> bool:
    return all(x.tobytes() == y.tobytes() for x, y in zip(a.weights + a.biases, b.weights + b.biases))


@pytest.mark.parametrize("optimizer", ["adam", "sgd", "adamw"])
def test_two_runs_give_bitwise_identical_weights(optimizer):
    config = TrainConfig(hidden=(8, 8), epochs=10, optimizer=optimizer, weight_decay=0.01, lr=0.05)
    a, b = train(MOONS, config), train(MOONS, config)
    assert same_weights(a.net, b.net) and a.history == b.history
    c = train(MOONS, TrainConfig(hidden=(8, 8), epochs=10, optimizer=optimizer, weight_decay=0.01, lr=0.05, seed=1))
    assert not same_weights(a.net, c.net)


def test_training_learns_moons_and_history_matches_predict():
    result = train(make_dataset("moons", n_points=300, noise=0.05, seed=2), TrainConfig(hidden=(16, 16), epochs=60))
    h = result.history
    assert h["epoch"] == list(range(1, 61)) and len(h["loss"]) == len(h["test_acc"]) == 60
    assert h["loss"][-1] < h["loss"][0] / 3 and h["train_acc"][-1] >= 0.97 and h["test_acc"][-1] >= 0.95
    ds = make_dataset("moons", n_points=300, noise=0.05, seed=2)
    assert np.mean(predict(result.net, ds.x_train) == ds.y_train) == pytest.approx(h["train_acc"][-1], abs=1 / 240)
    assert result.net.architecture == "2-16-16-1" and not result.stopped and result.seconds > 0


def test_outputs_are_one_logit_for_two_classes_and_k_logits_otherwise():
    three = make_dataset("spiral", n_points=150, n_classes=3)
    result = train(three, TrainConfig(hidden=(8,), epochs=3))
    assert result.net.n_outputs == 3
    logits = result.net.forward(three.x_test)
    np.testing.assert_array_equal(predict(result.net, three.x_test), logits.argmax(axis=1))
    high = train(make_dataset("blobs", n_points=100, dim=8), TrainConfig(hidden=(12, 12), epochs=3))
    assert high.net.architecture == "8-12-12-1"
    leaky = train(MOONS, TrainConfig(hidden=(4,), epochs=2, activation="leaky_relu", alpha=0.2))
    assert (leaky.net.activation, leaky.net.alpha) == ("leaky_relu", 0.2)


def test_progress_is_called_at_most_about_fifty_times_and_at_the_end():
    calls = []
    train(MOONS, TrainConfig(hidden=(4,), epochs=120), progress=lambda e, n, m: calls.append((e, n, m)))
    assert 40 <= len(calls) <= 51 and calls[-1][0] == 120 and all(n == 120 for _, n, _ in calls)
    assert set(calls[-1][2]) == {"loss", "test_loss", "train_acc", "test_acc"}
    few = []
    train(MOONS, TrainConfig(hidden=(4,), epochs=7), progress=lambda e, n, m: few.append(e))
    assert few == list(range(1, 8))


def test_should_stop_ends_training_early_with_a_partial_result():
    calls = {"n": 0}

    def stop_after_three() -> bool:
        calls["n"] += 1
        return calls["n"] > 3

    config = TrainConfig(hidden=(4,), epochs=50, snapshot_every=2)
    result = train(MOONS, config, should_stop=stop_after_three)
    assert result.stopped and result.history["epoch"] == [1, 2, 3]
    assert [e for e, _ in result.snapshots] == [0, 2, 3] and same_weights(result.snapshots[-1][1], result.net)
    three = train(MOONS, TrainConfig(hidden=(4,), epochs=3, snapshot_every=2))
    assert same_weights(three.net, result.net)  # stopping after 3 epochs = training for 3
    at_once = train(MOONS, config, should_stop=lambda: True)
    assert at_once.stopped and at_once.history["epoch"] == []
    assert same_weights(at_once.net, init_network((4,), seed=0))


def test_snapshots_start_at_initialisation_and_end_at_the_result():
    result = train(MOONS, TrainConfig(hidden=(6, 6), epochs=12, snapshot_every=5))
    assert [e for e, _ in result.snapshots] == [0, 5, 10, 12]
    assert same_weights(result.snapshots[0][1], init_network((6, 6), seed=0))
    assert same_weights(result.snapshots[-1][1], result.net)
    assert train(MOONS, QUICK).snapshots == ()


def test_a_trainer_run_in_chunks_gives_the_weights_of_one_training_run():
    config = TrainConfig(hidden=(6, 6), epochs=12, snapshot_every=5)
    whole = train(MOONS, config)
    trainer = Trainer(MOONS, config)
    assert trainer.epoch == 0 and trainer.metrics == {} and same_weights(trainer.net, init_network((6, 6)))
    assert [trainer.run(5), trainer.run(0), trainer.run(4), trainer.run(100)] == [5, 0, 4, 3]
    assert trainer.done and trainer.epoch == 12 and trainer.run(1) == 0
    assert same_weights(trainer.net, whole.net) and trainer.history == whole.history
    assert trainer.metrics == {k: whole.history[k][-1] for k in ("loss", "test_loss", "train_acc", "test_acc")}
    result = trainer.result(seconds=1.5)
    assert [e for e, _ in result.snapshots] == [0, 5, 10, 12] and result.seconds == 1.5 and not result.stopped


def test_a_trainer_paused_mid_run_reports_a_partial_result_and_resumes():
    config = TrainConfig(hidden=(4,), epochs=9, snapshot_every=4)
    trainer = Trainer(MOONS, config)
    trainer.run(6)
    partial = trainer.result(stopped=True)
    assert partial.stopped and [e for e, _ in partial.snapshots] == [0, 4, 6]
    assert same_weights(partial.net, train(MOONS, TrainConfig(hidden=(4,), epochs=6)).net)
    assert trainer.run(5, should_stop=lambda: trainer.epoch >= 8) == 2 and trainer.epoch == 8
    trainer.run(1)
    assert same_weights(trainer.net, train(MOONS, config).net)
    with pytest.raises(ExplorerError, match="whole number"):
        trainer.run(-1)


def test_init_network_is_pytorch_default_init_and_leaves_global_rng_alone():
    state = torch.random.get_rng_state()
    net = init_network((50, 30), n_inputs=4, n_outputs=3, seed=5)
    assert torch.equal(state, torch.random.get_rng_state())
    assert same_weights(net, init_network((50, 30), n_inputs=4, n_outputs=3, seed=5))
    assert net.architecture == "4-50-30-3"
    for W, b in zip(net.weights, net.biases):
        bound = 1 / np.sqrt(W.shape[1])  # kaiming_uniform(a=√5) and the bias both give U(±1/√fan_in)
        assert np.abs(W).max() <= bound and np.abs(b).max() <= bound and np.abs(W).max() > 0.8 * bound
    leaky = init_network((3,), activation="leaky_relu:0.3")
    assert (leaky.activation, leaky.alpha) == ("leaky_relu", 0.3)


def test_thread_count_is_restored():
    before = torch.get_num_threads()
    train(MOONS, TrainConfig(hidden=(4,), epochs=1))
    assert torch.get_num_threads() == before


def test_provenance_is_json_and_travels_in_the_checkpoint():
    result = train(MOONS, QUICK)
    prov = training_provenance(MOONS, QUICK, result)
    ckpt = io.load(io.checkpoint_bytes(result.net, box=MOONS.domain, provenance=prov))
    assert ckpt.provenance == json.loads(json.dumps(prov))
    assert make_dataset(**ckpt.provenance["dataset"]).x_train.tobytes() == MOONS.x_train.tobytes()
    again = train(make_dataset(**ckpt.provenance["dataset"]), TrainConfig(**ckpt.provenance["training"]))
    assert same_weights(again.net, ckpt.net)


@pytest.mark.parametrize("kwargs, message", [
    ({"hidden": ()}, "1–6 widths of 1–128 units"),
    ({"hidden": (4,) * 7}, "1–6 widths"),
    ({"hidden": (0,)}, "1–128 units"),
    ({"hidden": (129, 4)}, "got \\[129, 4\\]"),
    ({"hidden": (4.5,)}, "1–128 units"),
    ({"optimizer": "rmsprop"}, "unknown optimizer 'rmsprop'"),
    ({"lr": 0.0}, r"learning rate must lie in \(0, 10\]"),
    ({"epochs": 0}, "epochs must be an integer in 1–10000"),
    ({"batch_size": 0}, "batch_size must be an integer"),
    ({"snapshot_every": -1}, "snapshot_every must be an integer"),
    ({"activation": "tanh"}, "unknown activation 'tanh'"),
    ({"activation": "leaky_relu", "alpha": 2.0}, r"slope must lie in \(0, 1\)"),
    ({"weight_decay": -1.0}, "weight_decay must lie in"),
])
def test_bad_configurations_are_refused(kwargs, message):
    with pytest.raises(ExplorerError, match=message):
        TrainConfig(**kwargs)


def test_bad_arguments_to_train_and_init_are_refused():
    with pytest.raises(ExplorerError, match="needs an explorer Dataset"):
        train(np.zeros((3, 2)), QUICK)
    with pytest.raises(ExplorerError, match="1–6 widths"):
        init_network([])
    with pytest.raises(ExplorerError, match="n_inputs must be an integer"):
        init_network((4,), n_inputs=0)
