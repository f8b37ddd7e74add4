"""Real browser: a shared URL (views.state.to_query) opened in a fresh browser reproduces the view, and the
URL the app then shows reproduces it again in another fresh browser."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlencode, urlparse

import pytest

from explorer.train.data import make_dataset
from explorer.plane.regions import enumerate_regions
from views.state import AppState, dataset_kwargs, from_query, to_query, train_config
from explorer.train.fit import train
from tests.browser import ARGS, CHROMIUM, needs_chromium, streamlit_app

STATE = AppState(dataset="circles", n_points=200, noise=0.05, seed=3, hidden=(6, 6), lr=0.03, epochs=40,
                 color_by="class", show_layers=(0,), show_decision=False, pinned=((0.5, -0.25),),
                 domain=(-2.5, 2.5, -2.0, 2.0), classroom=True)

pytestmark = needs_chromium

_MAP = """() => {
  const gd = [...document.querySelectorAll('.js-plotly-plot')]
    .find(g => g.layout && g.layout.meta && g.layout.meta.click_target === 'explore-map');
  if (!gd || !gd._fullLayout || !gd._fullLayout.xaxis) return null;
  const pins = gd._fullData.find(t => t.name === 'pinned points');  // decoded arrays (data may hold base64)
  return {x: gd._fullLayout.xaxis.range, y: gd._fullLayout.yaxis.range, traces: gd.data.map(t => t.name),
          pins: pins ? [Array.from(pins.x), Array.from(pins.y)] : null};
}"""


@pytest.fixture(scope="module")
def server():
    with streamlit_app() as url:
        yield url


@pytest.fixture(scope="module")
def expected() -> int:
    """The activation-region count of STATE, computed by the library alone."""
    net = train(make_dataset(**dataset_kwargs(STATE)), train_config(STATE)).net
    return enumerate_regions(net, STATE.domain).n_regions


def _open(browser, url: str, count: int) -> dict:
    """Open ``url`` in a fresh context; wait until the map and the count are there; return what the page shows."""
    context = browser.new_context(viewport={"width": 1500, "height": 1100})
    try:
        page = context.new_page()
        page.goto(url)
        metric = page.locator("[data-testid=stMetric]", has_text="regions")
        deadline = time.monotonic() + 60  # the app may train the shared configuration first (≈1 s here)
        while time.monotonic() < deadline:
            if metric.count() and metric.first.inner_text().split()[-1] == f"{count:,}" and page.evaluate(_MAP):
                break
            page.wait_for_timeout(500)
        view = page.evaluate(_MAP) or {}
        return {"count": metric.first.inner_text().split()[-1] if metric.count() else None, **view,
                "url": page.url, "classroom_hides": page.get_by_text("Number of points").count() == 0,
                "errors": [e.inner_text()[:400] for e in page.locator("[data-testid=stException]").all()]}
    finally:
        context.close()


def test_a_shared_url_reproduces_the_view_in_a_fresh_browser(server, expected):
    from playwright.sync_api import sync_playwright

    assert to_query(STATE)  # a non-default state: the URL carries it
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            shown = _open(browser, f"{server}/?{urlencode(to_query(STATE))}", expected)
            _check(shown, expected, "the shared URL")
            # the URL the app shows now must reproduce the same view in another fresh browser
            assert from_query(parse_qs(urlparse(shown["url"]).query))[0] == STATE
            again = _open(browser, shown["url"], expected)
            _check(again, expected, "the URL the app showed")
        finally:
            browser.close()


def _check(shown: dict, expected: int, what: str) -> None:
    assert shown["errors"] == [], what
    assert shown["count"] == f"{expected:,}", (what, shown["url"])
    assert shown["x"] == pytest.approx(STATE.domain[:2]) and shown["y"] == pytest.approx(STATE.domain[2:])
    assert "decision boundary" not in shown["traces"] and "layer 1 neurons" in shown["traces"]
    assert shown["pins"] == [[0.5], [-0.25]]
    assert shown["classroom_hides"]


def test_a_preset_url_opens_the_construction_with_its_closed_form(server):
    from playwright.sync_api import sync_playwright

    from explorer.train.presets import build

    state = AppState(preset="folded:3", domain=(0.0, 1.0, 0.0, 2.0), tab="teach")  # presets live in Teach
    preset = build(state.preset, box=state.domain)
    exact = enumerate_regions(preset.net, preset.box).n_regions
    assert exact == preset.closed_form == 64
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_context(viewport={"width": 1500, "height": 1100}).new_page()
            page.goto(f"{server}/?{urlencode(to_query(state))}")
            metric = page.locator("[data-testid=stMetric]", has_text="exact (enumerated)")
            metric.wait_for(timeout=60_000)
            closed = page.locator("[data-testid=stMetric]", has_text="closed form")
            assert metric.inner_text().split()[-1] == closed.inner_text().split()[-1] == f"{exact:,}"
            assert page.get_by_text("matches the exact count").count() == 1
            assert from_query(parse_qs(urlparse(page.url).query))[0] == state
        finally:
            browser.close()
