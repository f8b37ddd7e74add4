"""What reaches stdout: exactly one strict JSON document with --json (whatever HiGHS prints from C++), nothing on
failure; the memory budget."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from explorer.cli.output import MemoryBudget, json_document
from explorer.io import save_checkpoint
from tests.nets import random_network

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "explorer", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)


def test_highs_prints_its_banner_on_fd_1_so_the_guard_is_needed():
    """The oracle the next test relies on: an unguarded HiGHS writes to stdout."""
    out = subprocess.run([sys.executable, "-c", "import highspy; highspy.Highs().run()"], capture_output=True,
                         text=True, timeout=60)
    assert "HiGHS" in out.stdout


def test_json_stdout_is_one_document_whatever_highs_prints(tmp_path):
    path = tmp_path / "net.npz"
    save_checkpoint(path, random_network([6, 5], n0=4, seed=7, fan_in=True))
    out = run("count", str(path), "--box", "-1", "1", "--trials", "6", "--time-limit", "8", "--json")
    assert out.returncode in (0, 3), out.stderr
    assert out.stdout.count("\n") == 1 and "HiGHS" not in out.stdout
    payload = json.loads(out.stdout)
    assert payload["exact"] >= payload["mipbound"]["certain_lower_bound"] >= 1
    text = run("count", str(path), "--box", "-1", "1", "--upper", "--time-limit", "8")
    assert text.returncode == 0 and "HiGHS" not in text.stdout and text.stdout.startswith("network 4-6-5-1")
    failed = run("count", str(path), "--box", "-1", "1", "-1", "--json")
    assert failed.returncode == 2 and failed.stdout == "" and len(failed.stderr.splitlines()) == 1


def test_json_documents_are_strict_and_integers_exact():
    text = json_document({"big": 2 ** 90 + 1, "nan": float("nan"), "inf": np.float64(np.inf), "np": np.int64(7),
                          "arr": np.array([1.5, np.nan]), "flag": np.bool_(True), "nested": [(1, 2)]})
    assert "\n" not in text
    back = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict constant {c}"))
    assert back == {"big": 2 ** 90 + 1, "nan": None, "inf": None, "np": 7, "arr": [1.5, None], "flag": True,
                    "nested": [[1, 2]]}


def test_memory_budget_refuses_an_allocation_past_it_and_is_lifted_after():
    """RLIMIT_DATA counts address space, so untouched np.empty arrays test it without using memory."""
    with pytest.raises(MemoryError):
        with MemoryBudget(0.2):
            np.empty(2 ** 28)                      # 2 GiB
    assert np.empty(2 ** 28).size == 2 ** 28       # allowed again
    with MemoryBudget(0.2):
        with MemoryBudget.paused():                # what the figure export's browser runs under
            assert np.empty(2 ** 28).size == 2 ** 28
        with pytest.raises(MemoryError):
            np.empty(2 ** 28)
