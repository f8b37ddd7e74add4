"""The shipped digits CNN: its files agree, and the slice docs/cnn.md shows has the count it quotes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from explorer.__main__ import main
from explorer.io import files as io
from explorer.plane.regions import enumerate_regions, plane_slice
from tests.conftest import ASSETS

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_the_torchscript_and_safetensors_files_hold_one_network():
    script, weights = io.load_network(ASSETS / "digits_cnn.pt"), io.load_network(ASSETS / "digits_cnn.safetensors")
    assert script.architecture == weights.architecture == "1x8x8-conv3x3(4)-conv3x3(8)-10"
    assert script.unit_labels == weights.unit_labels and script.n_hidden == 272
    assert all(np.array_equal(a, b) for a, b in zip(script.weights + script.biases, weights.weights + weights.biases))
    for name in ("digits_cnn.pt", "digits_cnn.safetensors", "digits_cnn.json", "digits_cnn_points.npy"):
        assert (ASSETS / name).stat().st_size < 20_000


def test_the_documented_slice_through_three_test_images(capsys):
    net = io.load_network(ASSETS / "digits_cnn.safetensors")
    points = np.load(ASSETS / "digits_cnn_points.npy")
    assert points.shape == (3, 64) and points.min() >= 0 and points.max() <= 1
    assert net.forward(points).argmax(axis=1).tolist() == [0, 4, 7]
    p0, p1, p2 = points
    count = enumerate_regions(plane_slice(net, p0, p1 - p0, p2 - p0).net, (-0.5, 1.5, -0.5, 1.5)).n_regions
    assert main(["regions", str(ASSETS / "digits_cnn.pt"), "--plane", str(ASSETS / "digits_cnn_points.npy"),
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["count"] == count
    assert f"{count:,} activation regions" in (DOCS / "cnn.md").read_text()
    assert (DOCS / "cnn_slice.png").stat().st_size < 100_000
