"""concurrent.futures adapter over the same call object (no thread, no second state).

The Future stays PENDING until the call completes, so `Future.cancel()` succeeds while the
call runs and is turned into ICancelMethodCalls.Cancel(0) plus the Finish_ that cleans up.
"""

from __future__ import annotations

import contextlib
from concurrent.futures import Future
from typing import Any

from idlgen.runtime.com.hresult import COMError
from idlgen.runtime.com.pendingcall import PendingCall
from idlgen.runtime.com.waitable import Waiter

__all__ = ["future_for"]


def future_for(call: PendingCall) -> Future[Any]:
    name = call._pending_name()
    future: Future[Any] = Future()

    def on_signal(_source: object) -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(call._finish_(name))
        except BaseException as exc:
            future.set_exception(exc)

    def on_done(done: Future[Any]) -> None:
        if not done.cancelled():
            return
        with contextlib.suppress(COMError):
            call.Cancel(0)
        with contextlib.suppress(Exception):  # the owner cancelled; results are moot
            call._finish_(name)

    future.add_done_callback(on_done)
    call._subscribe(Waiter(on_signal))
    return future
