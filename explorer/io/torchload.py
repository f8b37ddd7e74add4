"""The fallback for torch files the restricted reader does not know: ``torch.load(weights_only=True)``, fenced in.

It serves the legacy (pre-1.6) format and zip archives that use a torch global outside the reader's vocabulary.
torch's weights_only unpickler refuses code but has no limits: a stream of DUP opcodes or a storage claiming
10^12 elements goes straight to memory.  So the pickles are first run on an inert machine
(:class:`~explorer.io.unpickler.PickleMachine` with every global a placeholder) under the file's budget and
pickle limits, every storage they claim is charged, the tensor kinds the explorer refuses are refused by the
name of their global — and only then does torch read the file.  Tensors come back as numpy arrays, each charged
before it is copied.  Errors are torchfile's Refused, Kind and Corrupt, for files.py to phrase.
"""

from __future__ import annotations

import io
import pickle
import struct

from ..errors import ExplorerError
from .budget import Budget
from .torchfile import KINDS, Corrupt, Kind, Refused
from .unpickler import Malformed, PickleMachine

__all__ = ["load_with_torch"]


def load_with_torch(data: bytes, budget: Budget, *, scan: bytes, pickles: int):
    """torch.load(data) with tensors as numpy arrays, once the first ``pickles`` pickles of ``scan`` passed."""
    start = 0
    try:
        for _ in range(pickles):
            machine = _Scan(scan, budget, start=start)
            machine.load()
            start = machine.end
    except ExplorerError:  # the budget's own refusal
        raise
    except Malformed as exc:
        raise Corrupt(str(exc)) from None
    except (ValueError, TypeError, IndexError, KeyError, AttributeError, OverflowError, RecursionError,
            struct.error) as exc:
        raise Corrupt(f"its pickle cannot be read ({type(exc).__name__})") from None
    import torch

    try:
        obj = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise Refused(str(exc).split("GLOBAL", 1)[-1].split()[0] if "GLOBAL" in str(exc) else "an object") from None
    except Exception as exc:  # torch raises RuntimeError and others on damaged files
        raise Corrupt(f"torch cannot read it ({type(exc).__name__})") from None
    return _to_numpy(obj, torch, budget)


def _to_numpy(obj, torch, budget: Budget):
    """Dense real tensors as numpy arrays in their dtypes (bfloat16 as float32), each charged before its copy."""
    if isinstance(obj, torch.Tensor):
        t = obj.detach()
        if t.layout != torch.strided or t.is_quantized or t.is_complex() or t.itemsize == 1 and t.is_floating_point():
            raise Kind("sparse" if t.layout != torch.strided else "quantized" if t.is_quantized else
                       "complex" if t.is_complex() else "8-bit float")
        budget.allocate_shape(tuple(t.shape), "a tensor")
        budget.allocate(t.numel(), "the tensor in float64")
        return (t.float() if t.dtype == torch.bfloat16 else t).numpy().copy()
    if isinstance(obj, dict):
        return {k: _to_numpy(v, torch, budget) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_to_numpy(v, torch, budget) for v in obj]
    return obj


class _Opaque(dict):
    """Whatever a global or a call gives on the inert machine: calling it gives another one."""

    def __call__(self, *args, **kwargs) -> "_Opaque":
        return _Opaque()


class _Table(_Opaque):
    """A constructor that builds a hash table from its arguments: torch's unpickler would insert whatever keys
    they hold, unchecked (keys that share a hash take quadratic time), so only empty arguments pass."""

    def __call__(self, *args, **kwargs) -> _Opaque:
        if any(isinstance(a, (list, tuple, dict, set, frozenset)) and len(a) for a in args):
            raise Malformed("the pickle fills a table through a constructor's arguments")
        return _Opaque()


_TABLES = {("collections", "OrderedDict"), ("collections", "Counter"), ("collections", "defaultdict"),
           ("builtins", "dict"), ("builtins", "set"), ("builtins", "frozenset"), ("__builtin__", "set"),
           ("__builtin__", "frozenset")}


class _Scan(PickleMachine):
    """The inert machine: globals are placeholders, storages are only charged, refused kinds are named."""

    def find_class(self, module: str, name: str):
        if module.split(".", 1)[0] == "torch" and name in KINDS:
            raise Kind(KINDS[name])
        return _Table() if (module, name) in _TABLES else _Opaque()

    def persistent_load(self, pid):
        if isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage" and type(pid[4]) is int:
            self._budget.allocate(pid[4], "a storage the file claims")  # elements of ≤ 8 bytes
        return _Opaque()

    def instantiate(self, cls, args: tuple):
        return _Opaque()

    def set_state(self, obj, state) -> None:
        """The placeholders take any state."""
