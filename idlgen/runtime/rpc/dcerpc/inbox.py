"""Whole PDUs from a stream socket: every complete one a `recv` brought, read in place.

A server answering a burst of requests writes many replies at once; reading them one
header and one body at a time costs two system calls each. The inbox reads what is there
(up to `CHUNK` bytes) into one fixed buffer, and its reader takes every complete PDU of it
before the next read (the reading thread's loop then costs a call per read, not per frame).
Framing is checked as `wire.read_pdu` checks it: the common header is validated and
frag_length held against the receive limit before anything past the header is waited for,
so a peer cannot make us buffer more than one chunk plus one fragment.

Two ways to take PDUs: `framed` hands out copies (`bytes`, the general way), and the client
reads the whole responses of a burst straight from `buffer`, one header unpack each, with
no copy (client.Association._take_all). Whatever is read in place stays valid only until
the next receive: only the holder of the connection's reading role receives, and it does
so only after whatever it handed out of the buffer has been used (the buffer's rule,
docs/dcerpc.md).
"""

from __future__ import annotations

import select
import socket
import struct
import sys
from collections.abc import Callable
from functools import partial

from idlgen.runtime.rpc.dcerpc import pdu as P
from idlgen.runtime.rpc.dcerpc import trace
from idlgen.runtime.rpc.dcerpc.wire import Closed

__all__ = ["CHUNK", "Inbox"]

CHUNK = 65536
_HEAD = struct.Struct("<BBxxHxxH")  # version, minor, (ptype, flags), drep[0:2], frag
_DREP = P.DREP_LE_ASCII_IEEE[:2]
_DREP_WORD = struct.unpack("<H", _DREP)[0]
# Waits are bounded by SO_RCVTIMEO on POSIX (a blocking recv fails with EAGAIN when it runs
# out); Windows gets a select() before each recv.
_TIMED = sys.platform != "win32"
_TIMEVAL = struct.Struct("@ll")  # struct timeval: seconds, microseconds
# A receive timeout already set is kept for a wait up to this much shorter: the steady
# state of calls with one timeout sets it once (a poll() rounded waits up to 1 ms too).
SLACK = 0.001
# `fits` when no wait fits: NaN equals nothing, not even itself (a float, unlike a marker)
_NO_FIT = float("nan")
# `readable` while bytes are buffered: true without a system call (a C callable, like the
# poll it stands in for, so asking costs no Python call)
_BUFFERED: Callable[[], object] = partial(bool, True)


def _select_readable(sock: socket.socket) -> bool:
    """`Inbox._look` where there is no poll (Windows)."""
    return bool(select.select([sock], [], [], 0.0)[0])


