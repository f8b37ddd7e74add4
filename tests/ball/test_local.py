"""Local bounds in a ball: the spec's L1–L4 tables, independent oracles for exact counts, and properties."""

import json
from math import comb

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, Polygon

from explorer.__main__ import main
from explorer.ball.certify import CERTIFIERS, EXACT_MAX_UNITS, certify, certify_chain
from explorer.ball.disk import disk_count, disk_counts, pattern_distances
from explorer.ball.local import (LOCAL_BOUND_LABEL, bound_a, bound_b, global_bound, local_bounds, one_region_radii,
                                 one_region_radius, radius_profile)
from explorer.ball.primitives import sample_ball
from explorer.errors import ExplorerError
from explorer.net import Network, local_affine
from explorer.plane.regions import enumerate_regions
from explorer.studies.findings import local_findings
from tests.nets import N1, N2, random_network, tangent_lines
from tests.oracles import exact_regions

PROPERTY = settings(max_examples=1000, deadline=None, derandomize=True)


def leaky_if(leaky: bool) -> dict:
    """Keyword arguments of random_network for a LeakyReLU(0.1) network, or none for ReLU."""
    return dict(activation="leaky_relu", alpha=0.1) if leaky else {}


# ---- independent oracles ------------------------------------------------------------------------
def oracle_polygons(net: Network, x0, r: float) -> list:
    """(pattern, shapely Polygon) of every region in the square [x0 ± r]², from the rational oracle."""
    box = (x0[0] - r, x0[0] + r, x0[1] - r, x0[1] + r)
    return [(pattern, Polygon([(float(x), float(y)) for x, y in poly]))
            for pattern, poly in exact_regions(net, box).items()]


def ball_polygon(x0, r: float, norm: str, sides: int = 4096, outer: bool = False) -> Polygon:
    """The square / diamond exactly, or a regular ``sides``-gon inscribed in (or circumscribing) the disk."""
    if norm == "inf":
        return shapely.box(x0[0] - r, x0[1] - r, x0[0] + r, x0[1] + r)
    if norm == "1":
        return Polygon([(x0[0] + r, x0[1]), (x0[0], x0[1] + r), (x0[0] - r, x0[1]), (x0[0], x0[1] - r)])
    t = 2 * np.pi * np.arange(sides) / sides
    rr = r / np.cos(np.pi / sides) if outer else r
    return Polygon(np.stack([x0[0] + rr * np.cos(t), x0[1] + rr * np.sin(t)], 1))


def oracle_count(polys, x0, r: float, norm: str) -> int:
    """Patterns whose polygon meets the open ball: Euclidean distance < r (p = 2), or meets a closed
    square / diamond of radius r(1 − 1e-9) (p = inf, 1)."""
    if norm == "2":
        return sum(P.distance(Point(*x0)) < r for _, P in polys)
    shrunk = ball_polygon(x0, r * (1 - 1e-9), norm)
    return sum(P.intersects(shrunk) for _, P in polys)


def oracle_k(net: Network, polys, x0, r: float, norm: str, outer: bool = False) -> tuple:
    """Neurons per layer with both signs on the vertices of (region ∩ ball polygon); every unit is affine
    on a region, so these vertices hold its extremes over the polygonal ball."""
    ball = ball_polygon(x0, r, norm, outer=outer)
    pts = [np.asarray((P & ball).exterior.coords) for _, P in polys if (P & ball).area > 0]
    g = np.concatenate(net.preactivations(np.concatenate(pts)), axis=1)
    cut = (g.min(axis=0) < -1e-7) & (g.max(axis=0) > 1e-7)
    return tuple(int(v) for v in np.bincount(net.unit_layers()[cut], minlength=len(net.hidden_widths)))


# ---- L1: one layer of three lines ---------------------------------------------------------------
@pytest.mark.parametrize("x0, r, k, A, exact", [
    ((0, 0), 0.5, 2, 4, 4), ((0, 0), 1.0, 3, 7, 5), ((0.3, 0.2), 0.19, 0, 1, 1), ((0.3, 0.2), 0.25, 1, 2, 2),
    ((0.3, 0.2), 0.32, 2, 4, 3), ((0.3, 0.2), 0.36, 3, 7, 4), ((0.3, 0.2), 0.37, 3, 7, 5), ((2, 2), 1.0, 0, 1, 1)])
