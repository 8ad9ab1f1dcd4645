"""ISynchronize, ISynchronizeHandle/Event and ISynchronizeContainer (behaviours B13-B24)."""

from __future__ import annotations

import threading

import pytest
from stream_servers import WAIT, GatedStream, new_call

from idlgen import runtime as _rt
from idlgen.runtime.com.waitable import Wakeup


def _signal_soon(sync: _rt.SyncEvent, started: threading.Event) -> threading.Thread:
    def run() -> None:
        started.wait(WAIT)
        sync.Signal()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_wait_zero_returns_at_once() -> None:
    event = _rt.ManualResetEvent()
    with pytest.raises(_rt.CallPendingError):
        event.Wait(0, 0)
    event.Signal()
    assert event.Wait(0, 0) == _rt.S_OK


def test_wait_finite_times_out_with_rpc_s_callpending() -> None:
    event = _rt.StdEvent()
    with pytest.raises(_rt.CallPendingError) as info:
        event.Wait(0, 20)
    assert info.value.hresult == _rt.RPC_S_CALLPENDING


def test_wait_infinite_returns_when_signaled() -> None:
    event = _rt.StdEvent()
    waiting = threading.Event()
    thread = _signal_soon(event, waiting)
    waiting.set()
    assert event.Wait(0, _rt.INFINITE) == _rt.S_OK
    thread.join(WAIT)


def test_auto_reset_event_releases_one_wait() -> None:
    event = _rt.StdEvent()
    event.Signal()
    assert event.Wait(0, 0) == _rt.S_OK
    with pytest.raises(_rt.CallPendingError):
        event.Wait(0, 0)  # the first Wait consumed the signal


def test_manual_reset_event_stays_signaled_until_reset() -> None:
    event = _rt.ManualResetEvent()
    event.Signal()
    assert [event.Wait(0, 0) for _ in range(3)] == [_rt.S_OK] * 3
    assert event.Reset() == _rt.S_OK
    with pytest.raises(_rt.CallPendingError):
        event.Wait(0, 0)


def test_signal_releases_pending_waiters() -> None:
    event = _rt.ManualResetEvent()
    results: list[int] = []
    lock = threading.Lock()

    def wait() -> None:
        code = event.Wait(0, _rt.INFINITE)
        with lock:
            results.append(code)

    threads = [threading.Thread(target=wait) for _ in range(4)]
    for thread in threads:
        thread.start()
    event.Signal()
    for thread in threads:
        thread.join(WAIT)
    assert results == [_rt.S_OK] * 4


def test_set_event_handle_shares_event() -> None:
    first, second = _rt.ManualResetEvent(), _rt.ManualResetEvent()
    handle = first.QueryInterface(_rt.ISynchronizeHandle).GetHandle()
    second.QueryInterface(_rt.ISynchronizeEvent).SetEventHandle(handle)
    first.Signal()
    assert second.Wait(0, 0) == _rt.S_OK  # both objects now wrap the same event
    with pytest.raises(_rt.InvalidArgError):
        second.SetEventHandle(object())


def test_container_holds_63_and_rejects_64th() -> None:
    container = _rt.SynchronizeContainer()
    events = [_rt.StdEvent() for _ in range(64)]
    for event in events[:63]:
        assert container.AddSynchronize(event) == _rt.S_OK
    with pytest.raises(_rt.COMError) as info:
        container.AddSynchronize(events[63])
    assert info.value.hresult == _rt.RPC_E_OUT_OF_RESOURCES
    events[62].Signal()
    assert container.WaitMultiple(0, _rt.INFINITE) is events[62]  # all 63 are watched


def test_wait_multiple_returns_signaled_object() -> None:
    container = _rt.SynchronizeContainer()
    events = [_rt.StdEvent() for _ in range(5)]
    for event in events:
        container.AddSynchronize(event)
    waiting = threading.Event()
    thread = _signal_soon(events[3], waiting)
    waiting.set()
    assert container.WaitMultiple(0, _rt.INFINITE) is events[3]
    thread.join(WAIT)
    with pytest.raises(_rt.CallPendingError):
        events[3].Wait(0, 0)  # auto-reset: the signal went to WaitMultiple


