"""Reading whole PDUs from a stream socket, and the limits that bound what a peer may send.

The common header's frag_length is checked against the receive limit before the body is read,
so an oversized fragment costs us 16 bytes, never a large buffer.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

from idlgen.runtime.rpc.dcerpc import pdu as P
from idlgen.runtime.rpc.dcerpc import trace


@dataclass(frozen=True)
class Limits:
    """Per-connection bounds; both ends use the same type.

    `max_recv_frag`/`max_xmit_frag` are what we offer at bind time (the peer may lower them),
    `max_request` bounds a reassembled call (request on the server, response on the client),
    `max_outstanding` the calls in progress on one connection, `recv_timeout` how long a peer
    may take to finish a PDU it started (None: forever), `connect_timeout` the client's connect,
    `bind_timeout` how long a client waits for bind_ack/alter_context_resp, `call_timeout` the
    default bound on a synchronous call (None: no bound).
    """

    max_recv_frag: int = 5840
    max_xmit_frag: int = 5840
    max_request: int = 4 * 1024 * 1024
    max_outstanding: int = 64
    recv_timeout: float | None = 30.0
    connect_timeout: float | None = 10.0
    call_timeout: float | None = None
    bind_timeout: float | None = 10.0

    def __post_init__(self) -> None:
        for name in ("max_recv_frag", "max_xmit_frag"):
            value = getattr(self, name)
            if not P.MIN_FRAG <= value <= P.MAX_FRAG:
                raise ValueError(f"{name} must be within {P.MIN_FRAG}..{P.MAX_FRAG}")
        if self.max_request < 0 or self.max_outstanding < 1:
            raise ValueError("max_request must be >= 0 and max_outstanding >= 1")


class Closed(Exception):
    """The peer closed the stream (cleanly between PDUs, or in the middle of one)."""


def _read_exact(
    sock: socket.socket, n: int, first: bool, timeout: float | None, wait: float | None = None
) -> bytes:
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        # Waiting for the next PDU takes `wait` (None: forever); once one started it must finish.
        sock.settimeout(wait if first and got == 0 else timeout)
        k = sock.recv_into(view[got:])
        if k == 0:
            raise Closed("connection closed" if got == 0 and first else "truncated PDU")
        got += k
    return bytes(buf)


def read_pdu(
    sock: socket.socket, max_frag: int, timeout: float | None, wait: float | None = None
) -> P.Pdu | P.ProtocolError:
    """The next PDU, waiting at most `wait` for it to start (None: forever) and `timeout` for
    the rest. Raises Closed at end of stream, OSError/TimeoutError on socket trouble."""
    head = _read_exact(sock, P.HEADER_SIZE, True, timeout, wait)
    h = P.parse_header(head)
    if isinstance(h, P.ProtocolError):
        return h
    if h.frag_length > max_frag:
        return P.ProtocolError(f"fragment of {h.frag_length} > {max_frag}", h.call_id, h.ptype)
    body = _read_exact(sock, h.frag_length - P.HEADER_SIZE, False, timeout)
    if trace.enabled():
        trace.received(sock, head + body)
    return P.decode(head + body)


def send_frames(sock: socket.socket, frames: list[bytes]) -> None:
    """Send whole PDUs (traced when IDLGEN_TRACE=pdu). Raises OSError."""
    tracing = trace.enabled()
    for frame in frames:
        if tracing:
            trace.sent(sock, frame)
        sock.sendall(frame)
