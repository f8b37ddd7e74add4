"""Exact conversion of tensors to float64, and one refusal for the kinds that have no exact real value.

float16, bfloat16 (read as float32 from its bits), float32 and float64 widen to float64 exactly; booleans become
0.0 and 1.0; integers are exact as long as |v| ≤ 2^53 (every such integer is a float64).  Complex tensors (whose
imaginary part would be dropped), integers beyond 2^53 and anything else are refused with a message.
"""

from __future__ import annotations

import numpy as np

from ..errors import ExplorerError

__all__ = ["as_float64", "kind_refused"]

_EXACT_INT = 2**53


def as_float64(value, what: str) -> np.ndarray:
    """``value`` (an ndarray) as a float64 array equal to it entry by entry, or ExplorerError naming ``what``."""
    if not isinstance(value, np.ndarray):
        raise ExplorerError(f"{what} must be a tensor; got a {type(value).__name__}.")
    kind, size = value.dtype.kind, value.dtype.itemsize
    if kind == "f" and size <= 8 or kind == "b":
        return value.astype(np.float64)
    if kind in "iu":
        if value.size and (value.max() > _EXACT_INT or (kind == "i" and value.min() < -_EXACT_INT)):
            worst = value.max() if value.max() > _EXACT_INT else value.min()
            raise ExplorerError(f"{what} holds the integer {int(worst)}, beyond ±2^53, which float64 cannot hold "
                                "exactly; save the weights as floating point.")
        return value.astype(np.float64)
    raise ExplorerError(kind_refused(what, "complex" if kind == "c" else f"{value.dtype}"))


def kind_refused(what: str, kind: str) -> str:
    """The one message for a tensor of a kind the explorer does not read (complex, quantized, sparse, …)."""
    return (f"{what} holds {kind} tensors, which the explorer does not read (it needs real, dense weights); "
            "save the network with float32 or float64 weights.")
