"""Region colours: a hash of the pattern, neighbours apart, kept across the frames of a run."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from explorer.plane.partition import adjacency
from explorer.plane.regions import enumerate_regions
from explorer.plot.coloring import color_memory, greedy_coloring, pattern_hash, pattern_keys, stable_coloring
from explorer.studies.timeline import snapshot_timeline
from explorer.train.data import make_dataset
from explorer.train.fit import TrainConfig, train

BOX = (-3.0, 3.0, -3.0, 3.0)


@pytest.fixture(scope="module")
def run():
    dataset = make_dataset("moons", n_points=200, noise=0.1, seed=0)
    return dataset, train(dataset, TrainConfig(hidden=(12, 12), epochs=30, snapshot_every=3))


def test_greedy_colouring_on_a_triangle_and_an_isolated_node():
    colors = greedy_coloring(4, np.array([[0, 1], [1, 2], [0, 2]]), np.array([5, 5, 5, 5]), 3)
    assert len(set(colors[:3].tolist())) == 3 and colors[3] == 5 % 3
    # too few colours: the conflict is accepted, nothing fails
    assert len(greedy_coloring(3, np.array([[0, 1], [1, 2], [0, 2]]), np.zeros(3, int), 2)) == 3
    # a kept colour wins over the hash colour, unless a neighbour coloured first holds it
    kept = greedy_coloring(3, np.array([[0, 1]]), np.array([0, 1, 2]), 4, keep=np.array([3, 3, -1]))
    assert kept[0] == 3 and kept[1] != 3 and kept[2] == 2


def test_the_hash_is_the_same_in_another_process():
    packed = [[1, 2, 3], [1, 2, 4], [255, 0, 0]]
    here = pattern_hash(SimpleNamespace(packed_patterns=np.array(packed, dtype=np.uint8))).tolist()
    code = ("import numpy as np, types; from explorer.plot.coloring import pattern_hash;"
            f"print(pattern_hash(types.SimpleNamespace(packed_patterns=np.array({packed}, dtype=np.uint8))).tolist())")
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": "123", "PATH": ""}).stdout
    assert there.strip() == str(here) and len(set(here)) == 3 and min(here) >= 0


def test_colours_follow_patterns_across_training_frames_and_neighbours_differ(run):
    _, result = run
    memory, kept, total = {}, 0, 0
    for _, net in result.snapshots:
        regions = enumerate_regions(net, BOX)
        colors = stable_coloring(regions, 8, previous=memory)
        pairs = adjacency(regions)
        assert (colors[pairs[:, 0]] != colors[pairs[:, 1]]).mean() > 0.99
        keys = pattern_keys(regions)
        persisted = [i for i, k in enumerate(keys) if k in memory]
        kept += sum(colors[i] == memory[keys[i]] for i in persisted)
        total += len(persisted)
        memory = color_memory(regions, colors)
    assert total > 500 and kept / total > 0.97  # a region keeps its colour while its pattern persists


def test_the_timeline_carries_the_same_colours(run):
    dataset, result = run
    timeline = snapshot_timeline(result.snapshots, dataset, BOX)
    memory = {}
    for (_, net), colors in zip(result.snapshots, timeline.colors):
        regions = enumerate_regions(net, BOX)
        memory = color_memory(regions, stable_coloring(regions, 8, previous=memory))
        assert colors == memory and len(colors) == regions.n_regions
