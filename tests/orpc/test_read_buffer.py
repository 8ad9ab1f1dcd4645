"""The reactor reads into one buffer of its own (`Reactor._rbuf`), which the next read
overwrites: what framing keeps past a read is copied out of it, and a value a method
gets from a request is `bytes`, on the lean path and on the general path.

The server and raw client are test_fast_path.py's."""

from __future__ import annotations

import time
from typing import Any

import orpc_helpers  # noqa: F401  (puts tests/apartments on the path)
import pytest
from stream_handwritten import ICalc, ISimpleStream
from test_fast_path import (
    Client,
    Server,
    add_stub,
    client,
    exchange,
    general_only,
    request,
    server,
    taken_by,
)

from idlgen import runtime as rt
from idlgen.runtime.rpc.dcerpc import pdu as P
from idlgen.runtime.rpc.dcerpc.server import _Connection
from idlgen.runtime.rpc.orpc.wire import orpcthis

__all__ = ["client", "server"]  # fixtures, imported for pytest

WRITE = ISimpleStream._wire_[1]


class Keeper(rt.ComObject, ISimpleStream):  # type: ignore[misc]
    """Keeps what `Write` was given."""

    def __init__(self) -> None:
        super().__init__()
        self.kept: list[Any] = []

    def Read(self, cb: int) -> ISimpleStream.ReadResult:
        return ISimpleStream.ReadResult(b"", 0)

    def Write(self, pv: bytes, cb: int) -> int:
        self.kept.append(pv)
        return cb


def _write(call_id: int, ipid: bytes, data: bytes) -> bytes:
    stub = orpcthis(bytes(16)) + WRITE.encode_request({"pv": data, "cb": len(data)})
    return request(call_id, ipid, stub, opnum=4, cont_id=1)


def test_a_buffer_a_method_gets_is_bytes_and_outlives_the_next_reads(
    server: Server, client: Client
) -> None:
    keeper = Keeper()
    ipid = Server._export(server.mta, keeper, ISimpleStream)
    first = bytes(range(256)) * 16
    for path, call_id in ((lambda: _null(), 3), (general_only, 4)):
        keeper.kept.clear()
        with path():
            took = taken_by(lambda: exchange(client, _write(call_id, ipid, first)))  # noqa: B023
            assert took == (1 if call_id == 3 else 0)
            # Later reads overwrite the read buffer: what the method kept stays as it was.
            for n in range(5, 9):
                exchange(client, _write(n, ipid, bytes([n]) * len(first)))
        assert type(keeper.kept[0]) is bytes and keeper.kept[0] == first


def test_a_read_that_ends_inside_a_pdu_keeps_only_what_it_read_of_it(
    server: Server, client: Client
) -> None:
    """One read brings a whole request and the start of the next (after a larger read
    filled more of the read buffer): only the bytes this read brought wait for the rest."""
    exchange(client, request(3, server.ipid, add_stub(1, 1) + bytes(0)))  # warm
    big = Keeper()
    big_ipid = Server._export(server.mta, big, ISimpleStream)
    exchange(client, _write(4, big_ipid, b"\xff" * 5000))
    one, two = request(5, server.ipid, add_stub(2, 3)), request(6, server.ipid, add_stub(4, 5))
    client.send(one + two[:20])
    first = P.decode(client.raw())
    time.sleep(0.05)  # the rest in a read of its own
    client.send(two[20:])
    second = P.decode(client.raw())
    assert isinstance(first, P.Response) and first.call_id == 5
    assert isinstance(second, P.Response) and second.call_id == 6
    assert ICalc._wire_[0].decode_response(second.stub[8:], scope={}).outs["sum"] == 9


def _null() -> Any:
    import contextlib

    return contextlib.nullcontext()


def test_a_decoded_pdu_holds_bytes_not_the_read_buffer(
    server: Server, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A PDU the general path decodes is decoded from `bytes` (its fields are `bytes`, as
    `pdu.py` types them), never from a slice of the read buffer, a bytearray."""
    seen: list[type] = []
    handle = _Connection.handle

    def recording(conn: _Connection, pdu: Any) -> bool:
        if isinstance(pdu, P.Request):
            seen.append(type(pdu.stub))
        return handle(conn, pdu)

    monkeypatch.setattr(_Connection, "handle", recording)
    with general_only():
        reply = P.decode(exchange(client, request(3, server.ipid, add_stub(1, 2))))
    assert isinstance(reply, P.Response)
    assert seen == [bytes]
