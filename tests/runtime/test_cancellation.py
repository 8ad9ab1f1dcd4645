"""ICancelMethodCalls on call objects, CoGetCallContext and CoTestCancel (B25-B33)."""

from __future__ import annotations

import threading

import pytest
from simple_stream_handwritten import ReadResult
from stream_servers import WAIT, CancelAwareStream, GatedStream, MemoryStream, new_call

from idlgen import runtime as _rt


def test_cancel_pending_call_then_finish_is_rpc_e_call_canceled() -> None:
    server = GatedStream(b"hello")
    call = new_call(server)
    call.Begin_Read(5)
    cancel = call.QueryInterface(_rt.ICancelMethodCalls)
    assert cancel.Cancel(0) == _rt.S_OK
    assert call.Wait(0, 0) == _rt.S_OK  # a canceled call is complete: Finish_ won't block
    with pytest.raises(_rt.CallCanceledError) as info:
        call.Finish_Read()
    assert info.value.hresult == _rt.RPC_E_CALL_CANCELED == 0x80010002
    assert _rt.last_hresult() == _rt.RPC_E_CALL_CANCELED
    server.gate.set()


def test_cancel_after_completion_is_rpc_e_call_complete() -> None:
    call = new_call(MemoryStream(b"abc"))
    call.Begin_Read(2)
    call.Wait(0, _rt.INFINITE)
    with pytest.raises(_rt.CallCompleteError):
        call.Cancel(0)
    assert call.Finish_Read() == ReadResult(b"ab", 2)  # the results survive the late cancel
    with pytest.raises(_rt.CallCompleteError):
        call.Cancel(0)  # and with no call at all


def test_second_cancel_is_already_canceled() -> None:
    server = GatedStream(b"abc")
    call = new_call(server)
    call.Begin_Read(1)
    call.Cancel(0)
    with pytest.raises(_rt.CallCanceledError):
        call.Cancel(0)
    server.gate.set()


def test_cancel_with_timeout_reports_completion_during_interval() -> None:
    server = GatedStream(b"abc")
    call = new_call(server)
    call.Begin_Read(3)
    assert server.started.wait(WAIT)

    def open_gate_once_canceled() -> None:
        for _ in range(int(WAIT * 1000)):
            if call.is_canceled():
                break
            threading.Event().wait(0.001)
        server.gate.set()

    opener = threading.Thread(target=open_gate_once_canceled)
    opener.start()
    with pytest.raises(_rt.CallCompleteError):
        call.Cancel(_rt.INFINITE)  # waits for the server, which completes
    opener.join(WAIT)
    assert call.Finish_Read() == ReadResult(b"abc", 3)
    assert server.saw_cancel is True  # the server was told, even though it completed


def test_test_cancel_client_side() -> None:
    server = GatedStream(b"abc")
    call = new_call(server)
    call.Begin_Read(1)
    with pytest.raises(_rt.CallPendingError) as before:
        call.TestCancel()
    assert before.value.hresult == _rt.RPC_S_CALLPENDING
    call.Cancel(0)
    with pytest.raises(_rt.CallCanceledError):
        call.TestCancel()
    assert call.is_canceled()
    server.gate.set()


def test_test_cancel_server_side() -> None:
    server = CancelAwareStream()
    call = new_call(server)
    call.Begin_Skip(1)
    assert server.started.wait(WAIT)
    call.Cancel(0)
    with pytest.raises(_rt.CallCanceledError):
        call.Finish_Skip()
    for _ in range(int(WAIT * 100)):
        if _rt.RPC_E_CALL_CANCELED in server.test_cancel_codes:
            break
        threading.Event().wait(0.01)
    codes = server.test_cancel_codes
    assert codes[-1] == _rt.RPC_E_CALL_CANCELED
    assert set(codes[:-1]) <= {_rt.RPC_S_CALLPENDING}


def test_begin_after_cancel_needs_finish_first() -> None:
    server = GatedStream(b"abc")
    call = new_call(server)
    call.Begin_Read(1)
    assert server.started.wait(WAIT)  # running (canceled before it starts, it never runs)
    call.Cancel(0)
    with pytest.raises(_rt.CallPendingError):
        call.Begin_Read(1)
    with pytest.raises(_rt.CallCanceledError):
        call.Finish_Read()
    server.gate.set()
    assert server.finished.wait(WAIT)
    call.Begin_Read(2)  # cleaned up by Finish_, the object takes a new call
    assert call.Finish_Read() == ReadResult(b"bc", 2)


def test_call_context_outside_call_is_rpc_e_call_complete() -> None:
    with pytest.raises(_rt.CallCompleteError):
        _rt.CoGetCallContext(_rt.IID_ICancelMethodCalls)
    with pytest.raises(_rt.CallCompleteError):
        _rt.CoTestCancel()
    assert _rt.call_canceled() is False


def test_late_completion_after_cancel_is_dropped() -> None:
    server = GatedStream(b"abcdef")
    call = new_call(server)
    call.Begin_Read(3)
    assert server.started.wait(WAIT)
    call.Cancel(0)
    with pytest.raises(_rt.CallCanceledError):
        call.Finish_Read()
    server.started.clear()
    server.finished.clear()
    call.Begin_Swap(7)  # a new call while the canceled one still runs on the server
    assert call.Finish_Swap() == (7, 0)
    server.gate.set()
    assert server.finished.wait(WAIT)
    assert not call.done()  # the canceled call's late result did not land on the object
    with pytest.raises(_rt.CallCompleteError):
        call.Finish_Read()
