"""Whole PDUs from a stream socket: every complete one a `recv` brought, in one list.

A server answering a burst of requests writes many replies at once; reading them one
header and one body at a time costs two system calls each. The inbox reads what is there
(up to `CHUNK` bytes) and hands out every complete frame of it in one list (the reading
thread's loop then costs a call per read, not per frame). Framing is
checked as `wire.read_pdu` checks it: the common header is validated and frag_length held
against the receive limit before anything past the header is waited for, so a peer cannot
make us buffer more than one chunk plus one fragment.
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
    `frames`."""

    __slots__ = (
        "_blocking",
        "_buf",
        "_limit",
        "_look",
        "_poll",
        "_pos",
        "chunk",
        "fits",
        "max_frag",
        "readable",
        "sock",
    )

    def __init__(self, sock: socket.socket, max_frag: int) -> None:
        self.sock = sock
        self.max_frag = max_frag
        self._buf = bytearray()  # empty, or holding bytes not handed out yet (from `_pos`)
        self.chunk = memoryview(bytearray(CHUNK))  # recv_into: no allocation per recv
        self._pos = 0
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
        return self._pos < len(self._buf)

    def frames(self, wait: float | None, timeout: float | None) -> list[bytes | P.ProtocolError]:
        """Every complete PDU buffered, in order, reading until there is at least one:
        waiting at most `wait` for a PDU to start (None: forever) and `timeout` for the
        rest. A framing error ends the list (nothing after it can be framed). One call per
        `recv`, not per PDU: a burst's replies come dozens to a read. Raises Closed at end
        of stream, OSError/TimeoutError."""
        buf = self._buf
        out: list[bytes | P.ProtocolError] = []
        while True:
            pos, end = self._pos, len(buf)
            while end - pos >= P.HEADER_SIZE:
                vers, minor, drep, frag = _HEAD.unpack_from(buf, pos)
                if vers != P.RPC_VERS or minor > 1 or drep != _DREP_WORD or frag < P.HEADER_SIZE:
                    out.append(self._bad(bytes(buf[pos : pos + P.HEADER_SIZE])))
                    break
                if frag > self.max_frag:
                    out.append(self._oversized(bytes(buf[pos : pos + P.HEADER_SIZE]), frag))
                    break
                if end - pos < frag:
                    break
                out.append(bytes(buf[pos : pos + frag]))
                pos += frag
            if out:
                if pos == end:
                    buf.clear()
                    pos = 0
                    self.readable = self._look
                self._pos = pos
                if trace.on:
                    for frame in out:
                        if isinstance(frame, bytes):
                            trace.received(self.sock, frame)
                return out
            have = end - pos
            n = self.receive(wait if have == 0 else timeout)
            if not n:
                raise Closed("connection closed" if have == 0 else "truncated PDU")
            if pos:
                del buf[:pos]
                self._pos = 0
            buf += self.chunk[:n]
            self.readable = _BUFFERED

    def keep(self, n: int) -> None:
        """Buffer the first `n` bytes of `chunk` (a `receive` made by someone else than
        `frames`, whose PDUs `frames` then hands out)."""
        if n:
            self._buf += self.chunk[:n]
            self.readable = _BUFFERED

    def receive(self, timeout: float | None) -> int:
        """One recv into `chunk`; TimeoutError after `timeout` without bytes. The bytes are
        the caller's (`frames` buffers them; another caller may `keep` them)."""
        if not self._blocking:
            self.sock.settimeout(None)
            self._blocking = True
        if not _TIMED or (timeout is not None and timeout <= 0):
            if timeout is not None and not select.select([self.sock], [], [], timeout)[0]:
                raise TimeoutError("timed out")
            return self.sock.recv_into(self.chunk)
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
                return self.sock.recv_into(self.chunk)
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
