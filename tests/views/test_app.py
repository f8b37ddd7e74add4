"""AppTest flows of app.py: default page, clicks (through the click payload), training, uploads, pins, tabs.

Everything is driven through the real widgets: uploads through the file uploader, clicks through the click
component's value (its session-state key, which is what the browser component sets).
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import pickle
import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from explorer.train.data import make_dataset
from explorer.ball.disk import disk_count
from explorer.plot.figures import PlotFrame, pixel_to_data
from explorer.io import checkpoint_bytes, load
from explorer.plane.regions import enumerate_regions
from explorer.train.fit import TrainConfig, train
from tests.conftest import ASSETS
from tests.nets import random_network

APP = str(Path(__file__).resolve().parents[2] / "app.py")
FRAME = {"left": 50.0, "top": 40.0, "width": 500.0, "height": 500.0, "x_range": [-3.0, 3.0], "y_range": [-3.0, 3.0]}


def _start(**state) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    for key, value in state.items():
        at.session_state[key] = value
    return _run(at)


def _run(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _metrics(at: AppTest) -> dict:
    return {m.label: m.value for m in at.metric}


def _figure(at: AppTest, target: str = "explore-map") -> dict:
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        if (spec["layout"].get("meta") or {}).get("click_target") == target:
            return spec
    raise AssertionError(f"no figure with click target {target!r}")


def _array(value) -> np.ndarray:
    if isinstance(value, dict):
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
    return np.array([np.nan if v is None else v for v in value], dtype=float)


def _n_polygons(spec: dict) -> int:
    fills = [t for t in spec["data"] if t.get("name") == "regions"]
    return int(sum(np.isnan(_array(t["x"])).sum() for t in fills))


def _click_payload(x: float, y: float) -> dict:
    """What the browser component sends for a click at data point (x, y) of FRAME."""
    px = FRAME["left"] + (x - FRAME["x_range"][0]) / 6.0 * FRAME["width"]
    py = FRAME["top"] + (FRAME["y_range"][1] - y) / 6.0 * FRAME["height"]
    return {**FRAME, "px": px, "py": py, "stamp": time.time()}


def _finish_training(at: AppTest, timeout: float = 60.0) -> None:
    """Rerun (as the live fragment does) until the live run has ended and its network is on screen."""
    end = time.monotonic() + timeout
    while True:
        _run(at)
        if "live_run" not in at.session_state:
            return
        assert time.monotonic() < end, "training did not finish"
        time.sleep(0.1)


def _small_network(*, units: int, epochs: int) -> AppTest:
    """The app with one hidden layer of ``units`` and ``epochs`` set in the sidebar, training at full speed."""
    at = _start(s_animate=False)
    at.slider(key="s_layers").set_value(1)
    at.number_input(key="s_units_0").set_value(units)
    at.number_input(key="s_epochs").set_value(epochs)
    return _run(at)


def _exports(at: AppTest) -> list[str]:
    """Labels of the figure-export popovers and of the CSV buttons on the page."""
    return [b.proto.popover.label for b in at.get("popover")] + [b.label for b in at.get("download_button")]


def _upload(at: AppTest, name: str, data: bytes) -> AppTest:
    """Upload a file through the sidebar's uploader, as a user does."""
    at.file_uploader(key="load_file").set_value((name, data, "application/octet-stream"))
    return _run(at)


def _click(at: AppTest, payload: dict) -> AppTest:
    """Click the map: the click component's value arrives for one run (a browser event is not repeated)."""
    at.session_state["explore_click"] = {"click": payload}
    _run(at)
    at.session_state["explore_click"] = {}  # the event is gone by the next run, as in the browser
    return at


@pytest.fixture(scope="module")
def moons():
    return load(ASSETS / "moons_2x16.pt")


def test_default_page_shows_the_example_regions_and_data(moons):
    at = _start()
    assert _metrics(at)["activation regions"] == "271"
    spec = _figure(at)
    assert _n_polygons(spec) == 271
    names = [t.get("name") for t in spec["data"]]
    assert "class 0" in names and "class 1" in names and "decision boundary" in names
    hover = next(t for t in spec["data"] if t.get("name") == "region info")
    assert len(hover["hovertext"]) == 271 and hover["hovertext"][0].startswith("region 0<br>pattern ")
    assert not at.error


