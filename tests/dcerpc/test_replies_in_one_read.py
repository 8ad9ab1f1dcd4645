"""Many PDUs in one read (a burst's replies come dozens to a read): the whole responses at
the head of the read are taken from the call table together, and from the first other
PDU on each goes the general way; every call gets its own outcome either way."""

from __future__ import annotations

import socket
import struct
import threading
from typing import Any

import pytest
from rpc_calc import calc_Client
from test_own_reply import WAIT, read_exactly

from idlgen import runtime as _rt
from idlgen.runtime.rpc.dcerpc import pdu as P
from idlgen.runtime.rpc.dcerpc.rpcif import interface_of, syntax_of

CALLS = 6
ACCESS_DENIED = 5


def bind_multiplexed(conn: socket.socket) -> None:
    """Answer the client's bind, granting PFC_CONC_MPX: its calls share one connection."""
    bind = P.decode(read_exactly(conn))
    assert isinstance(bind, P.Bind)
    ctx = P.ContextResult(P.ACCEPTANCE, transfer=P.NDR20)
    flags = P.PFC_FIRST_FRAG | P.PFC_LAST_FRAG | P.PFC_CONC_MPX
    conn.sendall(P.encode(P.BindAck(bind.call_id, 5840, 5840, 1, "", (ctx,), flags)))


def test_whole_responses_then_a_fault_fragments_and_a_stray_reply_in_one_read() -> None:
    lsock = socket.create_server(("127.0.0.1", 0))
    port = lsock.getsockname()[1]

    def serve() -> None:
        conn, _ = lsock.accept()
        with conn:
            bind_multiplexed(conn)
            requests = [P.decode(read_exactly(conn)) for _ in range(CALLS)]
            c1, c2, c3, c4, c5, c6 = (r.call_id for r in requests if isinstance(r, P.Request))

            def value(call_id: int, v: int) -> bytes:
                return P.encode(P.Response(call_id, 0, struct.pack("<i", v)))

            four = struct.pack("<i", 4)
            first = P.Response(c4, 0, four[:2], 4, flags=P.PFC_FIRST_FRAG)
            last = P.Response(c4, 0, four[2:], 2, flags=P.PFC_LAST_FRAG)
            conn.sendall(
                value(c1, 1)
                + value(0xBAD, 99)  # a reply to no call in flight: dropped
                + value(c2, 2)
                + P.encode(P.Fault(c3, ACCESS_DENIED))
                + P.encode(first)
                + value(c5, 5)
                + P.encode(last)
                + value(c6, 6)
            )
            conn.recv(1)  # until the client closes

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    try:
        with calc_Client(f"ncacn_ip_tcp:127.0.0.1[{port}]", timeout=WAIT) as c:
            syntax = syntax_of(interface_of(c))
            order: list[int] = []
            calls: list[Any] = []
            for i in range(CALLS):
                stub = struct.pack("<ii", i, 0)
                call = c.connection.begin(syntax, 0, stub, on_done=lambda _, i=i: order.append(i))
                calls.append(call)
            values = [struct.unpack("<i", calls[i].result(WAIT))[0] for i in (0, 1, 4, 5)]
            assert values == [1, 2, 5, 6]
            assert struct.unpack("<i", calls[3].result(WAIT))[0] == 4  # put together
            with pytest.raises(_rt.COMError):
                calls[2].result(WAIT)
            assert order == [0, 1, 2, 4, 3, 5]  # completed in the order their PDUs came
            (assoc,) = c.connection._assocs
            assert assoc.alive and not assoc.calls
    finally:
        server.join(WAIT)
        lsock.close()


def test_replies_taken_in_place_are_their_calls_own_after_later_reads() -> None:
    """The reader takes whole responses from its receive buffer in place, and receives into
    that buffer again once they are signalled: a waited-for call's reply is its own copy,
    still its bytes after a later reply came where they were."""
    lsock = socket.create_server(("127.0.0.1", 0))
    port = lsock.getsockname()[1]
    later = threading.Event()

    def serve() -> None:
        conn, _ = lsock.accept()
        with conn:
            bind_multiplexed(conn)
            first = [P.decode(read_exactly(conn)) for _ in range(2)]
            conn.sendall(  # both in one write: one read, buffer offsets 0 and 28
                b"".join(P.encode(P.Response(r.call_id, 0, b"AAAA")) for r in first)  # type: ignore[union-attr]
            )
            third = P.decode(read_exactly(conn))
            assert isinstance(third, P.Request)
            later.wait(WAIT)
            conn.sendall(P.encode(P.Response(third.call_id, 0, b"ZZZZ")))  # at offset 0 again
            conn.recv(1)

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    try:
        with calc_Client(f"ncacn_ip_tcp:127.0.0.1[{port}]", timeout=WAIT) as c:
            syntax = syntax_of(interface_of(c))
            calls = [c.connection.begin(syntax, 0, struct.pack("<ii", 1, 2)) for _ in range(2)]
            assert all(call.wait(WAIT) for call in calls)
            third = c.connection.begin(syntax, 0, struct.pack("<ii", 3, 4))
            later.set()
            assert third.result(WAIT) == b"ZZZZ"
            assert [call.result(WAIT) for call in calls] == [b"AAAA", b"AAAA"]
            assert all(type(call.result(WAIT)) is bytes for call in calls)
    finally:
        server.join(WAIT)
        lsock.close()
