"""Call objects, ICallFactory and Begin_/Finish_ (docs/behaviours.md B1-B12)."""

from __future__ import annotations

import threading
from typing import Any, ClassVar

import pytest
from simple_stream_handwritten import AsyncISimpleStream, ISimpleStream, ReadResult
from stream_servers import WAIT, GatedStream, MemoryStream, SyncOnlyStream, new_call

from idlgen import runtime as _rt


def test_object_without_call_factory_answers_e_nointerface() -> None:
    server = SyncOnlyStream()
    with pytest.raises(_rt.NoInterfaceError) as info:
        server.QueryInterface(_rt.IID_ICallFactory)
    assert info.value.hresult == _rt.E_NOINTERFACE
    sync = server.QueryInterface(ISimpleStream)  # the documented fallback
    assert sync.Read(2) == ReadResult(b"xx", 2)


def test_create_call_with_non_async_iid_is_e_nointerface() -> None:
    factory = MemoryStream().QueryInterface(_rt.IID_ICallFactory)
    for iid in (ISimpleStream._iid_, _rt.IID_IUnknown, _rt.IID_ISynchronize):
        with pytest.raises(_rt.NoInterfaceError):
            factory.CreateCall(iid, None, _rt.IID_IUnknown)


def test_create_call_returns_riid2_then_async_interface_by_qi() -> None:
    factory = MemoryStream(b"abc").QueryInterface(_rt.IID_ICallFactory)
    sync = factory.CreateCall(AsyncISimpleStream._iid_, None, _rt.IID_ISynchronize)
    assert isinstance(sync, _rt.ISynchronize)
    call = sync.QueryInterface(AsyncISimpleStream)
    assert call.QueryInterface(_rt.IID_IUnknown) is sync.QueryInterface(_rt.IID_IUnknown)
    call.Begin_Read(3)
    assert call.Finish_Read() == ReadResult(b"abc", 3)


def test_begin_returns_before_server_finishes() -> None:
    server = GatedStream(b"hello")
    call = new_call(server)
    assert call.Begin_Read(5) == _rt.S_OK
    assert server.started.wait(WAIT)
    assert not server.finished.is_set()  # Begin_ returned while the server still works
    server.gate.set()
    assert call.Wait(0, _rt.INFINITE) == _rt.S_OK
    assert call.Finish_Read() == ReadResult(b"hello", 5)


def test_second_begin_while_pending_is_rpc_s_callpending() -> None:
    server = GatedStream(b"hello")
    call = new_call(server)
    call.Begin_Read(1)
    errors: list[BaseException] = []

    def second_client() -> None:
        try:
            call.Begin_Write(b"x", 1)
        except _rt.COMError as exc:
            errors.append(exc)

    thread = threading.Thread(target=second_client)
    thread.start()
    thread.join(WAIT)
    assert [type(e) for e in errors] == [_rt.CallPendingError]
    assert errors[0].hresult == _rt.RPC_S_CALLPENDING == 0x80010115  # type: ignore[attr-defined]
    server.gate.set()
    assert call.Finish_Read() == ReadResult(b"h", 1)  # the first call is unharmed


def test_finish_without_call_is_rpc_e_call_complete() -> None:
    call = new_call(MemoryStream(b"abc"))
    with pytest.raises(_rt.CallCompleteError) as info:
        call.Finish_Read()
    assert info.value.hresult == _rt.RPC_E_CALL_COMPLETE == 0x80010117
    call.Begin_Read(1)
    call.Finish_Read()
    with pytest.raises(_rt.CallCompleteError):
        call.Finish_Read()  # the same after a call has been finished


def test_finish_before_signal_blocks_until_complete() -> None:
    server = GatedStream(b"hello")
    call = new_call(server)
    call.Begin_Read(4)
    results: list[Any] = []
    finisher = threading.Thread(target=lambda: results.append(call.Finish_Read()))
    finisher.start()
    assert server.started.wait(WAIT)
    with pytest.raises(_rt.CallPendingError):
        call.Wait(0, 0)  # not signalled yet, so Finish_ above must still be blocked
    assert results == []
    server.gate.set()
    finisher.join(WAIT)
    assert results == [ReadResult(b"hell", 4)]


