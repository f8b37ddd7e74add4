"""Datasets: determinism, splits, the closed-form geometry of each generator, and parameter checks."""

from __future__ import annotations

import doctest
import json

import numpy as np
import pytest

import explorer.train.data
from explorer.train.data import DATASETS, make_dataset
from explorer.errors import ExplorerError

MULTI = {"spiral": 3, "blobs": 4}


def clean(name: str, **kwargs):
    """A noise-free dataset with every point in the training split."""
    return make_dataset(name, n_points=400, noise=0.0, test_fraction=0.0, seed=3, **kwargs)


@pytest.mark.parametrize("name", DATASETS)
def test_same_settings_same_data_and_settings_regenerate_it(name):
    kwargs = {"n_classes": MULTI.get(name, 2), "dim": 5 if name == "blobs" else 2}
    a, b = make_dataset(name, seed=4, **kwargs), make_dataset(name, seed=4, **kwargs)
    again = make_dataset(**json.loads(json.dumps(a.settings)))
    for x in (b, again):
        for field in ("x_train", "y_train", "x_test", "y_test"):
            np.testing.assert_array_equal(getattr(a, field), getattr(x, field))
    assert not np.array_equal(a.x_train, make_dataset(name, seed=5, **kwargs).x_train)


@pytest.mark.parametrize("name", DATASETS)
def test_split_shapes_labels_and_domain(name):
    k, d = MULTI.get(name, 2), 5 if name == "blobs" else 2
    ds = make_dataset(name, n_points=301, test_fraction=0.3, n_classes=k, dim=d)
    assert ds.x_train.shape == (211, d) and ds.x_test.shape == (90, d) and ds.dim == d
    assert ds.x_train.dtype == np.float64 and ds.y_train.dtype == np.int64
    labels = np.concatenate([ds.y_train, ds.y_test])
    assert set(np.unique(labels)) == set(range(k)) and ds.n_classes == k
    np.testing.assert_array_equal(ds.domain, np.tile([-3.0, 3.0], (d, 1)))
    if name not in ("xor", "checkerboard"):  # labels by construction: equal shares, remainder to the first
        assert np.bincount(labels).tolist() == [301 // k + (c < 301 % k) for c in range(k)]
    assert np.mean(np.abs(np.concatenate([ds.x_train, ds.x_test])) <= 3.0) > 0.99


def test_test_fraction_zero_gives_an_empty_test_set():
    ds = make_dataset("moons", n_points=50, test_fraction=0.0)
    assert ds.x_test.shape == (0, 2) and ds.y_test.shape == (0,) and ds.x_train.shape == (50, 2)


def test_moons_lie_on_two_half_circles_without_noise():
    ds = clean("moons")
    x, y = ds.x_train, ds.y_train
    upper, lower = x[y == 0], x[y == 1]
    np.testing.assert_allclose(np.linalg.norm(upper - [-0.75, -0.375], axis=1), 1.5, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(lower - [0.75, 0.375], axis=1), 1.5, atol=1e-12)
    assert (upper[:, 1] >= -0.375 - 1e-12).all() and (lower[:, 1] <= 0.375 + 1e-12).all()


def test_circles_are_a_disk_inside_a_ring_without_noise():
    ds = clean("circles")
    r = np.linalg.norm(ds.x_train, axis=1)
    assert (r[ds.y_train == 1] <= 1.25).all()
    assert ((r[ds.y_train == 0] >= 1.75) & (r[ds.y_train == 0] <= 2.5)).all()


def test_xor_and_checkerboard_labels_follow_the_quadrant_and_the_cell():
    xor = clean("xor")
    x = xor.x_train
    np.testing.assert_array_equal(xor.y_train, (x[:, 0] * x[:, 1] > 0).astype(int))
    assert (np.abs(x) >= 0.125).all() and (np.abs(x) <= 2.5).all()
    board = clean("checkerboard")
    cells = np.floor(board.x_train / 1.25).astype(int)
    np.testing.assert_array_equal(board.y_train, (cells[:, 0] + cells[:, 1]) % 2)
    assert set(np.unique(cells)) == {-2, -1, 0, 1}


def test_spiral_arms_follow_their_polar_formula():
    ds = clean("spiral", n_classes=3)
    x, y = ds.x_train, ds.y_train
    t = np.linalg.norm(x, axis=1) / 2.5  # r = 2.5 t
    angle = 3.5 * np.pi * t + 2 * np.pi * y / 3
    np.testing.assert_allclose(x, 2.5 * t[:, None] * np.stack([np.sin(angle), np.cos(angle)], axis=1), atol=1e-12)
    assert t.max() == pytest.approx(1.0)


def test_blobs_have_centres_at_distance_one_and_a_half_and_the_stated_spread():
    ds = make_dataset("blobs", n_points=8000, noise=0.05, dim=6, n_classes=2, test_fraction=0.0, seed=1)
    for k in range(2):
        pts = ds.x_train[ds.y_train == k]
        assert np.linalg.norm(pts.mean(axis=0)) == pytest.approx(1.5, abs=0.05)
        assert pts.std(axis=0).mean() == pytest.approx(0.5, abs=0.02)  # sd = 0.4 + 2·noise
    two_d = make_dataset("blobs", n_points=4000, noise=0.0, n_classes=4, test_fraction=0.0)
    means = np.array([two_d.x_train[two_d.y_train == k].mean(axis=0) for k in range(4)])
    angles = np.sort(np.mod(np.arctan2(means[:, 1], means[:, 0]), 2 * np.pi))
    np.testing.assert_allclose(np.diff(angles), np.pi / 2, atol=0.05)  # evenly spaced in 2-D


def test_noise_is_gaussian_jitter_of_the_stated_size():
    base = make_dataset("circles", n_points=4000, noise=0.0, test_fraction=0.0)
    noisy = make_dataset("circles", n_points=4000, noise=0.2, test_fraction=0.0)
    r0, r1 = np.linalg.norm(base.x_train, axis=1), np.linalg.norm(noisy.x_train, axis=1)
    assert (r0[base.y_train == 0] >= 1.75).all() and (r1[noisy.y_train == 0] < 1.75).mean() > 0.05


@pytest.mark.parametrize("kwargs, message", [
    ({"name": "swiss roll"}, "unknown dataset 'swiss roll'"),
    ({"name": "moons", "dim": 3}, "moons dataset is 2-D"),
    ({"name": "blobs", "dim": 65}, "dim must lie in 2–64"),
    ({"name": "xor", "n_classes": 3}, "xor dataset has 2 classes"),
    ({"name": "spiral", "n_classes": 11}, "n_classes must lie in 2–10"),
    ({"name": "moons", "n_points": 3}, "n_points must lie in 4–200000"),
    ({"name": "moons", "n_points": 10.5}, "n_points must be an integer"),
    ({"name": "blobs", "n_points": 10, "n_classes": 6}, "at least 2 per class"),
    ({"name": "moons", "noise": -0.1}, r"noise must be a number in \[0, 1\]"),
    ({"name": "moons", "test_fraction": 0.95}, r"test_fraction must lie in \[0, 0.9\]"),
    ({"name": "moons", "seed": -1}, "seed must be a non-negative integer"),
    ({"name": "moons", "seed": True}, "seed must be an integer"),
])
def test_bad_parameters_are_refused(kwargs, message):
    name = kwargs.pop("name")
    with pytest.raises(ExplorerError, match=message):
        make_dataset(name, **kwargs)


def test_docstring_examples_run():
    assert doctest.testmod(explorer.train.data, raise_on_error=False).failed == 0