def test_L1_three_lines(x0, r, k, A, exact):
    for certifier in CERTIFIERS:
        b = local_bounds(N1, x0, r, certifier=certifier, n_samples=20_000)
        assert (b.k_certified, b.bound_a, b.headline, b.n_exact, b.k_exact) == ((k,), A, A, exact, (k,))
        assert b.n_sampled == exact and b.k_sampled == (k,)
        assert b.upper_bound == A and b.label == LOCAL_BOUND_LABEL


def test_L1_one_region_radius():
    d, unit = one_region_radius(N1, (0.3, 0.2))
    assert d == pytest.approx(0.2) and unit == (1, 1)
    assert local_bounds(N1, (0.3, 0.2), 0.19, n_samples=100).one_region
    assert not local_bounds(N1, (0.3, 0.2), 0.21, n_samples=100).one_region


# ---- L2: g² = |x1| − 1 ----------------------------------------------------------------------------
@pytest.mark.parametrize("r, encl, k, A_rank, A_count, B_rank, B_count, exact", [
    (0.4, {"lipschitz": (-1.8, -0.2), "ibp": (-1, -0.2), "symbolic": (-1, -0.6)}, (2, 0), 3, 4, 3, 4, 2),
    (1.5, {"lipschitz": (-4, 2), "ibp": (-1, 2), "symbolic": (-1, 0.5)}, (2, 1), 6, 8, 6, 7, 4)])
def test_L2_abs_net(r, encl, k, A_rank, A_count, B_rank, B_count, exact):
    chain = certify_chain(N2, (0, 0), r, certifier="symbolic")
    for enc in chain:
        assert (enc.lower[1][0], enc.upper[1][0]) == pytest.approx(encl[enc.certifier], abs=1e-12)
    b = local_bounds(N2, (0, 0), r, certifier="exact")
    assert (b.k_certified, b.bound_a, b.bound_b, b.n_exact, b.k_exact) == (k, A_rank, B_rank, exact, k)
    assert b.n_sampled == exact  # the centre's own pattern (on x1 = 0) has no interior: not counted
    active = [int((s == 1).sum()) for s in b.enclosure.state]
    assert bound_a(2, k) == A_count and bound_b(2, k, active) == B_count


def test_L2_far_centre_and_one_region_radius():
    b = local_bounds(N2, (2, 0), 1.5)
    assert (b.k_certified, b.bound_a, b.n_exact) == ((0, 1), 2, 2)
    d, unit = one_region_radius(N2, (2, 0))
    assert d == pytest.approx(1.0) and unit == (2, 0)
    assert one_region_radius(N2, (0.5, 0))[0] == pytest.approx(0.5)


# ---- L3: closed forms -----------------------------------------------------------------------------
@pytest.mark.parametrize("n0, widths, value", [
    (1, [3, 3, 3], 64), (2, [4, 5, 3], 1232), (2, [3], 7), (2, [5], 16), (2, [8], 37), (2, [10, 10], 3136),
    (3, [10, 10], 30976), (6, [12, 12, 12], 15_813_251_000)])
def test_L3_recursion_is_theorem_1(n0, widths, value):
    assert bound_b(n0, widths, [0] * len(widths)) == value
    net = Network(tuple(np.ones((m, n)) for n, m in zip([n0, *widths], [*widths, 1])),
                  tuple(np.zeros(m) for m in [*widths, 1]))
    assert global_bound(net) == value


def test_L3_eight_generic_lines():
    net = tangent_lines(8)
    b = local_bounds(net, (0.05, -0.02), 1 / np.sin(np.pi / 16) + 0.5, n_samples=50_000)
    assert b.bound_a == b.n_exact == 37 and b.n_sampled <= 37


def test_montufar_product_for_leaky_relu():
    leaky = Network((np.ones((2, 2)), np.ones((2, 2)), np.ones((1, 2))), (np.zeros(2),) * 2 + (np.zeros(1),),
                    "leaky_relu", 0.1)
    assert global_bound(leaky) == 16 and bound_b(2, [2, 2], [0, 0]) == 11  # ReLU's Theorem 1 would say 11


# ---- L4: properties over random networks ----------------------------------------------------------
nets = st.builds(lambda seed, n0, widths, leaky, degenerate: random_network(
                     widths, n0=n0, seed=seed, fan_in=True, degenerate=degenerate, **leaky_if(leaky)),
                 st.integers(0, 2**31), st.integers(1, 3), st.lists(st.integers(2, 8), min_size=1, max_size=3),
                 st.booleans(), st.booleans())


