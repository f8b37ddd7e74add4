"""Figures: region maps (polygons, colourings, boundaries, overlays, large partitions), charts, ball outlines."""

from __future__ import annotations

import base64
import io

import numpy as np
import plotly.graph_objects as go
from plotly.colors import sample_colorscale
import pytest
from PIL import Image

from explorer.ball.local import radius_profile
from explorer.errors import ExplorerError
from explorer.plane.partition import adjacency, decision_boundary, layer_boundaries
from explorer.plane.regions import enumerate_regions
from explorer.plot import charts, figures
from explorer.plot.overlays import Selection, ball_outline
from explorer.plot.style import DECISION_LINE, NEURON_LINE, class_color, log_axis
from explorer.train.data import make_dataset
from explorer.train.fit import predict
from tests.nets import N1, random_network


@pytest.fixture(scope="module")
def regions():
    return enumerate_regions(random_network((8, 6), seed=4, scale_bias=1.0), (-3, 3, -3, 3))


def _fills(fig: go.Figure) -> list:
    return [t for t in fig.data if t.name == "regions"]


def _subpaths(trace) -> list[np.ndarray]:
    xy = np.stack([np.asarray(trace.x, float), np.asarray(trace.y, float)], axis=1)
    cuts = np.flatnonzero(np.isnan(xy[:, 0]))
    return [xy[a + 1:b] for a, b in zip(np.r_[-1, cuts[:-1]], cuts)]


def test_every_region_is_one_closed_polygon_of_its_own_vertices(regions):
    fig = figures.region_map(regions)
    paths = [p for t in _fills(fig) for p in _subpaths(t)]
    assert len(paths) == regions.n_regions
    assert all(np.array_equal(p[0], p[-1]) for p in paths)
    drawn = sorted(map(tuple, np.concatenate([p[:-1] for p in paths]).round(9).tolist()))
    assert drawn == sorted(map(tuple, regions.vertices.round(9).tolist()))
    assert {t.fill for t in _fills(fig)} == {"toself"}


def test_neighbouring_regions_get_different_colours_and_colours_are_stable(regions):
    colors, bar = figures.region_colors(regions)
    pairs = adjacency(regions)
    assert bar is None and len(pairs) > 0
    assert (colors[pairs[:, 0]] != colors[pairs[:, 1]]).all()
    again, _ = figures.region_colors(enumerate_regions(regions.net, (-3, 3, -3, 3)))
    assert (again == colors).all()
    assert set(colors) <= set(figures.PALETTES["okabe-ito"])
    tol, _ = figures.region_colors(regions, palette="tol-light")
    assert set(tol) <= set(figures.PALETTES["tol-light"])


def test_colouring_by_class_matches_the_prediction_at_each_region(regions):
    colors, _ = figures.region_colors(regions, color_by="class")
    palette = figures.PALETTES["okabe-ito"]
    cls = predict(regions.net, regions.points)
    assert (colors == np.array(palette, dtype=object)[cls]).all()


@pytest.mark.parametrize("color_by", ["output", "gradient norm", "gradient direction", "active units"])
def test_continuous_colourings_come_with_a_colour_bar(regions, color_by):
    colors, bar = figures.region_colors(regions, color_by=color_by)
    assert bar.marker.showscale and bar.marker.colorbar.title.text == color_by
    assert len(colors) == regions.n_regions and len(set(colors)) > 1
    if color_by == "active units":  # more active units, later in the Viridis scale: a monotone map
        count = regions.patterns.sum(axis=1)
        order = np.argsort(count, kind="stable")
        levels = [sample_colorscale("Viridis", (np.arange(24) + 0.5) / 24).index(c) for c in colors[order]]
        assert (np.diff(levels) >= 0).all()


