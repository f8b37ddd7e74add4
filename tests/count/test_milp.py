"""MILP formulation of spec §2: big-Ms (T4, T7), margins (T4), ε rule, feasible starts, LP confirmation."""

import numpy as np
import pytest

from explorer.count.bounds import max_active
from explorer.errors import ExplorerError
from explorer.net import as_box
from explorer.count.milp import (Confirmer, add_no_good, build_milp, find, new_solver, set_start,
                           start_values, unit_bounds)
from tests.nets import random_network as random_net
from tests.nets import N1, N2, N3


def milp_count(net, box, margin):
    """Distinct LP-confirmed patterns found by FIND with no-good cuts (spec §3) for one margin."""
    model = build_milp(net, box, margin=margin)
    solver, confirm, found = new_solver(model), Confirmer(model), set()
    while (res := find(solver, model)).status == "found":
        if confirm(res.z):
            found.add(res.z.tobytes())
        add_no_good(solver, model, res.z)
    assert res.status == "none"
    return len(found)


@pytest.mark.parametrize("net, box, counts", [
    (N1, [-2, 2], (7, 7, 7)), (N1, [0.1, 2], (2, 2, 2)), (N1, [0, 2], (2, 7, 7)),
    (N2, [-2, 2], (4, 5, 6)), (N2, [-0.5, 2, -1, 1], (3, 4, 5)), (N3, [-1, 1], (6, 6, 8))])
def test_spec_t4_counts_two_sided_one_sided_and_without_f(net, box, counts):
    assert tuple(milp_count(net, box, m) for m in ("both", "active", "none")) == counts


def test_spec_t4_n2_layer_two_bounds():
    interval = unit_bounds(N2, [-2, 2], tighten="none")
    assert (interval.lower[2], interval.upper[2]) == pytest.approx((-1.0, 3.0))
    for tighten in ("lp", "milp"):
        tight = unit_bounds(N2, [-2, 2], tighten=tighten)
        assert (tight.lower[2], tight.upper[2]) == pytest.approx((-1.0, 1.0), abs=1e-5)
        assert tight.unstable.all()


@pytest.mark.parametrize("tighten", ["none", "lp", "milp"])
@pytest.mark.parametrize("seed, n0, widths, activation", [
    (0, 2, (6, 6), "relu"), (1, 5, (8, 8, 8), "relu"), (2, 3, (10, 6), "leaky_relu"), (3, 8, (12, 4), "relu")])
def test_t7_big_ms_enclose_every_sample_and_stable_units_keep_their_sign(seed, n0, widths, activation, tighten):
    net = random_net(widths, n0=n0, seed=seed, activation=activation, alpha=0.2 if activation != "relu" else 0.0)
    box = np.c_[-np.ones(n0), np.linspace(0.5, 1.5, n0)]
    bounds = unit_bounds(net, box, tighten=tighten)
    x = box[:, 0] + np.random.default_rng(seed).random((10_000, n0)) * (box[:, 1] - box[:, 0])
    g = np.concatenate(net.preactivations(x), axis=1)
    up, dn = bounds.big_m
    assert (g <= up).all() and (-g <= dn).all()
    assert (g[:, bounds.stable_active] > 0).all() and (g[:, bounds.stable_inactive] <= 0).all()
    if tighten != "none":       # tightening never loosens
        loose = unit_bounds(net, box, tighten="none")
        assert (bounds.upper <= loose.upper + 1e-9).all() and (bounds.lower >= loose.lower - 1e-9).all()


def test_tightening_proves_more_units_stable():
    net = random_net((8, 8, 8), n0=3, seed=11)
    assert unit_bounds(net, [-1, 1], tighten="lp").unstable.sum() <= unit_bounds(net, [-1, 1], tighten="none").unstable.sum()
    deep = random_net((16, 16, 16), n0=2, seed=5)
    assert unit_bounds(deep, [-1, 1], tighten="lp").unstable.sum() < unit_bounds(deep, [-1, 1], tighten="none").unstable.sum()


def test_epsilon_rule_and_report():
    model = build_milp(random_net((6, 6), n0=3, seed=1), [-5, 5])
    assert model.epsilon == pytest.approx(max(1e-4, 10 * (model.h_max * 1e-6 + 1e-7)))
    assert build_milp(N1, [-2, 2]).epsilon == 1e-4
    assert build_milp(N1, [-2, 2], epsilon=0.5).epsilon == 0.5
    with pytest.raises(ExplorerError, match="epsilon"):
        build_milp(N1, [-2, 2], epsilon=0.0)


@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
def test_forward_pass_is_a_feasible_start(activation):
    net = random_net((7, 5), n0=3, seed=4, activation=activation, alpha=0.1 if activation != "relu" else 0.0)
    model = build_milp(net, [-1, 1], margin="none")
    A, lo, up = model.rows
    for x in np.random.default_rng(0).uniform(-1, 1, (50, 3)):
        v = start_values(model, x)
        assert (A @ v >= lo - 1e-9).all() and (A @ v <= up + 1e-9).all()
        assert (v >= model.col_lower - 1e-12).all() and (v <= model.col_upper + 1e-12).all()
    solver = new_solver(model)
    set_start(solver, model, np.array([0.3, -0.2, 0.1]))
    res = find(solver, model)
    assert res.status == "found"
    np.testing.assert_array_equal(model.pattern(res.z), net.patterns(res.x)[0])


def test_lp_confirmation_accepts_regions_and_rejects_others():
    model = build_milp(N1, [-2, 2])
    confirm = Confirmer(model)
    realised = {tuple(p) for p in N1.patterns(np.random.default_rng(0).uniform(-2, 2, (2000, 2)))}
    for bits in np.ndindex(2, 2, 2):
        assert confirm(np.array(bits, dtype=bool)) == (tuple(bool(b) for b in bits) in realised)
    assert len(realised) == 7                     # (0, 0, 1) is the one impossible pattern


def test_leaky_relu_milp_counts_its_regions():
    net = random_net((4, 3), n0=2, seed=8, activation="leaky_relu", alpha=0.3)
    from explorer.count.exact import count_exact

    assert milp_count(net, [-1, 1], "both") == count_exact(net, [-1, 1]).n_regions


def test_max_active_bounds_the_observed_maximum():
    net = random_net((10, 8), n0=3, seed=2)
    model = build_milp(net, [-1, 1])
    pats = net.patterns(np.random.default_rng(1).uniform(-1, 1, (20_000, 3)))
    layer = net.unit_layers()
    for l in range(2):
        A, status = max_active(model, l)
        assert status == "optimal"
        assert pats[:, layer == l].sum(axis=1).max() <= A <= net.hidden_widths[l]


def test_as_box_forms_and_errors():
    np.testing.assert_array_equal(as_box([0, 1], 3), [[0, 1]] * 3)
    np.testing.assert_array_equal(as_box([0, 1, 2, 3], 2), [[0, 1], [2, 3]])
    with pytest.raises(ExplorerError, match="LO < HI"):
        as_box([0, 0], 2)
    with pytest.raises(ExplorerError, match="finite"):
        as_box([0, np.inf], 2)
    with pytest.raises(ExplorerError, match="tighten"):
        unit_bounds(N1, [0, 1], tighten="sdp")
    with pytest.raises(ExplorerError, match="margin"):
        build_milp(N1, [0, 1], margin="half")
