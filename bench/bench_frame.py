"""Frame time of live training: what the Explore tab does for every frame while a run plays, step by step.

For each network, a run on moons (500 points) is advanced in chunks as the app does (about 40 frames per
run); at 8 frames spread over the run we time, on the server, the exact enumeration, the colours kept from
the previous frame (adjacency + greedy), the linear-region count, the region map (no hover labels), the
network diagram and the loss curves, and Plotly's JSON (what Streamlit sends); in a headless Chromium we time
``Plotly.react`` of that JSON (the browser's part).  The page redraws the diagram only every 2 s (an unchanged
chart is not redrawn), so it is timed apart and not counted in the frame.  The baseline, in the same run, is the
static map of the same frame with hover labels and vector polygons, drawn from scratch.

Usage: python bench/bench_frame.py [--quick]   (needs Debian's chromium for the browser column)
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import plotly.io as pio  # noqa: E402

from explorer.plane.partition import linear_labels  # noqa: E402
from explorer.plane.regions import enumerate_regions  # noqa: E402
from explorer.plot.charts import training_figure  # noqa: E402
from explorer.plot.coloring import color_memory, stable_coloring  # noqa: E402
from explorer.plot.figures import region_map  # noqa: E402
from explorer.plot.network import network_figure  # noqa: E402
from explorer.train.data import make_dataset  # noqa: E402
from explorer.train.fit import TrainConfig, Trainer  # noqa: E402

NETS = {"2-16-16-1": (16, 16), "2-32-32-1": (32, 32), "2-32-32-32-1": (32, 32, 32), "2-64-64-1": (64, 64)}
BOX = (-3.0, 3.0, -3.0, 3.0)
EPOCHS, FRAMES, SAMPLED = 200, 40, 8
CHROMIUM = "/usr/bin/chromium"


def main(quick: bool = False) -> None:
    dataset = make_dataset("moons", n_points=500, noise=0.1, seed=0)
    browser = _Browser() if os.path.exists(CHROMIUM) else None
    print(f"{'network':14} {'regions':>8} {'enum':>6} {'colour':>6} {'linear':>6} {'map':>6} {'curves':>6} "
          f"{'json':>5} {'KB':>6} {'browser':>7} {'curves':>6} {'frame':>6} {'fps':>5} | {'diagram':>7} | "
          f"{'static map':>10} {'KB':>6} {'browser':>7}")
    for name, hidden in list(NETS.items())[:2 if quick else None]:
        trainer = Trainer(dataset, TrainConfig(hidden=hidden, epochs=EPOCHS))
        rows, memory = [], {}
        for frame in range(FRAMES):
            trainer.run(EPOCHS // FRAMES)
            if frame % (FRAMES // SAMPLED):
                continue
            row, memory = _frame(trainer, dataset, memory, browser)
            rows.append(row)
        med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
        frame_ms = sum(med[k] for k in ("enum", "colour", "linear", "map", "curves", "json", "browser",
                                        "browser_curves"))
        print(f"{name:14} {med['regions']:8,.0f} {med['enum']:6.0f} {med['colour']:6.0f} {med['linear']:6.0f} "
              f"{med['map']:6.0f} {med['curves']:6.0f} {med['json']:5.0f} {med['kb']:6.0f} {med['browser']:7.0f} "
              f"{med['browser_curves']:6.0f} {frame_ms:6.0f} {1000 / frame_ms:5.1f} | {med['diagram']:7.0f} | "
              f"{med['static']:10.0f} {med['static_kb']:6.0f} "
              f"{med['static_browser']:7.0f}")
    print("milliseconds (medians over 8 frames of a 200-epoch run); server: enum … json, browser: map and curves; "
          "frame = their sum; diagram = the network diagram (server + browser, redrawn every 2 s); static map = "
          "the hover-labelled vector map drawn from scratch (server ms), its JSON and browser render")
    if browser is not None:
        browser.close()


def _frame(trainer: Trainer, dataset, memory: dict, browser) -> tuple[dict, dict]:
    t = [time.perf_counter()]
    regions = enumerate_regions(trainer.net, BOX)
    t.append(time.perf_counter())
    colors = stable_coloring(regions, 8, previous=memory)
    memory = color_memory(regions, colors)
    t.append(time.perf_counter())
    linear = int(linear_labels(regions).max()) + 1
    t.append(time.perf_counter())
    fig = region_map(regions, dataset=dataset, coloring=colors, hover=False, raster=True, height=520)
    t.append(time.perf_counter())
    curves = training_figure(trainer.history, height=220)
    t.append(time.perf_counter())
    payload = pio.to_json(fig, validate=False)
    curves_payload = pio.to_json(curves, validate=False)
    t.append(time.perf_counter())
    d0 = time.perf_counter()
    diagram_payload = pio.to_json(network_figure(trainer.net, height=250), validate=False)
    diagram_ms = 1000 * (time.perf_counter() - d0)
    s0 = time.perf_counter()
    static = region_map(regions, dataset=dataset, height=520)
    static_payload = pio.to_json(static, validate=False)
    static_ms = 1000 * (time.perf_counter() - s0)
    ms = [1000 * (b - a) for a, b in zip(t, t[1:])]
    row = {"regions": regions.n_regions, "enum": ms[0], "colour": ms[1], "linear": ms[2], "map": ms[3],
           "curves": ms[4], "json": ms[5], "kb": (len(payload) + len(curves_payload)) / 1e3,
           "browser": browser.render({"map": payload}) if browser else float("nan"),
           "browser_curves": browser.render({"curves": curves_payload}) if browser else float("nan"),
           "diagram": diagram_ms + (browser.render({"diagram": diagram_payload}) if browser else 0.0),
           "static": static_ms, "static_kb": len(static_payload) / 1e3,
           "static_browser": browser.render({"static": static_payload}) if browser else float("nan")}
    assert linear >= 1
    return row, memory


class _Browser:
    """A headless Chromium page with plotly.js; ``render`` times Plotly.react of figure JSON, in ms."""

    def __init__(self) -> None:
        from playwright.sync_api import sync_playwright

        import plotly

        self._pw = sync_playwright().start()
        self._browser = self._pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        self._page = self._browser.new_page(viewport={"width": 1280, "height": 720})
        self._page.set_content("".join(f"<div id='{d}' style='width:560px'></div>"
                                       for d in ("map", "curves", "diagram", "static")))
        self._page.add_script_tag(path=str(Path(plotly.__file__).parent / "package_data" / "plotly.min.js"))

    def render(self, figures: dict[str, str]) -> float:
        """Milliseconds to parse figure JSON and draw it into the page's plot of that name (map, curves, …)."""
        return self._page.evaluate("""async (figs) => {
            const t0 = performance.now();
            for (const [div, json] of Object.entries(figs)) {
                const f = JSON.parse(json);
                await Plotly.react(div, f.data, f.layout);
            }
            await new Promise(r => requestAnimationFrame(() => r()));
            return performance.now() - t0;
        }""", figures)

    def close(self) -> None:
        self._browser.close()
        self._pw.stop()


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
