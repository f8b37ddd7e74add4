"""Static export: publication styling, valid PNG/SVG/PDF with exact sizes, vector polygons, one kept-alive server,
and the `figure` command on a shipped network."""

import json
import os
import re
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest

from explorer.plot import export
from explorer.errors import ExplorerError
from explorer.plot.export import export_bytes, exporter_available, publication_style, write_figure
from explorer.plot.figures import region_map
from explorer.io import load
from explorer.plane.regions import enumerate_regions

ROOT = Path(__file__).resolve().parents[2]
MOONS = ROOT / "assets" / "moons_2x16.pt"
SVG = "{http://www.w3.org/2000/svg}"
needs_chromium = pytest.mark.skipif(not exporter_available()[0], reason="no Chromium for Kaleido "
                                    "(apt install chromium)")


@pytest.fixture(scope="module")
def moons_map():
    regions = enumerate_regions(load(MOONS).net, (-3, 3, -3, 3))
    return regions, region_map(regions, show_decision=True)


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def pdf_page(data: bytes) -> list[float]:
    assert data[:5] == b"%PDF-" and data.rstrip().endswith(b"%%EOF")
    boxes = re.findall(rb"/MediaBox\s*\[\s*([-\d.\s]+)\]", data)
    assert len(boxes) == 1, "one page"
    return [float(v) for v in boxes[0].split()]


def fill_colours(fig) -> set:
    return {t.fillcolor for t in fig.data if t.fill == "toself"}


# ---- styling (no browser) ---------------------------------------------------------------------------
def test_publication_style_sizes_fonts_and_chrome(moons_map):
    regions, fig = moons_map
    fig.update_layout(title="a title", showlegend=True)
    styled = publication_style(fig, width_in=3.5, height_in=2.0, font_family="Times", font_size=9)
    assert (styled.layout.width, styled.layout.height) == (336, 192)  # 96 px per inch
    assert styled.layout.font.size == 12 and styled.layout.font.family == "Times"  # 9 pt = 12 px
    assert styled.layout.title.text is None and styled.layout.showlegend is False
    assert fig.layout.title.text == "a title"  # the input is not modified
    hover = [t for t in fig.data if t.mode == "markers" and t.marker.opacity == 0]
    assert len(hover) == 1 and len(hover[0].x) == regions.n_regions
    assert not [t for t in styled.data if t.mode == "markers" and t.marker.opacity == 0]
    # filled traces became one path shape per colour, with every polygon as a closed subpath
    assert not [t for t in styled.data if t.fill == "toself"]
    assert {s.fillcolor for s in styled.layout.shapes} == fill_colours(fig)
    assert sum(s.path.count("M") for s in styled.layout.shapes) == regions.n_regions
    assert sum(s.path.count("Z") for s in styled.layout.shapes) == regions.n_regions
    points = publication_style(fig, width_pt=252, height_pt=144)
    assert (points.layout.width, points.layout.height) == (336, 192)


def test_shape_paths_keep_every_digit():
    x = [0.1, 1 / 3, 2.0, np.nan, -1e-12, 5.0, 5.0]
    y = [0.2, 0.7, 1 / 7, np.nan, 0.0, 0.0, 3.0]
    fig = go.Figure(go.Scatter(x=x, y=y, mode="lines", fill="toself", fillcolor="#123456"))
    path = publication_style(fig).layout.shapes[0].path
    assert path == (f"M0.1,0.2L{1 / 3!r},0.7L2.0,{1 / 7!r}ZM-1e-12,0.0L5.0,0.0L5.0,3.0Z")


@pytest.mark.parametrize("kwargs, message", [
    (dict(width_in=0.1), "between 0.5 and 40 inches"), (dict(height_pt=10_000), "2880 points"),
    (dict(font_size=1), "font_size"), (dict(palette="rainbow"), "unknown palette")])
def test_publication_style_rejects_bad_options(kwargs, message):
    with pytest.raises(ExplorerError, match=message):
        publication_style(go.Figure(), **kwargs)


