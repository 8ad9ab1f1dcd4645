"""ISimpleStream servants written twice, `async def` and plain, with the same behaviour.

Read waits until there is data (an asynchronous wait, or a condition variable); Write
appends. `Write(b"fail", 4)` raises E_INVALIDARG, `Write(b"crash", 5)` a Python error,
`Read(0xC0FFEE)` cancels its own task (the method's side of cancellation), and
`Write(b"", 0)` reports how many Read tasks were cancelled so far (how a client in another
process sees the server's side of a cancel).
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import idlgen
from idlgen import runtime as rt

REPO = Path(__file__).resolve().parents[2]
stream_idl = idlgen.load(REPO / "samples" / "simple_stream.idl")
ISimpleStream = stream_idl.ISimpleStream
ReadResult = ISimpleStream.ReadResult
SELF_CANCEL = 0xC0FFEE


def _check(pv: bytes) -> None:
    if pv == b"fail":
        raise rt.InvalidArgError()
    if pv == b"crash":
        raise ValueError("a bug in the server")


class _AsyncState:
    """What both async servants keep (a plain base: the interface methods are below)."""

    def __init__(self) -> None:
        super().__init__()
        self.data = bytearray()
        self.cancelled_reads = 0
        self.loops: list[asyncio.AbstractEventLoop] = []
        self.saw_call_canceled: list[bool] = []
        self._arrived: asyncio.Event | None = None

    def _event(self) -> asyncio.Event:
        if self._arrived is None:
            self._arrived = asyncio.Event()
        return self._arrived


async def _read(self: Any, cb: int) -> Any:
    self.loops.append(asyncio.get_running_loop())
    try:
        if cb == SELF_CANCEL:
            task = asyncio.current_task()
            assert task is not None
            task.cancel()
            await asyncio.sleep(0)
        while not self.data:
            self._event().clear()
            await self._event().wait()
    except asyncio.CancelledError:
        self.cancelled_reads += 1
        self.saw_call_canceled.append(rt.call_canceled())
        raise
    chunk, self.data = bytes(self.data[:cb]), self.data[cb:]
    return chunk, len(chunk)


async def _write(self: Any, pv: bytes, cb: int) -> int:
    _check(pv)
    if cb == 0:
        return int(self.cancelled_reads)
    await asyncio.sleep(0)  # a real suspension point before the work
    self.data += pv[:cb]
    self._event().set()
    return cb


class AsyncStream(_AsyncState, rt.CallFactory, ISimpleStream):
    """Asynchronous calls go through its call objects: no thread waits for a Read."""

    Read = _read
    Write = _write


class AsyncPlainStream(_AsyncState, rt.ComObject, ISimpleStream):
    """No ICallFactory: a stub calls the methods synchronously (its thread waits)."""

    Read = _read
    Write = _write


class SyncStream(rt.CallFactory, ISimpleStream):
    def __init__(self) -> None:
        super().__init__()
        self.data = bytearray()
        self.changed = threading.Condition()

    def Read(self, cb: int) -> Any:
        with self.changed:
            self.changed.wait_for(lambda: bool(self.data))
            chunk, self.data = bytes(self.data[:cb]), self.data[cb:]
        return chunk, len(chunk)

    def Write(self, pv: bytes, cb: int) -> int:
        _check(pv)
        if cb == 0:
            return 0
        with self.changed:
            self.data += pv[:cb]
            self.changed.notify_all()
        return cb