def test_unknown_colouring_palette_or_layer_is_an_explorer_error(regions):
    with pytest.raises(ExplorerError, match="unknown colouring"):
        figures.region_map(regions, color_by="rainbow")
    with pytest.raises(ExplorerError, match="unknown palette"):
        figures.region_map(regions, palette="neon")
    with pytest.raises(ExplorerError, match="layer 3 does not exist"):
        figures.region_map(regions, show_layers=(2,))


def test_boundaries_are_drawn_from_the_partition(regions):
    fig = figures.region_map(regions, show_layers=(0, 1), show_decision=True)
    by_name = {t.name: t for t in fig.data}
    for layer in (0, 1):
        segments = layer_boundaries(regions, layer)
        assert np.isnan(np.asarray(by_name[f"layer {layer + 1} neurons"].x, float)).sum() == len(segments)
    assert np.isnan(np.asarray(by_name["decision boundary"].x, float)).sum() == len(decision_boundary(regions))
    assert "decision boundary" not in {t.name for t in figures.region_map(regions, show_decision=False).data}


def test_each_kind_of_line_has_its_own_style_on_a_casing_that_reads_over_any_fill(regions):
    fig = figures.region_map(regions, show_layers=(0, 1), highlight_unit=9)
    names = [t.name for t in fig.data]
    lines = {t.name: t for t in fig.data if t.mode == "lines" and t.name != "regions"}
    kinds = ("layer 1 neurons", "layer 2 neurons", "decision boundary", "neuron 2 of layer 2")
    for kind in kinds:  # the casing is drawn first, under the same segments, wider
        casing, core = lines[f"{kind} (casing)"], lines[kind]
        assert names.index(f"{kind} (casing)") < names.index(kind) and casing.line.width > core.line.width
        np.testing.assert_array_equal(np.asarray(casing.x, float), np.asarray(core.x, float))
    styles = {(lines[k].line.color, lines[k].line.dash) for k in kinds}
    assert len(styles) == 4 and "#000000" not in {lines[k].line.color for k in kinds[:2]}  # layer 1 is not black
    assert lines["decision boundary"].line.color == DECISION_LINE.color
    assert lines["neuron 2 of layer 2"].line.color == NEURON_LINE.color
    assert lines["neuron 2 of layer 2 (casing)"].line.color == NEURON_LINE.casing
    with pytest.raises(ExplorerError, match="index must lie in 0..13"):
        figures.region_map(regions, highlight_unit=99)


def test_thin_regions_are_drawn_without_outlines_so_a_deep_sawtooth_is_not_black(regions):
    from explorer.train.presets import build

    deep = build("sawtooth:10", box=(0, 1, 0, 1))
    fills = _fills(figures.region_map(enumerate_regions(deep.net, deep.box), height=560))
    dark = [t for t in fills if t.line.color.startswith("rgba(40")]
    assert not dark and all(t.line.color == t.fillcolor for t in fills) and len({t.fillcolor for t in fills}) > 1
    assert all(t.line.color.startswith("rgba(40") for t in _fills(figures.region_map(regions)))
    line = next(t for t in figures.region_map(enumerate_regions(deep.net, deep.box), height=560).data
                if t.name == "decision boundary")  # 512 teeth: thin, faint lines, no casing
    assert line.line.width <= 1 and line.line.color.startswith("rgba(0,0,0,")


def test_hover_labels_give_id_pattern_and_affine_map():
    r = enumerate_regions(N1, (-2, 2, -2, 2))
    hover = next(t for t in figures.region_map(r).data if t.name == "region info")
    assert len(hover.hovertext) == 7
    i = int(np.argmax(r.patterns.sum(axis=1)))  # all three units active: f = 2·x₁ + 2·x₂ − 1
    assert hover.hovertext[i] == "region %d<br>pattern 111<br>f = 2·x₁ + 2·x₂ − 1" % i
    two_layers = enumerate_regions(random_network((2, 3), scale_bias=1.0), (-1, 1, -1, 1))
    assert figures.pattern_strings(two_layers)[0].count("|") == 1


