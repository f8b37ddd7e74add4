"""The distributed exact count: the serial count's regions (as sets of patterns) from any split, in this process and
on a LocalCluster of 2 workers; shared budgets; failed and refused tasks; a killed worker's task rerun; MIPBound's
phases on the cluster give the local process pool's result; ``count --scheduler``."""

import json
import os
import signal

import numpy as np
import pytest

from explorer.count.distributed import LABEL, count_distributed
from explorer.count.exact import count_exact, split_tree
from explorer.count.mipbound import MipBoundOptions, mipbound
from explorer.count.subdivision import Subdivision
from explorer.count.trial import TrialSettings, pin_one_thread, run_trial, trial_problem
from explorer.count.milp import build_milp
from explorer.errors import ExplorerError
from explorer.executor import Outcome, SerialExecutor, open_executor
from explorer.net import Network
from tests.count.test_mipbound import SMALL_NETS
from tests.nets import random_network as random_net

HELD_OUT = [random_net((7, 6, 5), n0=4, seed=101), random_net((9, 9), n0=5, seed=102),          # 1,018 and 6,341
            random_net((6, 6, 6, 6), n0=3, seed=103, fan_in=True, degenerate=True),              # 213 regions
            random_net((8, 7), n0=6, seed=104, activation="leaky_relu", alpha=0.1)]              # 4,519 regions
LARGER = random_net((10, 10, 10), n0=5, seed=106)            # 72,327 regions, about 1 s serial
BOX = [-1, 1]


def as_set(patterns) -> set:
    return {row.tobytes() for row in np.packbits(patterns, axis=1)}


@pytest.fixture(scope="module")
def serial_counts():
    return {id(net): count_exact(net, BOX) for net in [*HELD_OUT, LARGER]}


def test_a_paused_walk_hands_back_cells_holding_exactly_the_regions_it_had_not_found(serial_counts):
    net = HELD_OUT[1]
    problem, frontier = Subdivision(net, BOX), split_tree(net, BOX)
    queue, found, pauses = list(frontier.cells), [frontier.done.patterns], 0
    while queue:
        part = problem.count(queue.pop(), time_limit=0.0)      # one chunk of the walk, then its stack as cells
        found.append(part.patterns)
        pauses += part.status == "time limit"
        assert (part.status == "time limit") == bool(part.rest) and part.status in ("exact", "time limit")
        queue += part.rest
    every = np.concatenate(found)
    assert pauses > 20 and len(every) == len(as_set(every))                     # no region found twice
    assert as_set(every) == as_set(serial_counts[id(net)].patterns)


@pytest.mark.parametrize("index", range(len(HELD_OUT)))
def test_in_this_process_the_distributed_count_has_the_serial_regions(index, serial_counts):
    net = HELD_OUT[index]
    result = count_distributed(net, BOX, scheduler="serial", slice_seconds=1e-3, cells_per_worker=5)
    serial = serial_counts[id(net)]
    assert result.count.status == "exact" and result.count.label == LABEL
    assert result.count.n_regions == serial.n_regions and as_set(result.count.patterns) == as_set(serial.patterns)
    g = np.concatenate(net.preactivations(result.count.points), axis=1)          # each point lies in its region
    assert ((g > 0) == result.count.patterns).all() and (np.abs(result.count.points) <= 1).all()
    assert result.n_cells >= 5 and result.n_tasks >= result.n_cells and result.workers == ("this process",)
    if serial.n_regions > 1000:
        assert result.n_resplit > 0                                             # cells were handed back


def test_budgets_are_shared_by_the_tasks(serial_counts):
    net = LARGER
    every = as_set(serial_counts[id(net)].patterns)
    capped = count_distributed(net, BOX, scheduler="serial", max_regions=777, slice_seconds=1e-3)
    assert capped.count.status == "capped" and capped.count.n_regions == 777 and as_set(capped.count.patterns) < every
    late = count_distributed(net, BOX, scheduler="serial", time_limit=0.05, slice_seconds=0.01)
    assert late.count.status == "time limit" and late.count.label == "certain lower bound"
    assert as_set(late.count.patterns) < every


def test_an_affine_network_is_one_region():
    net = Network(([[1.0, 2.0, 3.0]],), ([0.5],))
    result = count_distributed(net, BOX, scheduler="serial")
    assert result.count.n_regions == 1 and result.count.status == "exact" and result.n_tasks == 0


@pytest.mark.parametrize("kwargs, message", [({"cells_per_worker": 0}, "cells_per_worker"),
                                             ({"slice_seconds": 0.0}, "slice_seconds"),
                                             ({"time_limit": -1.0}, "time limit"), ({"max_regions": 0}, "max_regions"),
                                             ({"scheduler": "local:x"}, "worker count")])
def test_bad_options_are_refused(kwargs, message):
    with pytest.raises(ExplorerError, match=message):
        count_distributed(HELD_OUT[0], BOX, **kwargs)


class FailingFirstTask(SerialExecutor):
    """Reports ``error`` for the first task instead of running it (as Dask does after its retries)."""

    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error

    def outcomes(self):
        for i, outcome in enumerate(super().outcomes()):
            yield Outcome(outcome.tag, None, self.error, "", 0.0) if i == 0 else outcome


