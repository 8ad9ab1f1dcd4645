"""One request a DCE/RPC server is serving: its cancel state and the caller's security.

Its own module because both the general path (server.py) and the lean path (fastpath.py)
create them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from idlgen.runtime.com.hresult import S_OK
from idlgen.runtime.rpc.dcerpc import auth as A

__all__ = ["CallState"]

_EVENTS_LOCK = threading.Lock()


class CallState:
    """One request being served. Also stands in for a call object in the runtime's call
    context (`_ticket`/`_cancel_ticket`/`Cancel`), so `CoTestCancel()` works in RPC servers."""

    __slots__ = (
        "_cancel_ticket",
        "_canceled",
        "_ticket",
        "call_id",
        "cancel_count",
        "on_cancel",
        "orphaned",
        "running",
        "security",
        "started",
    )

    def __init__(self, call_id: int, started: float = 0.0) -> None:
        self.call_id = call_id
        # When its first fragment came, for a call that can take several (only those are
        # swept for stalling): a one-fragment call does not read the clock.
        self.started = started
        self.running = False  # admitted to run (counts against the connection's share)
        self.cancel_count = 0
        self.orphaned = False
        self._ticket = 1
        self._cancel_ticket = 0
        self._canceled: threading.Event | None = None  # made by the first wait_canceled
        self.on_cancel: Callable[[], None] | None = None  # an object handler's cancel hook
        self.security: A.CallSecurity = A.ANONYMOUS  # how the client authenticated this call

    @property
    def canceled(self) -> bool:
        return self._cancel_ticket == self._ticket

    def cancel(self) -> None:
        self.cancel_count += 1
        self._cancel_ticket = self._ticket
        with _EVENTS_LOCK:
            event = self._canceled
        if event is not None:
            event.set()
        if self.on_cancel is not None:
            self.on_cancel()

    def wait_canceled(self, timeout: float | None = None) -> bool:
        """Block until the client cancels (True) or `timeout` passes (False)."""
        with _EVENTS_LOCK:  # an Event per call costs more than most calls: made on demand
            if self._canceled is None:
                self._canceled = threading.Event()
                if self.canceled:
                    self._canceled.set()
            event = self._canceled
        return event.wait(timeout)

    def Cancel(self, ulSeconds: int) -> int:
        self.cancel()
        return S_OK
