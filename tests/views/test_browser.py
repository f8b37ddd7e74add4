"""Real browser: `streamlit run app.py`, Debian chromium through Playwright, a click inside the region map."""

from __future__ import annotations

import pytest

from explorer.ball.disk import disk_count
from explorer.io import load
from tests.browser import ARGS, CHROMIUM, ROOT, needs_chromium, streamlit_app

ARTIFACTS = ROOT / "tests" / "artifacts"

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def server():
    with streamlit_app() as url:
        yield url


_MAP_FRAME = """() => {
  const gd = [...document.querySelectorAll('.js-plotly-plot')]
    .find(g => g.layout && g.layout.meta && g.layout.meta.click_target === 'explore-map');
  if (!gd || !gd._fullLayout || !gd._fullLayout.xaxis) return null;
  const r = gd.getBoundingClientRect(), xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
  return {left: r.left + xa._offset, top: r.top + ya._offset, width: xa._length, height: ya._length,
          x: xa.range, y: ya.range, traces: gd.data.map(t => t.name)};
}"""


def test_clicking_the_region_map_shows_the_ball_and_its_exact_count(server):
    from playwright.sync_api import sync_playwright

    x, y = 1.0, 1.0
    example = load(ROOT / "assets" / "moons_2x16.pt")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1150})
            page.goto(server)
            page.wait_for_function(_MAP_FRAME, timeout=60_000)
            page.wait_for_timeout(800)  # let the click component attach (it scans every 300 ms)
            frame = page.evaluate(_MAP_FRAME)
            assert "decision boundary" in frame["traces"] and "selected point" not in frame["traces"]
            px = frame["left"] + (x - frame["x"][0]) / (frame["x"][1] - frame["x"][0]) * frame["width"]
            py = frame["top"] + (frame["y"][1] - y) / (frame["y"][1] - frame["y"][0]) * frame["height"]
            page.mouse.click(px, py)
            page.wait_for_function(f"(({_MAP_FRAME})() || {{traces: []}}).traces.includes('ball r = 0.5')",
                                   timeout=30_000)
            star = page.evaluate("() => { const gd = [...document.querySelectorAll('.js-plotly-plot')].find("
                                 "g => g.layout.meta && g.layout.meta.click_target === 'explore-map');"
                                 "const t = gd.data.find(t => t.name === 'selected point'); return [t.x[0], t.y[0]]; }")
            assert abs(star[0] - x) < 2 * 6.0 / frame["width"] and abs(star[1] - y) < 2 * 6.0 / frame["height"]
            metric = page.locator("[data-testid=stMetric]", has_text="regions in the ball · exact")
            metric.wait_for(timeout=10_000)
            assert metric.inner_text().split()[-1] == f"{disk_count(example.net, star, 0.5).n_regions:,}"
            traces = page.evaluate(_MAP_FRAME)["traces"]
            assert {"selected point", "selected region"} <= set(traces) and any(t.startswith("d* = ") for t in traces)
            page.wait_for_timeout(500)
            page.screenshot(path=str(ARTIFACTS / "explore_click.png"), full_page=True)
            assert page.locator("[data-testid=stException]").count() == 0
            assert "Traceback" not in page.content()
        finally:
            browser.close()