@PROPERTY
@given(net=nets, log_r=st.floats(np.log(0.01), np.log(10)), norm=st.sampled_from(["2", "inf", "1"]),
       c=st.lists(st.floats(-1.5, 1.5), min_size=3, max_size=3))
def test_L4_bracket_and_monotone_certifiers(net, log_r, norm, c):
    x0, r = np.array(c[:net.n_inputs]), float(np.exp(log_r))
    b = local_bounds(net, x0, r, norm=norm, certifier="exact", n_samples=2000, seed=1)
    g = net.preactivations(sample_ball(x0, r, 2000, norm=norm, seed=3))
    for gl, lo, hi in zip(g, b.enclosure.lower, b.enclosure.upper):  # the MILP bounds are sound too
        slack = 1e-9 * (1 + np.abs(gl).max())
        assert (gl >= lo - slack).all() and (gl <= hi + slack).all()
    rows = b.per_certifier
    assert [row.certifier for row in rows] == list(CERTIFIERS)
    for loose, tight in zip(rows, rows[1:]):  # tighter certifiers never give more
        assert all(t <= s for s, t in zip(loose.k, tight.k)) and tight.bound_a <= loose.bound_a
        assert tight.headline <= loose.headline
    assert b.upper_bound == rows[-1].headline == min(b.bound_a, b.bound_b, global_bound(net))
    assert all(row.headline == min(row.bound_a, row.bound_b, global_bound(net)) for row in rows)
    assert b.bound_b <= b.bound_a <= 2 ** sum(b.k_certified)
    if net.alpha == 0:
        assert b.bound_b <= global_bound(net)
    assert all(s <= c for s, c in zip(b.k_sampled, b.k_certified))
    if net.n_inputs == 2:
        assert b.n_sampled <= b.n_exact <= b.bound_b
        assert all(s <= e <= c for s, e, c in zip(b.k_sampled, b.k_exact, b.k_certified))
        assert (b.n_exact == 1) == (r <= b.d_star) or abs(r - b.d_star) < 1e-9 * r
    else:
        assert b.n_sampled <= b.bound_b


@settings(max_examples=2000, deadline=None, derandomize=True)
@given(net=nets, log_r=st.floats(np.log(0.01), np.log(10)), norm=st.sampled_from(["2", "inf", "1"]),
       c=st.lists(st.floats(-1.5, 1.5), min_size=3, max_size=3))
def test_L4_enclosures_nest_and_contain_every_sample(net, log_r, norm, c):
    x0, r = np.array(c[:net.n_inputs]), float(np.exp(log_r))
    chain = certify_chain(net, x0, r, norm=norm, certifier="lp")
    g = net.preactivations(sample_ball(x0, r, 3000, norm=norm, seed=2))
    for enc in chain:
        for l, (gl, lo, hi, s) in enumerate(zip(g, enc.lower, enc.upper, enc.state)):
            slack = 1e-9 * (1 + np.abs(gl).max())
            assert (gl >= lo - slack).all() and (gl <= hi + slack).all(), (enc.certifier, l)
            assert not ((s == 1) & (gl < -slack).any(axis=0)).any() and not ((s == -1) & (gl > slack).any(axis=0)).any()
    for loose, tight in zip(chain, chain[1:]):
        for lo0, hi0, lo1, hi1 in zip(loose.lower, loose.upper, tight.lower, tight.upper):
            assert (lo1 >= lo0).all() and (hi1 <= hi0).all()


@settings(max_examples=500, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**31), widths=st.lists(st.integers(2, 6), min_size=1, max_size=2),
       norm=st.sampled_from(["2", "inf", "1"]), r=st.floats(0.05, 2.0), leaky=st.booleans())
def test_d_star_is_the_boundary_distance(seed, widths, norm, r, leaky):
    """N_B = 1 just inside d*, ≥ 2 at 1.01·d*; the point just beyond the nearest facet has another pattern."""
    net = random_network(widths, seed=seed, fan_in=True, **leaky_if(leaky))
    x0 = np.random.default_rng(seed).uniform(-1, 1, 2)
    d, (l, j) = one_region_radius(net, x0, norm=norm)
    assert one_region_radii(net, np.stack([x0, x0]), norm=norm) == pytest.approx([d, d])
    assert disk_count(net, x0, d * (1 - 1e-7), norm=norm).n_regions == 1
    assert disk_count(net, x0, d * 1.01, norm=norm).n_regions >= 2


