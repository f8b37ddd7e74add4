"""Studies on Dask: a LocalCluster of 2 workers gives the serial table; on a real scheduler with two worker
processes, killing one mid-run loses no finished cell and the run still completes."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from explorer.studies.run import COLUMNS, run_study
from explorer.studies.spec import parse_study

ROOT = Path(__file__).resolve().parents[2]
SPEC = {
    "study": {"name": "dask", "datasets": ["moons"], "architectures": [[6, 6]], "seeds": 2},
    "data": {"n_points": 80},
    "train": {"steps": 80, "checkpoints": 3, "batch_size": 16, "lr": 0.02},
    "points": {"n": 40},
    "measures": {"local_complexity": {"radii": [0.2, 0.5]}, "d_star": {}, "regions_2d": {}},
}
KEEP = [c for c in COLUMNS if c != "seconds"]


@pytest.fixture(scope="module")
def serial_table():
    return run_study(parse_study(SPEC), scheduler="serial", out=None).table


def test_local_cluster_of_two_workers_gives_the_serial_table(serial_table):
    result = run_study(parse_study(SPEC), scheduler="local:2", out=None)
    assert result.executor == "Dask LocalCluster (2 workers × 1 thread)" and result.n_failed == 0
    pd.testing.assert_frame_equal(result.table[KEEP], serial_table[KEEP])


def test_killing_a_worker_mid_run_loses_no_finished_cell(serial_table, tmp_path):
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    logs = open(tmp_path / "cluster.log", "wb")
    start = lambda *args: subprocess.Popen([sys.executable, "-m", "dask", *args], cwd=ROOT, env=env,  # noqa: E731
                                           stdout=logs, stderr=subprocess.STDOUT)
    procs = [start("scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard")]
    try:
        procs += [start("worker", address, "--nthreads", "1", "--no-dashboard", "--no-nanny", "--name", f"w{i}")
                  for i in range(2)]
        _wait_for_workers(address, 2)
        victim, cache = procs[2], tmp_path / "out" / "cache"
        before_kill = {}

        def kill_once_some_cells_are_done(done, total, message):
            if done >= 4 and not before_kill:
                before_kill.update({p.name: p.read_bytes() for p in cache.rglob("*.json")})
                victim.send_signal(signal.SIGKILL)

        result = run_study(parse_study(SPEC), scheduler=address, out=tmp_path / "out", figures=False,
                           progress=kill_once_some_cells_are_done)
        assert victim.wait(timeout=10) == -signal.SIGKILL
        assert before_kill, "the worker was killed after some cells had finished"
        assert result.n_failed == 0 and set(result.table["status"]) == {"complete"}
        assert any("left during the run" in event for event in result.events)
        pd.testing.assert_frame_equal(result.table[KEEP], serial_table[KEEP])
        after = {p.name: p.read_bytes() for p in cache.rglob("*.json")}
        assert all(after[name] == data for name, data in before_kill.items())  # finished cells kept, unchanged
        assert {f"{key}.json" for key in result.table["cell"] if key} == set(after)
    finally:
        for proc in reversed(procs):
            proc.kill()
            proc.wait(timeout=10)
        logs.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_workers(address: str, n: int, timeout: float = 60.0) -> None:
    from distributed import Client

    deadline = time.monotonic() + timeout
    while True:
        try:
            with Client(address, timeout=5) as client:
                client.wait_for_workers(n, timeout=max(1.0, deadline - time.monotonic()))
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
