"""Semisynchronous calls: the call returns an enumerator at once and the caller polls it.

`start_semisync(source, ...)` runs `source()` on the caller's thread (so a call that cannot
start fails there), then drives what it returned into a `ResultBuffer` on a worker, exactly
as an asynchronous call drives a sink. Enumerators are cursors over that buffer:

- `Next(lTimeout, uCount)`: WBEM_S_NO_ERROR only when `uCount` objects came; WBEM_S_FALSE
  once the operation ended, with whatever remained; WBEM_S_TIMEDOUT (with what came) when
  the timeout expired first. WBEM_INFINITE waits for ever, WBEM_NO_WAIT not at all. When
  the operation failed, full batches still come out and then Next fails with its HRESULT.
- `NextAsync(uCount, sink)`: the same batch delivered to a sink (Indicate, then one
  SetStatus with WBEM_S_NO_ERROR, WBEM_S_FALSE or the failure); WBEM_S_FALSE without
  touching the sink when nothing remains. Several calls are served in the order made.
- Forward-only enumerators (WBEM_FLAG_FORWARD_ONLY) drop what they returned; Reset and
  Clone fail with WBEM_E_INVALID_OPERATION. Otherwise Reset rewinds and Clone copies the
  position (clones share the buffer).
- Releasing the last enumerator over a buffer abandons it: the worker's next delivery is
  refused, the operation stops, and pending NextAsync sinks get WBEM_E_CALL_CANCELLED.

`CallResultBase` is IWbemCallResult for calls that produce one object (GetObject with
WBEM_FLAG_RETURN_IMMEDIATELY): GetCallStatus and GetResultObject wait up to lTimeout.

These are mixins: combine with the IDL's interface, e.g.
`class Enum(ResultEnumerator, IEnumWbemClassObject): pass` -- or ask `enumerator_class(iface)`.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from idlgen.runtime.com.comobject import ComObject
from idlgen.runtime.com.hresult import S_OK, COMError
from idlgen.runtime.com.interface import interfaces_of
from idlgen.runtime.com.status import set_last_hresult
from idlgen.runtime.wmi.client import aiterate, iterate
from idlgen.runtime.wmi.codes import (
    WBEM_E_INVALID_OPERATION,
    WBEM_E_INVALID_PARAMETER,
    WBEM_E_NOT_FOUND,
    WBEM_E_NOT_SUPPORTED,
    WBEM_FLAG_FORWARD_ONLY,
    WBEM_INFINITE,
    WBEM_S_FALSE,
    WBEM_S_TIMEDOUT,
    as_long,
    timeout_seconds,
)
from idlgen.runtime.wmi.operation import (
    AsyncOperation,
    Outcome,
    Runner,
    as_outcome,
    drive,
    thread_runner,
)
from idlgen.runtime.wmi.speaking import _combine

__all__ = [
    "CallResultBase",
    "ResultBuffer",
    "ResultEnumerator",
    "call_result_class",
    "enumerator_class",
    "start_call_result",
    "start_semisync",
]

_T = TypeVar("_T")


class ResultBuffer:
    """Objects an operation produced, waiting for enumerators; the `drive` target."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._items: list[Any] = []
        self._base = 0  # absolute index of _items[0] (forward-only enumerators drop the head)
        self.outcome: Outcome | None = None  # set when the operation ended
        self.abandoned = False
        self.users = 0  # enumerators over this buffer

    # -- the producer side ------------------------------------------------------------------

    def indicate(self, objects: Sequence[Any]) -> bool:
        with self._cond:
            if self.abandoned:
                return False
            self._items.extend(objects)
            self._cond.notify_all()
            return True

    def progress(self, done: int, total: int) -> bool:
        return not self.abandoned  # a semisynchronous caller has nowhere to see progress

    def finish(self, outcome: Outcome) -> None:
        with self._cond:
            self.outcome = outcome
            self._cond.notify_all()

    def abandon(self) -> None:
        with self._cond:
            self.abandoned = True
            self._items.clear()
            self._cond.notify_all()

    # -- the consumer side -----------------------------------------------------------------

    def take(
        self, pos: int, count: int, timeout: float | None, drop: bool
    ) -> tuple[list[Any], int]:
        """Up to `count` objects from absolute position `pos`, and the HRESULT for them."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._available(pos) < count and self.outcome is None and not self.abandoned:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    break
                self._cond.wait(remaining)
            start = pos - self._base
            got = self._items[start : start + count]
            hr = self._status(len(got), count)  # raises for a failed operation: nothing moves
            if drop:
                del self._items[: start + len(got)]
                self._base = pos + len(got)
            return got, hr

    def at_end(self, pos: int) -> bool:
        with self._cond:
            return self.outcome is not None and self._available(pos) == 0

    def _available(self, pos: int) -> int:
        return max(0, self._base + len(self._items) - pos)

    def _status(self, got: int, count: int) -> int:
        if got == count:
            return S_OK
        if self.abandoned:
            return WBEM_S_FALSE
        if self.outcome is None:
            return WBEM_S_TIMEDOUT
        if self.outcome.hresult & 0x80000000:
            raise COMError(self.outcome.hresult)
        return WBEM_S_FALSE


def start_semisync(
    enum_cls: type[ResultEnumerator],
    source: Callable[[], Iterable[Any]],
    flags: int = 0,
    runner: Runner = thread_runner,
) -> ResultEnumerator:
    """WBEM_FLAG_RETURN_IMMEDIATELY: start the operation, return its enumerator at once."""
    items = iter(source())
    buffer = ResultBuffer()
    enum = enum_cls(buffer, forward_only=bool(flags & WBEM_FLAG_FORWARD_ONLY))
    runner(lambda: drive(buffer, items))
    return enum


def _result_type(obj: Any, method: str) -> Any:
    for iface in interfaces_of(type(obj)):
        found = iface._by_name_.get(method)
        if found is not None:
            return found.result
    return None


def _returning(hr: int, value: _T) -> _T:
    """The calling convention by hand: mixin methods are not wrapped by ComObject."""
    set_last_hresult(hr)
    return value


class ResultEnumerator(ComObject):
    """IEnumWbemClassObject's behaviour over a `ResultBuffer`, for any interface of its shape."""

    def __init__(self, buffer: ResultBuffer, forward_only: bool = True, pos: int = 0) -> None:
        super().__init__()
        self._buffer = buffer
        self._forward_only = forward_only
        self._pos = pos
        self._lock = threading.Lock()  # one Next at a time moves the position
        self._async_jobs: queue.SimpleQueue[Callable[[], None] | None] | None = None
        self._async_ops: list[AsyncOperation] = []
        buffer.users += 1

    # -- IEnumWbemClassObject --------------------------------------------------------------

    def Reset(self) -> int:
        if self._forward_only:
            raise COMError(WBEM_E_INVALID_OPERATION, "Reset on a forward-only enumerator")
        with self._lock:
            self._pos = 0
        return _returning(S_OK, S_OK)

    def Next(self, lTimeout: int, uCount: int) -> Any:
        objects, hr = self._take(lTimeout, uCount)
        value = (objects, len(objects))
        result = _result_type(self, "Next")
        return _returning(hr, result._make(value) if result is not None else value)

    def NextAsync(self, uCount: int, pSink: Any) -> int:
        if pSink is None:
            raise COMError(WBEM_E_INVALID_PARAMETER, "the sink must not be NULL")
        if self._buffer.at_end(self._pos) or self._buffer.abandoned:
            return _returning(WBEM_S_FALSE, WBEM_S_FALSE)  # the sink is not used
        pSink.AddRef()
        op = AsyncOperation(pSink, 0, self._async_ops_remove)
        self._async_ops.append(op)
        self._queue_async(lambda: self._serve_async(op, uCount))
        return _returning(S_OK, S_OK)

    def Clone(self) -> Any:
        if self._forward_only:
            raise COMError(WBEM_E_INVALID_OPERATION, "Clone of a forward-only enumerator")
        with self._lock:
            return _returning(S_OK, type(self)(self._buffer, False, self._pos))

    def Skip(self, lTimeout: int, nCount: int) -> int:
        _, hr = self._take(lTimeout, nCount)
        return _returning(hr, hr)

    # -- Python conveniences (in the object's apartment; use wmi.iterate for a proxy) --------

    def __iter__(self) -> Iterator[Any]:
        return iterate(self)

    def __aiter__(self) -> AsyncIterator[Any]:
        return aiterate(self)

    # -- internals ------------------------------------------------------------------------

    def _take(self, timeout_ms: int, count: int) -> tuple[list[Any], int]:
        timeout = timeout_seconds(timeout_ms)
        if count < 0:
            raise COMError(WBEM_E_INVALID_PARAMETER, "negative count")
        with self._lock:
            objects, hr = self._buffer.take(self._pos, count, timeout, self._forward_only)
            self._pos += len(objects)
        return objects, hr

    def _queue_async(self, job: Callable[[], None]) -> None:
        if self._async_jobs is None:
            jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
            self._async_jobs = jobs
            threading.Thread(target=_run_jobs, args=(jobs,), daemon=True).start()
        self._async_jobs.put(job)

    def _serve_async(self, op: AsyncOperation, count: int) -> None:
        try:
            objects, hr = self._take(WBEM_INFINITE, count)
        except COMError as exc:
            op.finish(Outcome(exc.hresult))
            return
        if objects and not op.indicate(objects):
            return
        op.finish(Outcome(hr))

    def _async_ops_remove(self, op: AsyncOperation) -> None:
        if op in self._async_ops:
            self._async_ops.remove(op)

    def _final_release_(self) -> None:
        buffer = self._buffer
        buffer.users -= 1
        if buffer.users <= 0:
            buffer.abandon()  # the producer's next delivery is refused: it stops
        for op in list(self._async_ops):
            op.cancel()
        if self._async_jobs is not None:
            self._async_jobs.put(None)


