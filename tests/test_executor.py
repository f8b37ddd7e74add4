"""Executors: scheduler strings, the serial executor's order, failures and retries, one BLAS thread per task, the
concurrent.futures-style pool, no phantom departures of Dask workers (more on Dask: tests/count/test_distributed.py)."""

import pytest

from explorer.errors import ExplorerError
from explorer.executor import SerialExecutor, describe_scheduler, open_executor, run_task

_CALLS = []


def _square(x):
    return x * x


def _flaky(tag):
    """Fails on its first call for each tag, then succeeds."""
    _CALLS.append(tag)
    if _CALLS.count(tag) == 1:
        raise RuntimeError(f"first try of {tag}")
    return tag


def _always_fails():
    raise ValueError("no\nway")


def _blas_threads():
    from threadpoolctl import threadpool_info

    return {info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"}


@pytest.mark.parametrize("text, expected", [
    (None, "local"), ("local", "local"), ("local:3", ("local", 3)), ("serial", ("serial", 1)),
    ("tcp://127.0.0.1:8786", ("remote", 0)), ("tcp://scheduler.lab:8786", ("remote", 0)),
])
def test_scheduler_strings(text, expected):
    kind = describe_scheduler(text)
    assert kind[0] == expected if isinstance(expected, str) else kind == expected


@pytest.mark.parametrize("text", ["local:0", "local:x", "local:9999", "dask", "tcp://host", "http://h:1"])
def test_bad_scheduler_strings(text):
    with pytest.raises(ExplorerError, match="local:N|unknown scheduler"):
        open_executor(text)


def test_unreachable_cluster_is_one_clear_error():
    import socket

    with socket.socket() as s:  # a free port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ExplorerError, match="no Dask scheduler answered"):
        open_executor(f"tcp://127.0.0.1:{port}", timeout=1.0)


def test_serial_runs_in_order_including_tasks_added_while_iterating():
    ex = SerialExecutor()
    ex.submit(_square, 3, tag="a")
    seen = []
    for done in ex.outcomes():
        seen.append((done.tag, done.value))
        if done.tag == "a":
            ex.submit(_square, 4, tag="b")
    assert seen == [("a", 9), ("b", 16)]


def test_serial_retries_then_reports_failure_on_one_line():
    _CALLS.clear()
    ex = SerialExecutor(retries=1)
    ex.submit(_flaky, "x", tag="x")
    ex.submit(_always_fails, tag="y")
    out = {d.tag: d for d in ex.outcomes()}
    assert out["x"].value == "x" and out["x"].error is None and _CALLS == ["x", "x"]
    assert out["y"].value is None and out["y"].error == "ValueError: no way"
    with SerialExecutor(retries=0) as ex:
        ex.submit(_flaky, "z", tag="z")
        assert [d.error for d in ex.outcomes()] == ["RuntimeError: first try of z"]


def test_tasks_run_with_one_blas_thread():
    threads, where, seconds = run_task(_blas_threads)
    assert threads <= {1} and where == "this process" and seconds >= 0


def _power(x, *, exponent):
    return x ** exponent


def test_the_serial_pool_is_concurrent_futures_style_and_leaves_this_process_alone():
    pool = SerialExecutor().as_pool(setup=_always_fails)       # setup runs in Dask workers only
    assert pool.n_workers == 1 and pool.submit(_power, 3, exponent=2).result() == 9
    assert pool.submit(_blas_threads).result() <= {1}
    failed = pool.submit(_always_fails)
    with pytest.raises(ValueError, match="no\nway"):
        failed.result()


def test_no_worker_seems_to_leave_while_the_client_refreshes_its_cached_scheduler_info():
    """The client's periodic refresh of its cached scheduler info lists no workers; a worker check that read that
    cache saw every worker leave now and then (all four at once in bench/bench_distributed.py on 4 workers)."""
    import dask

    with dask.config.set({"distributed.client.scheduler-info-interval": "1ms"}):   # a refresh every millisecond
        with open_executor("local:1") as ex:
            assert ex.n_workers == 1
            for x in range(150):                               # about 16 % of cached reads raced with a refresh
                ex.submit(_square, x, tag=x)
                assert ex.events() == ()
            assert sorted(o.value for o in ex.outcomes()) == sorted(x * x for x in range(150))
            assert ex.events() == ()
        assert ex.events() == ()                                # and after closing, what was noted while open
