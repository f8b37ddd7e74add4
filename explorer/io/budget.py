"""The memory budget of one file: every reader charges it before it allocates, so a small file cannot make a big load.

One :class:`Budget` is opened per load (``files.file_budget``) and passed to every reader.  It counts array
*elements* (8-byte units: one float64, or 8 bytes of anything else) over the whole load — archive members read,
storages, strided tensors copied out of them and their float64 conversions, protobuf messages an ONNX parse would
build, the objects a pickle makes, and everything folding creates (a convolution over a large image folds into a
dense matrix of (C_out·H_out·W_out) × (C_in·H·W) entries) — and refuses, before the allocation, the request that
would pass the limit, with the limit in the message.  :class:`PickleLimits` bounds the pickle machine itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ExplorerError

__all__ = ["Budget", "PickleLimits"]


@dataclass(frozen=True, kw_only=True)
class PickleLimits:
    """Bounds on the restricted pickle machine: opcodes run, items on the stack, open marks and memo entries.

    A torch state_dict needs about 40 opcodes per tensor, so a million opcodes admits ~25,000 tensors and
    takes about a second; every opcode is also charged to the file's budget (unpickler.OPCODE_ELEMENTS).
    """

    max_opcodes: int = 1_000_000
    max_stack: int = 100_000
    max_marks: int = 10_000
    max_memo: int = 1_000_000


class Budget:
    """How many array elements (8-byte units) one file may still materialise, and its pickle machine's limits.

    ``allocate(n, what)`` charges n elements or raises ExplorerError naming ``what``, its size and the limit;
    the charges add up over the whole file, so many medium arrays are bounded as one large one is.
    """

    def __init__(self, limit: int, label: str, *, pickle: PickleLimits = PickleLimits()) -> None:
        self.limit, self.label, self.pickle, self.used = int(limit), label, pickle, 0

    def allocate(self, n: int, what: str) -> None:
        """Charge n elements (an exact Python int: shapes are multiplied before any array exists)."""
        n = int(n)
        if n < 0:
            raise ExplorerError(f"{self.label}: {what} has a negative size; the file is damaged. Save it again.")
        if self.used + n > self.limit:
            raise ExplorerError(f"{self.label}: {what} would need {n:,} array elements ({_megabytes(n)}), and one "
                                f"file may use {self.limit:,} ({_megabytes(self.limit)}) in all ({self.used:,} used "
                                "so far); it was refused before anything was allocated. Use a smaller network file.")
        self.used += n

    def allocate_bytes(self, n: int, what: str) -> None:
        """Charge n bytes (rounded up to whole elements)."""
        self.allocate(-(-int(n) // 8), what)

    def allocate_shape(self, shape, what: str) -> int:
        """Charge the elements of an array of ``shape`` (non-negative ints) and return their number."""
        count = 1
        for n in shape:
            if not isinstance(n, int) or n < 0:
                raise ExplorerError(f"{self.label}: {what} has the dimension {str(n)[:30]}; dimensions must be "
                                    "non-negative integers. The file is damaged.")
            if n > self.limit:  # even with no elements (another dimension 0), vectors of this length would not fit
                raise ExplorerError(f"{self.label}: {what} has a dimension of {n:,}, more than the {self.limit:,} "
                                    "elements one file may use in all; it was refused. Use a smaller network file.")
            count *= n
        self.allocate(count, f"{what} of shape {_shape(shape)}")
        return count


def _megabytes(elements: int) -> str:
    size = elements / 2**17
    return f"{8 * elements:,} bytes" if size < 1 else f"{size:,.0f} MB" if size < 1e9 else f"{size:.3g} MB"


def _shape(shape) -> str:
    text = "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"
    return text if len(text) <= 80 else text[:77] + "…)"