def test_d_star_in_higher_dimensions():
    net = random_network([7, 6], n0=5, seed=3, fan_in=True)
    x0 = np.full(5, 0.2)
    d, (l, j) = one_region_radius(net, x0)
    g, G = net.preactivations(x0)[l - 1][0, j], None
    G = local_affine(net, x0[None])[l - 1][1][0, j]
    foot = x0 - g * G / (G @ G)  # nearest point of unit (l, j)'s hyperplane
    assert np.linalg.norm(foot - x0) == pytest.approx(d)
    inside = sample_ball(x0, d * (1 - 1e-6), 5000, seed=0)
    assert (net.patterns(inside) == net.patterns(x0)).all()
    assert not (net.patterns(x0 + (foot - x0) * (1 + 1e-6)) == net.patterns(x0)).all()


# ---- exact counts against the rational oracle -----------------------------------------------------
@settings(max_examples=300, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**31), widths=st.lists(st.integers(2, 5), min_size=1, max_size=2),
       norm=st.sampled_from(["2", "inf", "1"]), r=st.floats(0.1, 1.5), degenerate=st.booleans(),
       leaky=st.booleans())
def test_exact_count_and_k_match_independent_oracle(seed, widths, norm, r, degenerate, leaky):
    net = random_network(widths, seed=seed, fan_in=True, degenerate=degenerate, **leaky_if(leaky))
    x0 = np.random.default_rng(seed + 1).uniform(-0.5, 0.5, 2)
    polys = oracle_polygons(net, x0, r)
    got = disk_count(net, x0, r, norm=norm)
    assert got.n_regions == oracle_count(polys, x0, r, norm)
    if norm == "2":
        inner, outer = oracle_k(net, polys, x0, r, norm), oracle_k(net, polys, x0, r, norm, outer=True)
        assert all(a <= b <= c for a, b, c in zip(inner, got.k, outer))
    else:
        assert got.k == oracle_k(net, polys, x0, r, norm)
    dense = net.patterns(sample_ball(x0, r, 20_000, norm=norm, seed=seed))
    assert len(np.unique(dense, axis=0)) <= got.n_regions


@settings(max_examples=200, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**31), widths=st.lists(st.integers(2, 6), min_size=2, max_size=3),
       norm=st.sampled_from(["inf", "1"]), r=st.floats(0.1, 2.0))
def test_exact_certifier_classifies_like_the_polygons(seed, widths, norm, r):
    """For square and diamond balls the MILP is exact: its k equals the polygon count of cutting units."""
    net = random_network(widths, seed=seed, fan_in=True)
    x0 = np.random.default_rng(seed).uniform(-1, 1, 2)
    assert certify(net, x0, r, norm=norm, certifier="exact").k == disk_count(net, x0, r, norm=norm).k


def test_degenerate_networks_and_tangent_ball():
    twins = Network(([[1., 0.], [1., 0.], [-1., 0.], [0., 0.], [0., 1.]], np.ones((1, 5))),
                    ([0., 0., 0., 0., -9.], [0.]))  # duplicate, opposite, zero row, dead unit
    b = local_bounds(twins, (0.1, 0.0), 0.5, certifier="exact")
    assert b.n_exact == 2 and b.k_exact == (3,) and b.k_certified == (3,) and b.bound_a == 1 + 3  # rank 1
    tangent = local_bounds(N1, (0.3, 0.2), 0.2)  # touches y = 0: certified may-cut, never cuts
    assert tangent.n_exact == 1 and tangent.k_exact == (0,) and tangent.upper_bound >= 1
    assert local_bounds(N1, (0.0, 0.0), 0.3).d_star == 0.0  # the centre is on two lines


# ---- reuse of a partition, profiles, solver budgets -----------------------------------------------
def test_reuses_a_covering_partition_and_refuses_foreign_ones():
    net = random_network([6, 5], seed=5, fan_in=True)
    regions = enumerate_regions(net, (-2, 2, -2, 2))
    own = local_bounds(net, (0.3, -0.1), 0.7, regions=regions, n_samples=500)
    fresh = local_bounds(net, (0.3, -0.1), 0.7, n_samples=500)
    assert (own.n_exact, own.k_exact) == (fresh.n_exact, fresh.k_exact)
    assert own.exact_source.startswith("the given partition")
    outside = local_bounds(net, (1.8, 0.0), 0.5, regions=regions, n_samples=500)
    assert "does not contain" in outside.exact_source
    assert outside.n_exact == disk_count(net, (1.8, 0.0), 0.5).n_regions
    with pytest.raises(ExplorerError, match="another network"):
        local_bounds(N1, (0, 0), 0.5, regions=regions)
    centres = np.array([[0.0, 0.0], [0.5, -0.5], [-1.0, 1.0]])
    assert disk_counts(net, centres, 0.4, regions=regions).tolist() == [
        disk_count(net, c, 0.4).n_regions for c in centres]


