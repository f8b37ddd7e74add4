"""The seam for distributed counting: independent cells of one frontier, each counted alone, add up to the serial
count."""

import pickle

import numpy as np
import pytest

from explorer.count.exact import Frontier, count_cell, count_exact, merge_counts, split_tree
from tests.nets import random_network as random_net


def as_set(patterns):
    return {tuple(int(v) for v in p) for p in patterns}


@pytest.mark.parametrize("n_cells", [1, 2, 7, 40])
def test_frontier_cells_counted_apart_add_up_to_the_serial_count(n_cells):
    net = random_net((6, 5, 4), n0=3, seed=5)
    serial = count_exact(net, [-1, 1])
    frontier = split_tree(net, [-1, 1], n_cells=n_cells)
    assert isinstance(frontier, Frontier) and len(frontier.cells) >= min(n_cells, 2)
    shares = np.array([c.share for c in frontier.cells])            # 2^−(splits above the cell)
    assert 0 < shares.sum() <= 1 and np.all(np.log2(shares) == np.round(np.log2(shares)))
    shipped = pickle.loads(pickle.dumps((net, frontier.cells)))[1]          # plain arrays travel
    counts = [count_cell(net, [-1, 1], cell) for cell in reversed(shipped)]  # any order, any process
    merged = merge_counts(frontier, counts[::-1])
    assert merged.status == "exact" and merged.n_regions == serial.n_regions
    assert as_set(merged.patterns) == as_set(serial.patterns)
    assert sum(len(as_set(c.patterns)) for c in counts) + frontier.done.n_regions == serial.n_regions   # disjoint


def test_cells_are_plain_arrays_inside_the_box():
    net = random_net((5, 5), n0=4, seed=2)
    for cell in split_tree(net, [-1, 1], n_cells=10).cells:
        assert cell.pattern.dtype == bool and cell.pattern.shape == (net.n_hidden,)
        assert cell.row_units.dtype == np.int64 and set(np.unique(cell.row_signs)) <= {-1, 1}
        assert cell.point.shape == (4,) and (np.abs(cell.point) <= 1).all()
        for x in (cell.point, *cell.points):                     # every known point lies in the cell
            g = np.concatenate(net.preactivations(x[None, :]), axis=1)[0]
            assert ((cell.row_signs * g[cell.row_units]) > 0).all()


def test_a_tree_that_ends_early_leaves_fewer_cells():
    net = random_net((2,), n0=2, seed=0)
    frontier = split_tree(net, [-1, 1], n_cells=100)
    assert len(frontier.cells) == 0 and frontier.done.n_regions == count_exact(net, [-1, 1]).n_regions


def test_budgets_per_cell_and_an_unfinished_merge():
    net = random_net((8, 8), n0=3, seed=1)
    frontier = split_tree(net, [-1, 1], n_cells=4)
    capped = count_cell(net, [-1, 1], frontier.cells[0], max_regions=3)
    assert capped.status == "capped" and capped.n_regions == 3
    partial = merge_counts(frontier, [capped])
    assert partial.status == "capped" and not partial.is_exact
    missing = merge_counts(frontier, [count_cell(net, [-1, 1], frontier.cells[0])])
    assert missing.status == "time limit" and missing.n_regions < count_exact(net, [-1, 1]).n_regions
