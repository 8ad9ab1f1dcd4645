"""asyncio adapter: awaiting a call object without blocking the loop or using a thread.

Imported only when a call object is first awaited, so programs that never use asyncio
never import it. The completion (on whatever thread finishes the call) schedules the
wake-up with `loop.call_soon_threadsafe`; cancelling the awaiting task cancels the call
through ICancelMethodCalls and cleans the call object up with Finish_.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from idlgen.runtime.com.hresult import COMError
from idlgen.runtime.com.pendingcall import PendingCall
from idlgen.runtime.com.waitable import Waiter

__all__ = ["finish_when_done"]


async def finish_when_done(call: PendingCall) -> Any:
    name = call._pending_name()
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def on_signal(_source: object) -> None:
        with contextlib.suppress(RuntimeError):  # loop closed: nobody is waiting any more
            loop.call_soon_threadsafe(_resolve, ready)

    waiter = Waiter(on_signal)
    call._subscribe(waiter)
    try:
        await ready
    except asyncio.CancelledError:
        call._unsubscribe(waiter)
        _cancel_and_clean(call, name)
        raise
    return call._finish_(name)


def _resolve(ready: asyncio.Future[None]) -> None:
    if not ready.done():
        ready.set_result(None)


def _cancel_and_clean(call: PendingCall, name: str) -> None:
    with contextlib.suppress(COMError):  # already complete or canceled: still clean up
        call.Cancel(0)
    with contextlib.suppress(Exception):  # the task is being cancelled; results are moot
        call._finish_(name)