def test_radius_profile_matches_pointwise_results():
    net = random_network([5, 5], seed=7, fan_in=True)
    radii = [0.05, 0.2, 0.6, 1.0]
    prof = radius_profile(net, (0.1, 0.1), radii)
    for i, r in enumerate(radii):
        b = local_bounds(net, (0.1, 0.1), r, n_samples=100)
        assert prof.n_exact[i] == b.n_exact and prof.bound_a[i] == b.bound_a and prof.headline[i] == b.headline
        assert tuple(prof.k_certified[i]) == b.k_certified
    assert (np.diff(prof.n_exact) >= 0).all() and prof.d_star == one_region_radius(net, (0.1, 0.1))[0]
    assert len(pattern_distances(net, (0.1, 0.1), 1.0)) == prof.n_exact[-1]


def test_time_limit_keeps_looser_sound_bounds_and_reports_progress():
    net = random_network([8, 8, 8], n0=3, seed=2, fan_in=True)
    cut = certify(net, np.zeros(3), 1.0, certifier="lp", time_limit=0.0)
    sym = certify(net, np.zeros(3), 1.0, certifier="symbolic")
    assert "time limit" in cut.status and cut.k == sym.k
    seen = []
    full = certify(net, np.zeros(3), 1.0, certifier="lp", progress=lambda f, msg: seen.append(f))
    assert full.status == "complete" and seen and seen[-1] == pytest.approx(1.0)
    wide = local_bounds(random_network([64, 64, 64], seed=0, fan_in=True), (0, 0), 3.0, time_limit=0.01,
                        n_samples=100)
    assert wide.n_exact is None and wide.exact_source.startswith("not computed") and wide.headline >= wide.n_sampled


@pytest.mark.parametrize("kwargs, match", [
    (dict(center=(0, 0, 0), radius=1), "3 coordinates"), (dict(center=(0, 0), radius=0), "radius"),
    (dict(center=(0, np.nan), radius=1), "NaN"), (dict(center=(0, 0), radius=np.inf), "radius"),
    (dict(center=(0, 0), radius=1, norm="3"), "norm"), (dict(center=(0, 0), radius=1, certifier="crown"), "certifier"),
    (dict(center=(0, 0), radius=1, n_samples=-1), "n_samples")])
def test_bad_input_raises_one_clear_error(kwargs, match):
    with pytest.raises(ExplorerError, match=match):
        local_bounds(N1, **kwargs)


