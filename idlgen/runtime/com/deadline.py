"""How long the synchronous call being made on this thread may still take.

A synchronous proxy call sets its deadline here; whatever it has to do on the way (connect,
bind, alter_context in dcerpc/client.py) waits at most until then, so no inner wait outlasts
the call's own timeout. `DEFAULT_CALL_TIMEOUT` bounds synchronous calls that name no timeout
(per call: `call_timeout(s)`; per proxy: `set_call_timeout(proxy, s)`; per apartment:
`Apartment.call_timeout`); None anywhere means no bound.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Final

from idlgen.runtime.com.hresult import RpcTimeoutError

__all__ = [
    "DEFAULT_CALL_TIMEOUT",
    "UNSET",
    "Unset",
    "bounded",
    "call_deadline",
    "call_timeout",
    "has_deadline",
    "requested_timeout",
]

DEFAULT_CALL_TIMEOUT: float | None = 60.0


class Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = Unset()

_DEADLINE: ContextVar[float | None] = ContextVar("idlgen_call_deadline", default=None)
_TIMEOUT: ContextVar[float | Unset | None] = ContextVar("idlgen_call_timeout", default=UNSET)


@contextlib.contextmanager
def call_timeout(seconds: float | None) -> Iterator[None]:
    """Synchronous calls made in the block time out after `seconds` (None: never)."""
    token = _TIMEOUT.set(seconds)
    try:
        yield
    finally:
        _TIMEOUT.reset(token)


# The timeout `call_timeout` set for calls here, or UNSET: the context variable's own
# `get` (every synchronous proxy call asks, so no Python function around it).
requested_timeout: Callable[[], float | Unset | None] = _TIMEOUT.get


@contextlib.contextmanager
def call_deadline(timeout: float | None) -> Iterator[None]:
    """Within the block, every bounded wait ends `timeout` seconds from now at the latest
    (an enclosing, earlier deadline stays in force)."""
    if timeout is None:
        yield
        return
    deadline = time.monotonic() + timeout
    outer = _DEADLINE.get()
    token = _DEADLINE.set(deadline if outer is None else min(outer, deadline))
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def has_deadline() -> bool:
    return _DEADLINE.get() is not None


def bounded(limit: float | None) -> float | None:
    """`limit` shortened to the current call's deadline; RPC_E_TIMEOUT if it has passed."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return limit
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise RpcTimeoutError(message="the call's deadline passed")
    return remaining if limit is None else min(limit, remaining)
