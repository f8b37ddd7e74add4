"""How numbers read as text, the same on the command line, in the app and on figures (imports no Plotly)."""

from __future__ import annotations

import math
import numbers

__all__ = ["format_count"]

_EXACT_BELOW = 10 ** 15  # counts below this are written out digit by digit (spec counting-and-bounds §5)


def format_count(n) -> str:
    """A region count or bound as text: every digit below 10^15, else the exponent of 10 to two decimals.

    Integers of any size stay exact up to the switch (JSON keeps the exact int); a number that is not an
    integer (an estimate) gets three significant digits; None reads 'n/a'.

    Examples
    --------
    >>> format_count(1_744_436), format_count(10 ** 20), format_count(2 ** 2000), format_count(None)
    ('1,744,436', '10^20.00', '10^602.06', 'n/a')
    >>> format_count(12.345)
    '12.3'
    """
    if n is None:
        return "n/a"
    if not isinstance(n, numbers.Integral):
        return f"{float(n):.3g}"
    n = int(n)
    return f"{n:,}" if n < _EXACT_BELOW else f"10^{math.log10(n):.2f}"
