"""Server call objects serving marshaled calls, time-outs, concurrency, the IID registry."""

from __future__ import annotations

import threading
from typing import Any, ClassVar

import pytest
from apartment_fixtures import WAIT
from helpers import connect, serve
from servers import Calc, Stream
from stream_handwritten import AsyncISimpleStream, ICalc, ISimpleStream

from idlgen import runtime as _rt
from idlgen.runtime.apartments.apartment import (
    Apartment,
    current_apartment,
    serve_reserved,
    this_thread,
)
from idlgen.runtime.apartments.marshal import unmarshal_interface
from idlgen.runtime.apartments.registry import interface_for, wire_table


class CountingCall(_rt.ServerCall, AsyncISimpleStream):
    """A server-supplied call object: proves marshaled calls go through Begin_/Finish_."""

    __slots__ = ()
    begun: ClassVar[list[str]] = []

    def _start_(self, ticket: int, method: Any, ins: tuple[Any, ...]) -> None:
        CountingCall.begun.append(method.name)
        super()._start_(ticket, method, ins)


class CountingStream(Stream):
    _call_objects_ = (CountingCall,)


def test_synchronous_calls_to_a_call_factory_server_use_its_call_objects(
    server_sta: Apartment,
) -> None:
    CountingCall.begun.clear()
    _, proxy = connect(server_sta, lambda: CountingStream(b"abc"), ISimpleStream)
    assert proxy.Read(2) == (b"ab", 2)
    assert proxy.Write(b"z", 1) == 1
    assert CountingCall.begun == ["Read", "Write"]


def test_call_timeout_raises_and_the_late_reply_is_dropped(server_sta: Apartment) -> None:
    release = threading.Event()

    class Slow(_rt.ComObject, ICalc):
        def Add(self, a: int, b: int) -> int:
            release.wait(WAIT)
            return a + b

    _, proxy = connect(server_sta, Slow, ICalc)
    client = Apartment.sta("impatient")
    try:
        client.call_timeout = 0.05

        def call() -> int:
            return proxy.Add(1, 2)  # type: ignore[no-any-return]

        with pytest.raises(_rt.RpcTimeoutError):
            client.run(call)
        release.set()
        client.call_timeout = WAIT
        assert client.run(call) == 3
    finally:
        client.shutdown()