def test_a_click_selects_the_point_and_shows_the_exact_count_in_its_ball(moons):
    at = _click(_start(), _click_payload(1.0, 1.0))
    point = at.session_state["point"]
    expected = pixel_to_data(_click_payload(1.0, 1.0)["px"], _click_payload(1.0, 1.0)["py"],
                             PlotFrame(50, 40, 500, 500, (-3, 3), (-3, 3)))
    assert point == pytest.approx(expected) and point == pytest.approx((1.0, 1.0))
    regions = enumerate_regions(moons.net, (-3, 3, -3, 3))
    exact = disk_count(moons.net, point, 0.5, regions=regions).n_regions
    assert _metrics(at)["regions in the ball · exact"] == f"{exact:,}"
    names = [t.get("name") for t in _figure(at)["data"]]
    assert "ball r = 0.5" in names and "selected point" in names and "selected region" in names
    assert any(n.startswith("d* = ") for n in names if n)
    at.slider(key="s_radius").set_value(1.0)
    _run(at)
    assert _metrics(at)["regions in the ball · exact"] == \
        f"{disk_count(moons.net, point, 1.0, regions=regions).n_regions:,}"


def test_clicks_outside_the_plot_area_and_bad_typed_points_change_nothing():
    at = _click(_start(), {**FRAME, "px": 5.0, "py": 5.0})
    assert at.session_state["point"] is None
    at.text_input(key="point_text").input("one, two")
    _run(at)
    assert any("two numbers" in e.value for e in at.error)
    at.text_input(key="point_text").input("0.5, -1")
    _run(at)
    assert at.session_state["point"] == (0.5, -1.0) and "regions in the ball · exact" in _metrics(at)
    at.text_input(key="point_text").input("5, 0")  # outside the map's box [-3, 3]²: said so, not "a boundary"
    _run(at)
    assert any("outside the map's box" in m.value for m in at.markdown)
    assert not any("boundary" in m.value for m in at.markdown if m.value.startswith("**Point**"))


def test_pinned_points_are_compared_in_a_table():
    at = _click(_start(), _click_payload(0.0, 0.0))
    next(b for b in at.button if b.label == "Pin this point").click()
    _run(at)
    at.text_input(key="point_text").input("1, 1")
    _run(at)
    next(b for b in at.button if b.label == "Pin this point").click()
    _run(at)
    table = at.dataframe[0].value
    assert len(table) == 2 and {"point", "where", "distance to boundary (exact)", "regions in ball (exact)",
                                "at least (certain)", "at most (proven bound)"} == set(table.columns)
    assert (table["at least (certain)"] <= table["regions in ball (exact)"]).all()
    assert "⤓ CSV" in _exports(at)


def test_click_and_slider_on_a_2x32_network_are_fast(capsys):
    net = random_network((32, 32), seed=3)
    at = _upload(_start(), "net_2x32.pt", checkpoint_bytes(net, box=[[-3, 3], [-3, 3]]))
    assert at.session_state["on_screen"].net.architecture == "2-32-32-1"
    times = []  # whole runs of the script, timed around AppTest's run (which adds a few ms of its own)
    for i, (x, y) in enumerate([(0.3, 0.2), (-1.0, 1.5), (2.0, -0.5)]):
        start = time.perf_counter()
        _click(at, _click_payload(x, y))
        times.append(("click", 1000 * (time.perf_counter() - start)))
        at.slider(key="s_radius").set_value(0.3 + 0.2 * i)
        start = time.perf_counter()
        _run(at)
        times.append(("slider", 1000 * (time.perf_counter() - start)))
    with capsys.disabled():
        print("\n2x32 server time (whole run ms):", ", ".join(f"{k} {ms:.0f}" for k, ms in times))
    assert np.median([ms for _, ms in times]) < 400  # budget 200 ms; slack for shared, loaded machines


