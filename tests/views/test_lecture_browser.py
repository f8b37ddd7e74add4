"""Real browser, as a lecturer uses the app: a 1280×720 projector in classroom mode, live training, a neuron
clicked in the network diagram, then every tab at 1440×900 with its export control; screenshots of each step
go to tests/artifacts/."""

from __future__ import annotations

import time

import pytest

from tests.browser import ARGS, CHROMIUM, ROOT, needs_chromium, streamlit_app

ARTIFACTS = ROOT / "tests" / "artifacts"

pytestmark = needs_chromium

_PLOT = """(target) => {
  const gd = [...document.querySelectorAll('.js-plotly-plot')]
    .find(g => g.layout && g.layout.meta && g.layout.meta.click_target === target);
  if (!gd || !gd._fullLayout || !gd._fullLayout.xaxis) return null;
  const r = gd.getBoundingClientRect();
  return {top: r.top, bottom: r.bottom, left: r.left, right: r.right, traces: gd.data.map(t => t.name)};
}"""
_NODE = """(unit) => {
  const gd = [...document.querySelectorAll('.js-plotly-plot')]
    .find(g => g.layout && g.layout.meta && g.layout.meta.click_target === 'network_diagram');
  if (!gd || !gd._fullLayout || !gd._fullLayout.xaxis) return null;
  const t = gd._fullData.find(t => t.name === 'neurons'), i = Array.from(t.customdata).indexOf(unit);
  const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, r = gd.getBoundingClientRect();
  return [r.left + xa._offset + xa.d2p(t.x[i]), r.top + ya._offset + ya.d2p(t.y[i])];
}"""


@pytest.fixture(scope="module")
def server():
    with streamlit_app() as url:
        yield url


def _click_neuron(page, unit: int) -> None:
    """Click neuron ``unit`` of the diagram until the map shows its zero set.

    A click that lands while the page is being redrawn (the run's last frame replacing the diagram) is lost,
    as it would be for a user, who clicks again; a click that was received selects the neuron, which the URL
    then holds (``neuron=``), so the test clicks again only when the URL does not name it (a second click
    would unselect it).
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    shows = f"(({_PLOT})('explore-map') || {{traces: []}}).traces.includes('neuron {unit - 15} of layer 2')"
    for _ in range(3):
        x, y = page.evaluate(_NODE, unit)
        page.mouse.click(x, y)
        try:
            page.wait_for_function(shows, timeout=20_000)
            return
        except PlaywrightTimeout:
            if f"neuron={unit + 1}" in page.url:
                page.wait_for_function(shows, timeout=40_000)
                return
    raise AssertionError(f"three clicks on neuron {unit + 1} of the diagram never drew its zero set on the map")


def _inside(box: dict, width: int, height: int) -> bool:
    return box["top"] >= 0 and box["left"] >= 0 and box["bottom"] <= height and box["right"] <= width


def _box(locator) -> dict:
    b = locator.bounding_box()
    return {"top": b["y"], "left": b["x"], "bottom": b["y"] + b["height"], "right": b["x"] + b["width"]}


def test_a_lecture_on_a_projector_trains_live_and_every_tab_exports(server):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            page.goto(f"{server}/?classroom=1")
            page.wait_for_function(f"({_PLOT})('explore-map') !== null", timeout=60_000)
            epochs = page.get_by_label("Epochs")
            epochs.fill("60")
            epochs.press("Enter")
            page.wait_for_timeout(1000)
            page.get_by_role("button", name="Play").click()  # train the moons settings for 60 epochs, animated
            metric = page.locator("[data-testid=stMetric]", has_text="regions").first
            counts, status, shot = [], "", False
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:  # sample the count on the page while the run plays
                text = metric.inner_text().split()[-1]
                status = " ".join(page.locator("[data-testid=stCaptionContainer]").all_inner_texts())
                if not counts or counts[-1] != text:
                    counts.append(text)
                if "epoch" in status and not shot:
                    frame = page.evaluate(_PLOT, "explore-map")
                    assert _inside(frame, 1280, 720) and _inside(_box(metric), 1280, 720)  # map and count fit
                    assert _inside(_box(page.get_by_role("button", name="Pause")), 1280, 720)
                    page.screenshot(path=str(ARTIFACTS / "classroom_1280x720_training.png"))
                    shot = True
                if "trained on moons" in status:
                    break
                page.wait_for_timeout(150)
            assert "trained on moons (trained 60 epochs" in status, status
            assert len(counts) >= 4, counts  # the count changed several times before the run ended
            page.wait_for_timeout(500)
            assert _inside(page.evaluate(_PLOT, "explore-map"), 1280, 720) and _inside(_box(metric), 1280, 720)
            page.screenshot(path=str(ARTIFACTS / "classroom_1280x720.png"))

            unit = _bent_neuron()  # a neuron of layer 2: its bent zero set appears on the map
            _click_neuron(page, unit)
            page.screenshot(path=str(ARTIFACTS / "classroom_neuron.png"))

            page.set_viewport_size({"width": 1440, "height": 900})
            page.get_by_text("Classroom mode").click()
            page.wait_for_timeout(1500)
            legend = page.locator(".js-plotly-plot .legend").first
            assert _inside(_box(legend), 1440, 900)  # the map's legend above the fold
            _export_control(page, "Explore")
            page.screenshot(path=str(ARTIFACTS / "tab_explore.png"))
            for tab, run in (("Teach", None), ("Higher dimensions", "Compare counts"),
                             ("Local findings", "Run the findings")):
                page.get_by_role("tab", name=tab).click()
                if run is not None:
                    for slider in page.locator("[data-testid=stSlider] [role=slider]").all():
                        if slider.get_attribute("aria-valuemax") in ("300", "200"):  # budget, points: the least
                            slider.focus()
                            slider.press("Home")
                    page.get_by_role("button", name=run).click()
                _export_control(page, tab)
                page.screenshot(path=str(ARTIFACTS / f"tab_{tab.split()[0].lower()}.png"), full_page=True)
            assert page.locator("[data-testid=stException]").count() == 0
        finally:
            browser.close()


def _bent_neuron() -> int:
    """The layer-2 neuron (pattern index) of the trained network with the longest zero set in the box."""
    from explorer.plane.partition import unit_boundary
    from explorer.plane.regions import enumerate_regions
    from explorer.train.data import make_dataset
    from explorer.train.fit import TrainConfig, train

    net = train(make_dataset("moons"), TrainConfig(epochs=60)).net
    regions = enumerate_regions(net, (-3, 3, -3, 3))
    return max(range(16, 32), key=lambda u: len(unit_boundary(regions, u)))


def _export_control(page, tab: str) -> None:
    """Wait until the open tab shows a figure-export popover."""
    panel = page.locator("[data-testid=stTabPanel]:visible, [role=tabpanel]:visible").first
    panel.get_by_role("button", name="⤓ Figure").first.wait_for(timeout=90_000)
    assert panel.get_by_role("button", name="⤓ Figure").count() >= 1, tab