def test_many_threads_call_one_mta_object() -> None:
    mta = Apartment.mta(4, "busy-mta")
    try:
        calc, objref = serve(mta, Calc, ICalc)
        proxy = unmarshal_interface(objref)
        errors: list[BaseException] = []

        def hammer(base: int) -> None:
            try:
                for i in range(200):
                    assert proxy.Add(base, i) == base + i
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=hammer, args=(n * 1000,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(WAIT)
        assert errors == []
        assert len(calc.threads) == 1600
    finally:
        mta.shutdown()


def test_many_outstanding_call_objects(server_sta: Apartment) -> None:
    _, proxy = connect(server_sta, Calc, ICalc)
    factory = proxy.QueryInterface(_rt.ICallFactory)
    from stream_handwritten import IID_AsyncICalc

    calls = [factory.CreateCall(IID_AsyncICalc, None, IID_AsyncICalc) for _ in range(64)]
    for i, call in enumerate(calls):
        call.Begin_Add(i, i)
    assert [call.Finish_Add() for call in calls] == [2 * i for i in range(64)]


def test_released_call_object_drops_its_reply(server_sta: Apartment) -> None:
    from servers import GatedStream
    from stream_handwritten import IID_AsyncISimpleStream

    obj, proxy = connect(server_sta, lambda: GatedStream(b"abc"), ISimpleStream)
    factory = proxy.QueryInterface(_rt.ICallFactory)
    call = factory.CreateCall(IID_AsyncISimpleStream, None, IID_AsyncISimpleStream)
    call.Begin_Read(3)
    assert obj.gate.started.wait(WAIT)
    call.Release()  # abandoned while pending
    obj.gate.open.set()
    assert obj.gate.checked.wait(WAIT)
    assert proxy.Read(0) == (b"", 0)  # the proxy still works afterwards


def test_registry_finds_interfaces_and_wire_tables() -> None:
    assert interface_for(ICalc._iid_) is ICalc
    assert interface_for(str(ISimpleStream._iid_)) is ISimpleStream
    assert interface_for("{0BADF00D-0000-0000-0000-000000000000}") is None
    table = wire_table(ICalc)
    assert len(table) == len(ICalc._vtable_) == 4
    assert table[:3] == (None, None, None)


def test_reservations_never_take_an_mta_past_saturation() -> None:
    """Calls a server's reactor thread books to serve itself (`reserve`) count as queued
    requests: past `max_queued` of them the apartment is `saturated`, and it refuses more,
    as it would queue no more requests (the server answers those RPC_S_SERVER_TOO_BUSY)."""
    apt = Apartment.mta(1, "reserving", max_workers=1)
    try:
        apt.max_queued = 3
        granted = 0
        while granted < 10 and apt.reserve():
            granted += 1
        assert apt.saturated
        assert granted == 1 + apt.max_queued  # the idle thread's share, then the queue's
        apt.unreserve()
        assert not apt.saturated and apt.reserve()
        for _ in range(granted):
            apt.unreserve()
    finally:
        apt.shutdown()


def test_reserved_calls_served_together_take_one_thread_and_leave() -> None:
    """`serve_reserved(apartment, n, fn)` serves n reserved calls on this thread: their
    reservations become one busy thread of the apartment while `fn` runs (inside it), and
    the thread leaves afterwards, also when `fn` fails."""
    apt = Apartment.mta(1, "batch")
    outside = current_apartment()
    seen: list[tuple[Apartment, int, int]] = []

    def record() -> None:
        seen.append((current_apartment(), apt._busy, apt._reserved))

    try:
        assert apt.reserve() and apt.reserve() and apt.reserve()
        serve_reserved(apt, 2, record)
        assert seen == [(apt, 1, 1)]
        assert current_apartment() is outside and (apt._busy, apt._reserved) == (0, 1)
        with pytest.raises(ZeroDivisionError):
            serve_reserved(apt, 1, lambda: 1 // 0)
        assert current_apartment() is outside and (apt._busy, apt._reserved) == (0, 0)
        assert apt.reserve()
        assert serve_reserved(apt, 1, current_apartment) is apt
    finally:
        apt.shutdown()


def test_reserved_calls_give_back_the_apartment_the_thread_was_in() -> None:
    """`serve_reserved` sets the thread's apartment through the thread's own dict of the
    thread-local: a thread that had entered none (a fresh one) or had joined another MTA
    is back where it was afterwards, and code in that thread sees the change."""
    apt, other = Apartment.mta(1, "batch"), Apartment.mta(1, "joined")
    seen: list[tuple[Apartment | None, Apartment | None, Apartment | None]] = []

    def fresh_thread() -> None:
        assert apt.reserve()
        during = serve_reserved(apt, 1, lambda: this_thread.apartment)
        seen.append((during, this_thread.apartment, None))
        with other.join():
            assert apt.reserve()
            inside = serve_reserved(apt, 1, current_apartment)
            seen.append((inside, this_thread.apartment, current_apartment()))

    try:
        thread = threading.Thread(target=fresh_thread)
        thread.start()
        thread.join(WAIT)
        assert seen == [(apt, None, None), (apt, other, other)]
    finally:
        apt.shutdown()
        other.shutdown()


def test_a_call_reserved_as_entered_is_a_busy_thread_at_once_and_served_in_one_lock_turn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`reserve(1, entered=True)` books a call the calling thread serves next (a server's
    lone request): it counts as that thread busy in the apartment at once, not as a queued
    request, so `serve_reserved(apartment, 0, fn)` takes the apartment's lock only to leave;
    `unreserve(1, entered=True)` gives it back. Refused as `reserve()` is."""
    apt = Apartment.mta(1, "entered", max_workers=1)
    outside = current_apartment()
    seen: list[tuple[Apartment, int, int]] = []
    try:
        apt.max_queued = 0
        assert apt.reserve(1, entered=True) == 1
        assert (apt._busy, apt._reserved) == (1, 0)
        assert apt.reserve(1, entered=True) == 0 and apt.reserve() == 0  # its only thread
        turns = count_lock_turns(apt, monkeypatch)
        serve_reserved(apt, 0, lambda: seen.append((current_apartment(), apt._busy, 0)))
        assert seen == [(apt, 1, 0)] and turns == [1]  # leaving only
        assert current_apartment() is outside and (apt._busy, apt._reserved) == (0, 0)
        assert apt.reserve(1, entered=True) == 1
        apt.unreserve(1, entered=True)
        assert (apt._busy, apt._reserved) == (0, 0)
    finally:
        apt.shutdown()


def count_lock_turns(apt: Apartment, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the turns of `apt`'s lock from now on (in a list of one), for the test."""
    turns = [0]
    lock = apt._lock

    class Counting:
        def acquire(self, *args: Any) -> bool:
            turns[0] += 1
            return lock.acquire(*args)

        def release(self) -> None:
            lock.release()

        def __enter__(self) -> bool:
            return self.acquire()

        def __exit__(self, *exc: object) -> None:
            lock.release()

    monkeypatch.setattr(apt, "_lock", Counting())
    return turns
