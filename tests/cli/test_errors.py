"""Every bad input of every subcommand: exit status 2, one line on stderr, nothing on stdout (even with --json).

One table drives it: each row is a command line (``{net}`` a 2-input checkpoint, ``{net3}`` a 3-input one,
``{study}`` a valid study file, ``{tmp}`` the test's folder) and a fragment the one line must contain.
"""

import json

import numpy as np
import pytest

from explorer.__main__ import main
from explorer.io import save_checkpoint
from tests.nets import random_network

BAD_INPUTS = {
    # every subcommand: files
    "regions: no file": ("regions {tmp}/missing.npz --json", "no file"),
    "regions: not a network": ("regions {tmp}/notes.txt --json", "not a network file"),
    "regions: 3 inputs": ("regions {net3} --json", "2 inputs"),
    "figure: 3 inputs": ("figure {net3} --out {tmp}/f.png --json", "2 inputs"),
    "local: no file": ("local {tmp}/missing.npz --center 0 0 --radius 1 --json", "no file"),
    "count: not a network": ("count {tmp}/notes.txt --json", "not a network file"),
    "study: no file": ("study {tmp}/missing.toml --dry-run", "missing.toml"),
    "study: not a study": ("study {tmp}/notes.txt --dry-run", "notes.txt"),
    "regions: unknown activation": ("regions {net} --activation foo --json", "unknown activation"),
    "regions: NaN slope": ("regions {net} --activation leaky_relu:nan --json", "slope"),
    "regions: no layer file": ("regions {net} --layers {tmp}/nope.json --json", "no layer description"),
    "regions: no plane file": ("regions {net3} --plane {tmp}/nope.npy --json", "--plane"),
    "figure: plane not an array": ("figure {net3} --plane {tmp}/notes.txt --out {tmp}/f.png --json",
                                   "not a NumPy .npy array"),
    # the command line itself
    "no subcommand": ("", "required"),
    "unknown subcommand": ("plot {net}", "invalid choice"),
    "unknown option": ("regions {net} --jsn", "unrecognized arguments"),
    "missing value": ("local {net} --center 0 0 --json", "--radius"),
    # the box, the same on every model subcommand
    "regions: box of 3 numbers": ("regions {net} --box 1 2 3 --json", "LO HI or 4 numbers"),
    "figure: box upside down": ("figure {net} --out {tmp}/f.png --box 2 -2 --json", "LO < HI"),
    "count: NaN in the box": ("count {net} --box nan 1 --json", "finite"),
    "regions: infinite box": ("regions {net} --domain -inf 1 --json", "finite"),
    "count: box not a number": ("count {net} --box a b --json", "needs a number"),
    # time budgets, every subcommand
    "regions: zero time": ("regions {net} --time-limit 0 --json", "time limit"),
    "figure: negative time": ("figure {net} --out {tmp}/f.png --time-limit -1e-3 --json", "time limit"),
    "local: NaN time": ("local {net} --center 0 0 --radius 1 --time-limit nan --json", "time limit"),
    "count: endless time": ("count {net} --time-limit 1e99 --json", "time limit"),
    "study: negative time": ("study {study} --dry-run --time-limit -5", "time limit"),
    "study: infinite time": ("study {study} --dry-run --time-limit inf", "time limit"),
    # region and memory budgets
    "regions: zero regions": ("regions {net} --max-regions 0 --json", "from 1 to"),
    "regions: half a region": ("regions {net} --max-regions 2.5 --json", "whole number"),
    "figure: 1e9 regions": ("figure {net} --out {tmp}/f.png --max-regions 1e9 --json", "100,000,000"),
    "local: 1e12 regions": ("local {net} --center 0 0 --radius 1 --max-regions 1e12 --json", "100,000,000"),
    "count: negative regions": ("count {net} --max-regions -4 --json", "from 1 to"),
    "regions: no memory": ("regions {net} --max-memory 0 --json", "memory budget"),
    "count: a petabyte": ("count {net} --max-memory 1e6 --json", "memory budget"),
    # count
    "count: 5000 trials": ("count {net} --mipbound --trials 5000 --json", "1 to 1,000"),
    "count: 1e9 trials": ("count {net} --mipbound --trials 1e9 --time-limit 1 --json", "1 to 1,000"),
    "count: 2^64 trials": ("count {net} --trials 18446744073709551616 --json", "1 to 1,000"),
    "count: trials beyond the time": ("count {net} --trials 100 --time-limit 2 --json", "need --time-limit 4 or more"),
    "count: zero trials": ("count {net} --trials 0 --json", "1 to 1,000"),
    "count: confidence 1": ("count {net} --confidence 1 --json", "confidence"),
    "count: XOR length x": ("count {net} --xor-length x --json", "XOR length"),
    "count: XOR length 1e6": ("count {net} --xor-length 1e6 --json", "XOR length"),
    "count: unknown scheduler": ("count {net} --scheduler tcp://nowhere --json", "unknown scheduler"),
    # local
    "local: centre of 3 numbers": ("local {net} --center 0 0 0 --radius 1 --json", "centre"),
    "local: zero radius": ("local {net} --center 0 0 --radius 0 --json", "radius"),
    "local: negative radius": ("local {net} --center 0 0 --radius -1e-3 --json", "radius"),
    "local: infinite centre": ("local {net} --center inf 0 --radius 1 --json", "finite"),
    "local: norm 3": ("local {net} --center 0 0 --radius 1 --norm 3 --json", "invalid choice"),
    "local: unknown certifier": ("local {net} --center 0 0 --radius 1 --certifier magic --json", "certifier"),
    "local: a ball beyond float64": ("local {net} --center 1e308 0 --radius 1e308 --json", "float64"),
    "local: 1e9 samples": ("local {net} --center 0 0 --radius 1 --samples 1e9 --json", "1,000,000"),
    # figure
    "figure: no format": ("figure {net} --out {tmp}/f.txt --json", "format"),
    "figure: no folder": ("figure {net} --out {tmp}/nowhere/f.png --json", "does not exist"),
    "figure: no --out": ("figure {net} --json", "--out"),
    "figure: 1e6 dpi": ("figure {net} --out {tmp}/f.png --dpi 1e6 --json", "dots per inch"),
    "figure: disk outside": ("figure {net} --out {tmp}/f.png --box -1 1 --disk 0.9 0 0.5 --json", "outside the box"),
    "figure: unknown colouring": ("figure {net} --out {tmp}/f.png --color-by foo --json", "unknown colouring"),
    "figure: unknown palette": ("figure {net} --out {tmp}/f.png --palette foo --json", "unknown palette"),
    "figure: 21 disks": ("figure {net} --out {tmp}/f.png" + " --disk 0 0 1" * 21 + " --json", "at most 20 disks"),
    "figure: zero width": ("figure {net} --out {tmp}/f.png --width-in 0 --json", "between 0.5 and 40 inches"),
    "figure: NaN height": ("figure {net} --out {tmp}/f.png --height-pt nan --json", "a size in points"),
    "figure: font size 1e3": ("figure {net} --out {tmp}/f.png --font-size 1e3 --json", "3–72"),
    # study
    "study: bad scheduler": ("study {study} --scheduler local:0", "worker count"),
}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    save_checkpoint(tmp / "net.npz", random_network([5, 4], seed=0, fan_in=True))
    save_checkpoint(tmp / "net3.npz", random_network([4], n0=3, seed=1, fan_in=True))
    (tmp / "notes.txt").write_text("hello, I am not a network\n")
    (tmp / "s.toml").write_text('[study]\ndatasets = ["xor"]\narchitectures = [[3]]\n[train]\nsteps = 10\n'
                                '[measures.d_star]\n')
    return {"tmp": tmp, "net": tmp / "net.npz", "net3": tmp / "net3.npz", "study": tmp / "s.toml"}


