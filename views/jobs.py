"""Long work off the script thread: a Job runs one function in a background thread, with progress and Stop;
training as a Job (started and adopted the same way by the sidebar and the Higher dimensions tab).

Streamlit reruns the whole script on every click, so work that must survive a Stop click (training,
exact counts, findings) runs in a thread owned by the session; the page polls it from a fragment.
The thread never calls Streamlit; errors become a message (``Job.error``), never a traceback.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import streamlit as st

from explorer.errors import ExplorerError
from explorer.train.data import Dataset
from explorer.train.fit import TrainConfig, TrainResult, train

from .context import OnScreen

__all__ = ["Job", "show_job", "start_training", "adopt_training"]


class Job:
    """``fn(job, **kwargs)`` running in a daemon thread; ``fn`` reports through ``job.progress``/``job.report``
    and checks ``job.stop_requested``.

    Attributes (read from the script thread)
    ----------------------------------------
    fraction : float in [0, 1];  message : str;  points : list of metric dicts passed to ``report``
    result : the return value once ``done`` (None if it failed);  error : message of a failure ("" if none)
    stop_requested : True after :meth:`stop`;  seconds : run time so far (final once done)
    """

    def __init__(self, name: str, fn: Callable[..., Any], **kwargs) -> None:
        self.name, self._fn, self._kwargs = name, fn, kwargs
        self.fraction, self.message, self.points = 0.0, "starting…", []
        self.result, self.error = None, ""
        self._stop, self._done = threading.Event(), threading.Event()
        self._start = time.perf_counter()
        self._end: float | None = None
        self._thread = threading.Thread(target=self._run, name=f"explorer-{name}", daemon=True)

    def start(self) -> "Job":
        self._start = time.perf_counter()
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the function to stop at its next check (it keeps what it has)."""
        self._stop.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job ends (or ``timeout`` seconds); True if it has ended."""
        return self._done.wait(timeout)

    @property
    def done(self) -> bool:
        return self._done.is_set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    @property
    def seconds(self) -> float:
        return (self._end if self._end is not None else time.perf_counter()) - self._start

    def progress(self, fraction: float, message: str = "") -> None:
        """Progress callback for the function: fraction done and a short message."""
        self.fraction = min(max(float(fraction), 0.0), 1.0)
        self.message = message

    def report(self, metrics: dict) -> None:
        """Append one metrics record (e.g. loss and accuracy of an epoch) for live plots."""
        self.points.append(dict(metrics))

    def _run(self) -> None:
        try:
            self.result = self._fn(self, **self._kwargs)
        except ExplorerError as exc:
            self.error = str(exc)
        except Exception as exc:  # a bug must not kill the page: say what happened, keep the session alive
            self.error = f"{self.name} failed unexpectedly ({type(exc).__name__}: {exc})."
        finally:
            self._end = time.perf_counter()
            self._done.set()


def show_job(key: str, *, extra: Callable[[Job], None] | None = None, stoppable: bool = True) -> None:
    """While the job in ``st.session_state[key]`` runs, poll it twice a second (progress bar, ``extra``
    and, if ``stoppable``, a Stop button); rerun the whole page once it has ended to show its result."""
    job: Job | None = st.session_state.get(key)
    if job is None or job.done:
        return

    def panel() -> None:
        current: Job | None = st.session_state.get(key)
        if current is None:
            return
        if current.done:
            st.rerun()
        st.progress(current.fraction, text=f"{current.message} ({current.seconds:.0f} s)")
        if extra is not None:
            extra(current)
        if stoppable:
            st.button("Stop", key=f"{key}_stop", on_click=current.stop, disabled=current.stop_requested,
                      width="stretch")

    st.fragment(panel, run_every=0.5)()


# ---- training -------------------------------------------------------------------------------------
def start_training(key: str, dataset: Dataset, config: TrainConfig) -> None:
    """Train in a Job stored under ``st.session_state[key]``; it reports loss and accuracy as it goes."""
    st.session_state[key] = Job("training", _train, dataset=dataset, config=config).start()


def adopt_training(key: str) -> OnScreen | None:
    """The network of the training job under ``st.session_state[key]`` once it has ended (the job is then
    dropped; a stopped run gives its partial network), None while it runs or if there is none.

    Raises
    ------
    ExplorerError : the training failed (the message says why).
    """
    job: Job | None = st.session_state.get(key)
    if job is None or not job.done:
        return None
    del st.session_state[key]
    if job.error:
        raise ExplorerError(job.error)
    return OnScreen.trained(*job.result)


def _train(job: Job, dataset: Dataset, config: TrainConfig) -> tuple[Dataset, TrainConfig, TrainResult]:
    def progress(epoch: int, epochs: int, metrics: dict) -> None:
        job.progress(epoch / epochs, f"epoch {epoch}/{epochs} · loss {metrics['loss']:.3f} · accuracy "
                                     f"{metrics['train_acc']:.0%}")
        job.report({"epoch": epoch, **metrics})

    return dataset, config, train(dataset, config, progress=progress, should_stop=lambda: job.stop_requested)