def test_training_from_the_sidebar_is_deterministic_and_replaces_the_network():
    at = _small_network(units=4, epochs=20)
    at.slider(key="s_n_points").set_value(100)
    _run(at)
    next(b for b in at.button if b.label == "Train").click()
    _run(at)
    _finish_training(at)
    model = at.session_state["on_screen"]
    assert model.source.startswith("trained on moons") and model.net.architecture == "2-4-1"
    direct = train(make_dataset("moons", n_points=100, noise=0.1, test_fraction=0.2, seed=0),
                   TrainConfig(hidden=(4,), epochs=20, snapshot_every=2))
    assert model.net.equals(direct.net)
    expected = enumerate_regions(direct.net, (-3, 3, -3, 3)).n_regions
    assert _metrics(at)["activation regions"] == f"{expected:,}"
    assert any("trained 20 epochs" in s.value for s in at.success)
    assert model.train_result.seconds > direct.seconds / 10  # wall time of the live run, start-up included


def test_pause_keeps_the_partially_trained_network_and_its_link_reproduces_it():
    at = _start(s_animate=False)
    at.number_input(key="s_epochs").set_value(2000)
    _run(at)
    next(b for b in at.button if b.label == "Train").click()
    _run(at)
    run = at.session_state["live_run"]
    end = time.monotonic() + 60
    while run.frame is None or run.frame.epoch < 3:  # let a few epochs finish
        assert time.monotonic() < end
        time.sleep(0.05)
    at.button(key="live_toggle").click()  # Pause
    _run(at)
    model = at.session_state["on_screen"]
    assert run.state == "paused" and model.train_result.stopped
    assert model.source.startswith("trained on moons (stopped after epoch")
    done = model.train_result.history["epoch"][-1]
    assert 3 <= done < 2000 and at.query_params["epochs"] == str(done)  # the link reproduces the partial network
    again = _start_with_url(dict(at.query_params))
    _finish_training(again)
    assert again.session_state["on_screen"].net.equals(model.net)


def test_play_step_reset_and_live_frames():
    from explorer.train.fit import init_network

    at = _small_network(units=5, epochs=80)
    at.button(key="live_reset").click()  # Reset: a fresh network at epoch 0, paused
    _run(at)
    run = at.session_state["live_run"]
    end = time.monotonic() + 30
    while run.state != "paused":
        assert time.monotonic() < end
        time.sleep(0.05)
    _run(at)
    assert at.session_state["on_screen"].net.equals(init_network((5,), seed=0))
    at.button(key="live_step").click()  # Step: one chunk (80 / 40 = 2 epochs), then paused again
    _run(at)
    while run.frame.epoch < 2 or run.state != "paused":
        assert time.monotonic() < end
        time.sleep(0.05)
    _run(at)
    assert at.session_state["on_screen"].train_result.history["epoch"] == [1, 2]
    at.button(key="live_toggle").click()  # Resume: plays from epoch 2; the map shows the run's frames
    _run(at)
    live = _figure(at)
    assert run.playing or run.finished
    if run.playing:  # a live frame: the exact partition as one image, no hover labels, the same count
        assert live["layout"].get("images") and "region info" not in [t.get("name") for t in live["data"]]
    _finish_training(at)
    direct = train(make_dataset("moons", n_points=500, noise=0.1, test_fraction=0.2, seed=0),
                   TrainConfig(hidden=(5,), epochs=80, snapshot_every=8))
    assert at.session_state["on_screen"].net.equals(direct.net)  # paused, stepped and resumed = one run
    assert _metrics(at)["activation regions"] == f"{enumerate_regions(direct.net, (-3, 3, -3, 3)).n_regions:,}"


def test_a_highlighted_neuron_draws_its_zero_set_and_its_own_map(moons):
    at = _start(s_neuron=22)  # neuron 6 of layer 2
    names = [t.get("name") for t in _figure(at)["data"]]
    assert "neuron 6 of layer 2" in names and "neuron 6 of layer 2 (casing)" in names
    thumb = next(json.loads(c.proto.spec) for c in at.get("plotly_chart") if ": zero set" in c.proto.spec)
    assert thumb["layout"]["title"]["text"] == "neuron 6 of layer 2: active where shaded"
    assert at.query_params["neuron"] == "22"
    assert {"⤓ Diagram", "⤓ Neuron map", "⤓ Figure"} <= set(_exports(at))


