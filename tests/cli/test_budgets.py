"""Budgets of every subcommand: a budget that ends the work gives exit status 3, the partial result with a
``status`` that says which budget stopped it, and one ``stopped: …`` line on stderr."""

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from explorer.__main__ import main
from explorer.io import save_checkpoint
from explorer.net import Network
from tests.nets import random_network, tangent_lines

ROOT = Path(__file__).resolve().parents[2]


def wide(widths, seed=0) -> Network:
    """A 2-input network with N(0, 1/fan-in) weights and small biases: most first-layer lines cross the box."""
    rng = np.random.default_rng(seed)
    dims = (2, *widths, 1)
    weights = [rng.standard_normal((b, a)) / np.sqrt(a) for a, b in zip(dims, dims[1:])]
    return Network(tuple(weights), tuple(0.1 * rng.standard_normal(b) for b in dims[1:]))


def stopped_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("stopped: "), err
    return lines[0]


def test_regions_and_figure_on_a_2_2000_2000_1_net_stop_at_once(tmp_path, capfd):
    path = tmp_path / "big.npz"
    save_checkpoint(path, wide([2000, 2000]))
    start = time.perf_counter()
    assert main(["regions", str(path), "--json"]) == 3
    out, err = capfd.readouterr()
    payload = json.loads(out)
    assert payload["count"] is None and "250,000 regions (--max-regions)" in payload["status"]
    assert stopped_line(err) == payload["status"]
    assert main(["figure", str(path), "--out", str(tmp_path / "map.png"), "--json"]) == 3
    out, err = capfd.readouterr()
    assert json.loads(out)["path"] is None and "No figure" in stopped_line(err)
    assert not (tmp_path / "map.png").exists()
    assert time.perf_counter() - start < 20


def test_regions_past_the_memory_budget_stop_with_a_status(tmp_path):
    """Past the first layer's check (a region cap of 1e8), the memory budget ends the enumeration."""
    path = tmp_path / "big.npz"
    save_checkpoint(path, wide([2000, 2000], seed=1))
    out = subprocess.run([sys.executable, "-m", "explorer", "regions", str(path), "--box", "-0.3", "0.3",
                          "--max-regions", "1e8", "--max-memory", "0.3", "--time-limit", "60", "--json"],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 3, out.stderr
    assert "memory budget of 0.3 GB" in json.loads(out.stdout)["status"]
    assert "memory budget" in stopped_line(out.stderr)


def test_local_on_a_2_1000_1000_1_net_ends_within_its_time_limit(tmp_path, capfd):
    path = tmp_path / "big.npz"
    save_checkpoint(path, wide([1000, 1000]))
    start = time.perf_counter()
    assert main(["local", str(path), "--center", "-1e-3", "0", "--radius", "0.5", "--time-limit", "3",
                 "--json"]) == 3
    seconds = time.perf_counter() - start
    out, err = capfd.readouterr()
    payload = json.loads(out)
    assert seconds < 3 + 3 and payload["seconds"] < 3 + 2
    assert payload["status"].startswith("stopped: ") and "time limit" in payload["status"]
    assert stopped_line(err) == payload["status"]
    assert payload["sampled_lower"] <= payload["upper_bound"] <= payload["global_bound"]
    assert payload["samples"] < 20_000 or "samples drawn" not in payload["status"]


def test_local_exact_count_stops_at_its_region_budget(tmp_path, capfd):
    path = tmp_path / "net.npz"
    save_checkpoint(path, tangent_lines(30))
    assert main(["local", str(path), "--center", "0", "0", "--radius", "20", "--max-regions", "10", "--json"]) == 3
    out, err = capfd.readouterr()
    payload = json.loads(out)
    assert payload["exact"] is None and payload["upper_bound"] >= 1 + 30 + 30 * 29 // 2
    assert "stopped" in stopped_line(err)


def test_count_exact_stops_at_its_region_budget_with_a_certain_lower_bound(tmp_path, capfd):
    path = tmp_path / "net.npz"
    net = random_network([8, 6], n0=3, seed=2, fan_in=True)
    save_checkpoint(path, net)
    assert main(["count", str(path), "--box", "-2", "2", "--exact", "--json"]) == 0
    full = json.loads(capfd.readouterr().out)["exact"]
    assert main(["count", str(path), "--box", "-2", "2", "--exact", "--max-regions", "5", "--json"]) == 3
    out, err = capfd.readouterr()
    payload = json.loads(out)
    assert payload["exact"] is None and 5 <= payload["exact_found"] <= full and payload["exact_status"] == "capped"
    assert "a certain lower bound" in stopped_line(err) and payload["status"].startswith("stopped: ")


def test_count_keeps_its_time_limit_with_the_most_trials_it_accepts(tmp_path, capfd):
    """25 trials a second of --time-limit at most: more are refused, as many end within the limit."""
    path = tmp_path / "net.npz"
    save_checkpoint(path, random_network([12, 12], n0=6, seed=3, fan_in=True))
    assert main(["count", str(path), "--mipbound", "--trials", "1e3", "--time-limit", "3", "--json"]) == 2
    out, err = capfd.readouterr()
    assert out == "" and "1,000 MIPBound trials need --time-limit 40 or more" in err
    start = time.perf_counter()
    status = main(["count", str(path), "--mipbound", "--trials", "75", "--time-limit", "3", "--json"])
    assert status in (0, 3) and time.perf_counter() - start < 3 + 3
    payload = json.loads(capfd.readouterr().out)
    assert payload["mipbound"]["trials"] == 75 and payload["mipbound"]["lower_bound"] >= 1


def test_study_time_limit_stops_the_run_and_keeps_the_cache(tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_text('[study]\ndatasets = ["xor"]\narchitectures = [[3]]\n[train]\nsteps = 10\n[measures.d_star]\n')
    out = subprocess.run([sys.executable, "-m", "explorer", "study", str(spec), "--scheduler", "serial",
                          "--time-limit", "0.3", "--out", str(tmp_path / "out")],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 3 and out.stderr.splitlines()[-1].startswith("stopped: time limit of 0.3 s")