def test_palette_sets_the_colour_cycle():
    styled = publication_style(go.Figure(go.Bar(y=[1, 2])), palette="tol-light")
    assert styled.layout.colorway[0] == "#77AADD"


# ---- export errors (no browser) -------------------------------------------------------------------------
def test_bad_format_suffix_folder_and_dpi(tmp_path):
    fig = go.Figure()
    with pytest.raises(ExplorerError, match="cannot export to 'jpg'"):
        export_bytes(fig, "jpg")
    with pytest.raises(ExplorerError, match=r"end the file name in \.png, \.svg, \.pdf"):
        write_figure(fig, tmp_path / "map.eps")
    with pytest.raises(ExplorerError, match="does not exist"):
        write_figure(fig, tmp_path / "missing" / "map.png")
    with pytest.raises(ExplorerError, match="dpi"):
        export_bytes(fig, "png", dpi=0)


def test_missing_chromium_says_what_to_install(monkeypatch):
    monkeypatch.setenv("BROWSER_PATH", "/nonexistent/chromium")
    monkeypatch.setitem(export._STATE, "available", export._detect())
    ok, reason = exporter_available()
    assert not ok and "apt install chromium" in reason
    with pytest.raises(ExplorerError, match="apt install chromium"):
        export_bytes(go.Figure(), "svg")


# ---- real exports ------------------------------------------------------------------------------------------
@needs_chromium
@pytest.mark.parametrize("width_in, height_in, dpi", [(3.5, 3.5, 300), (2.0, 1.5, 150)])
def test_png_has_inches_times_dpi_pixels(moons_map, width_in, height_in, dpi):
    data = export_bytes(publication_style(moons_map[1], width_in=width_in, height_in=height_in), "png", dpi=dpi)
    assert png_size(data) == (round(width_in * dpi), round(height_in * dpi))


@needs_chromium
def test_svg_draws_regions_as_one_vector_path_per_colour(moons_map):
    regions, fig = moons_map
    data = export_bytes(publication_style(fig, font_family="Times New Roman"), "svg")
    # axis titles are x with a real subscript 1 (a tspan), not the Unicode "₁" that fonts replace by other glyphs
    text = data.decode()
    assert re.search(r'>x\S?<tspan style="font-size:70%" dy="0.3em">1</tspan>', text) and "₁" not in text
    root = ET.fromstring(data)
    assert root.tag == f"{SVG}svg" and (root.get("width"), root.get("height")) == ("336", "336")
    assert not list(root.iter(f"{SVG}image")), "no raster images inside the SVG"
    paths = list(root.iter(f"{SVG}path"))
    colour = lambda p: (re.search(r"fill:\s*([^;]+)", p.get("style", "")) or [None, ""])[1].strip()  # noqa: E731
    region_paths = [p for p in paths if p.get("class") is None and p.get("d", "").count("Z") > 1]
    assert len(region_paths) == len(fill_colours(fig)) < regions.n_regions
    assert sum(p.get("d").count("Z") for p in region_paths) == regions.n_regions
    wanted = {_rgb(c) for c in fill_colours(fig)}
    assert {colour(p) for p in region_paths} == wanted
    assert len(paths) < 60  # a few dozen elements, not one per region


@needs_chromium
def test_pdf_page_is_the_size_in_points_and_vector(moons_map):
    data = export_bytes(publication_style(moons_map[1], width_in=3.5, height_in=2.5), "pdf")
    x0, y0, x1, y1 = pdf_page(data)
    assert (x0, y0) == (0, 0) and abs(x1 - 252) < 0.5 and abs(y1 - 180) < 0.5
    assert b"/Subtype /Image" not in data and b"/Subtype/Image" not in data


@needs_chromium
def test_write_figure_picks_the_format_from_the_suffix(moons_map, tmp_path):
    fig = publication_style(moons_map[1], width_in=2, height_in=2)
    png, svg, pdf = (write_figure(fig, tmp_path / f"map.{fmt.upper()}", dpi=100) for fmt in ("png", "svg", "pdf"))
    assert png_size(png.read_bytes()) == (200, 200)
    assert ET.fromstring(svg.read_bytes()).tag == f"{SVG}svg"
    assert pdf_page(pdf.read_bytes())[2] == pytest.approx(144, abs=0.5)


