"""What the command line writes and how it guards it: one JSON document (or text) on stdout, solver noise kept off
stdout, a memory budget, and the exit status.

HiGHS prints its banner from C++ to file descriptor 1 when a ``Highs`` object is built, before any option can be
set, and worker processes inherit the descriptors they start with.  :class:`ProtectedStdout` therefore points
fd 1 at the null device for the whole command (argument errors and workers included; stderr stays for our one
line) and writes the document to a duplicate of the original fd 1.  Exit statuses: 0 complete, 2 bad input (one
line on stderr), 3 stopped early by a budget (the output says what was done; its ``status`` says what stopped it),
130 interrupted.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import sys
from dataclasses import dataclass, field

import numpy as np

__all__ = ["COMPLETE", "EXIT_OK", "EXIT_BAD_INPUT", "EXIT_STOPPED", "EXIT_INTERRUPTED", "Outcome",
           "ProtectedStdout", "MemoryBudget", "json_document", "stopped"]

COMPLETE = "complete"
EXIT_OK, EXIT_BAD_INPUT, EXIT_STOPPED, EXIT_INTERRUPTED = 0, 2, 3, 130


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """What a subcommand produced: its JSON payload, its text lines and its status.

    status : "complete", or "stopped: …" (a budget ended the work early; the payload holds what was done)
    """

    payload: dict
    lines: list = field(default_factory=list)
    status: str = COMPLETE

    @property
    def exit_status(self) -> int:
        return EXIT_OK if self.status == COMPLETE else EXIT_STOPPED


def stopped(reason: str) -> str:
    """The status of work a budget ended early."""
    return f"stopped: {reason.strip().rstrip('.')}"


def json_document(payload: dict) -> str:
    """One line of strict JSON: NaN and infinities become null, numpy values plain numbers, integers stay exact."""
    return json.dumps(_plain(payload), allow_nan=False, ensure_ascii=False)


def _plain(value):
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


class ProtectedStdout:
    """Within the block, fd 1 is the null device and ``document`` is the original stdout.

    When ``sys.stdout`` does not write to fd 1 (a caller captured it), ``document`` is ``sys.stdout`` itself.
    Nothing is redirected when fd 1 is closed.
    """

    def __init__(self) -> None:
        self.saved: int | None = None
        self.document = sys.stdout
        self._own = False

    def __enter__(self) -> "ProtectedStdout":
        try:
            sys.stdout.flush()
            real = _writes_fd1(sys.stdout)
            self.saved = os.dup(1)
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 1)
            os.close(null)
        except (OSError, ValueError):
            self.saved = None
            return self
        if real:
            self.document = open(os.dup(self.saved), "w", encoding="utf-8", closefd=True)
            self._own = True
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.document.flush()
        except (OSError, ValueError):
            pass
        if self._own:
            try:
                self.document.close()
            except OSError:
                pass
        if self.saved is not None:
            try:
                sys.stdout.flush()
            except (OSError, ValueError):
                pass
            os.dup2(self.saved, 1)
            os.close(self.saved)


def _writes_fd1(stream) -> bool:
    try:
        return stream.fileno() == 1
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return False


class MemoryBudget:
    """Within the block, this process (and the processes it starts) may allocate at most ``gigabytes`` of data
    beyond what it holds on entry: the soft RLIMIT_DATA is lowered, and restored on exit.  A larger allocation
    raises MemoryError.  Nothing happens where the limit cannot be set.  :meth:`paused` lifts it for a block
    that starts a program with its own memory policy (the browser that exports figures reserves gigabytes)."""

    _saved: list = []  # the limits to restore, innermost last (None: that budget set nothing)

    def __init__(self, gigabytes: float) -> None:
        self.limit = int(gigabytes * 2 ** 30)

    def __enter__(self) -> "MemoryBudget":
        saved = None
        try:
            import resource

            soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
            target = _data_bytes() + self.limit
            if hard != resource.RLIM_INFINITY:
                target = min(target, hard)
            if soft == resource.RLIM_INFINITY or target < soft:
                resource.setrlimit(resource.RLIMIT_DATA, (target, hard))
                saved = (soft, hard)
        except (ImportError, OSError, ValueError):
            saved = None
        MemoryBudget._saved.append(saved)
        return self

    def __exit__(self, *exc) -> None:
        saved = MemoryBudget._saved.pop()
        if saved is not None:
            import resource

            resource.setrlimit(resource.RLIMIT_DATA, saved)

    @staticmethod
    @contextlib.contextmanager
    def paused():
        """The limits before the innermost budget, for the block; the budget again after it."""
        saved = next((s for s in reversed(MemoryBudget._saved) if s is not None), None)
        if saved is None:
            yield
            return
        import resource

        current = resource.getrlimit(resource.RLIMIT_DATA)
        resource.setrlimit(resource.RLIMIT_DATA, saved)
        try:
            yield
        finally:
            resource.setrlimit(resource.RLIMIT_DATA, current)


def _data_bytes() -> int:
    """This process's data segment and private writable mappings (VmData), in bytes."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmData:"):
                return int(line.split()[1]) * 1024
    raise OSError("no VmData")
