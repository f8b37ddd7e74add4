"""Exact counts in any dimension: spec T4/T5, an independent 2^N LP oracle, the pre-walk counter, degenerate
nets, budgets."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.count.subdivision_reference import reference_count
from tests.count_oracle import lp_patterns
from tests.nets import N1, N2, N3  # named toy nets of spec T4
from tests.nets import random_network as random_net
from explorer.errors import ExplorerError
from explorer.count.exact import chord_points, count_exact, sample_patterns
from explorer.net import Network


def as_set(patterns):
    return {tuple(int(v) for v in p) for p in patterns}


def assert_milp_matches(net, box, expected):
    """The MILP count misses exactly the regions whose value margin max min_i |g_i| is below ε (spec §2.3)."""
    from explorer.count.milp import Confirmer, build_milp

    result = count_exact(net, box, method="milp")
    found = as_set(result.patterns)
    assert found <= expected
    model = build_milp(net, box, epsilon=result.epsilon)
    assert result.epsilon == pytest.approx(1e-6 * model.h_max)          # 10·TOL·H_max
    confirm = Confirmer(model)
    for p in expected:
        z = np.array(p, dtype=bool)[model.units]
        confirm(z)
        margin = -confirm.solver.getInfo().objective_function_value
        assert (p in found) == (margin >= result.epsilon * (1 - 1e-6)), (p, margin, result.epsilon)
    return found


@pytest.mark.parametrize("method", ["lp", "milp"])
@pytest.mark.parametrize("net, box, expected", [
    (N1, [-2, 2], 7), (N1, [0.1, 2], 2), (N1, [0, 2], 2),
    (N2, [-2, 2], 4), (N2, [-0.5, 2, -1, 1], 3), (N3, [-1, 1], 6)])
def test_spec_t4_two_sided_counts(net, box, expected, method):
    result = count_exact(net, box, method=method)
    assert result.n_regions == expected and result.status == "exact"
    assert len(as_set(result.patterns)) == expected
    np.testing.assert_array_equal(net.patterns(result.points), result.patterns)   # witnesses lie inside


def test_t5_random_2d_nets_match_region_engine():
    from explorer.plane.regions import enumerate_regions

    for seed in range(20):
        rng = np.random.default_rng(seed)
        widths = tuple(int(w) for w in rng.integers(1, 7, size=rng.integers(1, 3)))
        net = random_net(widths, seed=seed)
        reference = enumerate_regions(net, (-1, 1, -1, 1))
        lp = count_exact(net, [-1, 1])
        assert lp.n_regions == reference.n_regions, (seed, widths)
        assert as_set(lp.patterns) == as_set(reference.patterns)
        assert assert_milp_matches(net, [-1, 1], as_set(reference.patterns)) == as_set(reference.patterns)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n0=st.integers(1, 4), depth=st.integers(1, 2),
       leaky=st.booleans())
def test_lp_count_equals_brute_force_oracle(seed, n0, depth, leaky):
    widths = (3,) * depth if n0 > 2 else (4, 3)[:depth]
    net = random_net(widths, n0=n0, seed=seed, activation="leaky_relu" if leaky else "relu",
                     alpha=0.1 if leaky else 0.0)
    expected = lp_patterns(net, [-1, 1] * n0)
    assert as_set(count_exact(net, [-1, 1]).patterns) == expected
    assert_milp_matches(net, [-1, 1], expected)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2 ** 32 - 1), n0=st.integers(1, 5), widths=st.lists(st.integers(1, 6), min_size=1,
       max_size=3), leaky=st.booleans(), half=st.sampled_from([0.3, 1.0, 2.5]))
def test_counts_equal_the_pre_walk_counter(seed, n0, widths, leaky, half):
    net = random_net(tuple(widths), n0=n0, seed=seed, activation="leaky_relu" if leaky else "relu",
                     alpha=0.1 if leaky else 0.0)
    new = count_exact(net, [-half, half])
    n_old, status, old_patterns, _ = reference_count(net, [-half, half])
    assert new.status == status == "exact"
    assert new.n_regions == n_old and as_set(new.patterns) == as_set(old_patterns)
    np.testing.assert_array_equal(net.patterns(new.points), new.patterns)


def integer_nets(draw):
    """Small nets with weights in {−2, …, 2} and biases in {−1, 0, 1}: many coincident and parallel hyperplanes."""
    n0 = draw(st.integers(1, 3))
    dims = [n0] + draw(st.lists(st.integers(1, 4), min_size=1, max_size=2)) + [1]
    weights = [np.array(draw(st.lists(st.integers(-2, 2), min_size=a * b, max_size=a * b)), float).reshape(b, a)
               for a, b in zip(dims[:-1], dims[1:])]
    biases = [np.array(draw(st.lists(st.integers(-1, 1), min_size=b, max_size=b)), float) for b in dims[1:]]
    leaky = draw(st.booleans())
    return Network(tuple(weights), tuple(biases), "leaky_relu" if leaky else "relu", 0.25 if leaky else 0.0)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_degenerate_integer_nets_equal_the_pre_walk_counter_and_the_oracle(data):
    net = data.draw(st.composite(integer_nets)())
    new = as_set(count_exact(net, [-1, 1]).patterns)
    assert new == as_set(reference_count(net, [-1, 1])[2])
    if net.n_hidden <= 7:
        assert new == lp_patterns(net, [-1, 1] * net.n_inputs)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2 ** 32 - 1), widths=st.lists(st.integers(1, 8), min_size=1, max_size=3),
       leaky=st.booleans())
def test_two_input_counts_equal_the_polygon_count(seed, widths, leaky):
    from explorer.plane.regions import enumerate_regions

    net = random_net(tuple(widths), seed=seed, activation="leaky_relu" if leaky else "relu",
                     alpha=0.2 if leaky else 0.0)
    polygons = enumerate_regions(net, (-1.5, 1.5, -1.5, 1.5))
    assert as_set(count_exact(net, [-1.5, 1.5]).patterns) == as_set(polygons.patterns)


DEGENERATE = {
    "duplicate units": Network(([[1.0, 2.0], [1.0, 2.0], [0.0, 1.0]], [[1.0, -1.0, 1.0]]), ([0.3, 0.3, 0.0], [0.0])),
    "opposite units": Network(([[1.0, 1.0], [-1.0, -1.0]], [[1.0, 1.0]]), ([0.0, 0.0], [0.0])),
    "parallel units": Network(([[1.0, 0.0], [2.0, 0.0], [1.0, 0.0]], [[1.0, 1.0, 1.0]]), ([0.0, -1.0, 0.5], [0.0])),
    "zero row": Network(([[0.0, 0.0], [1.0, 0.0]], [[1.0, 1.0]]), ([0.5, 0.0], [0.0])),
    "dead unit": Network(([[1.0, 0.0], [0.0, 1.0]], [[0.0, 0.0], [1.0, 1.0]], [[1.0, 1.0]]),
                         ([0.0, 0.0], [-1.0, 0.0], [0.0])),
    "three lines through one point": Network(([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], [[1.0, 1.0, 1.0]]),
                                             ([0.0, 0.0, 0.0], [0.0])),
    "line through a box vertex": Network(([[1.0, 1.0], [1.0, -1.0]], [[1.0, 1.0]]), ([-2.0, 0.0], [0.0])),
    "second layer ≡ 0 where layer 1 is off": Network(([[1.0, 0.0]], [[1.0], [-1.0]], [[1.0, 1.0]]),
                                                    ([0.0], [0.0, 0.0], [0.0])),
}


ZERO_ON_OPEN_SET = {"dead unit": [3], "second layer ≡ 0 where layer 1 is off": [1, 2]}


@pytest.mark.parametrize("name", sorted(DEGENERATE))
def test_degenerate_nets_match_oracle_and_region_engine(name):
    from explorer.plane.regions import enumerate_regions

    net = DEGENERATE[name]
    expected = lp_patterns(net, [-1, 1, -1, 1])
    assert enumerate_regions(net, (-1, 1, -1, 1)).n_regions == len(expected)
    assert as_set(count_exact(net, [-1, 1]).patterns) == expected
    milp = as_set(count_exact(net, [-1, 1], method="milp").patterns)
    if name in ZERO_ON_OPEN_SET:      # spec §2.3: the two-sided MILP needs g ≤ −ε, so it misses g ≡ 0
        missed = expected - milp
        assert milp < expected and all(p[unit] == 0 for p in missed for unit in ZERO_ON_OPEN_SET[name])
    else:
        assert milp == expected


def test_invariant_under_unit_permutation_and_positive_rescaling():
    net = random_net((5, 4), n0=3, seed=7)
    base = count_exact(net, [-1, 1]).n_regions
    perm = np.array([3, 0, 4, 1, 2])
    W1, W2, W3 = net.weights
    b1, b2, b3 = net.biases
    scale = np.array([0.5, 2.0, 3.0, 0.1, 7.0])[:, None]
    permuted = Network((W1[perm] * scale, W2[:, perm] / scale.T, W3), (b1[perm] * scale[:, 0], b2, b3))
    assert count_exact(permuted, [-1, 1]).n_regions == base


def test_higher_dimension_agrees_between_methods():
    net = random_net((4, 4), n0=5, seed=3)
    lp = count_exact(net, [-1, 1])
    assert lp.status == "exact"
    assert_milp_matches(net, [-1, 1], as_set(lp.patterns))
    assert as_set(net.patterns(sample_patterns(net, [-1, 1], n_samples=2000)[0])) <= as_set(lp.patterns)


def test_budgets_give_partial_results_with_status():
    net = random_net((8, 8), n0=3, seed=1)
    full = count_exact(net, [-1, 1])
    capped = count_exact(net, [-1, 1], max_regions=10)
    assert capped.status == "capped" and capped.n_regions == 10 and not capped.is_exact
    assert as_set(capped.patterns) <= as_set(full.patterns)
    late = count_exact(net, [-1, 1], time_limit=0.0)
    assert late.status == "time limit" and late.n_regions < full.n_regions
    calls = []
    count_exact(net, [-1, 1], progress=lambda f, msg: calls.append(f))
    assert calls and all(0.0 <= f <= 1.0 for f in calls)


def test_chord_points_lie_in_box_and_hit_known_regions():
    net = random_net((6, 6), n0=3, seed=2)
    x = chord_points(net, [-1, 1], n_lines=200, seed=0)
    assert x.shape[1] == 3 and ((x >= -1) & (x <= 1)).all()
    exact = as_set(count_exact(net, [-1, 1]).patterns)
    chords = as_set(net.patterns(x))
    assert chords <= exact and len(chords) > 0.5 * len(exact)


def test_bad_requests_raise():
    with pytest.raises(ExplorerError, match="method"):
        count_exact(N1, [-1, 1], method="magic")
    with pytest.raises(ExplorerError, match="LO < HI"):
        count_exact(N1, [1, -1])
    with pytest.raises(ExplorerError, match="numbers"):
        count_exact(N1, [0, 1, 2])
    with pytest.raises(ExplorerError, match="time limit"):
        count_exact(N1, [-1, 1], time_limit=float("nan"))
    with pytest.raises(ExplorerError, match="max_regions"):
        count_exact(N1, [-1, 1], max_regions=0)
