"""The IWbemObjectSink contract, in one apartment and with the sink called back across one."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from wmi_fixtures import WAIT, Recorder, World, lite

from idlgen import runtime as _rt
from idlgen.runtime import wmi

QUERY = "SELECT * FROM Planet"
ROWS = 8
EARTH = "SELECT * FROM Planet WHERE Name = 'Earth'"


def start(world: World, flags: int = 0, query: str = QUERY, **kw: Any) -> Recorder:
    def client() -> Recorder:
        sink = Recorder(**kw)
        world.services.ExecQueryAsync("WQL", query, flags, sink)
        return sink

    return world.call(client)


def finish(world: World, sink: Recorder) -> None:
    """Wait for the final status and for the sink's release to have arrived."""
    assert world.call(sink.wait, WAIT)
    world.wait_jobs()
    world.settle()


def test_exactly_one_final_setstatus_after_every_indicate(world: World) -> None:
    sink = start(world)
    finish(world, sink)
    assert sink.finals() == [_rt.S_OK]
    assert sink.log[-1] == ("final", _rt.S_OK)
    assert sink.indicated() == ROWS
    assert [o.Get("Name") for o in sink.objects][:2] == ["Mercury", "Venus"]


def test_sink_is_released_after_the_final_status(world: World) -> None:
    sink = start(world)
    finish(world, sink)
    assert_released(world, sink)
    assert world.server.calls.pending() == []


def test_progress_is_sent_only_with_wbem_flag_send_status(world: World) -> None:
    quiet = start(world)
    finish(world, quiet)
    assert [e for e in quiet.log if e[0] == "progress"] == []

    loud = start(world, wmi.WBEM_FLAG_SEND_STATUS)
    finish(world, loud)
    raw = [hr for kind, hr in loud.log if kind == "progress"]
    assert raw == [(ROWS << 16) | done for done in range(1, ROWS + 1)]  # LOWORD done, HIWORD total
    assert loud.progress == [(done, ROWS) for done in range(1, ROWS + 1)]
    assert loud.finals() == [_rt.S_OK]


def test_progress_callback_sees_done_and_total() -> None:
    seen: list[tuple[int, int]] = []
    sink = wmi.sink_class(lite.ILiteObjectSink)(on_progress=lambda d, t: seen.append((d, t)))
    sink.SetStatus(wmi.WBEM_STATUS_PROGRESS, wmi.pack_progress(3, 7), None, None)
    sink.SetStatus(wmi.WBEM_STATUS_PROGRESS, wmi.pack_progress(70000, 140000), None, None)
    assert seen[0] == (3, 7)
    done, total = seen[1]
    assert total <= 0xFFFF and done * 2 == total  # scaled to 16 bits, ratio kept


def test_error_on_start_returns_the_error_and_leaves_the_sink_untouched(world: World) -> None:
    def client() -> tuple[int, Recorder, int]:
        sink = Recorder()
        before = sink._refs
        with pytest.raises(_rt.COMError) as caught:
            world.services.ExecQueryAsync("WQL", "DROP TABLE Planet", 0, sink)
        return caught.value.hresult, sink, before

    hr, sink, before = world.call(client)
    world.settle()
    assert hr == int(ws_code("WBEM_E_INVALID_QUERY"))
    assert sink.log == []
    assert sink._refs == before
    assert world.server.calls.pending() == []


def test_cancel_sends_call_cancelled_and_releases_the_sink_before_returning(
    gated: World, gates: list[threading.Event]
) -> None:
    gates[0].set()

    def client() -> tuple[Recorder, list[int], int]:
        sink = Recorder()
        gated.services.ExecQueryAsync("WQL", QUERY, 0, sink)
        # The first row is out once it is in the sink; Indicate is synchronous.
        assert _wait_until(sink, lambda: sink.indicated() == 1)
        # No callback in progress: the worker got Indicate's reply and waits for row 2.
        assert gated.server.parked[1].wait(WAIT)
        gated.services.CancelAsyncCall(sink)
        return sink, sink.finals(), sink._refs

    sink, finals_at_return, refs_at_return = gated.call(client)
    assert finals_at_return == [wmi.WBEM_E_CALL_CANCELLED]
    assert refs_at_return == 1
    for gate in gates:
        gate.set()
    gated.wait_jobs()
    gated.settle()
    assert sink.log == [("Indicate", 1), ("final", wmi.WBEM_E_CALL_CANCELLED)]  # none after


