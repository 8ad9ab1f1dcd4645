"""Asynchronous calls through proxies: same bytes as synchronous calls, cancel, no call objects."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from apartment_fixtures import WAIT
from helpers import Tap, connect
from servers import Calc, GatedStream, GatedSyncStream, Stream, SyncStream
from stream_handwritten import (
    ICalc,
    IID_AsyncICalc,
    IID_AsyncISimpleStream,
    ISimpleStream,
)

from idlgen import runtime as _rt
from idlgen.runtime.apartments.apartment import Apartment
from idlgen.runtime.apartments.channel import REQUEST, RESPONSE, observe


def _call_object(proxy: Any, async_iid: Any) -> Any:
    factory = proxy.QueryInterface(_rt.ICallFactory)
    try:
        return factory.CreateCall(async_iid, None, async_iid)
    finally:
        factory.Release()


@pytest.mark.parametrize("server", [Stream, SyncStream], ids=["call-objects", "synchronous"])
def test_sync_and_async_calls_put_identical_bytes_on_the_channel(
    server_sta: Apartment, server: Any
) -> None:
    _, sync_proxy = connect(server_sta, lambda: server(b"0123456789"), ISimpleStream)
    _, async_proxy = connect(server_sta, lambda: server(b"0123456789"), ISimpleStream)
    sync_tap, async_tap = Tap(), Tap()
    with observe(sync_tap):
        sync_result = sync_proxy.Read(6)
        sync_written = sync_proxy.Write(b"abc", 3)
    call = _call_object(async_proxy, IID_AsyncISimpleStream)
    with observe(async_tap):
        call.Begin_Read(6)
        async_result = call.Finish_Read()
        call.Begin_Write(b"abc", 3)
        async_written = call.Finish_Write()
    assert async_result == sync_result == (b"012345", 6)
    assert async_written == sync_written == 3
    assert async_tap.bodies(REQUEST) == sync_tap.bodies(REQUEST)
    assert async_tap.bodies(RESPONSE) == sync_tap.bodies(RESPONSE)
    assert [opnum for opnum, _ in sync_tap.bodies(REQUEST)] == [3, 4]


def test_begin_returns_without_waiting_for_the_server(server_sta: Apartment) -> None:
    server, proxy = connect(server_sta, lambda: GatedStream(b"abc"), ISimpleStream)
    call = _call_object(proxy, IID_AsyncISimpleStream)
    call.Begin_Read(3)
    assert server.gate.started.wait(WAIT)
    assert not call.done()  # Begin_ came back while the server is still inside Read
    server.gate.open.set()
    assert call.Finish_Read() == (b"abc", 3)


def test_async_through_a_proxy_to_a_server_without_call_objects(server_sta: Apartment) -> None:
    calc, proxy = connect(server_sta, Calc, ICalc)
    assert not isinstance(calc, _rt.ICallFactory)
    call = _call_object(proxy, IID_AsyncICalc)
    call.Begin_Add(20, 22)
    assert call.wait(WAIT)
    assert call.Finish_Add() == 42
    assert calc.threads == [server_sta.run(lambda: __import__("threading").get_ident())]


def test_success_code_reaches_finish(server_sta: Apartment) -> None:
    _, proxy = connect(server_sta, lambda: Stream(b"ab"), ISimpleStream)
    call = _call_object(proxy, IID_AsyncISimpleStream)
    call.Begin_Read(5)
    assert call.Finish_Read() == (b"ab", 2)
    assert _rt.last_hresult() == _rt.S_FALSE


def test_begin_finish_and_calls_set_last_hresult_whatever_it_was(server_sta: Apartment) -> None:
    """The status is set only when it changes (a ContextVar.set per call costs): a call that
    succeeds with S_OK must still show S_OK after one that left something else."""
    _, proxy = connect(server_sta, lambda: Stream(b"ab"), ISimpleStream)
    call = _call_object(proxy, IID_AsyncISimpleStream)
    _rt.set_last_hresult(_rt.S_FALSE)
    call.Begin_Read(1)
    assert _rt.last_hresult() == _rt.S_OK
    _rt.set_last_hresult(_rt.E_ABORT)
    assert call.Finish_Read() == (b"a", 1)
    assert _rt.last_hresult() == _rt.S_OK
    _rt.set_last_hresult(_rt.E_ABORT)
    assert proxy.Write(b"xyz", 3) == 3
    assert _rt.last_hresult() == _rt.S_OK


def test_failure_reaches_finish(server_sta: Apartment) -> None:
    from servers import Faulty

    _, proxy = connect(server_sta, lambda: Faulty(_rt.COMError(_rt.E_ABORT)), ICalc)
    call = _call_object(proxy, IID_AsyncICalc)
    call.Begin_Add(1, 2)
    with pytest.raises(_rt.COMError) as info:
        call.Finish_Add()
    assert info.value.hresult == _rt.E_ABORT


def test_unmarshalable_input_fails_begin_and_leaves_the_call_idle(server_sta: Apartment) -> None:
    _, proxy = connect(server_sta, lambda: Stream(b""), ISimpleStream)
    call = _call_object(proxy, IID_AsyncISimpleStream)
    with pytest.raises(_rt.COMError):
        call.Begin_Write(b"", 4)  # size_is(cb) wants 4 bytes
    call.Begin_Write(b"abcd", 4)
    assert call.Finish_Write() == 4


@pytest.mark.parametrize(
    "server", [GatedStream, GatedSyncStream], ids=["call-objects", "synchronous"]
)
def test_cancel_reaches_the_server(server_sta: Apartment, server: Any) -> None:
    obj, proxy = connect(server_sta, lambda: server(b"abc"), ISimpleStream)
    call = _call_object(proxy, IID_AsyncISimpleStream)
    call.Begin_Read(3)
    assert obj.gate.started.wait(WAIT)
    assert call.Cancel(0) == _rt.S_OK
    obj.gate.open.set()
    with pytest.raises(_rt.CallCanceledError):
        call.Finish_Read()
    assert obj.gate.checked.wait(WAIT)
    assert obj.gate.saw_cancel is True
    assert obj.gate.test_cancel == _rt.RPC_E_CALL_CANCELED


def test_call_object_is_reusable_after_cancel(server_sta: Apartment) -> None:
    obj, proxy = connect(server_sta, lambda: GatedStream(b"abcdef"), ISimpleStream)
    call = _call_object(proxy, IID_AsyncISimpleStream)
    call.Begin_Read(3)
    assert obj.gate.started.wait(WAIT)
    call.Cancel(0)
    with pytest.raises(_rt.CallCanceledError):
        call.Finish_Read()
    obj.gate.open.set()
    call.Begin_Read(3)
    assert call.wait(WAIT)
    result = call.Finish_Read()
    assert len(result.pv) == 3  # a fresh call, answered; the canceled reply was dropped


def test_awaiting_a_proxy_call_object(server_sta: Apartment) -> None:
    _, proxy = connect(server_sta, Calc, ICalc)
    call = _call_object(proxy, IID_AsyncICalc)

    async def main() -> int:
        call.Begin_Add(1, 2)
        return await asyncio.wait_for(call, WAIT)

    assert asyncio.run(main()) == 3


def test_call_factory_only_for_interfaces_with_async_partners(server_sta: Apartment) -> None:
    from servers import Recorder
    from stream_handwritten import ICallback

    _, proxy = connect(server_sta, Recorder, ICallback)
    with pytest.raises(_rt.NoInterfaceError):
        proxy.QueryInterface(_rt.ICallFactory)


def test_call_factory_rejects_a_synchronous_iid(server_sta: Apartment) -> None:
    _, proxy = connect(server_sta, Calc, ICalc)
    factory = proxy.QueryInterface(_rt.ICallFactory)
    with pytest.raises(_rt.NoInterfaceError):
        factory.CreateCall(ICalc._iid_, None, ICalc._iid_)
    assert factory.QueryInterface(_rt.IUnknown) is proxy.QueryInterface(_rt.IUnknown)
