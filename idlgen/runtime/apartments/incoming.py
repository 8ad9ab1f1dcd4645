"""The server's table of incoming calls, from the moment a request is queued to its reply.

A cancel may reach the server at any time between the client's Begin_ and the reply: while
the request still waits in the apartment's queue, while the call runs, or after it ended.
Cancels bypass the queue (the thread that would serve them may be busy), so the table is what
lets a cancel find its call at every stage:

- queued: the cancel is remembered; when the request is dequeued it is not run at all and
  the reply is RPC_E_CALL_CANCELED (as a DCE/RPC server answers a call canceled before it
  executed), so a lost cancel never leaves work queued behind it;
- running: the call's cancel flag is set (`CoTestCancel()` sees it; a server call object gets
  `request_cancel()`, which runs its `_on_cancel_`);
- ended (or never seen): nothing to do, the reply is on its way.

Entries are keyed by (reply port, call id), which is unique per caller, and leave the table
when the call ends, so cancels for finished calls leave nothing behind either.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from idlgen.runtime.com.hresult import COMError

__all__ = ["IncomingCalls", "cancel_call"]

Key = tuple[Any, int]  # (the reply port, the call id)


_QUEUED = 0  # waiting in the apartment's queue
_CANCELED = 1  # waiting, and its cancel arrived: it must not run


class IncomingCalls:
    """Requests an apartment was sent and has not answered yet (see the module docstring).

    An entry is `_QUEUED`, `_CANCELED` (queued, then canceled) or the object serving the call.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[Key, Any] = {}

    def queued(self, key: Key) -> None:
        """A request was put in the apartment's queue."""
        lock = self._lock  # per request: not `with` (see apartment.enter)
        lock.acquire()
        try:
            self._calls[key] = _QUEUED
        finally:
            lock.release()

    def serving(self, key: Key, call: Any) -> None:
        """A request `call` will serve (and which checks its own cancel flag before it
        starts): a cancel from now on is passed to it."""
        with self._lock:
            self._calls[key] = call

    def cancel(self, key: Key) -> None:
        """A cancel arrived (any thread): remember it, or pass it to the running call."""
        with self._lock:
            entry = self._calls.get(key)
            if entry is None or entry is _CANCELED:
                return  # ended (the reply is on its way), or already canceled
            if entry is _QUEUED:
                self._calls[key] = _CANCELED
                return
        cancel_call(entry)

    def canceled_before_start(self, key: Key) -> bool:
        """True (and forgotten) if the call was canceled while it waited in the queue."""
        with self._lock:
            if self._calls.get(key) is _CANCELED:
                del self._calls[key]
                return True
        return False

    def start(self, key: Key, call: Any) -> bool:
        """`call` is about to serve the request: False (and forgotten) if it was canceled
        while queued, so it must not run; otherwise `call` is installed for later cancels."""
        lock = self._lock  # per request: not `with` (see apartment.enter)
        lock.acquire()
        try:
            if self._calls.get(key) is _CANCELED:
                del self._calls[key]
                return False
            self._calls[key] = call
            return True
        finally:
            lock.release()

    def running(self, key: Key, call: Any) -> bool:
        """`call` now serves the request; True if a cancel arrived before it was installed,
        which the caller must then pass on (the call started already canceled)."""
        with self._lock:
            canceled = self._calls.get(key) is _CANCELED
            self._calls[key] = call
        return canceled

    def done(self, key: Key) -> None:
        lock = self._lock  # per request: not `with` (see apartment.enter)
        lock.acquire()
        try:
            self._calls.pop(key, None)
        finally:
            lock.release()

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._calls)


def cancel_call(call: Any) -> None:
    """Flag a running call as canceled without abandoning it: it still replies (with its
    results, or RPC_E_CALL_CANCELED if it stops early), and the client decides how long to
    wait for that (ICancelMethodCalls::Cancel's seconds)."""
    with contextlib.suppress(COMError):  # it completed (the reply is on its way) or was
        call.request_cancel()  # already canceled
