"""Runs of like requests on the server's lean path (orpc/fastserve.py `take_run`): the
requests of one read that follow a request served on the reactor thread, with the same
header but for the call id, the same target, method and context, join its batch at once,
checked once for the run. Whatever breaks a run is offered on its own, and each answer is
what it would be without runs: a request to another object or method, a request already
canceled, ORPCTHIS extensions, a call id in use, a call being reassembled, the apartment's
saturation, a cancel of a call of the run, an access check, tracing."""

from __future__ import annotations

import contextlib
import dataclasses
import struct
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from orpc_helpers import WAIT
from stream_handwritten import ICalc
from test_fast_path import Calc, Client, Server, add_stub, general_only, request, taken_by
from waiting import until

from idlgen.runtime.apartments.apartment import Apartment
from idlgen.runtime.com.guid import GUID
from idlgen.runtime.rpc.dcerpc import pdu as P
from idlgen.runtime.rpc.dcerpc import trace
from idlgen.runtime.rpc.dcerpc.status import RPC_S_SERVER_TOO_BUSY
from idlgen.runtime.rpc.orpc.wire import ORPCTHIS

_OTHER_OPNUM = 4  # not a method of ICalc: the general path's fault


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    """The lean path's server, with the reactor's spare thread ready (a first call starts
    it): requests are served on the reactor thread, where runs are taken."""
    s = Server()
    try:
        client = Client(s.address)
        client.send(adds(1, ipid=s.ipid)[0])
        client.pdu()
        client.close()
        until(lambda: s.reactor._spares > 0, WAIT)
        yield s
    finally:
        s.close()


@pytest.fixture
def client(server: Server) -> Iterator[Client]:
    c = Client(server.address)
    try:
        yield c
    finally:
        c.close()


def adds(*call_ids: int, ipid: bytes) -> list[bytes]:
    return [request(i, ipid, add_stub(i, 1)) for i in call_ids]


def until_closed(client: Client) -> list[Any]:
    """Every PDU the server sends until it closes the connection."""
    pdus = []
    with contextlib.suppress(AssertionError, OSError):
        while True:
            pdus.append(client.pdu())
    return pdus


def both_paths(server: Server, burst: bytes, replies: int) -> tuple[list[bytes], list[bytes]]:
    """The replies to `burst`, sent in one write on a new connection, by call id: with
    the lean path (and its runs), then with the general path alone."""
    out = []
    for path in (contextlib.nullcontext, general_only):
        client = Client(server.address)
        try:
            with path():
                client.send(burst)
                out.append(sorted((client.raw() for _ in range(replies)), key=lambda f: f[12:16]))
        finally:
            client.close()
    return out[0], out[1]


def test_a_run_takes_the_like_requests_of_a_read_at_once(server: Server) -> None:
    """A burst of like requests in one read: all taken by the lean path, answered as the
    general path answers them."""
    burst = b"".join(adds(*range(10, 42), ipid=server.ipid))
    fast, general = both_paths(server, burst, 32)
    assert fast == general
    assert all(isinstance(P.decode(f), P.Response) for f in fast)


def _other_ipid(server: Server, call_id: int) -> bytes:
    return request(call_id, server.sta_ipid, add_stub(call_id, 1))


def _other_opnum(server: Server, call_id: int) -> bytes:
    return request(call_id, server.ipid, add_stub(call_id, 1), opnum=_OTHER_OPNUM)


def _canceled_already(server: Server, call_id: int) -> bytes:
    flags = P.PFC_FIRST_FRAG | P.PFC_LAST_FRAG | P.PFC_PENDING_CANCEL
    return request(call_id, server.ipid, add_stub(call_id, 1), flags=flags)


def _with_extensions(server: Server, call_id: int) -> bytes:
    """ORPCTHIS says extensions follow (a non-NULL pointer), and none do: the general
    path's fault; as long as the usual request."""
    stub = bytearray(add_stub(call_id, 1))
    struct.pack_into("<I", stub, ORPCTHIS.size - 4, 0x20000)
    return request(call_id, server.ipid, bytes(stub))


