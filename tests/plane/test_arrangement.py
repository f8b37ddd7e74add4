"""The first layer's cells: the exact arrangement count for one hidden layer, a lower bound on the regions below."""

import numpy as np
import pytest

from explorer.net import as_box
from explorer.plane.arrangement import first_layer_cells
from explorer.plane.regions import enumerate_regions
from tests.nets import N1, N3, random_network, tangent_lines


@pytest.mark.parametrize("seed", range(12))
def test_first_layer_cells_is_the_arrangement_count_for_one_layer_and_a_lower_bound_below(seed):
    """One hidden layer: the cells of its lines are the regions (an exact oracle); deeper: a lower bound."""
    rng = np.random.default_rng(seed)
    box = as_box(sorted(rng.uniform(-3, 3, 2)) + sorted(rng.uniform(-3, 3, 2)), 2)
    one = random_network([int(rng.integers(1, 12))], seed=seed, fan_in=True)
    assert first_layer_cells(one, box) == enumerate_regions(one, box).n_regions
    two = random_network([int(rng.integers(2, 9)), 5], seed=seed, fan_in=True, degenerate=seed % 2 == 0)
    assert first_layer_cells(two, box) <= enumerate_regions(two, box).n_regions


def test_first_layer_cells_on_closed_forms():
    assert first_layer_cells(N1, as_box((-2, 2), 2)) == 7       # three lines in general position
    assert first_layer_cells(N3, as_box((-1, 1), 2)) <= 6       # three lines through one point: 6 sectors
    assert first_layer_cells(tangent_lines(40), as_box((-40, 40), 2)) == 1 + 40 + 40 * 39 // 2
    assert first_layer_cells(tangent_lines(40), as_box((-40, 40), 2), stop_above=100) > 100


def test_first_layer_cells_on_the_largest_boxes_overflows_nothing():
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        assert 4 <= first_layer_cells(N1, as_box((-1e308, 1e308), 2)) <= 7  # nearby crossings merge
        assert 1 <= first_layer_cells(N1, as_box((1e307, 1.7e308), 2)) <= 7
