"""Semisynchronous calls: enumerators (Next, NextAsync, Reset/Clone, release) and call results."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from wmi_fixtures import WAIT, Recorder, World, lite

from idlgen import runtime as _rt
from idlgen.runtime import wmi

QUERY = "SELECT * FROM Planet"
ROWS = 8
IMMEDIATE = wmi.WBEM_FLAG_RETURN_IMMEDIATELY | wmi.WBEM_FLAG_FORWARD_ONLY
INFINITE = wmi.as_long(wmi.WBEM_INFINITE)  # lTimeout is a signed long on the wire


def next_batch(enum: Any, timeout: int, count: int) -> tuple[list[str], int, int]:
    objects, returned = enum.Next(timeout, count)
    hr = _rt.last_hresult()
    return [o.Get("Name") for o in objects], returned, hr


def test_next_returns_no_error_only_when_count_objects_came_and_s_false_at_the_end(
    world: World,
) -> None:
    def client() -> list[tuple[list[str], int, int]]:
        enum = world.services.ExecQuery("WQL", QUERY, IMMEDIATE)
        return [next_batch(enum, INFINITE, 5) for _ in range(3)]

    first, second, third = world.call(client)
    assert first[1:] == (5, wmi.WBEM_S_NO_ERROR)
    assert second[1:] == (3, wmi.WBEM_S_FALSE)  # the remainder comes with S_FALSE
    assert second[0] == ["Saturn", "Uranus", "Neptune"]
    assert third[1:] == (0, wmi.WBEM_S_FALSE)


def test_next_times_out_with_what_came(gated: World, gates: list[threading.Event]) -> None:
    gates[0].set()

    def client() -> list[tuple[list[str], int, int]]:
        enum = gated.services.ExecQuery("WQL", QUERY, wmi.WBEM_FLAG_RETURN_IMMEDIATELY)
        got = [next_batch(enum, INFINITE, 1)]  # Mercury is in the buffer now
        enum.Reset()
        got.append(next_batch(enum, 20, 3))  # Venus never comes: time out with Mercury
        got.append(next_batch(enum, wmi.WBEM_NO_WAIT, 1))  # nothing, and no wait
        return got

    full, partial, none = gated.call(client)
    assert full == (["Mercury"], 1, wmi.WBEM_S_NO_ERROR)
    assert partial == (["Mercury"], 1, wmi.WBEM_S_TIMEDOUT)
    assert none == ([], 0, wmi.WBEM_S_TIMEDOUT)


def test_next_with_no_wait_on_a_finished_enumeration(world: World) -> None:
    def client() -> list[tuple[list[str], int, int]]:
        enum = world.services.ExecQuery("WQL", QUERY, wmi.WBEM_FLAG_FORWARD_ONLY)  # synchronous
        return [next_batch(enum, wmi.WBEM_NO_WAIT, 6), next_batch(enum, wmi.WBEM_NO_WAIT, 6)]

    first, second = world.call(client)
    assert first[1:] == (6, wmi.WBEM_S_NO_ERROR)
    assert second[1:] == (2, wmi.WBEM_S_FALSE)


def test_next_after_a_failed_operation_gives_full_batches_then_the_failure() -> None:
    def rows() -> Any:
        yield from ("a", "b", "c")
        raise _rt.COMError(wmi.WBEM_E_FAILED)

    enum = wmi.start_semisync(wmi.enumerator_class(lite.IEnumLiteObject), lambda: rows())
    objects, returned = enum.Next(wmi.WBEM_INFINITE, 2)
    assert (objects, returned, _rt.last_hresult()) == (["a", "b"], 2, wmi.WBEM_S_NO_ERROR)
    with pytest.raises(_rt.COMError) as caught:
        enum.Next(wmi.WBEM_INFINITE, 2)
    assert caught.value.hresult == wmi.WBEM_E_FAILED


def test_reset_and_clone_on_a_forward_only_enumerator_fail(world: World) -> None:
    def client() -> list[int]:
        enum = world.services.ExecQuery("WQL", QUERY, IMMEDIATE)
        codes = []
        for call in (enum.Reset, enum.Clone):
            try:
                call()
            except _rt.COMError as exc:
                codes.append(exc.hresult)
        return codes

    assert world.call(client) == [wmi.WBEM_E_INVALID_OPERATION] * 2


def test_reset_rewinds_and_clone_copies_the_position_when_not_forward_only(world: World) -> None:
    def client() -> tuple[list[str], list[str], list[str]]:
        enum = world.services.ExecQuery("WQL", QUERY, wmi.WBEM_FLAG_RETURN_IMMEDIATELY)
        next_batch(enum, INFINITE, 2)
        twin = enum.Clone()
        from_twin = next_batch(twin, INFINITE, 1)[0]
        enum.Reset()
        again = next_batch(enum, INFINITE, 1)[0]
        return from_twin, again, next_batch(twin, INFINITE, 1)[0]

    from_twin, again, twin_next = world.call(client)
    assert from_twin == ["Earth"] and twin_next == ["Mars"]
    assert again == ["Mercury"]


def test_skip_moves_the_position(world: World) -> None:
    def client() -> tuple[int, list[str]]:
        enum = world.services.ExecQuery("WQL", QUERY, IMMEDIATE)
        hr = enum.Skip(INFINITE, 6)
        return hr, next_batch(enum, INFINITE, 5)[0]

    hr, rest = world.call(client)
    assert hr == wmi.WBEM_S_NO_ERROR and rest == ["Uranus", "Neptune"]


def test_next_async_delivers_a_batch_then_one_final_status(world: World) -> None:
    def client() -> tuple[Recorder, Recorder, int, Recorder]:
        enum = world.services.ExecQuery("WQL", QUERY, IMMEDIATE)
        full, rest, unused = Recorder(), Recorder(), Recorder()
        enum.NextAsync(5, full)
        enum.NextAsync(5, rest)
        assert full.wait(WAIT) and rest.wait(WAIT)
        hr = enum.NextAsync(5, unused)  # nothing left: S_FALSE, the sink is not used
        return full, rest, hr, unused

    full, rest, hr, unused = world.call(client)
    assert full.log == [("Indicate", 5), ("final", wmi.WBEM_S_NO_ERROR)]
    assert rest.log == [("Indicate", 3), ("final", wmi.WBEM_S_FALSE)]
    assert hr == wmi.WBEM_S_FALSE and unused.log == []


def test_releasing_the_enumerator_mid_stream_stops_delivery(
    gated: World, gates: list[threading.Event]
) -> None:
    gates[0].set()

    def client() -> list[str]:
        enum = gated.services.ExecQuery("WQL", QUERY, IMMEDIATE)
        names = next_batch(enum, INFINITE, 1)[0]
        enum.Release()
        return names

    assert gated.call(client) == ["Mercury"]
    gated.settle()  # the one-way release has reached the server
    for gate in gates:
        gate.set()
    gated.wait_jobs()  # the worker stopped: its next delivery was refused
    assert gated.server.produced == 2  # row 2 was refused, nothing after it was made


def test_releasing_the_enumerator_closes_the_producer() -> None:
    produced: list[int] = []
    closed = threading.Event()
    gate = threading.Event()

    def rows() -> Any:
        try:
            for i in range(100):
                if i == 1:
                    assert gate.wait(WAIT)
                produced.append(i)
                yield i
        finally:
            closed.set()

    enum = wmi.start_semisync(wmi.enumerator_class(lite.IEnumLiteObject), lambda: rows())
    assert enum.Next(wmi.WBEM_INFINITE, 1).apObjects == [0]
    enum.Release()
    gate.set()
    assert closed.wait(WAIT)
    assert produced == [0, 1]  # row 1 was refused; nothing after it was produced


def test_releasing_the_enumerator_cancels_pending_next_async(
    gated: World, gates: list[threading.Event]
) -> None:

    def client() -> Recorder:
        enum = gated.services.ExecQuery("WQL", QUERY, IMMEDIATE)
        sink = Recorder()
        enum.NextAsync(3, sink)
        enum.Release()
        return sink

    sink = gated.call(client)
    gated.settle()
    assert gated.call(sink.wait, WAIT)
    assert sink.log == [("final", wmi.WBEM_E_CALL_CANCELLED)]


def test_for_loop_over_an_enumerator(world: World) -> None:
    def client() -> list[str]:
        enum = world.services.ExecQuery(
            "WQL", "SELECT * FROM Planet WHERE Kind = 'rocky'", IMMEDIATE
        )
        return [o.Get("Name") for o in wmi.iterate(enum, batch=3)]

    assert world.call(client) == ["Mercury", "Venus", "Earth", "Mars"]
    local = world.server.ExecQuery("WQL", QUERY, IMMEDIATE)
    assert len([o for o in local]) == ROWS  # the object itself iterates too


def test_async_for_over_an_enumerator() -> None:
    import wmi_server as ws

    server = ws.LiteServices()

    async def collect() -> list[str]:
        enum = server.ExecQuery("WQL", QUERY, IMMEDIATE)
        return [o.Get("Name") async for o in wmi.aiterate(enum, batch=3)]

    names = asyncio.run(collect())
    assert names == [row["Name"] for row in ws.PLANETS]


def test_call_result_get_call_status_and_get_result_object(world: World) -> None:
    def client() -> tuple[int, str, int]:
        _, found = world.services.GetObject("Planet.Name='Mars'", wmi.WBEM_FLAG_RETURN_IMMEDIATELY)
        status = found.GetCallStatus(INFINITE)
        moons = found.GetResultObject(INFINITE).Get("Moons")
        _, missing = world.services.GetObject(
            "Planet.Name='Pluto'", wmi.WBEM_FLAG_RETURN_IMMEDIATELY
        )
        missing_status = missing.GetCallStatus(INFINITE)
        try:
            missing.GetResultObject(INFINITE)
        except _rt.COMError as exc:
            assert exc.hresult == wmi.WBEM_E_NOT_FOUND
        else:
            raise AssertionError("GetResultObject of a failed call must fail")
        return status, moons, missing_status

    status, moons, missing_status = world.call(client)
    assert status == wmi.WBEM_S_NO_ERROR and moons == "2"
    assert wmi.as_long(wmi.WBEM_E_NOT_FOUND) == missing_status


def test_call_result_times_out_before_the_call_completes() -> None:
    gate = threading.Event()
    result = wmi.start_call_result(
        wmi.call_result_class(lite.ILiteCallResult), lambda: gate.wait(WAIT) and "done"
    )
    assert result.GetCallStatus(wmi.WBEM_NO_WAIT) == 0
    assert _rt.last_hresult() == wmi.WBEM_S_TIMEDOUT
    assert result.GetResultObject(0) is None and _rt.last_hresult() == wmi.WBEM_S_TIMEDOUT
    gate.set()
    assert result.GetCallStatus(wmi.WBEM_INFINITE) == 0
    assert _rt.last_hresult() == wmi.WBEM_S_NO_ERROR
    assert result.GetResultObject(wmi.WBEM_INFINITE) == "done"
