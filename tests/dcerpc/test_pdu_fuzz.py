"""Fuzzing the PDU reader with mutated captures: no exception escapes `decode`, and a live
server answers or closes every mutated stream and keeps serving a well-behaved client.

Seeded and bounded: the same cases every run, a few seconds in all.
"""

from __future__ import annotations

import random
import socket
from collections.abc import Iterator

import pytest
from rpc_calc import calc_Client
from rpc_calc_server import Calc
from rpc_helpers import CALC, WAIT

from idlgen.runtime.com.guid import GUID
from idlgen.runtime.rpc.dcerpc import Limits, RpcServer
from idlgen.runtime.rpc.dcerpc import fragments as F
from idlgen.runtime.rpc.dcerpc import pdu as P


def capture() -> list[bytes]:
    """The PDUs of a typical session, client and server side."""
    ctx = (P.ContextElem(0, CALC, (P.NDR20,)),)
    frames = [
        P.encode(P.Bind(1, 5840, 5840, 0, ctx, flags=0x13)),
        P.encode(P.BindAck(1, 5840, 5840, 0x1001, "4000", (P.ContextResult(0, 0, P.NDR20),))),
        P.encode(P.Bind(2, 5840, 5840, 0x1001, ctx, alter=True)),
        P.encode(P.BindNak(3, 4)),
        P.encode(P.Request(4, 0, 0, b"\x02\x00\x00\x00\x28\x00\x00\x00", None, 8)),
        P.encode(P.Request(5, 0, 1, b"abc", GUID(7), 3)),
        P.encode(P.Response(4, 0, b"\x2a\x00\x00\x00", 4)),
        P.encode(P.Fault(6, P.NCA_S_FAULT_CANCEL)),
        P.encode(P.CoCancel(5)),
        P.encode(P.Orphaned(5)),
        P.encode(P.Shutdown()),
    ]
    frames += F.request_fragments(9, 0, 1, bytes(3000), P.MIN_FRAG)
    return frames


def mutate(rng: random.Random, data: bytes, pool: list[bytes]) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(6)
        if op == 0 and b:  # flip bits
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
        elif op == 1 and b:  # random byte
            b[rng.randrange(len(b))] = rng.randrange(256)
        elif op == 2:  # truncate
            del b[rng.randrange(len(b) + 1) :]
        elif op == 3:  # insert
            i = rng.randrange(len(b) + 1)
            b[i:i] = rng.randbytes(rng.randint(1, 16))
        elif op == 4 and len(b) >= 12:  # header length fields
            i = rng.choice((8, 9, 10, 11))
            b[i] = rng.randrange(256)
        else:  # splice another PDU's tail
            other = rng.choice(pool)
            cut = rng.randrange(len(other) + 1)
            b[rng.randrange(len(b) + 1) :] = other[cut:]
    return bytes(b)


def test_decode_never_raises_on_mutated_captures() -> None:
    rng = random.Random(20261121)
    pool = capture()
    kinds: set[str] = set()
    for _ in range(6000):
        data = mutate(rng, rng.choice(pool), pool)
        got = P.decode(data)
        assert isinstance(
            got,
            P.ProtocolError
            | P.Bind
            | P.BindAck
            | P.BindNak
            | P.Request
            | P.Response
            | P.Fault
            | P.CoCancel
            | P.Orphaned
            | P.Shutdown,
        )
        kinds.add(type(got).__name__)
        if not isinstance(got, P.ProtocolError):
            assert P.decode(P.encode(got)) == got or isinstance(got, P.BindNak)
    assert "ProtocolError" in kinds and len(kinds) > 4  # the fuzzer reaches both outcomes


@pytest.fixture
def server() -> Iterator[tuple[RpcServer, int]]:
    srv = RpcServer(limits=Limits(recv_timeout=2.0, max_request=64 * 1024), workers=4)
    srv.register(Calc())
    binding = srv.listen("ncacn_ip_tcp:127.0.0.1[0]")
    try:
        yield srv, binding.port
    finally:
        srv.close()


def test_server_survives_mutated_sessions(server: tuple[RpcServer, int]) -> None:
    srv, port = server
    rng = random.Random(7)
    pool = capture()
    bind = pool[0]
    for _ in range(120):
        stream = bind if rng.random() < 0.7 else mutate(rng, bind, pool)
        for _ in range(rng.randint(1, 4)):
            stream += mutate(rng, rng.choice(pool[4:]), pool)
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as sock:
            sock.settimeout(WAIT)
            try:  # the server may refuse and close before we finish sending: that is fine
                sock.sendall(stream)
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            try:
                while sock.recv(65536):  # the server answers, then closes: never hangs
                    pass
            except ConnectionResetError:
                pass
    assert srv.wait_connections(0, WAIT)
    with calc_Client(f"ncacn_ip_tcp:127.0.0.1[{port}]") as c:
        assert c.Add(20, 22) == 42