@pytest.mark.parametrize("line, fragment", BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_bad_input_is_one_line_on_stderr_exit_2_and_nothing_on_stdout(files, capfd, line, fragment):
    assert main(line.format(**files).split()) == 2
    out, err = capfd.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert fragment.lower() in lines[0].lower(), lines[0]
    assert len(lines[0]) < 400


def test_the_table_covers_every_subcommand():
    used = {line.split()[0] for line, _ in BAD_INPUTS.values() if line}
    assert used - {"plot"} == {"regions", "local", "count", "figure", "study"}


@pytest.mark.parametrize("line", ["--help", "regions --help", "local --help", "count --help", "figure --help",
                                  "study --help"])
def test_help_goes_to_stdout_and_exits_0(capfd, line):
    assert main(line.split()) == 0
    out, err = capfd.readouterr()
    assert "usage:" in out and err == ""
    if line != "--help":
        assert "--time-limit" in out


def test_negative_numbers_in_any_spelling_are_values(files, capfd):
    """--center -1e-3 0 and friends: a negative number after an option is its value, never an option."""
    net = str(files["net"])
    for center in (["-1e-3", "0"], ["-.5", "-1E+0"], ["\u22120.25", "-0"], ["-1_0e-2", "2e-1"]):
        assert main(["local", net, "--center", *center, "--radius", "1e-1", "--samples", "200", "--json"]) == 0
        out = json.loads(capfd.readouterr().out)
        want = [float(c.replace("\u2212", "-")) for c in center]
        assert out["center"] == want and out["upper_bound"] >= out["sampled_lower"] >= 1
    assert main(["regions", net, "--box", "-2e0", "-1e-1", "-.3", "4E-1", "--json"]) == 0
    assert json.loads(capfd.readouterr().out)["domain"] == [-2.0, -0.1, -0.3, 0.4]
    assert main(["count", net, "--box", "-1e0", "1", "--upper", "--time-limit", "2e1", "--json"]) == 0
    assert json.loads(capfd.readouterr().out)["status"] == "complete"


def test_whole_numbers_may_be_written_in_exponent_form(files, capfd):
    net = files["net"]
    assert main(["regions", str(net), "--max-regions", "1e3", "--time-limit", "1e1", "--json"]) == 0
    payload = json.loads(capfd.readouterr().out)
    assert payload["status"] == "complete" and payload["count"] >= 1
    assert main(["count", str(net), "--mipbound", "--trials", "4e0", "--time-limit", "20", "--json"]) == 0
    assert json.loads(capfd.readouterr().out)["mipbound"]["trials"] == 4


def test_box_bounds_must_be_reasonable_per_input_count(files, capfd):
    """2·n0 numbers work for the 3-input net in count, the plane-free 2-D commands refuse it (see the table)."""
    assert main(["count", str(files["net3"]), "--box", "-1", "1", "-2", "2", "0", "1", "--upper", "--json"]) == 0
    payload = json.loads(capfd.readouterr().out)
    assert np.allclose(payload["box"], [[-1, 1], [-2, 2], [0, 1]])
