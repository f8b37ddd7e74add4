"""The network diagram (nodes, links by sign and size, a clickable neurons trace) and one neuron's exact map."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.errors import ExplorerError
from explorer.net import Network
from explorer.plane.partition import unit_boundary
from explorer.plane.regions import enumerate_regions
from explorer.plot.network import NEGATIVE, NEURONS, POSITIVE, network_figure, neuron_map
from explorer.plot.style import NEURON_LINE
from tests.nets import random_network

# 2-2-1: neuron 1 of layer 1 is x1 (weights +1, 0), neuron 2 is -x2 - 1; the output weights are +2 and -0.5
TINY = Network(([[1.0, 0.0], [0.0, -1.0]], [[2.0, -0.5]]), ([0.0, -1.0], [0.0]))


def _links(fig):
    return [t for t in fig.data if t.name == "links"]


def test_one_node_per_unit_and_one_link_per_nonzero_weight_coloured_by_sign():
    fig = network_figure(TINY)
    nodes = next(t for t in fig.data if t.name == NEURONS)
    assert len(nodes.x) == 2 + 2 + 1 and list(nodes.customdata) == [-1, -1, 0, 1, -1]
    segments = sum(int(np.isnan(np.asarray(t.x, float)).sum()) for t in _links(fig))
    assert segments == 4  # W1 has one zero in each row
    by_color = {}
    for t in _links(fig):
        by_color.setdefault(t.line.color, []).append(t.line.width)
    assert set(by_color) == {POSITIVE, NEGATIVE}
    assert max(by_color[POSITIVE]) > min(by_color[NEGATIVE])  # +2 is the largest of its layer, -0.5 is not
    assert [a.text for a in fig.layout.annotations] == ["input", "layer 1", "output"]


def test_a_selected_neuron_is_marked_and_keeps_its_links_strong():
    net = random_network((6, 5), seed=1)
    fig = network_figure(net, selected=8)
    nodes = next(t for t in fig.data if t.name == NEURONS)
    colors = list(nodes.marker.color)
    assert colors[2 + 8] == NEURON_LINE.color and colors.count(NEURON_LINE.color) == 1
    strong = sum(int(np.isnan(np.asarray(t.x, float)).sum()) for t in _links(fig) if t.opacity > 0.1)
    assert strong == 6 + 1  # its 6 inputs from layer 1 and its 1 output
    with pytest.raises(ExplorerError, match="neuron index"):
        network_figure(net, selected=11)


def test_wide_networks_draw_quickly_in_a_few_traces():
    fig = network_figure(random_network((128, 128, 128), seed=0))
    assert len(_links(fig)) <= 2 * 4 and len(next(t for t in fig.data if t.name == NEURONS).x) == 2 + 384 + 1


def test_the_neuron_map_shades_where_it_is_active_and_draws_its_exact_zero_set():
    net = random_network((5, 4), seed=3, scale_bias=1.0)
    regions = enumerate_regions(net, (-3, 3, -3, 3))
    unit = 6  # neuron 2 of layer 2: bent where layer 1 switches
    fig = neuron_map(regions, unit)
    line = next(t for t in fig.data if t.name == "neuron 2 of layer 2: zero set")
    assert np.isnan(np.asarray(line.x, float)).sum() == len(unit_boundary(regions, unit)) > 0
    shaded = [t for t in fig.data if t.name == "regions"]
    active = regions.patterns[:, unit]
    paths = {t.fillcolor: int(np.isnan(np.asarray(t.x, float)).sum()) for t in shaded}
    assert sorted(paths.values()) == sorted([int(active.sum()), int((~active).sum())])
    dead = Network(([[1.0, 0.0], [0.0, 0.0]], [[1.0, 1.0]]), ([0.0, -1.0], [0.0]))
    title = neuron_map(enumerate_regions(dead, (-1, 1, -1, 1)), 1).layout.title.text
    assert title == "neuron 2 of layer 1: always inactive here"