def test_good_uploads_replace_the_network(moons):
    at = _start()
    _upload(at, "state_dict_2x16.pt", (ASSETS / "state_dict_2x16.pt").read_bytes())
    assert at.session_state["on_screen"].source == "uploaded: state_dict_2x16.pt"
    assert "load_error" not in at.session_state
    expected = enumerate_regions(load(ASSETS / "state_dict_2x16.pt").net, (-3, 3, -3, 3)).n_regions
    assert _metrics(at)["activation regions"] == f"{expected:,}"
    _upload(at, "moons.pt", checkpoint_bytes(moons.net, box=[[-2, 2], [-2, 2]], provenance=moons.provenance))
    assert at.session_state["s_xmin"] == -2.0 and _figure(at)["layout"]["xaxis"]["range"] == [-2, 2]


class _RunsCode:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch '{self.marker}'",)


def _torch_pickle(payload) -> bytes:
    import io

    import torch

    buf = io.BytesIO()
    torch.save({"0.weight": torch.ones(1, 2), "0.bias": payload}, buf)
    return buf.getvalue()


@pytest.mark.parametrize("kind", ["plain pickle", "torch pickle", "text", "empty"])
def test_bad_files_give_a_message_and_keep_the_page_usable(tmp_path, kind):
    marker = tmp_path / "ran"
    data = {"plain pickle": lambda: pickle.dumps(_RunsCode(str(marker))),
            "torch pickle": lambda: _torch_pickle(_RunsCode(str(marker))),
            "text": lambda: b"these are my lecture notes, not a network",
            "empty": lambda: b""}[kind]()
    at = _start()
    _upload(at, "bad.pt", data)
    assert not marker.exists()
    assert at.session_state["on_screen"].source.startswith("example network")
    assert len(at.error) == 1 and "bad.pt" in at.error[0].value
    assert _metrics(at)["activation regions"] == "271"
    _click(at, _click_payload(0.5, 0.5))
    assert "regions in the ball · exact" in _metrics(at)


def test_a_three_input_network_is_shown_as_a_slice_with_a_message():
    net3 = random_network((6, 5), n0=3, seed=2)
    at = _start()
    _upload(at, "net3.pt", checkpoint_bytes(net3))
    model = at.session_state["on_screen"]
    assert model.full_net.n_inputs == 3 and model.net.n_inputs == 2
    assert any("takes 3 inputs" in i.value and "slice" in i.value for i in at.info)
    assert "slice points" in [t.get("name") for t in _figure(at)["data"]]
    at.text_input(key="slice_p2").input("0, 0, 1")
    next(b for b in at.button if b.label == "Show this slice").click()
    _run(at)
    assert at.session_state["on_screen"].anchors[2] == pytest.approx([0.0, 1.0])
    at.text_input(key="slice_p2").input("1, 0, 0")  # collinear with p0, p1
    next(b for b in at.button if b.label == "Show this slice").click()
    _run(at)
    assert any("collinear" in e.value for e in at.error)


def test_region_budget_overrun_offers_a_larger_budget():
    at = _upload(_start(s_max_regions=1000), "big.pt", checkpoint_bytes(random_network((48, 48), seed=1)))
    assert any("regions are not drawn" in w.value for w in at.warning)
    _click(at, _click_payload(0.1, 0.1))
    assert "regions in the ball · exact" in _metrics(at)  # the point panel works without the map's partition
    next(b for b in at.button if b.label == "Raise the region budget to 4,000").click()
    _run(at)
    assert at.session_state["s_max_regions"] == 4000
    n = enumerate_regions(random_network((48, 48), seed=1), (-3, 3, -3, 3)).n_regions
    assert (_metrics(at).get("activation regions") == f"{n:,}") == (n <= 4000)


@pytest.mark.parametrize("color_by", ["class", "output", "gradient norm", "gradient direction", "active units"])
def test_every_colouring_renders(color_by):
    at = _start(s_color_by=color_by, s_show_layers=[0, 1])
    names = [t.get("name") for t in _figure(at)["data"]]
    assert "layer 1 neurons" in names and "layer 2 neurons" in names
    assert _n_polygons(_figure(at)) == 271


@pytest.mark.parametrize("tab", ["Higher dimensions", "Local findings", "Teach"])
def test_other_tabs_render_without_errors(tab):
    if tab == "Teach" and importlib.util.find_spec("views.teach") is None:
        pytest.skip("views/teach.py is not there yet")
    at = _start(app_tab=tab)
    assert not at.error


