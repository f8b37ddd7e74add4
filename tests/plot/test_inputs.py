"""Figures of inputs: images in torch's pixel order, feature bars with raw values, the slice map and the ball's cut."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.errors import ExplorerError
from explorer.plane.regions import enumerate_regions, plane_slice
from explorer.plot.inputs import MAX_BARS, feature_bars, input_gallery, input_image, picture, plane_ball_outline, slice_map
from tests.nets import random_network


def test_a_picture_puts_pixel_c_i_j_where_torch_flattens_it():
    x = np.arange(2 * 3 * 4, dtype=float)  # (C, H, W) = (2, 3, 4), x[c·12 + i·4 + j]
    pic = picture(x, (2, 3, 4))
    assert pic.shape == (3, 2 * 4 + 1) and np.isnan(pic[:, 4]).all()  # channels side by side, one NaN column
    for c, i, j in [(0, 0, 0), (0, 2, 3), (1, 1, 2), (1, 2, 0)]:
        assert pic[i, c * 5 + j] == x[c * 12 + i * 4 + j]
    assert np.array_equal(picture(x[:12], (3, 4)), x[:12].reshape(3, 4))


@pytest.mark.parametrize("shape", [(2, 5), (1, 8, 8), (0, 4, 16), (64,)])
def test_a_picture_refuses_a_shape_that_does_not_hold_the_input(shape):
    with pytest.raises(ExplorerError, match="image shape"):
        picture(np.zeros(65 if shape == (1, 8, 8) else 64), shape)


def test_the_image_shows_rows_top_down_on_a_fixed_ink_scale():
    x = np.linspace(-0.5, 1.5, 64)  # values beyond [0, 1] keep their value
    heat = input_image(x, (1, 8, 8), title="p0").data[0]
    assert np.array_equal(np.asarray(heat.z), x.reshape(8, 8)) and (heat.zmin, heat.zmax) == (0.0, 1.0)
    fig = input_image(x, (8, 8))
    assert fig.layout.yaxis.autorange == "reversed" and fig.layout.meta["figure"] == "input-image"


def test_the_gallery_draws_one_image_per_input_with_its_title():
    xs = np.random.default_rng(0).random((3, 64))
    fig = input_gallery(xs, (8, 8), titles=["p0", "p1", "p2"])
    assert [np.asarray(t.z).tolist() for t in fig.data] == [x.reshape(8, 8).tolist() for x in xs]
    assert [a.text for a in fig.layout.annotations] == ["p0", "p1", "p2"]
    with pytest.raises(ExplorerError, match="one title per input"):
        input_gallery(xs, (8, 8), titles=["p0"])


def test_feature_bars_show_scaled_values_and_raw_values_in_the_hover():
    x = np.array([0.0, 0.5, 1.0])
    raw = np.array([[10.0, 20.0], [-1.0, 1.0], [0.0, 4.0]])
    fig = feature_bars(x, ("a", "b", "c"), feature_range=raw, references=[x[::-1]], reference_names=["p0"])
    bars, marks = fig.data
    assert list(bars.x) == [0.0, 0.5, 1.0] and list(bars.y) == ["a", "b", "c"]
    assert list(bars.hovertext) == ["a: 0 (raw 10)", "b: 0.5 (raw 0)", "c: 1 (raw 4)"]
    assert marks.name == "p0" and list(marks.x) == [1.0, 0.5, 0.0]


def test_many_features_become_a_line_over_the_feature_index():
    fig = feature_bars(np.zeros(MAX_BARS + 1), ())
    assert fig.data[0].type == "scatter" and list(fig.data[0].x) == list(range(MAX_BARS + 1))


def test_the_ball_cut_by_the_plane_is_the_ellipse_of_the_gram_matrix():
    rng = np.random.default_rng(3)
    for _ in range(20):
        basis = rng.normal(size=(7, 2))
        centre, r = rng.normal(size=2), float(rng.uniform(0.1, 2.0))
        ring = plane_ball_outline(centre, r, basis)
        assert np.allclose(np.linalg.norm((ring - centre) @ basis.T, axis=1), r, rtol=1e-10)
        assert np.allclose(ring[0], ring[-1])  # closed
    circle = plane_ball_outline((1.0, 2.0), 0.5, np.eye(5)[:, :2])  # orthonormal axes: a circle
    assert np.allclose(np.linalg.norm(circle - (1.0, 2.0), axis=1), 0.5)


def test_the_ball_cut_needs_two_directions_and_a_positive_radius():
    with pytest.raises(ExplorerError, match="parallel"):
        plane_ball_outline((0, 0), 1.0, np.array([[1.0, 2.0], [1.0, 2.0]]))
    with pytest.raises(ExplorerError, match="positive"):
        plane_ball_outline((0, 0), 0.0, np.eye(3)[:, :2])


def test_the_slice_map_draws_the_samples_at_their_plane_positions():
    net = random_network((6, 5), n0=5, seed=4)
    p = np.random.default_rng(1).normal(size=(3, 5))
    plane = plane_slice(net, p[0], p[1] - p[0], p[2] - p[0])
    regions = enumerate_regions(plane.net, (-0.5, 1.5, -0.5, 1.5))
    anchors = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    ring = plane_ball_outline((0.2, 0.3), 0.1, plane.basis)
    fig = slice_map(regions, samples=anchors, sample_text=["p0 · class 0", "p1", "p2"], others=[[0.5, 0.5]],
                    other_text=["#7"], point=(0.2, 0.3), polygon=regions.polygon(0), ball=ring,
                    click_target="slice-map", color_by="class")
    by_name = {t.name: t for t in fig.data}
    samples = by_name["samples"]
    assert np.array_equal(np.c_[samples.x, samples.y], anchors) and samples.text[0] == "p0 · class 0"
    assert {"regions", "decision boundary", "other samples (projected)", "selected region", "ball ∩ plane",
            "selected point"} <= set(by_name)
    assert fig.layout.meta["click_target"] == "slice-map" and fig.layout.xaxis.title.text.startswith("a")
