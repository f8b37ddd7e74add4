"""Local bounds never fall below the truth: badly scaled rows, a lying solver, radius 1e308, power-of-two rescaled
nets whose values overflow, and budgets (issue 11, classes 5 and 6).  Exact counts are checked against the
rational oracle of tests/oracles.py."""

import time
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from explorer.ball import ballmodel
from explorer.ball.local import local_bounds, radius_profile
from explorer.errors import ExplorerError
from explorer.net import Network
from tests.adversarial import badly_scaled_nets
from tests.nets import N2, random_network
from tests.oracles import exact_regions

QUADRANTS = Network(([[1e8, 0.0], [0.0, 1e-8]], [[1.0, 1.0]]), ([0.0, 0.0], [0.0]))
# found by a search over badly scaled nets: the MILP of the old "exact" certifier called layer-2 neuron 0 active
# on the ball (lo = 2.2e13) although it takes the value −1e-5 there, and gave A = B = 8 for 10 regions
BADLY_SCALED = Network(
    ([[1.4468655351578411e-07, -3.432404176680967e-07], [10427037612.371094, -24736097848.37933],
      [5.234512123089939e-11, -3.0204422939349013e-10]],
     [[13387.67847510142, 35136.97866007839, -24044.62958666165],
      [1.2519633225164255e-10, 2.8680786855816395e-10, 6.130018788506943e-11]],
     [[-13413.033012171561, 2296.803402108959]]),
    ([-8.56521619488933e-09, -0.0, -1.2251157080922284e-24], [3.6170400206085095e-08, -1.979604297479373e-10],
     [4.66503414140541e+16]))
BADLY_SCALED_BALL = ((0.4532111765645733, -0.6036578242981291), 6.5452421963947724)


def oracle_count(net: Network, x0, r: float) -> int:
    """Regions meeting the open disk, exactly: the rational oracle's polygons on the square [x0 ± r]², each tested
    by point-in-polygon and squared distances to its edges in rationals (float polygons of regions 1e-301 wide
    collapse)."""
    box = (x0[0] - r, x0[0] + r, x0[1] - r, x0[1] + r)
    c, r2 = (Fraction(float(x0[0])), Fraction(float(x0[1]))), Fraction(float(r)) ** 2
    return sum(_meets(poly, c, r2) for poly in exact_regions(net, box).values())


def _meets(poly, c, r2) -> bool:
    edges = list(zip(poly, poly[1:] + poly[:1]))
    if all((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]) >= 0 for a, b in edges):
        return True  # the centre lies in the closed polygon
    for a, b in edges:
        d = (b[0] - a[0], b[1] - a[1])
        t = min(max(((c[0] - a[0]) * d[0] + (c[1] - a[1]) * d[1]) / (d[0] ** 2 + d[1] ** 2), 0), 1)
        if (a[0] + t * d[0] - c[0]) ** 2 + (a[1] + t * d[1] - c[1]) ** 2 < r2:
            return True
    return False


def assert_bracket(b) -> None:
    """sampled ≤ exact ≤ B ≤ A for every certifier, and k_sampled ≤ k_exact ≤ k_certified."""
    assert b.n_sampled <= b.n_exact <= b.upper_bound
    for row in b.per_certifier:
        assert b.n_exact <= row.bound_b <= row.bound_a
    assert all(s <= e <= c for s, e, c in zip(b.k_sampled, b.k_exact, b.k_certified))


# ---- named cases ---------------------------------------------------------------------------------------
def test_rows_of_norms_1e8_and_1e_minus_8_keep_their_rank():
    """A raw matrix_rank called the two rows dependent: A = B = upper_bound = 3 for the 4 quadrants."""
    b = local_bounds(QUADRANTS, (0.0, 0.0), 1.0, certifier="exact", n_samples=2000)
    assert (b.n_exact, b.n_sampled, b.k_exact) == (4, 4, (2,))
    assert b.bound_a == b.bound_b == b.upper_bound == 4


def test_badly_scaled_net_whose_milp_called_a_cutting_neuron_stable():
    x0, r = BADLY_SCALED_BALL
    b = local_bounds(BADLY_SCALED, x0, r, certifier="exact")
    assert b.n_exact == oracle_count(BADLY_SCALED, x0, r) == 10  # the old engine counted 7
    assert b.k_certified == (3, 2) and b.k_exact == (3, 2)
    assert_bracket(b)


@pytest.mark.parametrize("lie, found", [
    (lambda v, offset: 7.9e18, "contradicts the value"),  # max g = −7.9e18 (min g = 7.9e18): crosses the centre
    (lambda v, offset: None if v is None else offset, "at a point of the ball")])  # too tight: samples refute it
