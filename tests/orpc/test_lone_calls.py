"""A lone request (a synchronous client's): the last PDU of a read that was its reactor
wake-up's only event, with no call waiting to run before it. It is entered in its
apartment as it is reserved and served as soon as the read is framed (`Reactor.lone`),
without the reactor's job queue; everything else stays as for any lean call. And the
buffer such a read goes to: the reactor reads into one buffer of its own (`Reactor.
_rbuf`), which the next read overwrites, so what framing keeps past a read is copied out
of it, and a value a method gets from a request is `bytes` on either path.

The server and raw client are test_fast_path.py's."""

from __future__ import annotations

import contextvars
import threading
import time
from typing import Any

import pytest
from orpc_helpers import WAIT
from stream_handwritten import ICalc, ISimpleStream
from test_fast_path import (
    BLOCK,
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
from test_more import count_lock_turns
from waiting import until

from idlgen import runtime as rt
from idlgen.runtime.apartments.apartment import Apartment
from idlgen.runtime.rpc.dcerpc import fastpath
from idlgen.runtime.rpc.dcerpc import pdu as P
from idlgen.runtime.rpc.dcerpc.reactor import Reactor
from idlgen.runtime.rpc.dcerpc.status import RPC_S_SERVER_TOO_BUSY
from idlgen.runtime.rpc.orpc.wire import orpcthis

__all__ = ["client", "server"]  # fixtures, imported for pytest

_SEEN: contextvars.ContextVar[int] = contextvars.ContextVar("_SEEN", default=0)


class Setter(rt.ComObject, ICalc):  # type: ignore[misc]
    """`Add(a, b)` returns what `_SEEN` held, then sets it to `a`."""

    def Add(self, a: int, b: int) -> int:
        seen = _SEEN.get()
        _SEEN.set(a)
        return seen


def test_a_lone_request_is_served_as_its_read_ends_without_the_job_queue(
    server: Server, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    queued: list[object] = []
    run_inline = Reactor.run_inline
    monkeypatch.setattr(
        Reactor, "run_inline", lambda r, t, call: queued.append(call) or run_inline(r, t, call)
    )
    server.calc.threads.clear()
    frames = [request(n, server.ipid, add_stub(n, 1)) for n in (3, 4, 5)]
    replies = [P.decode(exchange(client, frame)) for frame in frames]
    assert [(type(r), r.call_id) for r in replies] == [(P.Response, n) for n in (3, 4, 5)]
    assert queued == []
    assert [t.name for t in server.calc.threads] == ["rpc-reactor"] * 3
    assert server.reactor.lone is None and server.reactor.lone_ready is False


def test_a_lone_call_turns_its_apartments_lock_twice(
    server: Server, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reserved and entered in one turn, left in another (a batch's call takes three)."""
    turns = count_lock_turns(server.mta, monkeypatch)
    reply = P.decode(exchange(client, request(3, server.ipid, add_stub(2, 3))))
    assert isinstance(reply, P.Response)
    assert turns == [2]
    assert (server.mta._busy, server.mta._reserved) == (0, 0)


def test_a_lone_call_refused_by_the_call_table_gives_its_apartment_back(
    server: Server, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Entered as it was reserved, then refused by the connection's call table (`join`:
    at the outstanding limit): the apartment counts it no more, and the general path
    serves it."""
    monkeypatch.setattr(fastpath, "join", lambda conn, state, first: False)
    replies = []
    for path in (lambda: contextlib_null(), general_only):
        with path():
            replies.append(exchange(client, request(7, server.ipid, add_stub(1, 2))))
        assert (server.mta._busy, server.mta._reserved) == (0, 0)
    assert replies[0] == replies[1]
    assert isinstance(P.decode(replies[0]), P.Response)


def test_a_lone_call_to_a_saturated_apartment_is_too_busy_as_on_the_general_path(
    server: Server, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    mta = server.mta
    monkeypatch.setattr(mta, "reserve", lambda calls=1, entered=False: 0)
    saturated = Apartment.saturated
    monkeypatch.setattr(
        Apartment,
        "saturated",
        property(lambda a: a is mta or saturated.fget(a)),  # type: ignore[attr-defined]
    )
    server.calc.threads.clear()
    replies = []
    for path in (lambda: contextlib_null(), general_only):
        with path():
            replies.append(exchange(client, request(8, server.ipid, add_stub(1, 2))))
    assert replies[0] == replies[1]
    fault = P.decode(replies[0])
    assert isinstance(fault, P.Fault) and fault.status == RPC_S_SERVER_TOO_BUSY
    assert server.calc.threads == []


def test_the_last_request_of_a_read_joins_the_batch_of_those_before_it(
    server: Server, client: Client
) -> None:
    """Not lone when a call of the same read waits to run: it joins that call's batch and
    runs after it, and the replies come in the requests' order. (Another object of the
    same apartment: not like the first request, so offered on its own, not in its run.)"""
    other = Server._export(server.mta, Setter(), ICalc)
    both = request(3, server.ipid, add_stub(1, 1)) + request(4, other, add_stub(2, 2))
    for _ in range(5):
        assert taken_by(lambda: exchange(client, both)) == 2
        second = P.decode(client.raw())
        assert isinstance(second, P.Response) and second.call_id == 4


def test_a_lone_call_taken_over_leaves_the_loop_to_the_thread_that_took_it(
    server: Server, client: Client
) -> None:
    """A slow lone call is taken over (the reading goes on without it); when it ends, its
    thread does nothing more of the loop's work: the thread that took over does it."""
    reactor, calc = server.reactor, server.calc
    calc.release.clear()
    calc.threads.clear()
    takeovers = reactor.takeovers
    client.send(request(3, server.ipid, add_stub(BLOCK, 0)))
    until(lambda: len(calc.threads) == 1, WAIT)
    until(lambda: reactor.takeovers == takeovers + 1, WAIT, "the takeover")
    old = calc.threads[0]
    ran: list[threading.Thread] = []
    with reactor._lock:  # no wake-up: the next loop round runs it
        reactor._soon.append(lambda: ran.append(threading.current_thread()))
    calc.release.set()
    reply = P.decode(client.raw())
    assert isinstance(reply, P.Response) and reply.call_id == 3
    reactor.call_soon(lambda: None)  # wakes the leader
    until(lambda: bool(ran), WAIT, "the queued job")
    assert ran[0] is not old
    # The calls after it are still served, on the reactor thread.
    calc.threads.clear()
    again = P.decode(exchange(client, request(4, server.ipid, add_stub(2, 3))))
    assert isinstance(again, P.Response)


def test_a_context_variable_a_lone_call_sets_is_not_seen_by_the_next(server: Server) -> None:
    setter = Setter()
    ipid = Server._export(server.mta, setter, ICalc)
    c = Client(server.address)
    try:
        exchange(c, request(2, ipid, add_stub(0, 0)))
        until(lambda: server.reactor._spares == 1, WAIT)
        for call_id, a in ((3, 11), (4, 12), (5, 13)):
            reply = P.decode(exchange(c, request(call_id, ipid, add_stub(a, 0))))
            assert isinstance(reply, P.Response)
            assert ICalc._wire_[0].decode_response(reply.stub[8:], scope={}).outs["sum"] == 0
    finally:
        c.close()


# -- the read buffer --------------------------------------------------------------------


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
    for path, call_id in ((lambda: contextlib_null(), 3), (general_only, 4)):
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


def contextlib_null() -> Any:
    import contextlib

    return contextlib.nullcontext()
