"""A server whose scheduling the tests control, the same in one apartment, across apartments
and across processes (issue 15: the client must not be able to tell the settings apart).

`LabStream` serves ISimpleStream through its own call objects (`LabCall`). `Lab` is the
switchboard: it can hold the place where the next call would start (the worker pool in one
apartment, the server STA otherwise, so a request stays queued), gate Read until the test
opens it, and report what the server saw. Tests reach it through `Lab.command(op, arg)`:
directly in-process, through `LabControl.Add(op, arg)` (an ICalc living in the child's MTA,
which a held STA cannot block) across processes.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "apartments"))

from stream_handwritten import AsyncISimpleStream, ICalc, ISimpleStream

from idlgen import runtime as _rt
from idlgen.runtime.apartments.apartment import Apartment
from idlgen.runtime.apartments.marshal import marshaler_for
from idlgen.runtime.com.interface import Method

WAIT = 20.0  # a safety net against hangs, never a timing assertion

# Lab.command operations
RESET, HOLD, RELEASE, OPEN_GATE, WAIT_STARTED, WAIT_CANCEL_REQUESTED = range(6)
JOIN, RUNS, INCOMING = 6, 7, 8
# RESET flags
GATED, ACKNOWLEDGE, COMPLETE_WITH_TUPLE = 1, 2, 4


class LabPool:
    """The server call objects' worker pool: a thread per job, or jobs deferred while held."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.held = False
        self._deferred: list[Callable[[], None]] = []
        self._threads: list[threading.Thread] = []

    def submit(self, fn: Callable[..., None], *args: Any) -> None:
        with self._lock:
            if self.held:
                self._deferred.append(lambda: fn(*args))
                return
            thread = threading.Thread(target=fn, args=args, daemon=True)
            self._threads.append(thread)
        thread.start()

    def hold(self) -> None:
        with self._lock:
            self.held = True

    def release(self) -> None:
        """Run what was deferred, in order, on this thread (a worker picking the jobs up)."""
        with self._lock:
            self.held = False
            deferred, self._deferred = self._deferred, []
        for job in deferred:
            job()

    def join(self) -> None:
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(WAIT)


class Lab:
    """What the server does and saw; one per process."""

    def __init__(self) -> None:
        self.sta: Apartment | None = None  # the server's STA (None: one apartment)
        self.reset(0)

    def reset(self, flags: int) -> int:
        self.gated = bool(flags & GATED)
        self.acknowledge = bool(flags & ACKNOWLEDGE)
        self.complete_with_tuple = bool(flags & COMPLETE_WITH_TUPLE)
        self.gate = threading.Event()
        self.started = threading.Event()
        self.cancel_requested = threading.Event()
        self.runs = 0
        self.pool = LabPool()
        self._unhold = threading.Event()
        return 1

    def command(self, op: int, arg: int = 0) -> int:
        if op == RESET:
            return self.reset(arg)
        if op == HOLD:
            return self._hold()
        if op == RELEASE:
            self._unhold.set()
            self.pool.release()
            return 1
        if op == OPEN_GATE:
            self.gate.set()
            return 1
        if op == WAIT_STARTED:
            return int(self.started.wait(WAIT))
        if op == WAIT_CANCEL_REQUESTED:
            return int(self.cancel_requested.wait(WAIT))
        if op == JOIN:
            self.pool.join()
            return 1
        if op == RUNS:
            return self.runs
        if op == INCOMING:
            return 0 if self.sta is None else len(marshaler_for(self.sta).exporter.calls)
        raise _rt.InvalidArgError(message=f"unknown lab operation {op}")

    def _hold(self) -> int:
        """Block where the next call would start: the pool here, the whole STA otherwise."""
        if self.sta is None:
            self.pool.hold()
            return 1
        holding = threading.Event()

        def held() -> None:
            holding.set()
            self._unhold.wait(WAIT)

        self.sta.post(held)
        return int(holding.wait(WAIT))


LAB = Lab()


class LabCall(_rt.ServerCall, AsyncISimpleStream):
    """The server's call object: runs Read on the lab's pool, tells the lab about cancels."""

    __slots__ = ()

    def _start_(self, ticket: int, method: Method, ins: tuple[Any, ...]) -> None:
        if LAB.complete_with_tuple and method.name == "Read":
            (cb,) = ins
            self._complete_(ticket, (b"abc"[:cb], min(cb, 3)))  # a plain tuple, not ReadResult
            return
        LAB.pool.submit(self._run_, ticket, method, ins)

    def _on_cancel_(self, ticket: int) -> None:
        LAB.cancel_requested.set()


class LabStream(_rt.CallFactory, ISimpleStream):
    _call_objects_ = (LabCall,)

    def Read(self, cb: int) -> Any:
        LAB.runs += 1
        LAB.started.set()
        if LAB.gated:
            assert LAB.gate.wait(WAIT), "the test never opened the gate"
        if LAB.acknowledge and _rt.call_canceled():
            raise _rt.CallCanceledError()  # the server stops early: it acknowledges the cancel
        return b"abc"[:cb], min(cb, 3)

    def Write(self, pv: bytes, cb: int) -> int:
        return cb


class LabControl(_rt.ComObject, ICalc):
    """The lab's switchboard as an interface: Add(op, arg) is `LAB.command(op, arg)`."""

    def Add(self, a: int, b: int) -> int:
        return LAB.command(a, b)