def test_classroom_mode_hides_advanced_controls_and_keeps_their_values():
    at = _start(s_optimizer="sgd")
    assert at.selectbox(key="s_optimizer").value == "sgd"
    at.toggle(key="s_classroom").set_value(True)
    _run(at)
    keys = {w.key for w in at.selectbox} | {w.key for w in at.number_input}
    assert not {"s_optimizer", "s_certifier", "s_batch_size", "s_max_regions"} & keys
    assert at.session_state["s_optimizer"] == "sgd" and _metrics(at)["regions"] == "271"  # the short label
    at.toggle(key="s_classroom").set_value(False)
    _run(at)
    assert at.selectbox(key="s_optimizer").value == "sgd"


def _start_with_url(query: dict) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["s_animate"] = False  # a session setting: train at full speed under test
    at.query_params.update(query)
    return _run(at)


def test_a_link_restores_the_view_and_the_url_follows_changes():
    query = {"color_by": "class", "show_layers": "2", "radius": "0.8", "pinned": "0.5,0.5;-1,1", "tab": "explore"}
    at = _start_with_url(query)
    assert at.session_state["s_color_by"] == "class" and at.session_state["s_show_layers"] == [1]
    assert at.session_state["pinned"] == [(0.5, 0.5), (-1.0, 1.0)] and len(at.dataframe[0].value) == 2
    assert "layer 2 neurons" in [t.get("name") for t in _figure(at)["data"]]
    assert {k: at.query_params[k] for k in query if k != "tab"} == {k: v for k, v in query.items() if k != "tab"}
    at.selectbox(key="s_color_by").set_value("output")
    _run(at)
    assert at.query_params["color_by"] == "output"
    assert "hidden" not in at.query_params  # still the example network: its settings are the defaults


def test_a_link_with_other_training_settings_retrains_deterministically():
    at = _start_with_url({"hidden": "5", "epochs": "15", "n_points": "100", "seed": "3", "domain": "-2,2,-1,1"})
    assert "live_run" in at.session_state
    _finish_training(at)
    assert _figure(at)["layout"]["xaxis"]["range"] == [-2, 2]  # training keeps the link's domain
    model = at.session_state["on_screen"]
    direct = train(make_dataset("moons", n_points=100, noise=0.1, test_fraction=0.2, seed=3),
                   TrainConfig(hidden=(5,), epochs=15, seed=3))
    assert model.net.equals(direct.net)
    assert {k: at.query_params[k] for k in ("hidden", "epochs", "n_points", "seed")} == \
        {"hidden": "5", "epochs": "15", "n_points": "100", "seed": "3"}


def test_a_bad_link_gives_warnings_and_a_working_page():
    at = _start_with_url({"radius": "-4", "hidden": "x", "colour": "red", "tab": "nowhere"})
    warnings = [w.value for w in at.sidebar.warning]
    assert len(warnings) == 4 and all(w.startswith("Link: ") for w in warnings)
    assert _metrics(at)["activation regions"] == "271" and "live_run" not in at.session_state


def _wait_job(at: AppTest, key: str, timeout: float = 60.0) -> None:
    assert at.session_state[key].wait(timeout), f"{key} did not finish"
    _run(at)


def test_higher_dimensions_compares_bounds_with_the_exact_counts_of_the_example():
    at = _start(app_tab="Higher dimensions")
    at.slider(key="higher_budget").set_value(5)
    at.slider(key="higher_trials").set_value(3)
    next(b for b in at.button if b.label == "Compare counts").click()
    _run(at)
    _wait_job(at, "higher_job")
    rows = {r.label: r for r in at.session_state["higher_job"].result.entries}
    assert rows["exact enumeration of the 2-D polygons"].value == 271
    exact = next(r for r in rows.values() if r.name == "exact")
    assert exact.value == 271 and exact.status == "exact" and exact.kind == "exact"
    uppers = [r.value for r in rows.values() if r.kind == "upper" and r.value is not None]
    lowers = [r.value for r in rows.values() if r.kind == "lower"]
    assert len(uppers) >= 3 and min(uppers) >= 271 and lowers and max(lowers) <= 271
    assert any("MIPBound" in label for label in rows)
    assert all(r.seconds is None or r.seconds >= 0 for r in rows.values())
    chart = next(json.loads(c.proto.spec) for c in at.get("plotly_chart") if '"type":"log"' in c.proto.spec)
    assert chart["layout"]["xaxis"]["type"] == "log"
    table = at.dataframe[-1].value
    assert "None" not in table["seconds"].astype(str).tolist() and "kind of number" in table.columns
    assert {"⤓ Figure", "⤓ CSV"} <= set(_exports(at))


