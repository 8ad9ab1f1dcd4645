"""`IDLGEN_TRACE=pdu`: one line per DCE/RPC PDU sent or received, on stderr.

Like `GRPC_TRACE`, read once from the environment when the runtime's DCE/RPC layer is
imported; a program can also call `enable()`. Lines go to the `idlgen.trace.pdu` logger
(a stderr handler is added when it has none) and read like the Info column of Wireshark's
DCE/RPC dissector, the one `tests/dcerpc/test_tshark.py` decodes captures with:

    idlgen.trace.pdu: recv 127.0.0.1:40022 -> 127.0.0.1:5000 Request: call_id: 2,
        Fragment: Single, opnum: 3, Ctx: 0, len: 88       (one line)
"""

from __future__ import annotations

import logging
import os
import socket
import struct

__all__ = ["enable", "enabled", "on", "peer_of", "received", "sent"]

log = logging.getLogger("idlgen.trace.pdu")

_NAMES = {
    0: "Request",
    2: "Response",
    3: "Fault",
    11: "Bind",
    12: "Bind_ack",
    13: "Bind_nak",
    14: "Alter_context",
    15: "Alter_context_resp",
    17: "Shutdown",
    18: "Co_cancel",
    19: "Orphaned",
}
_FRAGMENTS = {0x03: "Single", 0x01: "1st", 0x00: "Mid", 0x02: "Last"}

on = False  # hot paths read `trace.on` instead of calling enabled()


def enabled() -> bool:
    return on


def enable() -> None:
    """Trace every PDU from now on (what IDLGEN_TRACE=pdu does at import)."""
    global on
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        log.addHandler(handler)
        log.propagate = False  # printed once, whatever the program's logging does
    log.setLevel(logging.DEBUG)
    on = True


def describe(data: bytes | bytearray | memoryview) -> str:
    """Wireshark's summary of one PDU (the common header and the fields after it)."""
    if len(data) < 16:
        return f"Truncated PDU, len: {len(data)}"
    ptype, flags, little = data[2], data[3], data[4] & 0x10
    order = "<" if little else ">"
    frag_len, _auth_len, call_id = struct.unpack_from(order + "HHI", data, 8)
    name = _NAMES.get(ptype, f"Unknown type {ptype}")
    parts = [f"call_id: {call_id}", f"Fragment: {_FRAGMENTS[flags & 0x03]}"]
    if ptype == 0 and len(data) >= 24:
        ctx_id, opnum = struct.unpack_from(order + "HH", data, 20)
        parts += [f"opnum: {opnum}", f"Ctx: {ctx_id}"]
    elif ptype in (2, 3) and len(data) >= 24:
        (ctx_id,) = struct.unpack_from(order + "H", data, 20)
        parts.append(f"Ctx: {ctx_id}")
        if ptype == 3 and len(data) >= 28:
            (status,) = struct.unpack_from(order + "I", data, 24)
            parts.append(f"status: 0x{status:08x}")
    parts.append(f"len: {frag_len}")
    return f"{name}: " + ", ".join(parts)


def peer_of(sock: socket.socket) -> str:
    """`HOST:PORT` of the other end (or the Unix socket's path)."""
    try:
        return _address(sock.getpeername())
    except OSError:
        return "?"


def _address(address: object) -> str:
    if isinstance(address, tuple):
        host, port = address[0], address[1]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    return f"unix:{address or '(unnamed)'}"


def _ends(sock: socket.socket) -> tuple[str, str]:
    try:
        here = _address(sock.getsockname())
    except OSError:
        here = "?"
    return here, peer_of(sock)


def sent(sock: socket.socket, data: bytes | bytearray | memoryview) -> None:
    here, there = _ends(sock)
    log.debug("send %s -> %s %s", here, there, describe(data))


def received(sock: socket.socket, data: bytes | bytearray | memoryview) -> None:
    here, there = _ends(sock)
    log.debug("recv %s -> %s %s", there, here, describe(data))


if "pdu" in os.environ.get("IDLGEN_TRACE", "").replace(" ", "").split(","):
    enable()
