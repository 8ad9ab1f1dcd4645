"""Finding 7 of issue 11: calls whose fragments stop coming cannot pin memory: buffered
bytes of unfinished calls are capped per connection and server-wide (the call over the cap
gets a fault, nothing more is buffered), and an unfinished call times out."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable, Iterator

from rpc_calc import calc
from rpc_calc_server import Calc
from rpc_helpers import WAIT, raw_bind

from idlgen.runtime.rpc.dcerpc import RpcServer
from idlgen.runtime.rpc.dcerpc import pdu as P
from idlgen.runtime.rpc.dcerpc.limits import ServerLimits
from idlgen.runtime.rpc.dcerpc.wire import read_pdu

PIECE = 4096  # stub bytes per fragment (a multiple of 8, as every fragment but the last)


@contextlib.contextmanager
def calc_server(limits: ServerLimits) -> Iterator[tuple[RpcServer, int]]:
    server = RpcServer(limits)
    server.register(Calc())
    binding = server.listen("ncacn_ip_tcp:127.0.0.1[0]")
    try:
        yield server, int(binding.endpoint)
    finally:
        server.close()


def bound(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    assert isinstance(raw_bind(sock), P.BindAck)
    return sock


def first_fragment(call_id: int) -> bytes:
    """The first of many fragments of a large Write: never finished."""
    req = P.Request(call_id, 0, 1, bytes(PIECE), None, 1 << 20, P.PFC_FIRST_FRAG)
    return P.encode(req)


def until(condition: Callable[[], bool]) -> bool:
    """Wait for the server to get somewhere (a safety net against hangs, not a timing)."""
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def faults(sock: socket.socket, count: int) -> list[P.Fault]:
    out = []
    for _ in range(count):
        pdu = read_pdu(sock, 0xFFFF, WAIT, WAIT)
        assert isinstance(pdu, P.Fault), pdu
        out.append(pdu)
    return out


def test_unfinished_calls_are_capped_per_connection() -> None:
    limits = ServerLimits(max_buffered_per_connection=16 * PIECE)
    with calc_server(limits) as (server, port):
        sock = bound(port)
        sock.sendall(b"".join(first_fragment(call_id) for call_id in range(1, 41)))
        refused = faults(sock, 40 - 16)
        assert [f.call_id for f in refused] == list(range(17, 41))
        assert {f.status for f in refused} == {P.NCA_S_FAULT_REMOTE_NO_MEMORY}
        assert server.buffered == 16 * PIECE


def test_unfinished_calls_are_capped_server_wide() -> None:
    limits = ServerLimits(max_buffered_total=20 * PIECE)
    with calc_server(limits) as (server, port):
        a, b = bound(port), bound(port)
        a.sendall(b"".join(first_fragment(call_id) for call_id in range(1, 13)))
        assert until(lambda: server.buffered == 12 * PIECE)  # all of a's are in
        b.sendall(b"".join(first_fragment(call_id) for call_id in range(1, 13)))
        refused = faults(b, 4)  # b's last 4 do not fit
        assert [f.call_id for f in refused] == [9, 10, 11, 12]
        assert server.buffered == 20 * PIECE


def test_unfinished_call_times_out_and_frees_its_buffer() -> None:
    limits = ServerLimits(incomplete_call_timeout=0.2)
    with calc_server(limits) as (server, port):
        sock = bound(port)
        sock.sendall(first_fragment(5))
        (fault,) = faults(sock, 1)
        assert fault.call_id == 5 and fault.flags & P.PFC_DID_NOT_EXECUTE
        assert server.buffered == 0
        last = P.Request(5, 0, 1, b"", None, 0, P.PFC_LAST_FRAG)
        stub = calc._wire_[0].encode_request({"a": 40, "b": 2})
        add = P.Request(6, 0, 0, stub, None, len(stub), P.PFC_FIRST_FRAG | P.PFC_LAST_FRAG)
        sock.sendall(P.encode(last) + P.encode(add))  # the late fragment is dropped
        reply = read_pdu(sock, 0xFFFF, WAIT, WAIT)
        assert isinstance(reply, P.Response) and reply.call_id == 6
