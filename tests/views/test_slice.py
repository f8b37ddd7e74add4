"""Slices through data points: the click → input mapping, the data a network is sliced through, and the CNN upload
end to end (AppTest and one real browser)."""

from __future__ import annotations

import base64
import json
import time

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from explorer.ball.local import local_bounds
from explorer.errors import ExplorerError
from explorer.io import load
from explorer.plane.regions import enumerate_regions
from explorer.plot.figures import PlotFrame, pixel_to_data
from explorer.plot.text import format_count
from explorer.train.data import load_dataset, make_dataset
from tests.browser import ARGS, CHROMIUM, ROOT, needs_chromium, streamlit_app
from tests.conftest import ASSETS
from tests.nets import random_network
from tests.views.test_app import _run, _start
from views.slice import ANCHORS, click_to_input, data_plane, dataset_for, default_samples, parse_point, slice_input

FRAME = PlotFrame(left=40.0, top=20.0, width=500.0, height=500.0, x_range=(-0.5, 1.5), y_range=(-0.5, 1.5))


def _payload(a: float, b: float) -> dict:
    """What the click component sends for a click at plane point (a, b) of FRAME."""
    px = FRAME.left + (a - FRAME.x_range[0]) / 2.0 * FRAME.width
    py = FRAME.top + (FRAME.y_range[1] - b) / 2.0 * FRAME.height
    return {"px": px, "py": py, "left": FRAME.left, "top": FRAME.top, "width": FRAME.width, "height": FRAME.height,
            "x_range": list(FRAME.x_range), "y_range": list(FRAME.y_range), "stamp": time.time()}


@pytest.fixture(scope="module")
def cnn():
    return load(ASSETS / "digits_cnn.pt").net


# ---- pure functions ---------------------------------------------------------------------------------
def test_a_click_stands_for_the_input_p0_plus_a_p1_minus_p0_plus_b_p2_minus_p0():
    net = random_network((7, 6), n0=10, n_out=3, seed=5)
    p = np.random.default_rng(2).normal(size=(3, 10))
    plane = data_plane(net, *p)
    assert np.array_equal(plane.anchors, ANCHORS)
    for (a, b), expected in zip(ANCHORS, p):
        assert np.allclose(slice_input(plane, a, b), expected, atol=1e-14)
    for a, b in [(0.25, 0.5), (-0.5, 1.5), (1.2, -0.3)]:
        hit = click_to_input(_payload(a, b), plane)
        a_px, b_px = pixel_to_data(_payload(a, b)["px"], _payload(a, b)["py"], FRAME)
        assert (hit.a, hit.b) == (a_px, b_px) and (a_px, b_px) == pytest.approx((a, b))
        assert np.allclose(hit.x, p[0] + hit.a * (p[1] - p[0]) + hit.b * (p[2] - p[0]), atol=1e-13)
        assert np.allclose(plane.net.forward([[hit.a, hit.b]]), net.forward(hit.x[None]), rtol=1e-12, atol=1e-12)
    assert click_to_input({**_payload(0.5, 0.5), "px": 5.0}, plane) is None  # left of the plot area
    assert click_to_input({"px": "x"}, plane) is None


def test_three_samples_must_span_a_plane(cnn):
    p = np.random.default_rng(0).random((3, 64))
    with pytest.raises(ExplorerError, match="same point"):
        data_plane(cnn, p[0], p[1], p[0])
    with pytest.raises(ExplorerError, match="one line"):
        data_plane(cnn, p[0], p[1], 2 * p[1] - p[0])


def test_the_shipped_cnn_slice_has_the_count_of_docs_cnn_md(cnn):
    points = np.load(ASSETS / "digits_cnn_points.npy")  # docs/cnn.md: 4,882 regions, from the CLI's --plane
    assert enumerate_regions(data_plane(cnn, *points).net, (-0.5, 1.5, -0.5, 1.5)).n_regions == 4882


@pytest.mark.parametrize("text, expected", [("0.5, -1", (0.5, -1.0)), (" 1e-3 ;2", (0.001, 2.0))])
def test_a_typed_point_is_two_numbers(text, expected):
    assert parse_point(text) == expected