class Inbox:
    """The receive side of one connection; only the thread holding its reading role calls
    `fill`, `framed`, `frames` and `receive`, or reads `buffer`."""

    __slots__ = (
        "_blocking",
        "_limit",
        "_look",
        "_poll",
        "buffer",
        "chunk",
        "end",
        "fits",
        "max_frag",
        "readable",
        "sock",
        "start",
    )

    def __init__(self, sock: socket.socket, max_frag: int) -> None:
        self.sock = sock
        self.max_frag = max_frag
        # One buffer for the connection's life (recv_into: no allocation per recv); the
        # bytes not taken yet are `buffer[start:end]`, both 0 when there are none (set so
        # wherever the last are taken). A receive
        # waits only while no complete PDU is buffered, so what it keeps is less than one
        # PDU (frag_length is 16 bits): moved to the front, a whole `CHUNK` fits after it.
        self.buffer = memoryview(bytearray(2 * CHUNK))
        self.chunk = self.buffer[:CHUNK]  # where a receive goes while nothing is buffered
        self.start = self.end = 0
        # The socket stays in blocking mode: a Python socket timeout costs a poll() before
        # every recv. A wait's bound is the socket's own receive timeout instead
        # (SO_RCVTIMEO, `_limit`), set only when a wait needs a different one.
        self._blocking = False
        self._limit: float | None = None  # SO_RCVTIMEO now; None: no timeout
        # The wait (None: forever) for which a bare `sock.recv_into(chunk)` now waits as
        # `receive` would (a timeout then raises BlockingIOError instead of TimeoutError):
        # a synchronous call with its connection's steady timeout receives with no call of
        # ours (client.Association.call_alone).
        self.fits: float | None = _NO_FIT
        self._poll = select.poll() if hasattr(select, "poll") else None  # not on Windows
        # Is something waiting (bytes, or the end of the stream)? A poll that does not block
        # (C's own callable: the synchronous call asks on every call, `call_alone`).
        self._look: Callable[[], object] = partial(_select_readable, sock)  # no self: no cycle
        if self._poll is not None:
            self._poll.register(sock, select.POLLIN)
            self._look = partial(self._poll.poll, 0)
        # Bytes (or the end of the stream) are waiting, buffered or on the socket: a C
        # callable, `_BUFFERED` while bytes are buffered (set wherever the buffer fills or
        # empties), else `_look`.
        self.readable: Callable[[], object] = self._look

    def pending(self) -> bool:
        """Bytes of a next PDU are buffered already."""
        return self.start < self.end

    def frames(self, wait: float | None, timeout: float | None) -> list[bytes | P.ProtocolError]:
        """Every complete PDU, in order, reading until there is at least one (`fill`, then
        `framed`). Raises Closed at end of stream, OSError/TimeoutError."""
        self.fill(wait, timeout)
        return self.framed(self.start)

    def fill(self, wait: float | None, timeout: float | None) -> None:
        """Read until a complete PDU (or a framing error, which `framed` reports) is
        buffered: waiting at most `wait` for a PDU to start (None: forever) and `timeout`
        for the rest. Nothing is read while one is buffered already. One `recv` brings as
        many PDUs as are there: a burst's replies come dozens to a read. Raises Closed at
        end of stream, OSError/TimeoutError."""
        buffer = self.buffer
        while True:
            start, end = self.start, self.end
            have = end - start
            if have >= P.HEADER_SIZE:
                vers, minor, drep, frag = _HEAD.unpack_from(buffer, start)
                bad = vers != P.RPC_VERS or minor > 1 or drep != _DREP_WORD
                if bad or not P.HEADER_SIZE <= frag <= self.max_frag or have >= frag:
                    return  # (a framing error: `framed` reports it)
            if have == 0:  # (then both are 0: see `framed`)
                n = self.receive(wait)
            else:
                if start:  # less than one PDU: to the front, a whole chunk fits after it
                    buffer[:have] = buffer[start:end]
                    self.start, self.end = 0, have
                n = self.receive(timeout, buffer[have : have + CHUNK])
            if not n:
                raise Closed("connection closed" if have == 0 else "truncated PDU")
            self.end += n
            self.readable = _BUFFERED

    def framed(self, start: int) -> list[bytes | P.ProtocolError]:
        """Every complete PDU buffered from `start` on (those before it were taken in
        place), copied out in order; a framing error ends the list (nothing after it can
        be framed). Reads nothing."""
        buffer, pos, end = self.buffer, start, self.end
        out: list[bytes | P.ProtocolError] = []
        while end - pos >= P.HEADER_SIZE:
            vers, minor, drep, frag = _HEAD.unpack_from(buffer, pos)
            if vers != P.RPC_VERS or minor > 1 or drep != _DREP_WORD or frag < P.HEADER_SIZE:
                out.append(self._bad(buffer[pos : pos + P.HEADER_SIZE].tobytes()))
                break
            if frag > self.max_frag:
                head = buffer[pos : pos + P.HEADER_SIZE].tobytes()
                out.append(self._oversized(head, frag))
                break
            if end - pos < frag:
                break
            out.append(buffer[pos : pos + frag].tobytes())
            pos += frag
        if pos == end:  # all taken: the next receive goes to the front
            self.start = self.end = 0
            self.readable = self._look
        else:
            self.start = pos
        if trace.on:
            for frame in out:
                if isinstance(frame, bytes):
                    trace.received(self.sock, frame)
        return out

    def keep(self, n: int) -> None:
        """Buffer the first `n` bytes of `chunk`: a `receive` made while nothing was
        buffered, by someone else than `fill`, whose PDUs are then taken as any others."""
        if n:
            self.end = n
            self.readable = _BUFFERED

    def receive(self, timeout: float | None, into: memoryview | None = None) -> int:
        """One recv into `chunk` (or `into`); TimeoutError after `timeout` without bytes.
        Into `chunk`, the bytes are the caller's (`keep` buffers them), and nothing may be
        buffered: they would be overwritten."""
        if into is None:
            into = self.chunk
        if not self._blocking:
            self.sock.settimeout(None)
            self._blocking = True
        if not _TIMED or (timeout is not None and timeout <= 0):
            if timeout is not None and not select.select([self.sock], [], [], timeout)[0]:
                raise TimeoutError("timed out")
            return self.sock.recv_into(into)
        limit = self._limit
        if timeout is None:
            if limit is not None:
                limit = self._set_limit(None)
        elif limit is None or limit > timeout + SLACK:
            limit = self._set_limit(timeout)
        if limit is None or timeout is None or limit >= timeout - SLACK:
            self.fits = timeout  # (not when a shorter limit is in place: waited out below)
        while True:
            try:
                return self.sock.recv_into(into)
            except BlockingIOError:  # the receive timeout ran out
                if limit is None or timeout is None or limit >= timeout - SLACK:
                    raise TimeoutError("timed out") from None
                timeout -= limit  # a shorter limit was in place: wait the rest
                limit = self._set_limit(timeout)

    def _set_limit(self, seconds: float | None) -> float | None:
        """Set the socket's receive timeout (None: wait forever); at least a microsecond,
        as 0 would mean forever."""
        micros = 0 if seconds is None else max(1, round(seconds * 1e6))
        value = _TIMEVAL.pack(*divmod(micros, 1_000_000))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, value)
        self._limit = seconds
        self.fits = _NO_FIT  # `receive` says for which wait, once it knows
        return seconds

    def forget_timeout(self) -> None:
        """Someone else set the socket's timeout; make it blocking again before the next recv."""
        self._blocking = False
        self.fits = _NO_FIT

    @staticmethod
    def _bad(head: bytes) -> P.ProtocolError:
        h = P.parse_header(head)
        if isinstance(h, P.ProtocolError):
            return h
        return P.ProtocolError("malformed common header", h.call_id, h.ptype)

    def _oversized(self, head: bytes, frag: int) -> P.ProtocolError:
        h = P.parse_header(head)
        if isinstance(h, P.ProtocolError):
            return h
        return P.ProtocolError(f"fragment of {frag} > {self.max_frag}", h.call_id, h.ptype)
