"""The one signalling primitive under ISynchronize, call objects and WaitMultiple.

`threading.Event` costs about 1.3 KB (a Condition with its own lock and deque); a pending
call object must stay under 1 KB, so signalled state lives in the owner's slots and a
waiter is created only when somebody actually waits. A `Waiter` can listen to several
sources at once (WaitMultiple) and is woken by exactly one of them: that is what makes an
auto-reset source hand its signal to a single waiter, as a Win32 auto-reset event does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

__all__ = [
    "INFINITE_WAIT",
    "Event",
    "SignalState",
    "Waiter",
    "Wakeup",
    "ms_to_timeout",
    "wait_any",
]

INFINITE_WAIT = 0xFFFFFFFF


def ms_to_timeout(milliseconds: int) -> float | None:
    """COM timeouts are DWORD milliseconds with INFINITE = 0xFFFFFFFF."""
    if milliseconds & 0xFFFFFFFF == INFINITE_WAIT:
        return None
    return max(0, milliseconds) / 1000.0


class Waiter:
    """One blocked thread (or one callback) waiting on one or more sources.

    `claim()` is a test-and-set: the first source to claim the waiter wakes it; later
    sources see False and keep their signal for someone else.
    """

    __slots__ = ("_callback", "_done", "_gate", "source")

    def __init__(self, callback: Callable[[Any], None] | None = None) -> None:
        self._gate = threading.Lock()
        self._callback = callback
        self._done: threading.Lock | None = None
        if callback is None:
            self._done = threading.Lock()
            self._done.acquire()
        self.source: Any = None

    def claim(self, source: Any) -> bool:
        if not self._gate.acquire(False):
            return False
        self.source = source
        if self._callback is not None:
            self._callback(source)
        else:
            assert self._done is not None
            self._done.release()
        return True

    def block(self, timeout: float | None) -> bool:
        """Sleep until claimed or timed out; on time-out, close the gate so no source wins late."""
        assert self._done is not None
        woken = self._done.acquire(timeout=-1 if timeout is None else timeout)
        if woken:
            return True
        if self._gate.acquire(False):
            return False
        # A source claimed us between the time-out and the gate: its signal is ours.
        self._done.acquire()
        return True


class Wakeup(Waiter):
    """A thread waiting, without a time-out, on one source only (Finish_ on its call object).

    Just the lock it sleeps on: a `Waiter`'s gate decides which of several sources wins,
    and with one source there is nothing to decide (a source takes its list of waiters
    under its lock, so each one listed is claimed once).
    """

    __slots__ = ()

    def __init__(self) -> None:
        done = self._done = threading.Lock()
        done.acquire()

    def claim(self, source: Any) -> bool:
        self._done.release()  # type: ignore[union-attr]
        return True

    def block(self, timeout: float | None = None) -> bool:
        if timeout is not None:
            raise ValueError("a Wakeup waits without a time-out (a Waiter can time out)")
        self._done.acquire()  # type: ignore[union-attr]
        return True


class SignalState:
    """Mixin for objects that own `_lock`, `_signaled`, `_manual` and `_waiters` slots.

    Declares no slots itself so that both `Event` and call objects (which also inherit
    ComObject's slots) can use it.
    """

    if not TYPE_CHECKING:  # mypy cannot see that subclasses provide the slots
        __slots__ = ()

    _lock: threading.Lock
    _signaled: bool
    _manual: bool
    _waiters: list[Waiter] | None

    def _signal(self) -> None:
        with self._lock:
            self._signaled = True
            waiters = self._waiters
            if not waiters:
                return
            if not self._manual:
                while waiters:
                    if waiters.pop(0).claim(self):
                        self._signaled = False  # auto-reset: the signal went to that waiter
                        return
                return
            self._waiters = None
        # Manual reset wakes everyone; done outside the lock so callbacks may call back in.
        for waiter in waiters:
            waiter.claim(self)

    def _reset(self) -> None:
        with self._lock:
            self._signaled = False

    def _subscribe(self, waiter: Waiter) -> bool:
        """Register `waiter`; if already signalled, try to hand the signal over at once.

        Returns True when this source woke the waiter immediately.
        """
        with self._lock:
            if not self._signaled:
                if self._waiters is None:
                    self._waiters = [waiter]
                else:
                    self._waiters.append(waiter)
                return False
            if not self._manual:
                if waiter.claim(self):
                    self._signaled = False
                    return True
                return False
        return waiter.claim(self)

    def _unsubscribe(self, waiter: Waiter) -> None:
        with self._lock:
            if self._waiters and waiter in self._waiters:
                self._waiters.remove(waiter)

    def _wait(self, timeout: float | None) -> bool:
        """Block until signalled (True) or until `timeout` seconds pass (False)."""
        with self._lock:
            if self._signaled:
                if not self._manual:
                    self._signaled = False
                return True
            if timeout is not None and timeout <= 0:
                return False
        waiter = Waiter()
        if self._subscribe(waiter):
            return True
        woken = waiter.block(timeout)
        if not woken:
            self._unsubscribe(waiter)
        return woken


class Event(SignalState):
    """A Win32-style event (manual or auto reset) in about 200 bytes."""

    __slots__ = ("_lock", "_manual", "_signaled", "_waiters")

    def __init__(self, manual_reset: bool = True, signaled: bool = False) -> None:
        self._lock = threading.Lock()
        self._manual = manual_reset
        self._signaled = signaled
        self._waiters: list[Waiter] | None = None

    @property
    def manual_reset(self) -> bool:
        return self._manual

    def is_set(self) -> bool:
        return self._signaled

    def set(self) -> None:
        self._signal()

    def clear(self) -> None:
        self._reset()

    def wait(self, timeout: float | None = None) -> bool:
        return self._wait(timeout)


def wait_any(sources: Sequence[SignalState], timeout: float | None) -> int | None:
    """Wait until one source is signalled; return its index, or None on time-out.

    Sources are offered the waiter in order, so when several are already signalled the
    lowest index wins (WaitForMultipleObjects' rule).
    """
    waiter = Waiter()
    subscribed: list[SignalState] = []
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        for source in sources:
            if source._subscribe(waiter):
                return _index_of(sources, source)
            subscribed.append(source)
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        if not waiter.block(remaining):
            return None
        return _index_of(sources, waiter.source)
    finally:
        for source in subscribed:
            source._unsubscribe(waiter)


def _index_of(sources: Sequence[SignalState], source: Any) -> int:
    for index, candidate in enumerate(sources):
        if candidate is source:
            return index
    raise LookupError("signalled source is not in the list")
