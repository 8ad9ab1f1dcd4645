"""The test server's implementation of `calc`, shared by in-process and two-process tests."""

from __future__ import annotations

import threading

from rpc_calc import DivmodResult, ReadResult, SumResult, calc

from idlgen import runtime as _rt
from idlgen.runtime.rpc.dcerpc import current_call


class Calc(calc):
    """Keeps what was written so tests can check the server saw the caller's bytes."""

    def __init__(self) -> None:
        self.written = bytearray()
        self.entered = threading.Event()  # WaitCancel has started (tests wait on it)
        self.cancel_seen = threading.Event()  # a WaitCancel call saw the client's cancel
        self.started = threading.Semaphore(0)  # released once per WaitCancel call

    def Add(self, a: int, b: int) -> int:
        return (a + b + 2**31) % 2**32 - 2**31

    def Write(self, cb: int, pv: bytes) -> int:
        self.written += pv
        return len(pv)

    def Divmod(self, a: int, b: int) -> DivmodResult:
        if b == 0:
            raise _rt.InvalidArgError()
        return DivmodResult(*divmod(a, b))

    def Sum(self, n: int, v: list[int]) -> SumResult:
        return SumResult(sum(v), len(v))

    def Upper(self, s: str) -> str:
        return s.upper()

    def WaitCancel(self, ms: int) -> int:
        """Returns S_FALSE when not canceled within `ms`; raises when canceled."""
        self.entered.set()
        self.started.release()
        state = current_call()
        assert state is not None
        if state.wait_canceled(ms / 1000):
            self.cancel_seen.set()
            _rt.CoTestCancel()  # raises CallCanceledError: the runtime sees the co_cancel
        return _rt.S_FALSE

    def Read(self, cb: int) -> ReadResult:
        data = bytes(self.written[:cb])
        return ReadResult(data, len(data))