def test_cancel_covers_every_operation_sharing_the_sink(
    gated: World, gates: list[threading.Event]
) -> None:
    def client() -> tuple[Recorder, Recorder]:
        shared, other = Recorder(), Recorder()
        gated.services.ExecQueryAsync("WQL", QUERY, 0, shared)
        gated.services.ExecQueryAsync("WQL", QUERY, 0, shared)
        gated.services.ExecQueryAsync("WQL", QUERY, 0, other)
        gated.services.CancelAsyncCall(shared)
        return shared, other

    shared, other = gated.call(client)
    assert shared.finals() == [wmi.WBEM_E_CALL_CANCELLED] * 2
    assert other.finals() == []
    for gate in gates:
        gate.set()
    assert gated.call(other.wait, WAIT)
    gated.wait_jobs()
    gated.settle()
    assert other.finals() == [_rt.S_OK] and other.indicated() == ROWS
    assert shared.indicated() == 0
    assert_released(gated, shared)


def test_cancel_of_an_unknown_sink_fails(world: World) -> None:
    def client() -> list[int]:
        codes = []
        for sink in (Recorder(), None):
            try:
                world.services.CancelAsyncCall(sink)
            except _rt.COMError as exc:
                codes.append(exc.hresult)
        return codes

    assert world.call(client) == [wmi.WBEM_E_NOT_FOUND, wmi.WBEM_E_INVALID_PARAMETER]


def test_cancel_racing_the_final_status_gives_exactly_one_final(world: World) -> None:
    """Whoever wins, the sink sees one final status and nothing after it."""

    def client() -> list[Recorder]:
        sinks = []
        for _ in range(20):
            sink = Recorder()
            world.services.ExecQueryAsync(
                "WQL", "SELECT * FROM Planet WHERE Name = 'Earth'", 0, sink
            )
            try:
                world.services.CancelAsyncCall(sink)
            except _rt.COMError as exc:
                assert exc.hresult == wmi.WBEM_E_NOT_FOUND  # it had already finished
            sinks.append(sink)
        return sinks

    sinks = world.call(client)
    for sink in sinks:
        assert world.call(sink.wait, WAIT)
    world.wait_jobs()
    world.settle()
    for sink in sinks:
        assert len(sink.finals()) == 1
        assert sink.log[-1][0] == "final"
        assert sink.finals()[0] in (_rt.S_OK, wmi.WBEM_E_CALL_CANCELLED)
        assert_released(world, sink)


def test_sink_failure_from_indicate_cancels_the_operation(world: World) -> None:
    sink = start(world, fail_indicate=True)
    finish(world, sink)
    assert sink.log == [("Indicate", 1), ("final", wmi.WBEM_E_CALL_CANCELLED)]
    assert world.server.calls.pending() == []


def test_sink_failure_from_progress_setstatus_cancels_the_operation(world: World) -> None:
    sink = start(world, wmi.WBEM_FLAG_SEND_STATUS, fail_progress=True)
    finish(world, sink)
    assert sink.log == [
        ("Indicate", 1),
        ("progress", (ROWS << 16) | 1),
        ("final", wmi.WBEM_E_CALL_CANCELLED),
    ]


def test_overlapping_operations_on_one_sink_each_complete(world: World) -> None:
    def client() -> Recorder:
        sink = Recorder()
        world.services.ExecQueryAsync("WQL", QUERY, 0, sink)
        world.services.ExecQueryAsync("WQL", "SELECT * FROM Planet WHERE Kind = 'giant'", 0, sink)
        return sink

    sink = world.call(client)
    assert _wait_until(sink, lambda: len(sink.finals()) == 2)
    world.wait_jobs()
    world.settle()
    assert sink.finals() == [_rt.S_OK, _rt.S_OK]
    assert sink.indicated() == ROWS + 4
    assert_released(world, sink)


def test_operation_failure_becomes_the_final_status() -> None:
    class Failing(Recorder):
        pass

    table = wmi.AsyncCallTable()
    sink = Failing()

    def rows() -> Any:
        yield "one"
        raise _rt.COMError(wmi.WBEM_E_FAILED)

    table.start(sink, rows)
    assert sink.wait(WAIT)
    assert sink.log == [("Indicate", 1), ("final", wmi.WBEM_E_FAILED)]


def assert_released(world: World, sink: Recorder) -> None:
    """The operation gave back the reference it took (exactly, in both settings)."""
    assert sink._refs == 1  # only the client's own reference is left
    assert world.server.calls.pending() == []


def _wait_until(sink: Recorder, condition: Any) -> bool:
    """Wait for a condition the sink's own callbacks make true (an STA keeps pumping)."""
    from idlgen.runtime.apartments.apartment import current_apartment

    class Poll:
        @property
        def done(self) -> bool:
            return bool(condition())

    apt = current_apartment()
    if apt.is_sta:
        return apt.pump_until(Poll(), WAIT)
    with sink.changed:
        return sink.changed.wait_for(condition, WAIT)


def ws_code(name: str) -> int:
    import wmi_server

    return wmi_server.lite_code(name)
