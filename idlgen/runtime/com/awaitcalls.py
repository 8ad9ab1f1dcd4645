"""`awaitable(obj)`: methods as coroutines, over the same call objects as Begin_/Finish_.

`await awaitable(stream).Read(10)` creates a call object through the object's ICallFactory,
calls Begin_Read(10), awaits the call (no thread blocks) and returns what Finish_Read
returns. Cancelling the awaiting task, `asyncio.timeout` included, cancels the COM call
(ICancelMethodCalls.Cancel) and the task ends with CancelledError (TimeoutError under a
timeout). This module imports nothing from asyncio: awaiting a call object does, once.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from idlgen.runtime.com.interface import interfaces_of
from idlgen.runtime.com.stdiface import ICallFactory

__all__ = ["awaitable"]


class _AsyncMethods:
    """What `awaitable(obj)` returns: attribute X is a coroutine function calling X."""

    __slots__ = ("_obj",)

    def __init__(self, obj: Any) -> None:
        self._obj = obj

    def __getattr__(self, name: str) -> Callable[..., Coroutine[Any, Any, Any]]:
        async_iface = _partner_with(type(self._obj), name)
        obj = self._obj

        async def call(*args: Any) -> Any:
            factory = obj.QueryInterface(ICallFactory)
            try:
                call_object = factory.CreateCall(async_iface)
            finally:
                factory.Release()
            try:
                getattr(call_object, "Begin_" + name)(*args)
                return await call_object
            finally:
                call_object.Release()

        call.__name__ = call.__qualname__ = name
        return call


def _partner_with(cls: type, name: str) -> type:
    for iface in interfaces_of(cls):
        partner = iface.__dict__.get("_async_")
        if partner is not None and name in iface.__dict__.get("_by_name_", {}):
            return partner  # type: ignore[no-any-return]
    raise AttributeError(f"{cls.__name__} has no asynchronous method {name!r} (no async_uuid)")


def awaitable(obj: Any) -> Any:
    """`await awaitable(obj).Method(args)`: the method through a call object, awaited."""
    return _AsyncMethods(obj)