def test_call_object_reusable_after_finish() -> None:
    call = new_call(MemoryStream(b"abcdef"))
    seen = []
    for _ in range(3):
        call.Begin_Read(2)
        seen.append(call.Finish_Read())
    call.Begin_Write(b"XY", 2)
    assert call.Finish_Write() == 2
    assert seen == [ReadResult(b"ab", 2), ReadResult(b"cd", 2), ReadResult(b"ef", 2)]


def test_release_without_finish_abandons_result() -> None:
    server = GatedStream(b"hello")
    call = new_call(server)
    call.Begin_Read(5)
    assert server.started.wait(WAIT)
    assert call.Release() == 0  # the client walks away
    server.gate.set()
    assert server.finished.wait(WAIT)  # the server finishes normally...
    assert server.pos == 5
    assert not call.done()  # ...but the result was dropped, not stored
    with pytest.raises(_rt.CallCompleteError):
        call.Finish_Read()  # no out parameters for anyone


def test_wait_then_finish_completes_call() -> None:
    call = new_call(MemoryStream(b"abc"))
    call.Begin_Read(2)
    sync = call.QueryInterface(_rt.ISynchronize)
    assert sync.Wait(0, _rt.INFINITE) == _rt.S_OK
    assert call.Finish_Read() == ReadResult(b"ab", 2)


def test_finish_for_other_method_is_e_unexpected() -> None:
    server = GatedStream(b"abc")
    call = new_call(server)
    call.Begin_Read(1)
    with pytest.raises(_rt.UnexpectedError):
        call.Finish_Write()
    server.gate.set()
    assert call.Finish_Read() == ReadResult(b"a", 1)  # the mismatch did not consume the call


class _Notified(_rt.ComObject, _rt.ISynchronize):
    """A client object aggregating a call object to be told when the call completes."""

    def __init__(self) -> None:
        super().__init__()
        self.inner: Any = None
        self.signaled = threading.Event()

    def _query_extra_(self, iid: _rt.GUID) -> Any:
        return None if self.inner is None else self.inner.QueryInterface(iid)

    def Wait(self, dwFlags: int, dwMilliseconds: int) -> int:
        return _rt.S_OK if self.signaled.wait(WAIT) else _rt.RPC_S_CALLPENDING

    def Signal(self) -> int:
        self.signaled.set()
        return _rt.S_OK

    def Reset(self) -> int:
        self.signaled.clear()
        return _rt.S_OK


def test_aggregated_call_object_signals_controlling_unknown() -> None:
    factory = MemoryStream(b"abc").QueryInterface(_rt.IID_ICallFactory)
    outer = _Notified()
    with pytest.raises(_rt.InvalidArgError):
        factory.CreateCall(AsyncISimpleStream._iid_, outer, AsyncISimpleStream._iid_)
    outer.inner = factory.CreateCall(AsyncISimpleStream._iid_, outer, _rt.IID_IUnknown)
    call = outer.QueryInterface(AsyncISimpleStream)
    assert call.QueryInterface(_rt.IID_IUnknown) is outer  # identity is the outer's
    call.Begin_Read(3)
    assert outer.signaled.wait(WAIT)
    assert call.Finish_Read() == ReadResult(b"abc", 3)


class _DeferredReadCall(_rt.ServerCall, AsyncISimpleStream):
    """A server that runs calls its own way: it completes them later, from its own code."""

    __slots__ = ()
    started: ClassVar[list[tuple[Any, int, tuple[Any, ...]]]] = []
    abandoned: ClassVar[list[tuple[Any, int]]] = []

    def _start_(self, ticket: int, method: _rt.Method, ins: tuple[Any, ...]) -> None:
        self.started.append((self, ticket, ins))

    def _on_abandon_(self, ticket: int) -> None:
        self.abandoned.append((self, ticket))


class _DeferredStream(MemoryStream):
    _call_objects_ = (_DeferredReadCall,)


