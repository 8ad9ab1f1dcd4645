"""A lone request (a synchronous client's): the last PDU of a read that was its reactor
wake-up's only event, with no call waiting to run before it. It is entered in its
apartment as it is reserved and served as soon as the read is framed (`Reactor.lone`),
without the reactor's job queue; everything else stays as for any lean call.

The server and raw client are test_fast_path.py's."""

from __future__ import annotations

import contextvars
import threading
from typing import Any

import pytest
from orpc_helpers import WAIT
from stream_handwritten import ICalc
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
from waiting import until

from idlgen import runtime as rt
from idlgen.runtime.apartments.apartment import Apartment
from idlgen.runtime.rpc.dcerpc import fastpath
from idlgen.runtime.rpc.dcerpc import pdu as P
from idlgen.runtime.rpc.dcerpc.reactor import Reactor
from idlgen.runtime.rpc.dcerpc.status import RPC_S_SERVER_TOO_BUSY

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
    for call_id in (3, 4, 5):
        reply: list[bytes] = []
        frame = request(call_id, server.ipid, add_stub(call_id, 1))
        assert taken_by(lambda: reply.append(exchange(client, frame))) == 1  # noqa: B023
        pdu = P.decode(reply[0])
        assert isinstance(pdu, P.Response) and pdu.call_id == call_id
    assert queued == []
    assert [t.name for t in server.calc.threads] == ["rpc-reactor"] * 3
    assert server.reactor.lone is None and server.reactor.lone_ready is False


def test_a_lone_call_turns_its_apartments_lock_twice(
    server: Server, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reserved and entered in one turn, left in another (a batch's call takes three)."""
    turns: list[str] = []
    lock = server.mta._lock

    class Counting:
        def acquire(self, *args: Any) -> bool:
            turns.append(threading.current_thread().name)
            return lock.acquire(*args)

        def release(self) -> None:
            lock.release()

        def __enter__(self) -> bool:
            return self.acquire()

        def __exit__(self, *exc: object) -> None:
            lock.release()

    monkeypatch.setattr(server.mta, "_lock", Counting())
    reply = P.decode(exchange(client, request(3, server.ipid, add_stub(2, 3))))
    assert isinstance(reply, P.Response)
    assert turns == ["rpc-reactor"] * 2
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


def contextlib_null() -> Any:
    import contextlib

    return contextlib.nullcontext()
