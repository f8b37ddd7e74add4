"""Names taken from a file (its name, operators, layers, globals) as they appear in messages: on one line.

Every refusal is one sentence on one line (the CLI prints it to stderr, the app in a box); a file can hold
names with newlines or escape sequences, so those characters are shown as '?' and long names are cut.
"""

from __future__ import annotations

__all__ = ["one_line"]


def one_line(text, limit: int = 80) -> str:
    """``str(text)`` with non-printable characters as '?', cut to ``limit`` characters (with '…')."""
    text = "".join(c if c.isprintable() else "?" for c in str(text)[:limit + 1])
    return text if len(text) <= limit else text[:limit - 1] + "…"
