"""The canonical network's helpers: boxes in every accepted form, local affine maps, interval bounds."""

import numpy as np
import pytest

from explorer.errors import ExplorerError
from explorer.net import as_box, box_interval_bounds, local_affine
from explorer.plane.partition import preactivation_maps
from explorer.plane.regions import enumerate_regions
from tests.nets import random_network


def test_every_form_of_a_box_gives_the_same_rows():
    rows = np.array([[-1.0, 2.0], [-1.0, 2.0], [-1.0, 2.0]])
    for form in ((-1, 2), [-1, 2, -1, 2, -1, 2], rows, rows.tolist()):
        np.testing.assert_array_equal(as_box(form, 3), rows)
    np.testing.assert_array_equal(as_box((0, 1, 2, 3), 2), [[0.0, 1.0], [2.0, 3.0]])  # xmin xmax ymin ymax
    np.testing.assert_array_equal(as_box((0, 1), 1), [[0.0, 1.0]])


@pytest.mark.parametrize("box, message", [((0, 1, 2), "LO HI or 4 numbers"), ((1, 0, 0, 1), "XMIN < XMAX"),
                                          ((0, np.nan), "finite"), ("ab", "list of numbers"),
                                          ((0, 1, 0, 1, 0, 1), "LO HI or 4 numbers")])
def test_bad_boxes_raise_one_clear_error(box, message):
    with pytest.raises(ExplorerError, match=message):
        as_box(box, 2)


def test_local_affine_matches_values_and_the_region_maps():
    net = random_network((5, 4), seed=2, fan_in=True, activation="leaky_relu", alpha=0.1)
    points = np.random.default_rng(0).uniform(-2, 2, (50, 2))
    for (g, G), ref in zip(local_affine(net, points), net.preactivations(points)):
        np.testing.assert_allclose(g, ref, rtol=0, atol=1e-12)
        assert G.shape == (50, g.shape[1], 2)
    regions = enumerate_regions(net, (-2, 2, -2, 2))
    at_origin = local_affine(net, np.zeros((regions.n_regions, 2)), patterns=regions.patterns)
    for layer, (c, G) in enumerate(at_origin):  # the region's own map, read off at the origin
        maps = preactivation_maps(net, regions.patterns, layer)  # (R, 3, n_l): ∂/∂x, ∂/∂y, constant
        np.testing.assert_allclose(G, maps[:, :2, :].transpose(0, 2, 1), rtol=0, atol=1e-12)
        np.testing.assert_allclose(c, maps[:, 2, :], rtol=0, atol=1e-12)


def test_box_interval_bounds_enclose_every_preactivation():
    net = random_network((6, 5, 4), n0=3, seed=1, fan_in=True)
    box = as_box((-1, 1, 0, 2, -3, -1), 3)
    points = np.random.default_rng(1).uniform(box[:, 0], box[:, 1], (2000, 3))
    for (lo, hi), g in zip(box_interval_bounds(net, box[:, 0], box[:, 1]), net.preactivations(points)):
        assert (g >= lo - 1e-12).all() and (g <= hi + 1e-12).all()
