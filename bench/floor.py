"""The floor for an ORPC call in Python: the same framing, nothing else.

Issue 13 asks for idlgen's ORPC call to come within 2.5x of a minimal client and server that
move the same bytes with the same framing: a DCE/RPC request PDU (common header, alloc_hint,
context id, opnum, the IPID as object UUID) whose stub starts with ORPCTHIS (COM version,
flags, a causality id) and then the NDR of Add(a, b); a response PDU with ORPCTHAT, the sum
and an HRESULT. One thread per side, every PDU packed and parsed with one `struct` call,
no objects per call. The server parses every complete PDU a `recv` returned and answers them
all with one write, so a client that writes a batch of requests gets a batch of replies.

`floor_server` runs in the server process (bench_orpc.py starts it pinned to a CPU);
`FloorClient` is the client: `add` (one synchronous call) and `burst` (n requests in one
write, then n replies).
"""

from __future__ import annotations

import socket
import struct

# request: header (ver, minor, ptype, flags, drep, frag_len, auth_len, call_id),
# alloc_hint, p_cont_id, opnum, object UUID; ORPCTHIS (major, minor, flags, reserved, cid,
# extensions ptr); Add's [in] long a, long b.
REQUEST = struct.Struct("<BBBB4sHHIIHH16sHHII16sIii")
# response: header, alloc_hint, p_cont_id, cancel_count, reserved; ORPCTHAT (flags,
# extensions ptr); [out] long sum, HRESULT.
RESPONSE = struct.Struct("<BBBB4sHHIIHBBIIiI")
DREP = b"\x10\x00\x00\x00"
FIRST_LAST, OBJECT_UUID = 0x03, 0x80
IPID = bytes(range(16))
CID_HIGH = bytes(12)  # a counter-based causality id: fixed 12 bytes + a 32-bit counter
STUB_IN = REQUEST.size - 24 - 16  # what alloc_hint counts: ORPCTHIS and the NDR stub
STUB_OUT = RESPONSE.size - 24


def request(call_id: int, a: int, b: int) -> bytes:
    cid = CID_HIGH + call_id.to_bytes(4, "little")
    return REQUEST.pack(
        5, 0, 0, FIRST_LAST | OBJECT_UUID, DREP, REQUEST.size, 0, call_id,
        STUB_IN, 1, 0, IPID, 5, 7, 0, 0, cid, 0, a, b,
    )  # fmt: skip


def floor_server() -> None:
    """Accept one connection and answer Add requests until it closes."""
    lsock = socket.create_server(("127.0.0.1", 0))
    print(lsock.getsockname()[1], flush=True)
    conn, _ = lsock.accept()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = bytearray()
    size, pack, unpack_from = REQUEST.size, RESPONSE.pack, REQUEST.unpack_from
    while True:
        data = conn.recv(262144)
        if not data:
            return
        buf += data
        pos, out = 0, []
        while len(buf) - pos >= size:  # every complete PDU in the buffer
            f = unpack_from(buf, pos)
            if f[5] != size:
                raise ValueError(f"unexpected PDU of {f[5]} bytes")
            out.append(
                pack(5, 0, 2, FIRST_LAST, DREP, RESPONSE.size, 0, f[7], STUB_OUT, f[9], 0, 0,
                     0, 0, f[18] + f[19], 0)
            )  # fmt: skip
            pos += size
        del buf[:pos]
        conn.sendall(b"".join(out))


class FloorClient:
    """One connection to `floor_server`; calls are numbered like DCE/RPC call ids."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.call_id = 0
        self.buf = bytearray()

    def add(self, a: int, b: int) -> int:
        self.call_id += 1
        self.sock.sendall(request(self.call_id, a, b))
        (reply,) = self._replies(1)
        if reply[7] != self.call_id:
            raise AssertionError("reply to another call")
        return int(reply[14])

    def burst(self, n: int) -> None:
        """n Add calls outstanding: all requests in one write, then every reply."""
        first = self.call_id + 1
        self.call_id += n
        self.sock.sendall(b"".join(request(first + i, i, 1) for i in range(n)))
        for i, reply in enumerate(self._replies(n)):
            if reply[14] != i + 1:
                raise AssertionError("wrong sum")

    def _replies(self, n: int) -> list[tuple[int, ...]]:
        size, out, buf = RESPONSE.size, [], self.buf
        while len(out) < n:
            data = self.sock.recv(262144)
            if not data:
                raise ConnectionError("floor server closed")
            buf += data
            pos = 0
            while len(buf) - pos >= size:
                out.append(RESPONSE.unpack_from(buf, pos))
                pos += size
            del buf[:pos]
        return out

    def close(self) -> None:
        self.sock.close()
