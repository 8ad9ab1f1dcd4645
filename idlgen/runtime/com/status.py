"""Success codes other than S_OK, kept observable without changing return shapes.

DESIGN 4 returns out-values (not HRESULTs) from methods that have them, yet S_FALSE from
`IEnum*::Next` must reach the caller. Every call made through an interface method records
its HRESULT in a context variable; the caller reads it with `last_hresult()` right after
the call. A context variable (not a thread-local) so asyncio tasks do not see each other's
codes. Servers report a success code by returning `with_hresult(S_FALSE, value)`: an explicit
return value, so a nested COM call inside the server cannot overwrite the code by accident.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from idlgen.runtime.com.hresult import S_OK

__all__ = ["WithHResult", "last_hresult", "set_last_hresult", "with_hresult"]

_LAST: ContextVar[int] = ContextVar("idlgen_last_hresult", default=S_OK)


class WithHResult:
    """A server's return value together with the success code it wants the caller to see."""

    __slots__ = ("hresult", "value")

    def __init__(self, hresult: int, value: Any = None) -> None:
        self.hresult = hresult & 0xFFFFFFFF
        self.value = value

    def __repr__(self) -> str:
        return f"WithHResult(0x{self.hresult:08X}, {self.value!r})"


def with_hresult(hresult: int, value: Any = None) -> WithHResult:
    """Return this from a server method to make `last_hresult()` show `hresult` (e.g. S_FALSE)."""
    return WithHResult(hresult, value)


def last_hresult() -> int:
    """The HRESULT of the most recent interface call made in this context (S_OK by default)."""
    return _LAST.get()


def set_last_hresult(hresult: int) -> None:
    """For proxies and call objects: publish the HRESULT a call produced to the caller."""
    _LAST.set(hresult & 0xFFFFFFFF)