def test_large_partitions_are_drawn_as_an_image_and_say_so(regions, monkeypatch):
    assert figures.simplification(regions) == ""
    monkeypatch.setattr(figures, "RASTER_REGIONS", 10)
    monkeypatch.setattr(figures, "RASTER_PIXELS", 300)
    fig = figures.region_map(regions, show_decision=True)
    hover = next(t for t in fig.data if t.name == "region info")
    assert isinstance(hover, go.Scattergl) and hover.hovertext is None and "pattern" not in hover.hovertemplate
    assert (np.asarray(hover.customdata)[:, 1] == regions.patterns.sum(axis=1)).all()
    assert not _fills(fig) and "decision boundary" in [t.name for t in fig.data]
    image = fig.layout.images[0]
    assert (image.x, image.y, image.sizex, image.sizey) == (-3, 3, 6, 6) and image.source.startswith("data:image/png")
    uri = figures._raster(regions, figures.region_colors(regions)[0], (-3.0, 3.0, -3.0, 3.0), True, 300)
    img = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).convert("RGB")
    colors, _ = figures.region_colors(regions)
    px = np.clip(((regions.points + 3) / 6 * 300).astype(int), 0, 299)  # interior points → their fill colour
    rgb = np.array(img)[299 - px[:, 1], px[:, 0]]
    expected = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] for c in colors])
    match = (np.abs(rgb.astype(int) - expected) <= 1).all(axis=1)
    roomy = regions.areas() > 0.05  # ≥ 125 px²: thinner regions may be all outline at the centre
    assert roomy.sum() > 20 and match[roomy].mean() > 0.95
    assert "one image" in figures.simplification(regions)
    live = figures.region_map(regions, raster=True, hover=False, height=200)  # a live frame: an image at any size
    assert not _fills(live) and "region info" not in [t.name for t in live.data] and len(live.layout.images) == 1


def test_data_points_and_overlays():
    r = enumerate_regions(N1, (-2, 2, -2, 2))
    ds = make_dataset("spiral", n_points=90, n_classes=3)
    sel = Selection((0.3, 0.2), 0.25, 0.2, r.polygon(0), "2")
    fig = figures.region_map(r, dataset=ds, show_test=True, selection=sel, pinned=[(1, 1), (-1, 0.5)],
                             anchors=np.array([[0, 0], [1, 0], [0, 1]]), click_target="t")
    names = [t.name for t in fig.data]
    assert {f"class {c}" for c in range(3)} | {"class 0 (test)"} <= set(names)
    assert sum(len(t.x) for t in fig.data if t.name in {f"class {c}" for c in range(3)}) == len(ds.x_train)
    for c in range(3):  # points wear the colour of the regions predicted as their class
        assert next(t for t in fig.data if t.name == f"class {c}").marker.color == class_color(c)
    assert fig.layout.xaxis.title.text == "x<sub>1</sub>" and fig.layout.legend.y >= 1  # legend above the map
    ball = next(t for t in fig.data if t.name == "ball r = 0.25")
    assert np.hypot(np.asarray(ball.x) - 0.3, np.asarray(ball.y) - 0.2) == pytest.approx(0.25)
    dstar = next(t for t in fig.data if t.name == "d* = 0.2")
    assert dstar.line.dash == "dash"
    assert list(next(t for t in fig.data if t.name == "pinned points").text) == ["P1", "P2"]
    assert fig.layout.meta["click_target"] == "t" and fig.layout.yaxis.scaleanchor == "x"
    empty = figures.empty_map((-1, 2, -1, 1), selection=sel)
    assert list(empty.layout.xaxis.range) == [-1, 2] and "regions" not in [t.name for t in empty.data]


