"""Region counts of folded CNNs on 2-D slices equal those of the same networks written as dense MLPs by hand,
from the library and from `python -m explorer regions MODEL --plane POINTS.npy` on held-out files."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from explorer.__main__ import main
from explorer.io import files as io
from explorer.plane.regions import enumerate_regions, plane_slice
from tests.io.cnn_oracle import dense_network
from tests.io.test_cnn_formats import random_cnn
from tests.io.test_cnn_layers import seeded

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")
ROOT = Path(__file__).resolve().parents[2]
BOX = (-0.5, 1.5, -0.5, 1.5)


def slice_count(net, points: np.ndarray):
    p0, p1, p2 = points
    regions = enumerate_regions(plane_slice(net, p0, p1 - p0, p2 - p0).net, BOX)
    return regions.n_regions, {tuple(p) for p in regions.patterns.astype(int).tolist()}


@pytest.mark.parametrize("seed", range(6))
def test_folded_cnns_and_hand_written_dense_mlps_have_the_same_regions_on_slices(seed):
    module, shape = random_cnn(seed)
    folded, by_hand = io.from_module(module, input_shape=shape), dense_network(module, shape)
    points = np.random.default_rng(seed).standard_normal((3, int(np.prod(shape))))
    count, patterns = slice_count(folded, points)
    assert (count, patterns) == slice_count(by_hand, points)
    assert count > 10


def test_every_layer_type_in_one_network_matches_the_dense_oracle_on_a_slice():
    module = seeded([nn.BatchNorm2d(2), nn.Conv2d(2, 4, 3, padding=1, groups=2), nn.BatchNorm2d(4), nn.ReLU(),
                     nn.MaxPool2d((2, 1)), nn.AvgPool2d((1, 2), stride=1, padding=(0, 1), ceil_mode=True,
                                                       count_include_pad=False),
                     nn.Conv2d(4, 3, 2, stride=2, dilation=(1, 2)), nn.ReLU(), nn.Dropout(), nn.Flatten(),
                     nn.Linear(9, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Identity(), nn.Linear(5, 2)], 4)
    with torch.no_grad():
        assert module(torch.zeros(1, 2, 6, 6, dtype=torch.float64)).shape == (1, 2)
    folded, by_hand = io.from_module(module, input_shape=(2, 6, 6)), dense_network(module, (2, 6, 6))
    assert folded.hidden_widths == by_hand.hidden_widths and folded.pooling_units == folded.hidden_widths[1]
    points = np.random.default_rng(1).uniform(0, 1, (3, 72))
    assert slice_count(folded, points) == slice_count(by_hand, points)


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "explorer", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)


def test_cli_regions_on_a_plane_of_held_out_torchscript_and_onnx_cnns(tmp_path):
    module, shape = random_cnn(11)
    points = np.random.default_rng(3).uniform(0, 1, (3, int(np.prod(shape))))
    np.save(tmp_path / "points.npy", points)
    expected, _ = slice_count(dense_network(module, shape), points)
    x = torch.zeros(1, *shape, dtype=torch.float64)
    torch.jit.save(torch.jit.trace(module, x), str(tmp_path / "cnn.pt"))
    (tmp_path / "cnn.json").write_text(json.dumps({"input_shape": list(shape)}))  # traced files need the shape
    torch.onnx.export(module, (x,), str(tmp_path / "cnn.onnx"), dynamo=False)
    for model in ("cnn.pt", "cnn.onnx"):
        out = run("regions", str(tmp_path / model), "--plane", str(tmp_path / "points.npy"), "--json")
        assert out.returncode == 0, out.stderr
        payload = json.loads(out.stdout)
        assert payload["count"] == expected and payload["domain"] == list(BOX)
        assert payload["plane"]["anchors"] == [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]
        assert payload["architecture"].startswith("x".join(map(str, shape)) + "-conv3x3")


def test_plane_domains_polygons_and_unit_labels(tmp_path, capsys):
    module, shape = random_cnn(5)
    path = tmp_path / "cnn.pt"
    torch.jit.save(torch.jit.script(module), str(path))
    (tmp_path / "cnn.json").write_text(json.dumps({"input_shape": list(shape)}))
    points = np.random.default_rng(0).uniform(0, 1, (3, int(np.prod(shape))))
    np.save(tmp_path / "p.npy", points)
    assert main(["regions", str(path), "--plane", str(tmp_path / "p.npy"), "--domain", "0", "1", "0", "1",
                 "--json", "--polygons"]) == 0
    payload = json.loads(capsys.readouterr().out)
    net = io.load_network(path)
    p0, p1, p2 = points
    assert payload["count"] == enumerate_regions(plane_slice(net, p0, p1 - p0, p2 - p0).net, (0, 1, 0, 1)).n_regions
    assert payload["unit_labels"] == list(net.unit_labels) and len(payload["regions"][0]["pattern"]) == net.n_hidden
    area = sum(abs(np.sum((v := np.array(r["vertices"]))[:, 0] * np.roll(v[:, 1], -1)
                          - np.roll(v[:, 0], -1) * v[:, 1])) / 2 for r in payload["regions"])
    assert area == pytest.approx(1.0, rel=1e-9)


@pytest.mark.parametrize("points, message", [
    (np.zeros((3, 5)), r"3 points of 16 numbers \(an array of shape \(3, 16\)\).*shape \(3, 5\)"),
    (np.full((3, 16), np.nan), "NaN or infinite"),
    (np.stack([np.zeros(16), np.ones(16), 2 * np.ones(16)]), "collinear"),
    (np.stack([np.ones(16), np.ones(16), np.arange(16.0)]), "collinear"),
    (np.array([["a"] * 16] * 3), "holds <U1"),
    (None, "not a NumPy .npy array"),
    ("missing", "no file"),
])
def test_bad_plane_points_get_one_line_and_exit_2(tmp_path, capsys, points, message):
    module = seeded([nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8, 1)], 0)
    torch.jit.save(torch.jit.script(module), str(tmp_path / "m.pt"))
    target = tmp_path / "p.npy"
    if isinstance(points, np.ndarray):
        np.save(target, points)
    elif points is None:
        target.write_bytes(b"not numpy at all")
    assert main(["regions", str(tmp_path / "m.pt"), "--plane", str(target), "--json",
                 "--layers", '{"input_shape": [1, 4, 4]}']) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1
    assert re.search(message, captured.err), captured.err


def test_a_cnn_without_plane_asks_for_one(tmp_path, capsys):
    module = seeded([nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8, 1)], 0)
    torch.jit.save(torch.jit.script(module), str(tmp_path / "m.pt"))
    assert main(["regions", str(tmp_path / "m.pt"), "--layers", '{"input_shape": [1, 4, 4]}']) == 2
    assert "takes 16; pass --plane POINTS.npy" in capsys.readouterr().err