def test_wait_multiple_times_out_with_rpc_e_timeout() -> None:
    container = _rt.SynchronizeContainer()
    for _ in range(3):
        container.AddSynchronize(_rt.ManualResetEvent())
    with pytest.raises(_rt.RpcTimeoutError) as info:
        container.WaitMultiple(0, 20)
    assert info.value.hresult == _rt.RPC_E_TIMEOUT == 0x8001011F
    with pytest.raises(_rt.RpcTimeoutError):
        container.WaitMultiple(0, 0)


def test_wait_multiple_empty_is_rpc_e_no_sync() -> None:
    with pytest.raises(_rt.COMError) as info:
        _rt.SynchronizeContainer().WaitMultiple(0, 0)
    assert info.value.hresult == _rt.RPC_E_NO_SYNC


def test_wait_multiple_rejects_waitall() -> None:
    container = _rt.SynchronizeContainer()
    event = _rt.ManualResetEvent()
    event.Signal()
    container.AddSynchronize(event)
    with pytest.raises(_rt.InvalidArgError):
        container.WaitMultiple(_rt.COWAIT_WAITALL, 0)
    assert container.WaitMultiple(0, 0) is event


def test_wait_multiple_over_call_objects() -> None:
    slow, fast = GatedStream(b"slow"), GatedStream(b"fast")
    calls = [new_call(slow), new_call(fast)]
    container = _rt.SynchronizeContainer()
    for call in calls:
        call.Begin_Read(4)
        container.AddSynchronize(call)
    fast.gate.set()
    done = container.WaitMultiple(0, _rt.INFINITE)
    assert done.QueryInterface(_rt.IID_IUnknown) is calls[1]
    assert calls[1].Finish_Read().pv == b"fast"
    slow.gate.set()
    assert calls[0].Finish_Read().pv == b"slow"


def test_auto_reset_signals_each_wake_exactly_one_waiter_under_contention() -> None:
    event = _rt.StdEvent()
    woken: list[int] = []
    lock = threading.Lock()
    waiters = 8

    def wait(index: int) -> None:
        if event.Wait(0, int(WAIT * 1000)) == _rt.S_OK:
            with lock:
                woken.append(index)

    threads = [threading.Thread(target=wait, args=(i,)) for i in range(waiters)]
    for thread in threads:
        thread.start()
    handle = event.GetHandle()
    for _ in range(int(WAIT * 1000)):  # until every thread is blocked in Wait
        if len(handle._waiters or ()) == waiters:
            break
        threading.Event().wait(0.001)
    for _ in range(waiters):
        event.Signal()  # each Signal hands the event to exactly one blocked waiter
    for thread in threads:
        thread.join(WAIT * 2)
    # Every waiter got through and none twice: no signal was lost or handed out twice.
    assert sorted(woken) == list(range(waiters))
    with pytest.raises(_rt.CallPendingError):
        event.Wait(0, 0)


def test_concurrent_begin_lets_exactly_one_call_start() -> None:
    server = GatedStream(b"abcdef")
    call = new_call(server)
    outcomes: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(6)

    def begin() -> None:
        barrier.wait(WAIT)
        try:
            call.Begin_Read(1)
            result = "started"
        except _rt.CallPendingError:
            result = "pending"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=begin) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert sorted(outcomes) == ["pending"] * 5 + ["started"]
    server.gate.set()
    assert call.Finish_Read().pv == b"a"


def test_a_wakeup_waits_only_without_a_time_out() -> None:
    """Wakeup has no gate, so a time-out could lose a signal: it refuses one."""
    wakeup = Wakeup()
    with pytest.raises(ValueError):
        wakeup.block(0.1)
    assert wakeup.claim(object())
    assert wakeup.block()
