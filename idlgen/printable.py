"""Text from the user's files made safe to print on one terminal line.

Its own module because the command prints file names long before (and often without)
loading the diagnostics machinery: a run served from the result cache imports this.
"""

from __future__ import annotations

__all__ = ["printable"]


def printable(text: str) -> str:
    """`text` with every non-printable character as its Python escape (`\\n`, `\\x1b`)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
