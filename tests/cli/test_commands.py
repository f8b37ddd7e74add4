"""The command line as a user runs it: python -m explorer regions MODEL … (JSON schema, exit codes)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from explorer.io import load, save_state_dict, save_torchscript
from explorer.net import Network
from explorer.plane.regions import enumerate_regions
from tests.nets import random_network
from tests.oracles import exact_regions

ROOT = Path(__file__).resolve().parents[2]
ASSETS = ROOT / "assets"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "explorer", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)


def test_regions_json_on_a_state_dict_matches_an_exact_oracle(tmp_path):
    net = random_network([5, 4], seed=0, fan_in=True)
    path = tmp_path / "net.pt"
    save_state_dict(path, net)
    out = run("regions", str(path), "--domain", "-2", "2", "-2", "2", "--json", "--polygons")
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)  # exactly one JSON object
    exact = exact_regions(net, (-2, 2, -2, 2))
    assert payload["count"] == len(exact)
    assert 1 <= payload["linear_count"] <= payload["count"]
    assert 0 < payload["seconds"] < 10
    patterns = {tuple(r["pattern"]) for r in payload["regions"]}
    assert patterns == set(exact)
    for region in payload["regions"]:
        v = np.array(region["vertices"])
        signed = np.sum(v[:, 0] * np.roll(v[:, 1], -1) - np.roll(v[:, 0], -1) * v[:, 1]) / 2
        assert signed > 0  # counter-clockwise
    total = sum(np.sum((v := np.array(r["vertices"]))[:, 0] * np.roll(v[:, 1], -1) - np.roll(v[:, 0], -1) * v[:, 1]) / 2
                for r in payload["regions"])
    assert total == pytest.approx(16.0, rel=1e-9)


def test_state_dict_torchscript_and_checkpoint_give_the_same_counts(tmp_path):
    counts = set()
    for name in ("state_dict_2x16.pt", "torchscript_2x16.pt", "moons_2x16.pt"):
        out = run("regions", str(ASSETS / name), "--domain", "-3", "3", "-3", "3", "--json")
        assert out.returncode == 0, out.stderr
        counts.add(json.loads(out.stdout)["count"])
    assert counts == {enumerate_regions(load(ASSETS / "moons_2x16.pt").net, (-3, 3, -3, 3)).n_regions}


def test_leaky_activation_option_changes_nothing_but_the_slopes(tmp_path):
    net = random_network([6, 6], seed=1, fan_in=True)
    path = tmp_path / "net.pt"
    save_state_dict(path, net)
    out = run("regions", str(path), "--domain", "-2", "2", "-2", "2", "--activation", "leaky_relu:0.2", "--json")
    leaky = Network(net.weights, net.biases, "leaky_relu", 0.2)
    assert json.loads(out.stdout)["count"] == len(exact_regions(leaky, (-2, 2, -2, 2)))


def test_plain_output_is_readable():
    out = run("regions", str(ASSETS / "moons_2x16.pt"))
    assert out.returncode == 0 and "activation regions:" in out.stdout and "linear regions:" in out.stdout


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_text("hello, I am not a network\n"), "not a network file"),
    (lambda p: None, "no file"),
    (lambda p: save_state_dict(p, random_network([4], seed=2, fan_in=True, n0=3)), "2 inputs"),
])
def test_bad_input_prints_one_line_and_exits_2(tmp_path, make, message):
    path = tmp_path / "bad.pt"
    make(path)
    out = run("regions", str(path), "--json")
    assert out.returncode == 2
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert any(m in lines[0].lower() for m in message.split("|")), lines[0]


def test_a_pickle_that_would_run_code_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    payload = (f"import pickle, os\nclass E:\n    def __reduce__(self):\n"
               f"        return (os.system, ('touch {marker}',))\n"
               f"open({str(evil)!r}, 'wb').write(pickle.dumps({{'0.weight': E()}}))\n")
    subprocess.run([sys.executable, "-c", payload], check=True)
    out = run("regions", str(evil), "--json")
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1
    assert not marker.exists()


def test_torchscript_file_is_accepted(tmp_path):
    net = random_network([4, 3], seed=3, fan_in=True)
    path = tmp_path / "net.ts"
    save_torchscript(path, net)
    out = run("regions", str(path), "--domain", "-2", "2", "-2", "2", "--json")
    assert json.loads(out.stdout)["count"] == len(exact_regions(net, (-2, 2, -2, 2)))


def test_every_subcommand_reads_the_box_the_same_way(tmp_path, capsys):
    from explorer.__main__ import main

    net = random_network([4, 3], seed=5, fan_in=True)
    path = str(tmp_path / "net.pt")
    save_state_dict(path, net)
    counts = []
    for box in (["--box", "-2", "2"], ["--domain", "-2", "2", "-2", "2"], ["--box", "-2", "2", "-2", "2"]):
        assert main(["regions", path, *box, "--json"]) == 0
        payload = json.loads(capsys.readouterr().out)
        assert payload["domain"] == [-2.0, 2.0, -2.0, 2.0]
        counts.append(payload["count"])
    assert main(["count", path, "--box", "-2", "2", "--exact", "--json"]) == 0
    counts.append(json.loads(capsys.readouterr().out)["exact"])
    assert counts == [len(exact_regions(net, (-2, 2, -2, 2)))] * 4
    for bad, message in ((["1", "2", "3"], "LO HI or 4 numbers"), (["2", "-2"], "LO < HI")):
        assert main(["regions", path, "--box", *bad]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0]


def test_count_mipbound_in_its_own_process_forks_warm_workers_and_stays_below_the_exact_count():
    """``count --mipbound`` as its own process forks its two workers with the compiled kernels loaded: within a
    2 s limit the strata mode answers, its certain part inside the exact count, seeds change the draw."""
    exact = json.loads(run("count", str(ASSETS / "clusters_8d.pt"), "--exact", "--box", "-0.5", "0.5",
                           "--json").stdout)["exact"]
    payloads = []
    for seed in ("0", "1"):
        out = run("count", str(ASSETS / "clusters_8d.pt"), "--mipbound", "--box", "-0.5", "0.5", "--time-limit", "2",
                  "--seed", seed, "--json")
        assert out.returncode == 0, out.stderr
        payloads.append(json.loads(out.stdout)["mipbound"])
    for mb in payloads:
        assert mb["mode"] == "strata" and mb["seconds"] < 2.5
        assert 1 <= mb["certain_lower_bound"] <= exact and mb["lower_bound"] >= mb["certain_lower_bound"]
        assert mb["strata"] > 16                       # the workers split and counted: not the one-process fallback
    assert payloads[0]["counts"] != payloads[1]["counts"] or payloads[0]["level"] != payloads[1]["level"]
