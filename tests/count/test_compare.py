"""compare_counts, its JSON schema and the `count` CLI command."""

import json
import math

import pytest

from explorer.__main__ import main
from explorer.count.compare import compare_counts, sampled_lower_bound
from explorer.errors import ExplorerError
from explorer.count.exact import count_exact
from tests.nets import random_network as random_net
from tests.nets import N1


def test_comparison_orders_every_number():
    net = random_net((6, 5), n0=3, seed=2)
    result = compare_counts(net, [-1, 1], trials=6, workers=1, time_limit=60)
    assert result.bracket.is_exact and result.bracket.lower.value == result.exact.n_regions
    assert result.bracket.orders_of_magnitude == 0 and result.bracket.lower.guarantee == "exact"
    exact = result.exact.n_regions
    assert result.exact.status == "exact" and exact == count_exact(net, [-1, 1]).n_regions
    assert result.sampled_lower <= exact and result.mipbound.certain_lower_bound <= exact
    uppers = {u.name: u.value for u in result.upper}
    assert exact <= uppers["activation_aware"] <= uppers["serra2018"] <= uppers["montufar2017"] <= uppers["trivial"]
    assert result.upper_bound("zaslavsky") is None and result.upper_bound("nope") is None
    entries = {e.name: e for e in result.entries}
    assert entries["exact"].value == exact and entries["exact"].kind == "exact"
    assert entries["mipbound"].kind == entries["sampled_lower"].kind == "lower"
    assert entries["zaslavsky"].status == "n/a" and entries["serra2018"].value == uppers["serra2018"]


def test_json_schema_with_big_integers():
    net = random_net((12, 12, 12), n0=6, seed=0)
    payload = json.loads(json.dumps(compare_counts(net, [-1, 1], exact=False, trials=2, workers=1,
                                                   time_limit=3).to_json()))
    assert payload["exact"] is None and payload["exact_status"] is None
    assert set(payload["mipbound"]) >= {"lower_bound", "source", "guarantee", "confidence", "counts", "levels",
                                        "seconds", "certain_lower_bound", "probabilistic_lower_bound", "epsilon"}
    bracket = payload["bracket"]                      # no exact count: the best lower bound and the least upper one
    least = min(v for v in payload["upper_bounds"].values() if v is not None)
    assert bracket["upper"]["value"] == least and bracket["upper"]["guarantee"] == "proven upper bound"
    assert bracket["upper"]["source"] in {payload["upper_bound_labels"][k] for k, v in payload["upper_bounds"].items()
                                          if v == least}
    assert bracket["lower"]["value"] == max(payload["sampled_lower"], payload["mipbound"]["lower_bound"])
    assert bracket["orders_of_magnitude"] == pytest.approx(
        math.log10(bracket["upper"]["value"] / bracket["lower"]["value"]))
    assert set(payload["upper_bounds"]) == {"trivial", "zaslavsky", "montufar2017", "serra2018", "activation_aware"}
    assert payload["upper_bounds"]["serra2018"] == 15_813_251_000 and payload["upper_bounds"]["trivial"] == 2 ** 36
    assert isinstance(payload["sampled_lower"], int) and payload["sampled_lower"] > 0


def test_unfinished_exact_count_is_null_in_json():
    net = random_net((10, 10), n0=4, seed=1)
    payload = compare_counts(net, [-1, 1], run_mipbound=False, upper=False, time_limit=0.05).to_json()
    assert payload["exact"] is None and payload["exact_status"] == "time limit" and payload["exact_found"] >= 0
    assert payload["mipbound"] is None and payload["upper_bounds"] == {}
    assert payload["bracket"]["upper"] is None and payload["bracket"]["orders_of_magnitude"] is None
    assert payload["bracket"]["lower"]["guarantee"] == "certain"
    assert payload["bracket"]["lower"]["value"] == max(payload["exact_found"], payload["sampled_lower"])


def test_sampled_lower_bound():
    assert sampled_lower_bound(N1, [-2, 2], n_samples=20_000) == 7
    assert sampled_lower_bound(N1, [-2, 2], n_samples=1) == 1
    with pytest.raises(ExplorerError, match="n_samples"):
        sampled_lower_bound(N1, [-2, 2], n_samples=0)


@pytest.fixture
def saved_net(tmp_path):
    from explorer.io import checkpoint_bytes

    path = tmp_path / "net.pt"
    path.write_bytes(checkpoint_bytes(random_net((5, 4), n0=3, seed=4)))
    return path


def test_cli_count_json(saved_net, capsys):
    assert main(["count", str(saved_net), "--domain", "-1", "1", "--exact", "--upper", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["exact"] == count_exact(random_net((5, 4), n0=3, seed=4), [-1, 1]).n_regions
    assert payload["mipbound"] is None and payload["upper_bounds"]["serra2018"] >= payload["exact"]
    assert payload["bracket"]["lower"] == payload["bracket"]["upper"] and payload["bracket"]["lower"]["value"] == \
        payload["exact"]


def test_cli_count_text_with_per_input_box(saved_net, capsys):
    args = ["count", str(saved_net), "--domain", "-1", "1", "-1", "1", "0", "2", "--mipbound", "--upper",
            "--trials", "3", "--xor-length", "2", "--time-limit", "5"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "MIPBound lower" in out and "sampled lower" in out and "≤ N ≤" in out and "orders of magnitude" in out


@pytest.mark.parametrize("domain, message", [(["0", "1", "2"], "numbers"), (["1", "0"], "LO < HI")])
def test_cli_bad_domain_exits_2_with_one_line(saved_net, capsys, domain, message):
    assert main(["count", str(saved_net), "--domain", *domain, "--upper"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and message in err and "\n" not in err


def test_cli_bad_xor_length(saved_net, capsys):
    assert main(["count", str(saved_net), "--domain", "-1", "1", "--mipbound", "--xor-length", "x"]) == 2
    assert "XOR length" in capsys.readouterr().err


def test_affine_network_and_one_input_network():
    from explorer.net import Network

    affine = compare_counts(Network(([[1.0, 2.0]],), ([0.5],)), [-1, 1], workers=1).to_json()
    assert affine["exact"] == affine["mipbound"]["lower_bound"] == affine["sampled_lower"] == 1
    assert affine["upper_bounds"]["serra2018"] == 1
    line = random_net((4, 3), n0=1, seed=2)
    result = compare_counts(line, [-3, 3], workers=1, trials=4)
    assert result.exact.is_exact and result.exact.n_regions <= result.upper_bound("serra2018") == 5 * 4


def test_cli_count_json_stdout_is_one_document_even_in_a_fresh_process(saved_net):
    """HiGHS prints a banner to fd 1 when first constructed; --json keeps it off stdout."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "explorer", "count", str(saved_net), "--domain", "-1", "1",
                          "--mipbound", "--upper", "--time-limit", "4", "--json"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert payload["bracket"]["lower"]["value"] >= 1 and payload["bracket"]["upper"]["value"] >= 1