def test_server_supplied_call_object_completes_through_hooks() -> None:
    call = new_call(_DeferredStream())
    assert isinstance(call, _DeferredReadCall)
    call.Begin_Read(4)
    this, ticket, ins = _DeferredReadCall.started.pop()
    assert this is call and ins == (4,) and call.begin_inputs == (4,)
    assert not call.done()
    assert this._complete_(ticket, ReadResult(b"late", 4), _rt.S_FALSE)
    assert not this._complete_(ticket, ReadResult(b"twice", 5))  # one completion per call
    assert call.Finish_Read() == ReadResult(b"late", 4)
    assert _rt.last_hresult() == _rt.S_FALSE
    call.Begin_Read(1)
    _, ticket, _ = _DeferredReadCall.started.pop()
    this._fail_(ticket, _rt.error_for(_rt.RPC_E_DISCONNECTED))
    with pytest.raises(_rt.DisconnectedError):
        call.Finish_Read()


def test_finish_keeps_waiting_through_a_signal_that_raced_with_begin() -> None:
    call = new_call(_DeferredStream())
    call.Begin_Read(2)
    this, ticket, _ = _DeferredReadCall.started.pop()
    results: list[Any] = []
    finisher = threading.Thread(target=lambda: results.append(call.Finish_Read()))
    finisher.start()
    for _ in range(1000):  # until Finish_ is asleep on the call
        if call._waiters:
            break
        finisher.join(WAIT / 1000)
    assert call._waiters
    call._signal()  # what a Signal() that saw the object idle just before Begin_ then does
    finisher.join(0.2)
    assert finisher.is_alive() and results == []  # a signal is not a result
    assert this._complete_(ticket, ReadResult(b"ok", 2))
    finisher.join(WAIT)
    assert results == [ReadResult(b"ok", 2)]


def test_release_abandons_a_call_exactly_when_it_was_not_finished() -> None:
    abandoned = {}
    for case in ("never begun", "finished", "completed", "pending"):
        call = new_call(_DeferredStream())
        if case != "never begun":
            call.Begin_Read(1)
            this, ticket, _ = _DeferredReadCall.started.pop()
            if case != "pending":
                assert this._complete_(ticket, ReadResult(b"x", 1))
            if case == "finished":
                assert call.Finish_Read() == ReadResult(b"x", 1)
        _DeferredReadCall.abandoned.clear()
        assert call.Release() == 0
        abandoned[case] = [ticket for obj, ticket in _DeferredReadCall.abandoned if obj is call]
    assert abandoned == {"never begun": [], "finished": [], "completed": [1], "pending": [1]}


class _CountedFinishCall(_rt.ServerCall, AsyncISimpleStream):
    """A call object class with a Finish_Read of its own (over the interface's)."""

    __slots__ = ()
    finished: ClassVar[list[Any]] = []

    def Finish_Read(self) -> ReadResult:
        result: ReadResult = super().Finish_Read()
        self.finished.append(result)
        return result


class _CountedFinishStream(MemoryStream):
    _call_objects_ = (_CountedFinishCall,)


def test_a_finish_a_call_object_class_defines_itself_is_kept() -> None:
    """Call object classes get their Finish_X made at class creation in place of the
    generated one-liners; one the class writes itself stays (fails if it is replaced)."""
    call = new_call(_CountedFinishStream(b"abc"))
    assert type(call) is _CountedFinishCall
    call.Begin_Read(2)
    assert call.Finish_Read() == ReadResult(b"ab", 2)
    assert _CountedFinishCall.finished == [ReadResult(b"ab", 2)]
    call.Begin_Write(b"x", 1)  # the interface's other Finish_ is the made one
    assert call.Finish_Write() == 1
    assert _CountedFinishCall.finished == [ReadResult(b"ab", 2)]


def test_finish_of_a_name_the_interface_does_not_have() -> None:
    """`_finish_` of no method of the interface: RPC_E_CALL_COMPLETE with nothing pending,
    E_UNEXPECTED with a call pending (as a Finish_ of another method)."""
    call = new_call(GatedStream(b"abc"))
    with pytest.raises(_rt.CallCompleteError):
        call._finish_("Nope")
    call.Begin_Read(1)
    with pytest.raises(_rt.UnexpectedError):
        call._finish_("Nope")
    call.server.gate.set()
    assert call.Finish_Read() == ReadResult(b"a", 1)
