"""Long work off the script thread: a Job runs one function in a background thread, with progress and Stop;
training as a Job (the Higher dimensions tab), and live training as a LiveRun that plays, pauses and steps.

Streamlit reruns the whole script on every click, so work that must survive a Stop click (training,
exact counts, findings) runs in a thread owned by the session; the page polls it from a fragment.
The thread never calls Streamlit; errors become a message (``Job.error``), never a traceback.  Times are
wall times from the click, start-up included (importing torch alone takes seconds).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import streamlit as st

from explorer.errors import ExplorerError
from explorer.train.data import Dataset
from explorer.net import Network
from explorer.train.fit import TrainConfig, Trainer, TrainResult, train

from .context import OnScreen

__all__ = ["Job", "show_job", "start_training", "adopt_training", "Frame", "LiveRun", "FRAMES_PER_RUN",
           "FRAME_SECONDS"]

FRAMES_PER_RUN = 40  # a played run advances in about this many chunks of epochs, one frame each
FRAME_SECONDS = 0.3  # while animating, a chunk takes at least this long, so every frame can be seen
FRAME_WAIT = 1.0  # while animating, the next chunk waits at most this long for the page to draw the last frame
FRAME_MAX_SECONDS = 1.0  # while playing, a chunk ends after this long, so a slow run still shows its progress


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
    dataset, config, result = job.result
    return OnScreen.trained(dataset, config, replace(result, seconds=job.seconds))  # wall time, start-up included


def _train(job: Job, dataset: Dataset, config: TrainConfig) -> tuple[Dataset, TrainConfig, TrainResult]:
    def progress(epoch: int, epochs: int, metrics: dict) -> None:
        job.progress(epoch / epochs, f"epoch {epoch}/{epochs} · loss {metrics['loss']:.3f} · accuracy "
                                     f"{metrics['train_acc']:.0%}")
        job.report({"epoch": epoch, **metrics})

    return dataset, config, train(dataset, config, progress=progress, should_stop=lambda: job.stop_requested)


# ---- live training --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Frame:
    """What a live view draws: the network after ``epoch`` epochs, its last metrics and the history so far."""

    epoch: int
    net: Network
    metrics: dict
    history: dict


class LiveRun:
    """A :class:`~explorer.train.fit.Trainer` in a background thread that plays, pauses and steps.

    The thread trains one chunk of ``chunk`` epochs at a time and publishes a :class:`Frame` after each;
    while playing with ``animate`` it then waits (up to FRAME_WAIT) until the page has drawn that frame
    (:meth:`drawn`) and a chunk takes at least FRAME_SECONDS, so a run shows about FRAMES_PER_RUN frames
    however fast it trains, and drawing never competes with training for the interpreter.  A played chunk ends
    after FRAME_MAX_SECONDS, so a slow run shows a frame at least that often.  Pause takes effect before the next
    epoch.  With a ``budget`` (seconds), playing pauses once the run has trained that long after building its network
    (``over_budget``).

    Attributes (read from the script thread)
    ----------------------------------------
    frame : the latest Frame (None until the network is built);  state : "starting", "playing", "paused",
    "done" or "failed";  error : message of a failure;  seconds : wall time spent training so far, start-up
    (building the network, importing torch) included, pauses excluded;  over_budget : True once the budget
    paused the run (the page sets it back once it has said so)
    """

    def __init__(self, dataset: Dataset, config: TrainConfig, *, play: bool, animate: bool = True,
                 budget: float | None = None) -> None:
        self.dataset, self.config, self.animate, self.budget = dataset, config, animate, budget
        self.over_budget, self._built = False, 0.0
        self.chunk = max(1, math.ceil(config.epochs / FRAMES_PER_RUN))
        self.frame: Frame | None = None
        self.state, self.error = "starting", ""
        self._playing, self._steps, self._training = play, 0, False
        self._wake, self._stop, self._lock = threading.Event(), threading.Event(), threading.Lock()
        self._drawn = threading.Event()
        self._busy, self._began = 0.0, time.perf_counter()  # finished busy time; start of the busy spell
        self._trainer: Trainer | None = None
        threading.Thread(target=self._run, name="explorer-live-training", daemon=True).start()

    @property
    def seconds(self) -> float:
        began = self._began
        return self._busy + (time.perf_counter() - began if began is not None else 0.0)

    @property
    def playing(self) -> bool:
        return self._playing and self.state in ("starting", "playing")

    @property
    def busy(self) -> bool:
        """True while the run builds its network, plays, or trains a step (its frame will change)."""
        return not self.finished and (self.state == "starting" or self._playing or self._steps > 0 or self._training)

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed")

    def matches(self, dataset: Dataset, config: TrainConfig) -> bool:
        """True if this run trains ``config`` on ``dataset`` (so Play may resume it)."""
        return config == self.config and dataset.settings == self.dataset.settings

    def play(self) -> None:
        self._playing = True
        self._wake.set()

    def pause(self, *, wait: float = 2.0) -> None:
        """Stop playing after the current epoch; wait up to ``wait`` seconds for the thread to rest."""
        self._playing = False
        if self._lock.acquire(timeout=wait):
            self._lock.release()

    def step(self) -> None:
        """Train one more chunk (when paused)."""
        self._steps += 1
        self._wake.set()

    def drawn(self, epoch: int) -> None:
        """The page has drawn the frame of ``epoch``: the next chunk may start."""
        frame = self.frame
        if frame is not None and frame.epoch == epoch:
            self._drawn.set()

    def close(self) -> None:
        """End the thread at its next check (the run is dropped)."""
        self._stop.set()
        self._wake.set()

    def result(self) -> TrainResult:
        """The run so far (stopped unless finished) with its wall time; waits for a chunk in progress."""
        with self._lock:
            trainer = self._trainer
            if trainer is None:
                raise ExplorerError("the network is still being built; try again in a moment.")
            return trainer.result(stopped=not trainer.done, seconds=self.seconds)

    def _run(self) -> None:
        try:
            with self._lock:
                self._trainer = trainer = Trainer(self.dataset, self.config)
                self._publish(trainer)
            self._rest()
            self._built = self.seconds  # the budget counts training, not building (or importing torch)
            while not self._stop.is_set() and not trainer.done:
                if not self._playing and self._steps == 0:
                    self.state = "paused"
                    self._wake.wait(0.5)
                    self._wake.clear()
                    continue
                self.state = "playing" if self._playing else "paused"
                stepping, self._training = not self._playing, True
                self._steps = max(0, self._steps - 1) if stepping else self._steps
                self._began = began = time.perf_counter()
                with self._lock:
                    trainer.run(self.chunk, should_stop=lambda: self._stop.is_set() or (not stepping and (
                        not self._playing or time.perf_counter() - began > FRAME_MAX_SECONDS
                        or self._spent())))
                    self._drawn.clear()
                    self._publish(trainer)
                    self._training = False
                if self._playing and self.animate:
                    self._drawn.wait(FRAME_WAIT)
                    self._stop.wait(max(0.0, FRAME_SECONDS - (time.perf_counter() - began)))
                self._rest()
            self.state = "done" if trainer.done else self.state
        except ExplorerError as exc:
            self.error, self.state = str(exc), "failed"
        except Exception as exc:  # a bug must not kill the page: say what happened, keep the session alive
            self.error, self.state = f"training failed unexpectedly ({type(exc).__name__}: {exc}).", "failed"
        finally:
            self._training = False
            self._rest()

    def _spent(self) -> bool:
        """Pause a played run once it has trained for its budget (once: Play then goes on without one)."""
        if self.budget is None or self.seconds - self._built < self.budget:
            return False
        self._playing, self.over_budget, self.budget = False, True, None
        return True

    def _rest(self) -> None:
        """End a busy spell: add its time to the total."""
        began, self._began = self._began, None
        if began is not None:
            self._busy += time.perf_counter() - began

    def _publish(self, trainer: Trainer) -> None:
        self.frame = Frame(epoch=trainer.epoch, net=trainer.net, metrics=trainer.metrics,
                           history={k: list(v) for k, v in trainer.history.items()})
