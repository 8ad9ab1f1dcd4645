"""Whole PDUs from a stream socket, every complete one a `recv` brought before the next.

A server answering a burst of requests writes many replies at once; reading them one
header and one body at a time costs two system calls each. The inbox reads what is there
(up to `CHUNK` bytes) and hands out frames from its buffer until it runs dry. Framing is
checked as `wire.read_pdu` checks it: the common header is validated and frag_length held
against the receive limit before anything past the header is waited for, so a peer cannot
make us buffer more than one chunk plus one fragment.
"""

from __future__ import annotations

import math
import select
import socket
import struct

from idlgen.runtime.rpc.dcerpc import pdu as P
from idlgen.runtime.rpc.dcerpc import trace
from idlgen.runtime.rpc.dcerpc.wire import Closed

__all__ = ["CHUNK", "Inbox"]

CHUNK = 65536
_HEAD = struct.Struct("<BBxxHxxH")  # version, minor, (ptype, flags), drep[0:2], frag
_DREP = P.DREP_LE_ASCII_IEEE[:2]
_DREP_WORD = struct.unpack("<H", _DREP)[0]


class Inbox:
    """The receive side of one connection; only the thread holding its reading role calls
    `next`."""

    __slots__ = ("_blocking", "_buf", "_chunk", "_poll", "_pos", "max_frag", "sock")

    def __init__(self, sock: socket.socket, max_frag: int) -> None:
        self.sock = sock
        self.max_frag = max_frag
        self._buf = bytearray()
        self._chunk = memoryview(bytearray(CHUNK))  # recv_into: no allocation per recv
        self._pos = 0
        # The socket stays in blocking mode and waits are poll()s: a socket timeout costs a
        # system call to set and a poll() before every operation anyway.
        self._blocking = False
        self._poll = select.poll() if hasattr(select, "poll") else None  # not on Windows
        if self._poll is not None:
            self._poll.register(sock, select.POLLIN)

    def pending(self) -> bool:
        """Bytes of a next PDU are buffered already."""
        return self._pos < len(self._buf)

    def next(self, wait: float | None, timeout: float | None) -> bytes | P.ProtocolError:
        """The next PDU's bytes, waiting at most `wait` for it to start (None: forever) and
        `timeout` for the rest. Raises Closed at end of stream, OSError/TimeoutError."""
        buf = self._buf
        while True:
            pos = self._pos
            have = len(buf) - pos
            if have >= P.HEADER_SIZE:
                vers, minor, drep, frag = _HEAD.unpack_from(buf, pos)
                if vers != P.RPC_VERS or minor > 1 or drep != _DREP_WORD or frag < P.HEADER_SIZE:
                    return self._bad(bytes(buf[pos : pos + P.HEADER_SIZE]))
                if frag > self.max_frag:
                    return self._oversized(bytes(buf[pos : pos + P.HEADER_SIZE]), frag)
                if have >= frag:
                    frame = bytes(buf[pos : pos + frag])
                    self._pos = pos = pos + frag
                    if pos == len(buf):
                        buf.clear()
                        self._pos = 0
                    if trace.enabled():
                        trace.received(self.sock, frame)
                    return frame
            self._fill(wait if have == 0 else timeout)

    def readable(self) -> bool:
        """Bytes (or the end of the stream) are waiting: poll without blocking."""
        return self.pending() or self._ready(0.0)

    def _ready(self, seconds: float) -> bool:
        if self._poll is not None:
            return bool(self._poll.poll(max(0, math.ceil(seconds * 1000))))
        return bool(select.select([self.sock], [], [], max(0.0, seconds))[0])

    def _fill(self, timeout: float | None) -> None:
        if not self._blocking:
            self.sock.settimeout(None)
            self._blocking = True
        if timeout is not None and not self._ready(timeout):
            raise TimeoutError("timed out")
        n = self.sock.recv_into(self._chunk)
        if not n:
            raise Closed("connection closed" if not self.pending() else "truncated PDU")
        if self._pos:
            del self._buf[: self._pos]
            self._pos = 0
        self._buf += self._chunk[:n]

    def forget_timeout(self) -> None:
        """Someone else set the socket's timeout; make it blocking again before the next recv."""
        self._blocking = False

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