def test_a_solver_answer_that_contradicts_the_ball_is_dropped(monkeypatch, lie, found):
    real = ballmodel.BallModel.minimum
    monkeypatch.setattr(ballmodel.BallModel, "minimum",
                        lambda self, cost, offset, deadline: lie(real(self, cost, offset, deadline), offset))
    b = local_bounds(N2, (0.0, 0.0), 1.5, certifier="lp", n_samples=2000)
    lp, symbolic = b.per_certifier[-1], b.per_certifier[-2]
    assert lp.certifier == "lp" and "lp bounds dropped" in lp.status and found in lp.status
    assert "showing the symbolic enclosure" in b.status
    assert (lp.k, lp.bound_a, lp.bound_b) == (symbolic.k, symbolic.bound_a, symbolic.bound_b) == ((2, 1), 6, 6)
    assert_bracket(b)


def test_radius_1e308_counts_every_region_of_the_plane(moons_checkpoint):
    """Before the fix the disk count was 0: squared distances overflowed."""
    net = moons_checkpoint.net
    with np.errstate(over="raise", invalid="raise"):  # nothing overflows on the way
        b = local_bounds(net, (0.0, 0.0), 1e308, n_samples=2000)
    assert b.n_exact == 426 and b.status == "complete"
    assert_bracket(b)
    assert 0 < b.d_star < 1
    far = local_bounds(net, (1e308, 0.0), 1e308, n_samples=500)
    assert far.n_exact is None and "float64" in far.exact_source and "exact count" in far.status
    assert far.n_sampled <= far.upper_bound


def test_power_of_two_rescaled_net_whose_values_overflow_gives_the_same_local_results():
    net = random_network([6, 6], seed=4, fan_in=True)
    W1, W2, W3 = net.weights
    b1, b2, b3 = net.biases
    shift = 1023 - np.frexp(np.abs(np.c_[W2, b2]).max(axis=1))[1]
    twin = Network((W1, np.ldexp(W2, shift[:, None]), np.ldexp(W3, -shift[None, :])), (b1, np.ldexp(b2, shift), b3))
    for certifier in ("symbolic", "exact"):
        a, b = (local_bounds(m, (0.2, -0.1), 1.2, certifier=certifier, n_samples=3000) for m in (net, twin))
        for attr in ("k_certified", "k_sampled", "k_exact", "bound_a", "bound_b", "n_exact", "n_sampled"):
            assert getattr(a, attr) == getattr(b, attr), attr
        assert a.d_star == b.d_star and a.d_star_unit == b.d_star_unit


# ---- budgets (the library side of the CLI's local budgets) ----------------------------------------------
def test_local_bounds_and_profiles_stop_within_their_time_limit_and_say_so():
    net = random_network([600, 600], seed=0, fan_in=True)
    start = time.perf_counter()
    b = local_bounds(net, (0.1, 0.2), 0.5, time_limit=1.0)
    assert time.perf_counter() - start < 1.0 + 3.0  # one SVD or one chunk of samples past the limit at most
    assert "time limit" in b.status and b.n_exact is None and b.n_sampled <= b.upper_bound
    start = time.perf_counter()
    profile = radius_profile(net, (0.1, 0.2), [0.1, 0.3, 0.5, 1.0], time_limit=1.0)
    assert time.perf_counter() - start < 1.0 + 3.0
    assert profile.status != "complete" and len(profile.radii) == len(profile.headline) <= 4


def test_the_exact_count_has_a_region_budget():
    b = local_bounds(random_network([8, 8], seed=1, fan_in=True), (0.0, 0.0), 2.0, max_regions=5, n_samples=100)
    assert b.n_exact is None and "more than 5 regions" in b.exact_source and "exact count" in b.status


@pytest.mark.parametrize("kwargs", [dict(time_limit=0), dict(time_limit=float("nan")), dict(time_limit="1"),
                                    dict(max_regions=0), dict(max_regions=2.5)])
def test_absurd_budgets_are_refused(kwargs):
    with pytest.raises(ExplorerError, match="time limit|max_regions"):
        local_bounds(N2, (0.0, 0.0), 1.0, n_samples=10, **kwargs)


# ---- properties over badly scaled small nets -----------------------------------------------------------
@settings(max_examples=1000, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(net=badly_scaled_nets(min_width=2, max_layers=2, leaky=False),
       x0=st.tuples(st.floats(-2, 2), st.floats(-2, 2)), log_r=st.floats(np.log(0.01), np.log(10)),
       certifier=st.sampled_from(["symbolic", "symbolic", "exact"]))
def test_badly_scaled_nets_keep_sampled_exact_and_bounds_in_order(net, x0, log_r, certifier):
    """Rows scaled by 2^±40, tiny, huge or zero biases, nearly parallel rows; a ball of radius 0.01 to 10."""
    r = float(np.exp(log_r))
    try:
        b = local_bounds(net, x0, r, certifier=certifier, n_samples=1000)
    except ExplorerError as exc:  # a hidden row spanning more than float64 holds: one clear refusal
        assert "float64" in str(exc)
        return
    assert b.n_exact == oracle_count(net, x0, r)
    assert_bracket(b)
