"""The tightest honest bracket lower ≤ N ≤ upper on the number of regions, each side with its source and guarantee.

lower = max(exact count if finished, certain lower bounds, probabilistic lower bound at its confidence);
upper = the exact count if finished, else the least proven upper bound.  The maximum of a certain and a
probabilistic bound fails only when the probabilistic one does, so it carries the guarantee of the side
that wins.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Bound", "Bracket", "best_bracket", "EXACT", "CERTAIN", "PROVEN_UPPER"]

EXACT = "exact"
CERTAIN = "certain"
PROVEN_UPPER = "proven upper bound"


@dataclass(frozen=True, kw_only=True)
class Bound:
    """One candidate side of a bracket.

    value : int — a number of regions;  source : what produced it (e.g. "exact count (LP subdivision)")
    guarantee : "exact", "certain", "probabilistic, confidence p" or "proven upper bound"
    """

    value: int
    source: str
    guarantee: str

    def to_json(self) -> dict:
        return {"value": int(self.value), "source": self.source, "guarantee": self.guarantee}


@dataclass(frozen=True, kw_only=True)
class Bracket:
    """lower ≤ N ≤ upper (upper None when no bound applies), with the orders of magnitude between them.

    lower, upper : Bound (upper may be None)
    """

    lower: Bound
    upper: Bound | None

    @property
    def is_exact(self) -> bool:
        return self.upper is not None and self.lower.guarantee == EXACT and self.upper.guarantee == EXACT

    @property
    def orders_of_magnitude(self) -> float | None:
        """log10(upper/lower), exact for big ints (0 when the count is exact; None without an upper bound)."""
        if self.upper is None:
            return None
        return _log10(self.upper.value) - _log10(max(self.lower.value, 1))

    def to_json(self) -> dict:
        """JSON object; counts are exact JSON integers however large."""
        return {"lower": self.lower.to_json(), "upper": None if self.upper is None else self.upper.to_json(),
                "orders_of_magnitude": self.orders_of_magnitude}

    def text(self) -> str:
        """One line: "lower ≤ N ≤ upper (…)", big numbers as powers of ten."""
        from ..plot.text import format_count

        if self.is_exact:
            return f"N = {format_count(self.lower.value)} (exact)"
        up = "∞" if self.upper is None else format_count(self.upper.value)
        gap = "" if self.orders_of_magnitude is None else f"; {self.orders_of_magnitude:.2f} orders of magnitude apart"
        upper = "none" if self.upper is None else f"{self.upper.source}, {self.upper.guarantee}"
        return (f"{format_count(self.lower.value)} ≤ N ≤ {up}  (lower: {self.lower.source}, "
                f"{self.lower.guarantee}; upper: {upper}{gap})")


def best_bracket(lowers, uppers) -> Bracket:
    """The bracket from candidate bounds: the largest lower one (ties: exact, then certain, then probabilistic)
    and the least upper one (ties: exact first).  ``lowers`` must not be empty.

    >>> b = best_bracket([Bound(value=5, source="samples", guarantee="certain"),
    ...                   Bound(value=9, source="MIPBound", guarantee="probabilistic, confidence 0.95")],
    ...                  [Bound(value=12, source="Theorem 1", guarantee="proven upper bound")])
    >>> b.lower.value, b.upper.value, round(b.orders_of_magnitude, 3)
    (9, 12, 0.125)
    """
    rank = {EXACT: 0, CERTAIN: 1}
    lowers = [b for b in lowers if b is not None]
    uppers = [b for b in uppers if b is not None and b.value is not None]
    lower = max(lowers, key=lambda b: (b.value, -rank.get(b.guarantee, 2)))
    upper = min(uppers, key=lambda b: (b.value, rank.get(b.guarantee, 2))) if uppers else None
    return Bracket(lower=lower, upper=upper)


def _log10(value: int) -> float:
    value = int(value)
    if value < 2 ** 1000:
        return math.log10(value)
    shift = value.bit_length() - 64
    return math.log10(value >> shift) + shift * math.log10(2)