@pytest.mark.parametrize("text", ["1", "1, 2, 3", "a, b", "nan, 1", "inf, 0", ""])
def test_anything_else_typed_is_refused_with_what_to_type(text):
    with pytest.raises(ExplorerError, match="type two numbers a, b"):
        parse_point(text)


def test_default_samples_are_the_first_of_different_classes():
    assert default_samples([3, 3, 1, 3, 0, 2]) == (0, 2, 4)
    assert default_samples([5, 5, 5, 5]) == (0, 1, 2)  # one class: the first three
    assert default_samples([1, 1, 2, 2]) == (0, 2, 1)  # two classes, then the first sample left
    with pytest.raises(ExplorerError, match="3 samples"):
        default_samples([0, 1])


def test_the_data_of_a_network(cnn):
    digits, origin = dataset_for(cnn, {})
    assert digits.name == "digits" and digits.image_shape == (8, 8) and "matched by the input size" in origin
    clusters = load(ASSETS / "clusters_8d.pt")
    data, origin = dataset_for(clusters.net, clusters.provenance)
    assert np.array_equal(data.x_test, make_dataset(**clusters.provenance["dataset"]).x_test) and "file" in origin
    iris = load_dataset("iris", seed=4)
    net4 = random_network((5,), n0=4, n_out=3)
    assert dataset_for(net4, {}, iris)[0] is iris and dataset_for(net4, {}) is None
    assert dataset_for(net4, {"dataset": {"name": "iris", "test_fraction": 0.2, "seed": 4}})[0].settings == iris.settings
    assert dataset_for(random_network((5,), n0=13), {"dataset": {"name": "iris"}}) is None  # 4 features ≠ 13 inputs


# ---- the app ------------------------------------------------------------------------------------------
def _upload(at: AppTest, key: str, name: str, data: bytes) -> AppTest:
    at.file_uploader(key=key).set_value((name, data, "application/octet-stream"))
    return _run(at)


def _figure(at: AppTest, **meta) -> dict:
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        if (spec["layout"].get("meta") or {}).items() >= meta.items():
            return spec
    raise AssertionError(f"no figure with meta {meta}")


def _z(trace: dict) -> np.ndarray:
    z = trace["z"]
    if isinstance(z, dict):
        shape = [int(v) for v in str(z["shape"]).split(",")]
        return np.frombuffer(base64.b64decode(z["bdata"]), dtype=z["dtype"]).reshape(shape)
    return np.array(z, dtype=float)


def test_a_cnn_upload_opens_on_three_digit_images_and_a_click_shows_its_input(cnn):
    at = _start()
    _upload(at, "load_file", "digits_cnn.pt", (ASSETS / "digits_cnn.pt").read_bytes())
    shown = at.session_state["on_screen"]
    assert shown.full_net.equals(cnn) and np.array_equal(shown.box, np.tile([0.0, 1.0], (64, 1)))
    assert at.session_state["app_tab"] == "Higher dimensions" and not at.error
    digits = load_dataset("digits")
    picks = default_samples(digits.y_test)
    images = digits.x_test[list(picks)]
    gallery = _figure(at, figure="input-gallery")
    assert [np.array_equal(_z(t), x.reshape(8, 8)) for t, x in zip(gallery["data"], images)] == [True] * 3
    samples = next(t for t in _figure(at, click_target="slice-map")["data"] if t.get("name") == "samples")
    assert samples["text"][0] == f"p0 · digit {digits.y_test[picks[0]]}"
    n = enumerate_regions(data_plane(cnn, *images).net, (-0.5, 1.5, -0.5, 1.5)).n_regions
    assert {m.label: m.value for m in at.metric}["regions on this plane"] == f"{n:,}"

    at.session_state["slice_click"] = {"click": _payload(0.5, 0.25)}  # as the browser component reports it
    _run(at)
    at.session_state["slice_click"] = {}
    a, b = at.session_state["slice_point"]
    x = images[0] + a * (images[1] - images[0]) + b * (images[2] - images[0])
    assert np.allclose(_z(_figure(at, figure="input-image")["data"][0]), x.reshape(8, 8), atol=1e-12)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["prediction"] == f"digit {int(np.argmax(cnn.forward(x[None])))}"
    bound = local_bounds(cnn, x, 0.25, certifier="symbolic", n_samples=2000, seed=0)
    assert metrics["regions in the ball, at most"] == format_count(bound.upper_bound)
    assert metrics["at least"] == f"{bound.n_sampled:,}" and bound.n_sampled <= bound.upper_bound
    names = [t.get("name") for t in _figure(at, click_target="slice-map")["data"]]
    assert {"selected point", "ball ∩ plane"} <= set(names)

    at.radio(key="higher_view").set_value("Count regions")
    _run(at)
    assert any("[0, 1]×[0, 1]×[0, 1] × …" in c.value for c in at.caption)


