"""Server side of WMI's asynchronous contract: run an operation and feed the caller's sink.

A server method such as `ExecQueryAsync` calls `AsyncCallTable.start(sink, source, flags)`:
`source()` runs at once on the caller's thread, so an operation that cannot start raises
there and the sink is never touched (not even AddRef'd). Otherwise the sink is AddRef'd,
recorded under its COM identity, and the iterable `source()` returned is driven on a worker:

- an object yielded becomes `Indicate(1, [obj])`, a list or tuple one `Indicate(n, batch)`;
- `Progress(done, total)` becomes `SetStatus(WBEM_STATUS_PROGRESS, MAKELONG(done, total))`
  only when the caller passed WBEM_FLAG_SEND_STATUS;
- the generator's return value (None, an HRESULT, or an `Outcome`) becomes the one final
  `SetStatus(WBEM_STATUS_COMPLETE, hr, text, obj)`; an exception becomes its HRESULT;
- then the sink is released and forgotten.

`AsyncCallTable.cancel(sink)` is CancelAsyncCall: every operation using that sink (by COM
identity, so a proxy unmarshaled twice still matches) gets SetStatus(WBEM_E_CALL_CANCELLED)
unless its final status was already claimed, and no Indicate starts afterwards. A sink whose
Indicate or SetStatus fails cancels its operation the same way.

Decision (docs/wmi.md): the final status is sent by whoever ends last. If no callback into
the sink is in progress, cancel sends it and releases the sink before returning. If one is
(another thread's Indicate, or CancelAsyncCall made from inside the sink, which WMI calls
"not operational"), cancel does not wait for it -- waiting would deadlock the second case
across apartments -- and the delivering thread sends the final status as soon as that
callback returns. Either way the sink sees no callback after its final SetStatus.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from idlgen.runtime.com.hresult import S_OK, COMError
from idlgen.runtime.com.interface import IID_IUnknown
from idlgen.runtime.wmi.codes import (
    WBEM_E_CALL_CANCELLED,
    WBEM_E_FAILED,
    WBEM_E_INVALID_PARAMETER,
    WBEM_E_NOT_FOUND,
    WBEM_FLAG_SEND_STATUS,
    WBEM_STATUS_COMPLETE,
    WBEM_STATUS_PROGRESS,
    pack_progress,
)

__all__ = [
    "AsyncCallTable",
    "AsyncOperation",
    "Outcome",
    "Progress",
    "Runner",
    "com_identity",
    "drive",
    "thread_runner",
]

log = logging.getLogger("idlgen.runtime.wmi")

Runner = Callable[[Callable[[], None]], None]


@dataclass(frozen=True, slots=True)
class Progress:
    """Yield this from an operation to report progress (sent only with WBEM_FLAG_SEND_STATUS)."""

    done: int
    total: int


@dataclass(frozen=True, slots=True)
class Outcome:
    """The final status: SetStatus(WBEM_STATUS_COMPLETE, hresult, text, obj)."""

    hresult: int = S_OK
    text: str | None = None
    obj: Any = None


class Target(Protocol):
    """Where `drive` delivers: a sink operation, or a semisynchronous result buffer."""

    def indicate(self, objects: Sequence[Any]) -> bool: ...

    def progress(self, done: int, total: int) -> bool: ...

    def finish(self, outcome: Outcome) -> None: ...


def thread_runner(job: Callable[[], None]) -> None:
    """The default runner: one daemon thread per operation (WMI's own worker, in effect)."""
    threading.Thread(target=job, name="wmi-operation", daemon=True).start()


def as_outcome(value: Any) -> Outcome:
    if value is None:
        return Outcome()
    if isinstance(value, Outcome):
        return value
    if isinstance(value, int):
        return Outcome(value & 0xFFFFFFFF)
    return Outcome(obj=value)


def drive(target: Target, items: Iterator[Any]) -> None:
    """Feed everything `items` yields to `target`, then its final outcome, exactly once."""
    outcome = Outcome()
    try:
        while True:
            try:
                item = next(items)
            except StopIteration as stop:
                outcome = as_outcome(stop.value)
                break
            if isinstance(item, Progress):
                going = target.progress(item.done, item.total)
            elif isinstance(item, list | tuple):
                going = target.indicate(item)
            else:
                going = target.indicate((item,))
            if not going:
                break
    except COMError as exc:
        outcome = Outcome(exc.hresult)
    except Exception:  # a bug in the operation is a failed operation, not a dead worker
        log.exception("WMI operation raised")
        outcome = Outcome(WBEM_E_FAILED)
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()  # a generator stopped early runs its finally blocks now
    target.finish(outcome)


def com_identity(obj: Any) -> Any:
    """The object's IUnknown: what COM compares to decide two pointers are one object."""
    unknown = obj.QueryInterface(IID_IUnknown)
    unknown.Release()  # the caller keeps `obj` alive; we only need the identity
    return unknown


def _failed(result: Any) -> bool:
    """A sink method's answer: an exception is caught by the caller, a raw failure int here."""
    return isinstance(result, int) and bool(result & 0x80000000)


class AsyncOperation:
    """One pending asynchronous call: its sink, and the rule 'exactly one final SetStatus'."""

    def __init__(self, sink: Any, flags: int, on_closed: Callable[[AsyncOperation], None]) -> None:
        self.sink = sink  # holds the reference start() took
        self.identity = com_identity(sink)
        self.send_status = bool(flags & WBEM_FLAG_SEND_STATUS)
        self.cancelled = threading.Event()  # no new callbacks: cancel or a failing sink
        self.closed = threading.Event()  # final status sent (or attempted), sink released
        self._on_closed = on_closed
        self._lock = threading.Lock()
        self._busy = False  # a callback into the sink is in progress
        self._final_claimed = False

    # -- what the worker calls --------------------------------------------------------------

    def indicate(self, objects: Sequence[Any]) -> bool:
        batch = list(objects)
        return self._deliver(lambda: self.sink.Indicate(len(batch), batch))

    def progress(self, done: int, total: int) -> bool:
        if not self.send_status:
            return not self.cancelled.is_set()
        hr = pack_progress(done, total)
        return self._deliver(lambda: self.sink.SetStatus(WBEM_STATUS_PROGRESS, hr, None, None))

    def finish(self, outcome: Outcome) -> None:
        with self._lock:
            if self._final_claimed or self.cancelled.is_set():
                return  # cancel sent it, or the callback in progress will
            self._final_claimed = True
        self._send_final(outcome)

    # -- CancelAsyncCall ------------------------------------------------------------------

    def cancel(self) -> None:
        with self._lock:
            if self._final_claimed or self.cancelled.is_set():
                return
            self.cancelled.set()
            if self._busy:
                return  # the delivering thread sends the final status when its callback returns
            self._final_claimed = True
        self._send_final(Outcome(WBEM_E_CALL_CANCELLED))

    # -- internals ------------------------------------------------------------------------

    def _deliver(self, call: Callable[[], Any]) -> bool:
        with self._lock:
            if self._final_claimed or self.cancelled.is_set():
                return False
            self._busy = True
        ok = True
        try:
            ok = not _failed(call())
        except Exception:  # COMError from a proxy or a wrapped sink; anything from a raw one
            ok = False
        owed = False
        with self._lock:
            self._busy = False
            if not ok:
                self.cancelled.set()
            if self.cancelled.is_set() and not self._final_claimed:
                self._final_claimed = owed = True
        if owed:
            self._send_final(Outcome(WBEM_E_CALL_CANCELLED))
        return ok and not owed

    def _send_final(self, outcome: Outcome) -> None:
        try:
            self.sink.SetStatus(WBEM_STATUS_COMPLETE, outcome.hresult, outcome.text, outcome.obj)
        except Exception:  # the sink failing its last call changes nothing: it is released
            log.debug("final SetStatus failed", exc_info=True)
        finally:
            try:
                self.sink.Release()
            except Exception:
                log.debug("sink Release failed", exc_info=True)
            self._on_closed(self)
            self.closed.set()


class AsyncCallTable:
    """A server's pending asynchronous calls ([MS-WMI]'s AsyncOperationTable)."""

    def __init__(self, runner: Runner = thread_runner) -> None:
        self._runner = runner
        self._lock = threading.Lock()
        self._ops: list[AsyncOperation] = []

    def start(
        self,
        sink: Any,
        source: Callable[[], Iterable[Any]],
        flags: int = 0,
        runner: Runner | None = None,
    ) -> int:
        """Begin an asynchronous operation feeding `sink`; return the start HRESULT.

        `source()` is called here, before the sink is touched: raise a COMError from it to
        refuse the call (bad query, unknown class...).
        """
        if sink is None:
            raise COMError(WBEM_E_INVALID_PARAMETER, "the sink must not be NULL")
        items = iter(source())
        sink.AddRef()
        op = AsyncOperation(sink, flags, self._forget)
        with self._lock:
            self._ops.append(op)
        (runner or self._runner)(lambda: drive(op, items))
        return S_OK

    def cancel(self, sink: Any) -> int:
        """CancelAsyncCall: cancel every pending operation that uses `sink`."""
        if sink is None:
            raise COMError(WBEM_E_INVALID_PARAMETER, "the sink must not be NULL")
        identity = com_identity(sink)
        with self._lock:
            mine = [op for op in self._ops if op.identity is identity]
        if not mine:
            raise COMError(WBEM_E_NOT_FOUND, "no pending call uses this sink")
        for op in mine:
            op.cancel()
        return S_OK

    def pending(self, sink: Any = None) -> list[AsyncOperation]:
        """The operations not yet closed (all, or those using `sink`)."""
        with self._lock:
            ops = list(self._ops)
        if sink is None:
            return ops
        identity = com_identity(sink)
        return [op for op in ops if op.identity is identity]

    def cancel_all(self) -> None:
        """Cancel everything, e.g. when the server object itself is released."""
        for op in self.pending():
            op.cancel()

    def _forget(self, op: AsyncOperation) -> None:
        with self._lock:
            if op in self._ops:
                self._ops.remove(op)