def _run_jobs(jobs: queue.SimpleQueue[Callable[[], None] | None]) -> None:
    """One worker per enumerator serves its NextAsync calls in the order they were made."""
    while (job := jobs.get()) is not None:
        job()


class CallResultBase(ComObject):
    """IWbemCallResult's behaviour: the outcome of one non-enumerating semisynchronous call."""

    def __init__(self) -> None:
        super().__init__()
        self._done = threading.Event()
        self._outcome = Outcome()
        self.services: Any = None  # what GetResultServices answers, when the call opens one

    def complete(self, outcome: Outcome) -> None:
        self._outcome = outcome
        self._done.set()

    def GetResultObject(self, lTimeout: int) -> Any:
        if not self._done.wait(timeout_seconds(lTimeout)):
            return _returning(WBEM_S_TIMEDOUT, None)
        outcome = self._checked()
        if outcome.obj is None:
            raise COMError(WBEM_E_NOT_FOUND, "the call produced no object")
        return _returning(S_OK, outcome.obj)

    def GetResultString(self, lTimeout: int) -> Any:
        if not self._done.wait(timeout_seconds(lTimeout)):
            return _returning(WBEM_S_TIMEDOUT, None)
        outcome = self._checked()
        if outcome.text is None:
            raise COMError(WBEM_E_NOT_FOUND, "the call produced no string")
        return _returning(S_OK, outcome.text)

    def GetResultServices(self, lTimeout: int) -> Any:
        if not self._done.wait(timeout_seconds(lTimeout)):
            return _returning(WBEM_S_TIMEDOUT, None)
        self._checked()
        if self.services is None:
            raise COMError(WBEM_E_NOT_SUPPORTED, "the call opened no services")
        return _returning(S_OK, self.services)

    def GetCallStatus(self, lTimeout: int) -> Any:
        if not self._done.wait(timeout_seconds(lTimeout)):
            return _returning(WBEM_S_TIMEDOUT, 0)
        return _returning(S_OK, as_long(self._outcome.hresult))

    def _checked(self) -> Outcome:
        if self._outcome.hresult & 0x80000000:
            raise COMError(self._outcome.hresult)
        return self._outcome


def start_call_result(
    result_cls: type[CallResultBase],
    work: Callable[[], Any],
    runner: Runner = thread_runner,
) -> CallResultBase:
    """Run `work()` on a worker; its return (an object or an `Outcome`) completes the result."""
    result = result_cls()

    def job() -> None:
        try:
            outcome = as_outcome(work())
        except COMError as exc:
            outcome = Outcome(exc.hresult)
        except Exception:
            outcome = Outcome(0x80041001)  # WBEM_E_FAILED
        result.complete(outcome)

    runner(job)
    return result


def enumerator_class(iface: type) -> type[ResultEnumerator]:
    """A `ResultEnumerator` speaking `iface` (IEnumWbemClassObject or one of its shape)."""
    return _combine(ResultEnumerator, iface, "Results")


def call_result_class(iface: type) -> type[CallResultBase]:
    """A `CallResultBase` speaking `iface` (IWbemCallResult or one of its shape)."""
    return _combine(CallResultBase, iface, "Outcome")
