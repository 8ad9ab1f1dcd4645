"""Servers for the runtime tests, written the way a user writes them against generated code."""

from __future__ import annotations

import threading
from typing import Any

from simple_stream_handwritten import (
    AsyncISimpleStream,
    ISimpleStream,
    ReadResult,
    SwapResult,
)

from idlgen import runtime as _rt

WAIT = 10.0  # seconds: a bound against hangs, never a timing assertion


class MemoryStream(_rt.CallFactory, ISimpleStream):
    """Supports asynchronous calls: the runtime runs these methods for Begin_/Finish_."""

    def __init__(self, data: bytes = b"", outer: Any = None) -> None:
        super().__init__(outer)
        self.data = bytearray(data)
        self.pos = 0
        self.value = 0

    def Read(self, cb: int) -> Any:
        chunk = bytes(self.data[self.pos : self.pos + cb])
        self.pos += len(chunk)
        if len(chunk) < cb:
            return _rt.with_hresult(_rt.S_FALSE, (chunk, len(chunk)))
        return chunk, len(chunk)

    def Write(self, pv: bytes, cb: int) -> int:
        if cb > len(pv):
            raise _rt.InvalidArgError()
        self.data[self.pos : self.pos + cb] = pv[:cb]
        self.pos += cb
        return cb

    def Skip(self, cb: int) -> int:
        if self.pos + cb > len(self.data):
            self.pos = len(self.data)
            return _rt.S_FALSE
        self.pos += cb
        return _rt.S_OK

    def Swap(self, pValue: int) -> SwapResult:
        old, self.value = self.value, pValue
        return SwapResult(pValue, old)


class SyncOnlyStream(_rt.ComObject, ISimpleStream):
    """No ICallFactory: callers must use the synchronous interface."""

    def Read(self, cb: int) -> ReadResult:
        return ReadResult(b"x" * cb, cb)


class GatedStream(MemoryStream):
    """Every call blocks until the test opens the gate, so "pending" is deterministic."""

    def __init__(self, data: bytes = b"", outer: Any = None) -> None:
        super().__init__(data, outer)
        self.gate = threading.Event()
        self.started = threading.Event()
        self.finished = threading.Event()
        self.saw_cancel: bool | None = None

    def Read(self, cb: int) -> Any:
        self.started.set()
        try:
            assert self.gate.wait(WAIT), "test never opened the gate"
            self.saw_cancel = _rt.call_canceled()
            return super().Read(cb)
        finally:
            self.finished.set()


class CancelAwareStream(MemoryStream):
    """Polls CoTestCancel like a well-behaved long-running server."""

    def __init__(self) -> None:
        super().__init__()
        self.started = threading.Event()
        self.test_cancel_codes: list[int] = []

    def Skip(self, cb: int) -> int:
        self.started.set()
        for _ in range(int(WAIT * 1000)):
            try:
                _rt.CoTestCancel()
            except _rt.COMError as exc:
                self.test_cancel_codes.append(exc.hresult)
                if exc.hresult == _rt.RPC_E_CALL_CANCELED:
                    raise
            threading.Event().wait(0.001)
        return _rt.S_OK


def new_call(server: Any, riid2: Any = _rt.IID_IUnknown) -> Any:
    """The documented client steps: QI ICallFactory, CreateCall, release factory, QI async."""
    factory = server.QueryInterface(_rt.IID_ICallFactory)
    unknown = factory.CreateCall(AsyncISimpleStream._iid_, None, riid2)
    factory.Release()
    call = unknown.QueryInterface(AsyncISimpleStream._iid_)
    unknown.Release()
    return call