def test_a_lost_task_leaves_a_failed_lower_bound_and_a_refusal_is_raised(serial_counts):
    net = HELD_OUT[1]
    lost = count_distributed(net, BOX, executor=FailingFirstTask("KilledWorker: attempted 4 times"))
    assert lost.count.status == "failed" and as_set(lost.count.patterns) < as_set(serial_counts[id(net)].patterns)
    assert any("KilledWorker" in event for event in lost.events)
    with pytest.raises(ExplorerError, match="cannot decide"):
        count_distributed(net, BOX, executor=FailingFirstTask("ExplorerError: cannot decide whether unit 3 …"))


# ---- on a LocalCluster of 2 workers ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cluster():
    with open_executor("local:2") as ex:
        yield ex


def test_a_cluster_of_two_workers_gives_the_serial_regions(cluster, serial_counts):
    for net, slice_seconds in ((HELD_OUT[3], 0.02), (LARGER, 0.05)):
        result = count_distributed(net, BOX, executor=cluster, slice_seconds=slice_seconds)
        serial = serial_counts[id(net)]
        assert result.count.status == "exact" and as_set(result.count.patterns) == as_set(serial.patterns)
        assert result.n_workers == 2 and result.n_cells >= 8
    assert len(result.workers) == 2 and result.n_resplit > 0 and result.events == ()


def _setups_here() -> int:
    from explorer import executor

    return len(executor._SET_UP)


def test_mipbound_on_the_cluster_gives_the_local_process_pools_result(cluster):
    pool = cluster.as_pool(setup=pin_one_thread)
    model = build_milp(SMALL_NETS[2], BOX)
    problem = trial_problem(model)
    remote = pool.submit(run_trial, problem, TrialSettings(), seed=4, index=2, time_limit=20, level=3).result()
    local = run_trial(problem, TrialSettings(), seed=4, index=2, time_limit=20, level=3)
    assert (remote.count, remote.parities, remote.level) == (local.count, local.parities, local.level)
    options = MipBoundOptions(mode="nested", trials=6, workers=2)
    for net in SMALL_NETS[:2]:
        on_dask = mipbound(net, BOX, time_limit=4, seed=5, options=options, executor=pool)
        on_pool = mipbound(net, BOX, time_limit=4, seed=5, options=options)           # this process's pool of 2
        keys = ("lower_bound", "certain_lower_bound", "probabilistic_lower_bound", "level", "k", "levels", "counts")
        assert [getattr(on_dask, k) for k in keys] == [getattr(on_pool, k) for k in keys]
    assert set(cluster.client.run(_setups_here).values()) == {1}                    # setup once per worker


def test_strata_mode_on_the_cluster_counts_every_stratum(cluster):
    """MIPBound's default (strata) mode sends its splits and counts to the Dask pool; with time to spare its
    certain part is the exact count."""
    pool = cluster.as_pool(setup=pin_one_thread)
    net = HELD_OUT[1]
    res = mipbound(net, BOX, time_limit=20, seed=3, options=MipBoundOptions(strata_target=32, trials=4),
                   executor=pool)
    assert res.mode == "strata" and res.status == "complete" and res.strata >= 16 and res.trials == 4
    assert res.certain_lower_bound == 6341


def test_count_scheduler_option_uses_the_cluster(cluster, tmp_path, capfd):
    from explorer.__main__ import main
    from explorer.io import save_checkpoint

    net = HELD_OUT[0]
    save_checkpoint(tmp_path / "net.npz", net, box=np.tile([-1.0, 1.0], (4, 1)))
    address = cluster.client.scheduler.address
    assert main(["count", str(tmp_path / "net.npz"), "--exact", "--mipbound", "--trials", "4", "--time-limit", "20",
                 "--scheduler", address, "--json"]) == 0
    payload = json.loads(capfd.readouterr().out)                                   # stdout: one JSON document
    assert payload["exact"] == count_exact(net, BOX).n_regions and payload["exact_status"] == "exact"
    assert payload["bracket"]["lower"]["source"] == LABEL and payload["mipbound"]["trials"] == 4
    assert main(["count", str(tmp_path / "net.npz"), "--scheduler", "tcp://nowhere"]) == 2
    assert "unknown scheduler" in capfd.readouterr().err


def test_a_killed_worker_is_replaced_and_its_task_rerun(cluster, serial_counts):
    """Last in the module: it kills one of the cluster's worker processes (its nanny starts a new one)."""
    pids = cluster.client.run(os.getpid)
    killed = []

    def kill_one_worker(fraction, message):
        if not killed:
            address, pid = sorted(pids.items())[0]
            os.kill(pid, signal.SIGKILL)
            killed.append(address)

    result = count_distributed(LARGER, BOX, executor=cluster, slice_seconds=0.1, progress=kill_one_worker)
    assert killed and result.count.status == "exact"
    assert as_set(result.count.patterns) == as_set(serial_counts[id(LARGER)].patterns)
    assert len(result.events) == 1 and killed[0] in result.events[0] and "left during the run" in result.events[0]
    assert "its process exited or was killed" in result.events[0]                 # and why
