"""The Teach tab (AppTest, through app.py and through a bare harness) and its figures."""

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from explorer.io import load
from explorer.plane.partition import layer_boundaries, unit_boundary
from explorer.plane.regions import enumerate_regions
from explorer.plot.figures import region_map
from explorer.plot.teach import add_disks, depth_figure, layer_reveal, timeline_figure
from explorer.train.presets import lines, sawtooth

ROOT = Path(__file__).resolve().parents[2]
BOX = (-3.0, 3.0, -3.0, 3.0)

# A bare page: one small trained network with snapshots, handed to views.teach.render.
HARNESS = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
import streamlit as st
from explorer.train.data import make_dataset
from explorer.train.fit import TrainConfig, train
from views.context import OnScreen, ViewContext, get_regions
from views import teach

@st.cache_resource
def setup():
    dataset = make_dataset("moons", n_points=160, seed=0)
    config = TrainConfig(hidden=(5, 4), epochs=9, snapshot_every=3)
    return dataset, config, train(dataset, config)

dataset, config, result = setup()
box = (-3.0, 3.0, -3.0, 3.0)
classroom = st.session_state.get("harness_classroom", False)
teach.render(ViewContext(OnScreen.trained(dataset, config, result), box, get_regions(result.net, box), dataset,
                         classroom=classroom))
"""


def values(elements):
    return [e.value for e in elements]


@pytest.fixture
def page():
    return AppTest.from_string(HARNESS, default_timeout=60).run()


def test_layer_by_layer_reveal(page):
    assert not page.exception
    text = " ".join(values(page.markdown))
    assert "After layer **2** of 2" in text
    page.slider(key="teach_layer").set_value(1).run()
    text = " ".join(values(page.markdown))
    assert "After layer **1** of 2" in text and "1 before it" in text
    options = page.selectbox(key="teach_unit_1").options
    assert len(options) == 1 + 5  # all, or one of the 5 neurons of layer 1
    page.selectbox(key="teach_unit_1").set_value(2).run()
    assert not page.exception
    assert any("neuron 3 of layer 1" in c.proto.spec for c in page.get("plotly_chart"))


def test_timeline_steps_and_plays(page):
    page.radio(key="teach_section").set_value("Training timeline").run()
    assert not page.exception
    labels = [m.label for m in page.metric]
    assert labels == ["regions", "loss (train)", "mean d* (train)", "accuracy (train)"]
    first = values(page.metric)
    page.select_slider(key="teach_snapshot").set_value(3).run()
    assert values(page.metric) != first
    page.select_slider(key="teach_snapshot").set_value(2).run()
    page.button(key="teach_play").click().run()  # plays from snapshot 2: one tick reaches the last and stops
    assert page.session_state["teach_snapshot"] == 3 and page.session_state["teach_playing"] is False


def test_presets_show_closed_form_and_exact_count(page):
    page.radio(key="teach_section").set_value("Classic constructions").run()
    page.selectbox(key="teach_preset").set_value("folded").run()
    page.slider(key="teach_preset_folded").set_value(4).run()
    assert not page.exception
    assert dict(zip([m.label for m in page.metric], values(page.metric))) == {
        "exact (enumerated)": "256", "closed form": "256", "linear regions": "256"}
    assert "matches the exact count" in page.success[0].value
    page.selectbox(key="teach_preset").set_value("init_vs_trained").run()
    assert not page.exception and "at initialisation (seed 0)" in " ".join(values(page.markdown))


def _figure_exports(page) -> list[str]:
    return [b.proto.popover.label for b in page.get("popover")]


def test_every_figure_exports_in_classroom_mode_too(page):
    assert _figure_exports(page) == ["⤓ Figure"]
    page.session_state["harness_classroom"] = True
    page.run()
    assert _figure_exports(page) == ["⤓ Figure"]
    page.radio(key="teach_section").set_value("Classic constructions").run()
    page.selectbox(key="teach_preset").set_value("sawtooth").run()
    assert not page.get("plotly_chart")[1:]  # no depth chart in classroom mode: one map only


def test_teach_tab_in_the_app():
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    app.session_state["app_tab"] = "Teach"
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    assert "After layer **2** of 2: **271** regions" in " ".join(values(app.markdown))  # the shipped moons net
    app.radio(key="teach_section").set_value("Classic constructions").run()
    assert not app.exception and "matches the exact count" in app.success[-1].value


# ---- figures ---------------------------------------------------------------------------------------
def test_layer_reveal_highlights_the_new_layer_or_one_neuron():
    net = load(ROOT / "assets" / "moons_2x16.pt").net
    regions = enumerate_regions(net.truncated(2), BOX)
    fig = layer_reveal(regions)
    traces = [t for t in fig.data if t.name == "layer 2 neurons"]
    assert len(traces) == 1 and np.isnan(traces[0].x).sum() == len(layer_boundaries(regions, 1))
    assert not [t for t in fig.data if t.name == "decision boundary"]
    unit = max(range(16, 32), key=lambda u: len(unit_boundary(regions, u)))  # the most bent neuron of layer 2
    one = layer_reveal(regions, unit=unit)
    drawn = [t for t in one.data if t.name == f"neuron {unit - 15} of layer 2"]
    assert len(drawn) == 1 and np.isnan(drawn[0].x).sum() == len(unit_boundary(regions, unit)) > 1
    assert not [t for t in one.data if t.name == "layer 2 neurons"]


def test_add_disks_labels_exact_counts():
    preset = lines(5)
    regions = enumerate_regions(preset.net, preset.box)
    fig = add_disks(region_map(regions), [(0, 0, 10.0), (0, 0, 1e-3)], regions=regions)
    assert [a.text for a in fig.layout.annotations] == ["D1: N = 16", "D2: N = 1"]  # whole box; tiny disk


def test_depth_and_timeline_figures_draw_their_data():
    fig = depth_figure([1, 2, 3], [2, 4, 8], [2, 4, 8], shallow=[3, 5, 7])
    assert [list(t.y) for t in fig.data] == [[2, 4, 8], [2, 4, 8], [3, 5, 7]] and fig.layout.yaxis.type == "log"
    assert sawtooth(3).closed_form == 8


def test_timeline_figure_marks_the_current_snapshot():
    from explorer.studies.timeline import Timeline

    t = Timeline(epochs=np.array([0, 5]), n_regions=np.array([10, -1]), mean_d_star=np.array([0.1, np.inf]),
                 loss=np.array([0.7, 0.3]), accuracy=np.array([0.5, 0.9]), test_loss=np.array([np.nan, np.nan]),
                 test_accuracy=np.array([np.nan, np.nan]), colors=({}, {}), box=BOX, seconds=0.0)
    fig = timeline_figure(t, current=1)
    assert len(fig.data) == 4  # no test curves without test points
    assert np.isnan(fig.data[0].y[1]) and np.isnan(fig.data[1].y[1])  # over budget, infinite d*: not drawn
    assert len(fig.layout.shapes) == 4 and fig.layout.shapes[0].x0 == 5
