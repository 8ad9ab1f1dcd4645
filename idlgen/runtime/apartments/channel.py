"""The channel: what moves between apartments is `bytes`, nothing else.

A frame is a fixed header followed by NDR stub data. The header carries what a DCE/RPC
connection-oriented PDU header carries for ORPC (packet type, call id, opnum or status, the
object UUID = the IPID), so the cross-process transport only has to copy these fields into
real PDUs. Frame kinds reuse the DCE packet type numbers: request 0, response 2, fault 3,
cancel 18 (co_cancel).

Replies find their way back through a `Port` handed along with the request (an apartment
for an STA caller, which must keep pumping; `DIRECT` otherwise, which completes the waiting
call on the replying thread). Outstanding calls wait in a process-wide table keyed by call
id. `observe()` lets tests and tools see every frame that is sent.
"""

from __future__ import annotations

import contextlib
import itertools
import struct
import threading
from collections.abc import Callable, Iterator
from typing import Protocol

__all__ = [
    "CANCEL",
    "DIRECT",
    "DISCARD",
    "FAULT",
    "HEADER",
    "REQUEST",
    "RESPONSE",
    "Frame",
    "PendingCall",
    "Port",
    "cancel_frame",
    "complete_reply",
    "fault_frame",
    "forget",
    "new_pending",
    "observe",
    "parse",
    "request_frame",
    "response_frame",
    "send",
]

REQUEST, RESPONSE, FAULT, CANCEL = 0, 2, 3, 18
HEADER = struct.Struct("<B3xII16s")  # kind, call id, opnum (request) or status (fault), ipid
_KINDS = frozenset({REQUEST, RESPONSE, FAULT, CANCEL})


class Frame:
    """A parsed frame header plus a view of its stub data (no copy)."""

    __slots__ = ("body", "call_id", "code", "ipid", "kind")

    def __init__(self, kind: int, call_id: int, code: int, ipid: bytes, body: memoryview) -> None:
        self.kind = kind
        self.call_id = call_id
        self.code = code  # the opnum of a request, the status of a fault
        self.ipid = ipid
        self.body = body


def parse(frame: bytes) -> Frame | None:
    """None for bytes that are not a frame (too short, unknown kind): they are dropped."""
    if len(frame) < HEADER.size:
        return None
    kind, call_id, code, ipid = HEADER.unpack_from(frame)
    if kind not in _KINDS:
        return None
    return Frame(kind, call_id, code, ipid, memoryview(frame)[HEADER.size :])


def request_frame(call_id: int, opnum: int, ipid: bytes, body: bytes) -> bytes:
    return HEADER.pack(REQUEST, call_id, opnum, ipid) + body


def response_frame(call_id: int, body: bytes) -> bytes:
    return HEADER.pack(RESPONSE, call_id, 0, bytes(16)) + body


def fault_frame(call_id: int, status: int) -> bytes:
    return HEADER.pack(FAULT, call_id, status & 0xFFFFFFFF, bytes(16))


def cancel_frame(call_id: int, ipid: bytes) -> bytes:
    return HEADER.pack(CANCEL, call_id, 0, ipid)


class Port(Protocol):
    """Anything frames can be sent to: apartments, the direct reply port, a transport."""

    def deliver(self, frame: bytes, reply_to: Port | None) -> None: ...


# -- observation ----------------------------------------------------------------------------

_taps: list[Callable[[bytes], None]] = []


@contextlib.contextmanager
def observe(tap: Callable[[bytes], None]) -> Iterator[None]:
    """Call `tap(frame)` for every frame sent while the block runs (tests, tracing)."""
    _taps.append(tap)
    try:
        yield
    finally:
        _taps.remove(tap)


def send(port: Port, frame: bytes, reply_to: Port | None) -> None:
    """Every frame goes through here, so observers see exactly what crosses apartments."""
    for tap in _taps:
        tap(frame)
    port.deliver(frame, reply_to)


# -- outstanding calls --------------------------------------------------------------------


class PendingCall:
    """One outstanding request: either a blocked thread (lock) or a completion callback.

    `reply` is the whole reply frame; the waiter decodes it on its own thread.
    """

    __slots__ = ("call_id", "callback", "done", "lock", "reply")

    def __init__(self, call_id: int, callback: Callable[[bytes], None] | None) -> None:
        self.call_id = call_id
        self.callback = callback
        self.done = False
        self.reply = b""
        self.lock: threading.Lock | None = None
        if callback is None:
            self.lock = threading.Lock()
            self.lock.acquire()

    def complete(self, frame: bytes) -> None:
        self.reply = frame
        self.done = True
        if self.callback is not None:
            self.callback(frame)
        elif self.lock is not None:
            self.lock.release()

    def wait(self, timeout: float | None) -> bool:
        assert self.lock is not None
        return self.lock.acquire(timeout=-1 if timeout is None else timeout)


_next_call_id = itertools.count(1).__next__
_pending: dict[int, PendingCall] = {}


def new_pending(callback: Callable[[bytes], None] | None = None) -> PendingCall:
    """Register an outstanding call; its reply completes it (see `complete_reply`)."""
    call = PendingCall(_next_call_id() & 0xFFFFFFFF, callback)
    _pending[call.call_id] = call
    return call


def forget(call_id: int) -> None:
    """The caller stopped waiting (time-out, abandoned call object): drop a late reply."""
    _pending.pop(call_id, None)


def complete_reply(frame: bytes, reply_to: Port | None = None) -> None:
    """Hand a reply frame to the call waiting for it; replies nobody waits for are dropped.
    (`reply_to`, unused, makes it a Port's `deliver`: see DIRECT.)"""
    if len(frame) < HEADER.size:
        return
    call = _pending.pop(HEADER.unpack_from(frame)[1], None)
    if call is not None:
        call.complete(frame)


class _DirectPort:
    """Completes the waiting call on the replying thread (MTA callers, call objects)."""

    __slots__ = ()

    deliver = staticmethod(complete_reply)  # one Python call per reply, not two


DIRECT: Port = _DirectPort()


class _DiscardPort:
    """For one-way requests (RemRelease): the reply is not wanted."""

    __slots__ = ()

    def deliver(self, frame: bytes, reply_to: Port | None) -> None:
        return None


DISCARD: Port = _DiscardPort()