def test_a_long_comparison_stops_when_asked():
    at = _start(app_tab="Higher dimensions")
    at.slider(key="higher_budget").set_value(300)
    at.checkbox(key="higher_exact").set_value(True)
    next(b for b in at.button if b.label == "Compare counts").click()
    _run(at)
    job = at.session_state["higher_job"]
    start = time.monotonic()
    at.button(key="higher_job_stop").click()
    _run(at)
    assert job.wait(60) and time.monotonic() - start < 60 and not job.error
    _run(at)
    assert [e.name for e in job.result.entries] == ["enumeration"]  # what was known before: the map's exact count


def test_higher_dimensions_trains_on_clusters_in_eight_dimensions():
    at = _start(app_tab="Higher dimensions", higher_source="train a network here", higher_data="clusters")
    at.slider(key="higher_dim").set_value(8)
    at.text_input(key="higher_hidden").set_value("6")
    at.number_input(key="higher_epochs").set_value(10)
    next(b for b in at.button if b.label == "Train on clusters").click()
    _run(at)
    job = at.session_state["higher_train_job"]
    _wait_job(at, "higher_train_job")
    trained = at.session_state["higher_trained"]
    net, box = trained.net, trained.box
    assert job.seconds > job.result[2].seconds  # the job's wall time includes its start-up; train()'s own does not
    assert trained.train_result.seconds == pytest.approx(job.seconds)  # the time reported is the wall time
    assert net.architecture == "8-6-3" and box.shape == (8, 2)  # 3 clusters: 3 logits
    assert any("8-6-3" in c.value for c in at.caption)


def test_local_findings_run_on_the_training_snapshots():
    at = _small_network(units=5, epochs=20)
    next(b for b in at.button if b.label == "Train").click()
    _finish_training(at)
    at.session_state["app_tab"] = "Local findings"
    _run(at)
    at.slider(key="findings_points").set_value(10)
    next(b for b in at.button if b.label == "Run the findings").click()
    _run(at)
    _wait_job(at, "findings_job")
    findings, status = at.session_state["findings_job"].result
    snapshots = at.session_state["on_screen"].train_result.snapshots
    assert status == "complete" and list(findings.epochs) == [e for e, _ in snapshots]
    assert len(at.dataframe[-1].value) == len(findings.epochs)
    assert "median d* at training points" in at.dataframe[-1].value.columns  # words, not snake_case
    assert {"⤓ Figure", "⤓ CSV"} <= set(_exports(at))
    assert (findings.n_exact_train >= 1).all() and findings.d_star_train.shape == (len(findings.epochs), 10)


def test_higher_dimensions_counts_the_uploaded_eight_input_network_on_its_box():
    at = _start()
    _upload(at, "clusters_8d.pt", (ASSETS / "clusters_8d.pt").read_bytes())
    assert at.session_state["on_screen"].full_net.n_inputs == 8
    at.session_state["app_tab"] = "Higher dimensions"
    _run(at)
    at.radio(key="higher_source").set_value("n-input network behind the slice")
    at.slider(key="higher_budget").set_value(5)
    at.slider(key="higher_trials").set_value(3)
    _run(at)
    assert any("box from its file" in c.value for c in at.caption)
    next(b for b in at.button if b.label == "Compare counts").click()
    _run(at)
    _wait_job(at, "higher_job")
    rows = at.session_state["higher_job"].result.entries
    assert not any(r.label.startswith("exact enumeration") for r in rows)
    sampled = next(r.value for r in rows if r.name == "sampled_lower")
    assert all(r.value >= sampled for r in rows if r.kind == "upper" and r.value is not None)
