"""The memory budget of one file: every reader asks it before it materialises an array.

A small file can describe a huge network (a convolution over a large image folds into a dense matrix of
(C_out·H_out·W_out) × (C_in·H·W) entries), so sizes are computed from shapes first and charged here; the
request is refused with the limit in the message before anything is allocated.
"""

from __future__ import annotations

from ..errors import ExplorerError

__all__ = ["Budget"]


class Budget:
    """How many array elements (float64 or index entries) one file may still materialise.

    ``allocate(n, what)`` charges n elements or raises ExplorerError naming ``what`` and the limit; the
    charges add up over the whole file, so many medium arrays are bounded as one large one is.
    """

    def __init__(self, limit: int, label: str) -> None:
        self.limit, self.label, self.used = int(limit), label, 0

    def allocate(self, n: int, what: str) -> None:
        n = int(n)
        if n < 0:
            raise ExplorerError(f"{self.label}: {what} has a negative size; the file is damaged.")
        if self.used + n > self.limit:
            raise ExplorerError(f"{self.label}: {what} would need {n:,} array elements, and one file may use "
                                f"{self.limit:,} in all ({self.used:,} used so far); the network is too large to "
                                "load here. Use a smaller input or fewer channels.")
        self.used += n