@pytest.mark.parametrize("norm", ["2", "inf", "1"])
def test_ball_outlines_lie_on_the_sphere_of_their_norm(norm):
    ring = ball_outline((1.0, -2.0), 0.5, norm)
    ords = {"2": 2, "inf": np.inf, "1": 1}
    assert np.linalg.norm(ring - [1.0, -2.0], ord=ords[norm], axis=1) == pytest.approx(0.5)
    assert ring[0] == pytest.approx(ring[-1])
    if norm != "2":  # the corners themselves are on the outline
        corners = {"inf": [[1.5, -1.5], [0.5, -2.5]], "1": [[1.5, -2.0], [1.0, -1.5]]}[norm]
        assert all(np.isclose(ring, c).all(axis=1).any() for c in corners)
    with pytest.raises(ExplorerError, match="unknown norm"):
        ball_outline((0, 0), 1.0, "3")


def test_radius_profile_figure_uses_a_log_count_axis():
    prof = radius_profile(N1, [0.3, 0.2], [0.1, 0.25, 0.37])
    fig = charts.radius_profile_figure(prof, radius=0.25)
    exact = next(t for t in fig.data if t.name == "exact count")
    upper = next(t for t in fig.data if t.name.startswith("proven upper bound"))
    assert list(exact.y) == [1, 2, 5] and fig.layout.yaxis.type == "log"
    assert list(upper.y) == list(prof.headline) == [min(a, b, h) for a, b, h in zip(prof.bound_a, prof.bound_b,
                                                                                   prof.headline)]
    assert (np.asarray(upper.y) >= np.asarray(exact.y)).all()


def test_log_axes_label_powers_of_ten_only():
    axis = log_axis([3, 40_000])
    assert axis["tickvals"] == [1, 10, 100, 1000, 10_000, 100_000]
    assert axis["ticktext"] == ["1", "10", "100", "1000", "10<sup>4</sup>", "10<sup>5</sup>"]
    wide = log_axis([1, 1e30], max_labels=7)
    assert len(wide["tickvals"]) <= 7 and wide["ticktext"][-1] == "10<sup>30</sup>"
    assert log_axis([0.02, 0.5])["ticktext"] == ["0.01", "0.1", "1"]


def test_training_figure_skips_missing_test_values():
    fig = charts.training_figure({"epoch": [1, 2], "loss": [0.7, 0.5], "test_loss": [None, None],
                                  "train_acc": [0.5, 0.8], "test_acc": [None, None]})
    assert [t.name for t in fig.data] == ["train loss", "train accuracy"]
    assert list(fig.layout.yaxis2.tickvals) == [0, 0.25, 0.5, 0.75, 1.0] and fig.layout.yaxis2.range[0] == 0


def test_count_chart_is_logarithmic_and_labels_status_and_time():
    rows = [{"label": "exact", "value": 271, "kind": "exact", "status": "complete", "seconds": 0.01},
            {"label": "upper", "value": 10**30, "kind": "upper", "status": "measured on the box: ranks",
             "seconds": 0.0},
            {"label": "MIPBound", "value": None, "kind": "lower", "status": "time limit", "seconds": 5.0},
            {"label": "sampled", "value": 209, "kind": "lower", "status": "complete", "seconds": None},
            {"label": "huge", "value": 2**2000, "kind": "upper", "status": "complete", "seconds": None}]
    fig = charts.count_chart(rows)
    bar = fig.data[0]
    assert fig.layout.xaxis.type == "log" and list(bar.y) == ["exact", "upper", "MIPBound", "sampled", "huge"]
    assert list(bar.text) == ["271  (complete, 0.01 s)", "10<sup>30.00</sup>  (0 s)", "—  (time limit, 5 s)",
                              "209  (complete)", "10<sup>602.06</sup>  (complete)"]
    longest = max(len(t.replace("<sup>", "").replace("</sup>", "")) for t in bar.text)
    assert fig.layout.margin.r >= 0.6 * 13 * longest  # the right margin holds the longest label
    assert np.isnan(bar.x[2]) and bar.x[4] == 1e300 and list(bar.marker.color)[:3] == ["#000000", "#D55E00", "#0072B2"]