@pytest.mark.parametrize(
    "odd",
    [_other_ipid, _other_opnum, _canceled_already, _with_extensions],
    ids=["other-ipid", "other-opnum", "canceled-already", "orpcthis-extensions"],
)
def test_a_request_unlike_the_run_breaks_it_and_gets_its_own_answer(
    server: Server, odd: Any
) -> None:
    """Between like requests, one of the same length that differs where the lean path
    reads (the object, the method, the flags, ORPCTHIS): it is answered as without runs,
    byte for byte, and the run goes on after it."""
    server.sta_calc.threads.clear()
    burst = b"".join(
        [*adds(10, 11, 12, ipid=server.ipid), odd(server, 13), *adds(14, 15, ipid=server.ipid)]
    )
    assert len(odd(server, 13)) == len(adds(13, ipid=server.ipid)[0])  # one length
    fast, general = both_paths(server, burst, 6)
    assert fast == general
    if odd is _other_ipid:  # served in its own apartment, once per path
        assert len(server.sta_calc.threads) == 2
        assert all(t is server.sta_calc.threads[0] for t in server.sta_calc.threads)


_KINDS = [None, None, None, _other_ipid, _other_opnum, _canceled_already, _with_extensions]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.sampled_from(range(len(_KINDS))), min_size=1, max_size=40))
def test_any_mix_of_requests_in_one_read_gets_the_answers_it_gets_without_runs(
    server: Server, kinds: list[int]
) -> None:
    """Like requests (`None`) and requests that break a run, in any order, in one read:
    byte for byte the general path's answers."""
    burst = b"".join(
        adds(i, ipid=server.ipid)[0] if _KINDS[k] is None else _KINDS[k](server, i)
        for i, k in enumerate(kinds, 10)
    )
    fast, general = both_paths(server, burst, len(kinds))
    assert fast == general


def test_a_call_id_in_use_in_a_run_is_the_general_paths_to_answer(
    server: Server, client: Client
) -> None:
    """A call id twice in one run: the second is not registered over the first, the
    general path rejects it (call id in use) and closes the connection."""
    client.send(b"".join(adds(10, 11, 11, 12, ipid=server.ipid)))
    pdus = until_closed(client)
    faults = [p for p in pdus if isinstance(p, P.Fault)]
    assert [f.call_id for f in faults] == [11]
    assert faults[0].flags & P.PFC_DID_NOT_EXECUTE
    assert [p.call_id for p in pdus if isinstance(p, P.Response)].count(11) <= 1


def test_a_call_being_reassembled_keeps_its_call_id_from_a_run(
    server: Server, client: Client
) -> None:
    """While a call's fragments are coming, a whole request with its call id in a run
    of like requests is left to the general path (no run then: `run_room`), which does
    not take it as a new call."""
    stub = add_stub(99, 1)
    first = P.Request(99, 0, 3, stub[:8], GUID.from_bytes_le(server.ipid), len(stub))
    client.send(P.encode(dataclasses.replace(first, flags=P.PFC_FIRST_FRAG)))
    client.send(b"".join([*adds(10, 11, ipid=server.ipid), *adds(99, 12, ipid=server.ipid)]))
    pdus = until_closed(client)
    assert not any(isinstance(p, P.Response) and p.call_id == 99 for p in pdus)