def test_exact_certifier_states_its_limit():
    big = random_network([EXACT_MAX_UNITS // 2 + 1, EXACT_MAX_UNITS // 2], n0=3, seed=0, fan_in=True)
    with pytest.raises(ExplorerError, match=f"at most {EXACT_MAX_UNITS} hidden units"):
        local_bounds(big, np.zeros(3), 0.1, certifier="exact")


# ---- CLI and findings -----------------------------------------------------------------------------
def test_cli_local_json(tmp_path, capsys):
    from explorer.io import save_checkpoint

    path = tmp_path / "net.pt"
    save_checkpoint(path, random_network([8, 8], seed=4, fan_in=True))
    assert main(["local", str(path), "--center", "0.1", "0.2", "--radius", "0.6", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["exact"] >= out["sampled_lower"] and out["upper_bound"] >= out["exact"]
    assert out["upper_bound"] == min(row["headline"] for row in out["bounds"].values())
    assert set(out["bounds"]) == set(CERTIFIERS)
    assert set(out["bounds"]["symbolic"]) == {"A", "B", "headline", "k", "status", "seconds"}
    assert all(row["headline"] == min(row["A"], row["B"], out["global_bound"]) for row in out["bounds"].values())
    save_checkpoint(path, random_network([6], n0=4, seed=4, fan_in=True))
    assert main(["local", str(path), "--center", "0", "0", "0", "0", "--radius", "0.3", "--norm", "1",
                 "--certifier", "ibp", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["exact"] is None and out["certifier"] == "ibp" and out["upper_bound"] >= out["sampled_lower"]
    assert main(["local", str(path), "--center", "0", "--radius", "0.3"]) == 2
    assert "4 inputs" in capsys.readouterr().err


def test_local_findings_shapes_and_consistency():
    snaps = ((0, random_network([6, 6], seed=1, fan_in=True)), (10, random_network([6, 6], seed=2, fan_in=True)))
    pts = np.random.default_rng(0).uniform(-1, 1, (30, 2))
    f = local_findings(snaps, pts, np.array([[-2, 2], [-2, 2]]), radius=0.3, n_samples=10)
    assert f.d_star_train.shape == f.n_exact_random.shape == (2, 10) and f.epochs.tolist() == [0, 10]
    assert f.n_exact_train[1, 3] == disk_count(snaps[1][1], f.train_points[3], 0.3).n_regions
    assert (f.bound_train >= f.n_exact_train).all() and [row["epoch"] for row in f.table()] == [0, 10]
    f3 = local_findings(((0, random_network([5], n0=3, seed=1, fan_in=True)),), np.zeros((4, 3)),
                        np.tile([-1.0, 1.0], (3, 1)), radius=0.2, n_samples=4)
    assert f3.n_exact_train is None and f3.table()[0]["n_mean_train"] >= 1
    with pytest.raises(ExplorerError, match="snapshot"):
        local_findings((), pts, np.array([[-2, 2], [-2, 2]]), radius=0.3)


def test_binomial_helpers_agree_with_definitions():
    assert bound_a(2, [4, 3]) == sum(comb(4, j) for j in range(3)) * sum(comb(3, j) for j in range(3))
    assert bound_a(3, [4, 3], rho=[1, 5]) == 15 * 4


def test_any_dual_vector_bounds_the_lp_from_below():
    """The LP bounds are made rigorous from the duals: every y gives min c·z ≥ bound(y), optimal y ≈ min."""
    from explorer.ball.ballmodel import BallModel

    net = random_network([6, 5], seed=9, fan_in=True)
    x0, r = np.array([0.2, -0.1]), 0.8
    enc = certify(net, x0, r, certifier="symbolic")
    model = BallModel(x0, r, "1", 0.0, integer=False)
    model.add_layer(net.weights[0], net.biases[0], enc.lower[0], enc.upper[0], net.preactivations(x0)[0][0])
    c = net.weights[1][2] @ model.expr
    best = model.minimum(c, 0.0, deadline=np.inf)
    model.highs.run()
    assert best == pytest.approx(model.highs.getInfo().objective_function_value, abs=1e-9)
    rng = np.random.default_rng(0)
    n_rows = sum(len(v) for v in model.row_lo)
    cc = np.zeros(model.ncols)
    cc[:c.size] = c
    for _ in range(200):
        assert model._dual_bound(cc, rng.normal(size=n_rows) * rng.exponential()) <= best + 1e-12
    y_opt = np.asarray(model.highs.getSolution().row_dual)
    lo, hi = np.concatenate(model.row_lo), np.concatenate(model.row_hi)
    for i in np.flatnonzero(~np.isfinite(lo) | ~np.isfinite(hi)):  # a multiplier of the wrong sign
        y = y_opt.copy()
        y[i] = 5.0 if not np.isfinite(lo[i]) else -5.0
        assert model._dual_bound(cc, y) <= best + 1e-12


def test_exact_count_refused_at_once_when_the_first_layer_alone_exceeds_the_region_budget():
    """60 tangent lines: 1 + 60 + C(60, 2) = 1,831 cells in the square of half-width 40 (every crossing lies
    within 1/sin(π/120) ≈ 38.2 of the origin)."""
    net, cells = tangent_lines(60), 1 + 60 + comb(60, 2)
    b = local_bounds(net, [0.0, 0.0], 40.0, norm="inf", certifier="ibp", n_samples=100, max_regions=1000)
    assert b.n_exact is None and "layer 1 alone" in b.exact_source and "1,000 regions" in b.status
    b = local_bounds(net, [0.0, 0.0], 40.0, norm="inf", certifier="ibp", n_samples=100, max_regions=cells)
    assert b.n_exact == cells <= b.upper_bound
    b = local_bounds(net, [0.0, 0.0], 80.0, norm="1", certifier="ibp", n_samples=100, max_regions=1000)
    assert b.n_exact is None and "layer 1 alone" in b.exact_source           # its inner square of half-width 40