@needs_chromium
def test_one_server_serves_every_export():
    """In a fresh process: the first export starts the server, later ones (from any thread) reuse it."""
    script = """
import json, threading, time
from explorer.plot import export
import plotly.graph_objects as go
starts = []
class Counting(export._Server):
    def __init__(self):
        starts.append(1)
        super().__init__()
export._Server = Counting
fig = export.publication_style(go.Figure(go.Scatter(x=[0, 1, 1], y=[0, 0, 1], fill="toself", mode="lines")))
times = []
for fmt in ("png", "svg", "pdf", "png", "svg", "pdf"):
    t = time.perf_counter(); export.export_bytes(fig, fmt); times.append(time.perf_counter() - t)
out = []
threads = [threading.Thread(target=lambda f=f: out.append(export.export_bytes(fig, f)[:4])) for f in ("png", "pdf")]
[t.start() for t in threads]; [t.join() for t in threads]
print(json.dumps({"starts": len(starts), "running": export.server_running(), "times": times,
                  "threads": sorted(o.hex() for o in out)}))
"""
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout.strip().splitlines()[-1])
    print("export seconds (first starts the server):", [round(t, 2) for t in report["times"]])
    assert report["starts"] == 1 and report["running"]  # reuse is proven by one start, not by timings
    assert report["threads"] == [b"%PDF".hex(), b"\x89PNG".hex()]


def test_a_browser_that_does_not_start_raises_instead_of_hanging():
    script = """
from explorer.plot.export import export_bytes, server_running
from explorer.errors import ExplorerError
import plotly.graph_objects as go
for _ in range(2):
    try:
        export_bytes(go.Figure(), "svg")
    except ExplorerError as exc:
        print(str(exc).splitlines()[0], server_running())
"""
    env = {**os.environ, "BROWSER_PATH": "/bin/false"}
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env=env)
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("could not start the browser for export") and
                                   "apt install chromium" in line and line.endswith("False") for line in lines)


# ---- the command line ---------------------------------------------------------------------------------------
def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "explorer", "figure", str(MOONS), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


@needs_chromium
@pytest.mark.parametrize("fmt", ["png", "svg", "pdf"])
def test_cli_writes_valid_files(tmp_path, fmt):
    out = tmp_path / f"moons.{fmt}"
    done = run_cli("--domain", "-3", "3", "-3", "3", "--out", str(out), "--disk", "0", "0", "0.5",
                   "--decision-boundary", "--color-by", "class", "--width-in", "3", "--height-in", "2")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"wrote {out}") and "271 regions" in done.stdout
    data = out.read_bytes()
    if fmt == "png":
        assert png_size(data) == (900, 600)
    elif fmt == "pdf":
        assert pdf_page(data)[2:] == pytest.approx([216, 144], abs=0.5)
    else:
        root = ET.fromstring(data)
        assert (root.get("width"), root.get("height")) == ("288", "192")
        texts = "".join(t.text or "" for t in root.iter(f"{SVG}text"))
        assert "D1: N = " in texts  # the disk is labelled with its exact count


@pytest.mark.parametrize("args, message", [
    (["--out", "map.jpg"], "map.jpg'; end the file name in .png, .svg or .pdf"),
    (["--out", "map.png", "--color-by", "rainbow"], "unknown colouring 'rainbow'"),
    (["--out", "map.png", "--width-in", "0"], "between 0.5 and 40 inches"),
    (["--out", "map.png", "--disk", "0", "0", "-1"], "R > 0"),
])
def test_cli_bad_input_is_one_line_and_exit_2(tmp_path, args, message):
    done = run_cli(*[str(tmp_path / a) if a.startswith("map.") else a for a in args])
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and message in done.stderr


def _rgb(colour: str) -> str:
    """'#E69F00' → 'rgb(230, 159, 0)', as Plotly writes fills into SVG styles."""
    h = colour.lstrip("#")
    return f"rgb({int(h[0:2], 16)}, {int(h[2:4], 16)}, {int(h[4:6], 16)})"