def test_a_state_dict_cnn_needs_its_description_and_bad_files_keep_the_old_network():
    at = _start()
    weights = (ASSETS / "digits_cnn.safetensors").read_bytes()
    _upload(at, "load_file", "digits_cnn.safetensors", weights)
    assert len(at.error) == 1 and "JSON" in at.error[0].value
    assert at.session_state["on_screen"].source.startswith("example network")
    wrong = json.loads((ASSETS / "digits_cnn.json").read_text()) | {"input_shape": [1, 10, 10]}
    _upload(at, "load_layers", "wrong.json", json.dumps(wrong).encode())
    assert len(at.error) == 1 and at.session_state["on_screen"].source.startswith("example network")
    _upload(at, "load_layers", "digits_cnn.json", (ASSETS / "digits_cnn.json").read_bytes())
    assert not at.error and at.session_state["on_screen"].source == "uploaded: digits_cnn.safetensors"
    assert at.session_state["on_screen"].full_net.input_shape == (1, 8, 8)


# ---- one real browser ----------------------------------------------------------------------------------
_SLICE_FRAME = """() => {
  const gd = [...document.querySelectorAll('.js-plotly-plot')]
    .find(g => g.layout && g.layout.meta && g.layout.meta.click_target === 'slice-map');
  if (!gd || !gd._fullLayout || !gd._fullLayout.xaxis) return null;
  const r = gd.getBoundingClientRect(), xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
  return {left: r.left + xa._offset, top: r.top + ya._offset, width: xa._length, height: ya._length,
          x: xa.range, y: ya.range};
}"""
_INPUT_IMAGE = """() => [...document.querySelectorAll('.js-plotly-plot')].some(
  g => g.layout && g.layout.meta && g.layout.meta.figure === 'input-image')"""


@needs_chromium
def test_in_a_browser_a_click_on_the_slice_shows_the_image_it_stands_for():
    from playwright.sync_api import sync_playwright

    artifacts = ROOT / "tests" / "artifacts"
    artifacts.mkdir(exist_ok=True)
    with streamlit_app() as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1300})
            page.goto(url)
            page.get_by_text("Load and save").click()
            page.locator("input[type=file]").first.set_input_files(str(ASSETS / "digits_cnn.pt"))
            page.wait_for_function(_SLICE_FRAME, timeout=60_000)
            page.wait_for_timeout(800)  # let the click component attach (it scans every 300 ms)
            frame = page.evaluate(_SLICE_FRAME)
            a, b = 0.5, 0.5
            px = frame["left"] + (a - frame["x"][0]) / (frame["x"][1] - frame["x"][0]) * frame["width"]
            py = frame["top"] + (frame["y"][1] - b) / (frame["y"][1] - frame["y"][0]) * frame["height"]
            page.mouse.click(px, py)
            page.wait_for_function(_INPUT_IMAGE, timeout=30_000)
            page.locator("[data-testid=stMetric]", has_text="prediction").wait_for(timeout=30_000)
            page.locator("[data-testid=stMetric]", has_text="regions on this plane").scroll_into_view_if_needed()
            page.wait_for_timeout(500)
            page.screenshot(path=str(artifacts / "slice_click.png"))
            assert page.locator("[data-testid=stException]").count() == 0
        finally:
            browser.close()