def test_a_run_stops_where_the_apartment_saturates_as_one_request_at_a_time(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An MTA at its thread limit takes as many reserved calls as `max_queued` allows:
    a run reserves as many as one request at a time would, and the rest are answered
    "server too busy", not executed, as they were before runs."""
    mta = server.mta
    monkeypatch.setattr(mta, "max_workers", len(mta._threads))
    monkeypatch.setattr(mta, "max_queued", 3)
    room = len(mta._threads) + 3  # the threads are idle: each may be reserved, and 3 more
    count = room + 3
    client = Client(server.address)
    try:
        client.send(b"".join(adds(*range(10, 10 + count), ipid=server.ipid)))
        pdus = sorted((client.pdu() for _ in range(count)), key=lambda p: p.call_id)
    finally:
        client.close()
    kinds = [type(p) for p in pdus]
    assert kinds == [P.Response] * room + [P.Fault] * 3
    busy = pdus[room:]
    assert all(p.status == RPC_S_SERVER_TOO_BUSY and p.flags & P.PFC_DID_NOT_EXECUTE for p in busy)
    assert mta._reserved == 0


def test_a_cancel_reaches_a_call_of_a_run(server: Server, client: Client) -> None:
    """A run's calls are in the connection's call table: a co_cancel in the same read
    finds its call before it starts, which answers canceled without running."""
    server.calc.threads.clear()
    client.send(b"".join([*adds(10, 11, 12, 13, ipid=server.ipid), P.encode(P.CoCancel(12))]))
    pdus = {p.call_id: p for p in (client.pdu() for _ in range(4))}
    assert isinstance(pdus[12], P.Fault) and pdus[12].status == P.NCA_S_FAULT_CANCEL
    assert all(isinstance(pdus[i], P.Response) for i in (10, 11, 13))
    assert len(server.calc.threads) == 3


class Checked(Calc):
    """A Calc that counts its access checks."""

    checks = 0

    def _access_check_(self, caller: Any, iid: Any) -> bool:
        type(self).checks += 1
        return True


def test_an_access_check_is_asked_for_every_request_of_a_burst(server: Server) -> None:
    """An object with its own access check: the check may not answer the same for every
    request, so each is offered on its own and checked, as without runs."""
    obj = Checked()
    ipid = Server._export(server.mta, obj, ICalc)
    client = Client(server.address)
    try:
        Checked.checks = 0
        burst = b"".join(adds(*range(10, 16), ipid=ipid))
        took = taken_by(lambda: [client.send(burst), *(client.pdu() for _ in range(6))])
    finally:
        client.close()
    assert took == 6 and Checked.checks == 6


def test_every_request_of_a_burst_is_traced(
    server: Server, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With tracing on, each request is traced as it is framed: no runs."""
    seen: list[bytes] = []
    monkeypatch.setattr(trace, "on", True)
    monkeypatch.setattr(trace, "received", lambda sock, data: seen.append(bytes(data)))
    monkeypatch.setattr(trace, "sent", lambda sock, data: None)
    burst = adds(*range(10, 16), ipid=server.ipid)
    took = taken_by(lambda: [client.send(b"".join(burst)), *(client.pdu() for _ in range(6))])
    assert took == 6 and seen == burst


def test_a_run_is_reserved_in_its_apartment_as_one_request_at_a_time() -> None:
    """`reserve(n)` books what n `reserve()` would at that moment: all of them below
    the thread limit, as many as `max_queued` allows at it, none if no thread is free."""
    apt = Apartment.mta(2, "run-reserve", max_workers=2)
    try:
        apt.max_queued = 3
        assert apt.reserve(4) == 4
        assert apt.reserve(4) == 1 and apt.saturated
        assert apt.reserve() == 0
        apt.unreserve(5)
        apt.max_workers = 3
        assert apt.reserve(9) == 9
        apt.unreserve(9)
        assert apt._reserved == 0
    finally:
        apt.shutdown()


def test_one_request_per_connection_between_two_runs_is_not_lost(server: Server) -> None:
    """Runs on two connections in one wake-up each join their own batch."""
    a, b = Client(server.address), Client(server.address)
    try:
        a.send(b"".join(adds(*range(10, 20), ipid=server.ipid)))
        b.send(b"".join(adds(*range(30, 40), ipid=server.ipid)))
        assert sorted(a.pdu().call_id for _ in range(10)) == list(range(10, 20))
        assert sorted(b.pdu().call_id for _ in range(10)) == list(range(30, 40))
    finally:
        a.close()
        b.close()
