"""Calls into another apartment: results, success codes, faults, bad stub data, [local]."""

from __future__ import annotations

import threading
import uuid

import pytest
from apartment_fixtures import WAIT
from helpers import Tap, connect, serve
from servers import Calc, Faulty, Stream, SyncStream
from stream_handwritten import ICalc, ILocalOnly, ISeekableStream, ISimpleStream

from idlgen import runtime as _rt
from idlgen.runtime import ndr as _ndr
from idlgen.runtime.apartments.apartment import Apartment
from idlgen.runtime.apartments.channel import (
    DIRECT,
    FAULT,
    REQUEST,
    RESPONSE,
    new_pending,
    parse,
    request_frame,
    send,
)
from idlgen.runtime.apartments.marshal import marshal_interface, unmarshal_interface

_ADD: _ndr.MethodMarshaler = ICalc._wire_[0]  # type: ignore[assignment]
_READ: _ndr.MethodMarshaler = ISimpleStream._wire_[0]  # type: ignore[assignment]


def test_cross_apartment_call_runs_on_the_server_thread(server_sta: Apartment) -> None:
    calc, proxy = connect(server_sta, Calc, ICalc)
    assert proxy is not calc
    assert proxy.Add(2, 40) == 42
    sta_thread = server_sta.run(threading.get_ident)
    assert calc.threads == [sta_thread]


def test_call_goes_through_the_channel_as_bytes(server_sta: Apartment) -> None:
    _, proxy = connect(server_sta, Calc, ICalc)
    tap = Tap()
    with _rt_observe(tap):
        proxy.Add(1, 2)
    ((opnum, body),) = tap.bodies(REQUEST)
    assert opnum == 3
    assert body == _ADD.encode_request({"a": 1, "b": 2})
    ((_, reply),) = tap.bodies(RESPONSE)
    assert _ADD.decode_response(reply).outs == {"sum": 3}


def test_in_apartment_unmarshal_gives_the_object_itself(server_sta: Apartment) -> None:
    def same_apartment() -> bool:
        calc = Calc()
        back = unmarshal_interface(marshal_interface(calc, ICalc))
        return back is calc

    assert server_sta.run(same_apartment)


def test_outs_and_success_codes_cross(server_sta: Apartment) -> None:
    _, proxy = connect(server_sta, lambda: Stream(b"abcdef"), ISimpleStream)
    assert proxy.Read(4) == ISimpleStream.ReadResult(b"abcd", 4)
    assert _rt.last_hresult() == _rt.S_OK
    assert proxy.Read(10) == (b"ef", 2)
    assert _rt.last_hresult() == _rt.S_FALSE
    assert proxy.Write(b"xyz", 3) == 3


def test_failure_hresult_is_a_response_not_a_fault(server_sta: Apartment) -> None:
    _, proxy = connect(server_sta, lambda: Faulty(_rt.COMError(_rt.E_ABORT)), ICalc)
    tap = Tap()
    with _rt_observe(tap), pytest.raises(_rt.COMError) as info:
        proxy.Add(1, 2)
    assert info.value.hresult == _rt.E_ABORT
    assert _rt.last_hresult() == _rt.E_ABORT
    assert tap.of_kind(FAULT) == []
    ((_, reply),) = tap.bodies(RESPONSE)
    response = _ADD.decode_response(reply)
    assert response.result == _rt.E_ABORT and response.outs == {"sum": 0}


def test_python_exception_is_a_server_fault(server_sta: Apartment) -> None:
    _, proxy = connect(server_sta, lambda: Faulty(ZeroDivisionError("boom")), ICalc)
    tap = Tap()
    with _rt_observe(tap), pytest.raises(_rt.ServerFaultError):
        proxy.Add(1, 2)
    assert [parse(f).code for f in tap.of_kind(FAULT)] == [_rt.RPC_E_SERVERFAULT]  # type: ignore[union-attr]
    # The apartment survived and keeps serving.
    _, calc = connect(server_sta, Calc, ICalc)
    assert calc.Add(1, 1) == 2


def test_failure_with_outs_sends_zeroed_outs(server_sta: Apartment) -> None:
    class Broken(SyncStream):
        def Read(self, cb: int) -> ISimpleStream.ReadResult:
            raise _rt.COMError(_rt.E_FAIL)

    _, proxy = connect(server_sta, Broken, ISimpleStream)
    tap = Tap()
    with _rt_observe(tap), pytest.raises(_rt.COMError) as info:
        proxy.Read(7)
    assert info.value.hresult == _rt.E_FAIL
    ((_, reply),) = tap.bodies(RESPONSE)
    response = _READ.decode_response(reply, scope={"cb": 7})
    assert response.outs == {"pv": b"", "pcbRead": 0} and response.result == _rt.E_FAIL


def test_failure_without_outs(server_sta: Apartment) -> None:
    _, proxy = connect(server_sta, lambda: Stream(b""), ISeekableStream)
    with pytest.raises(_rt.InvalidArgError):
        proxy.Seek(99)


def test_zero_values_follow_the_descriptor() -> None:
    from idlgen.runtime.apartments.stub import zero_value

    conformant = _ndr.ConformantArray(_ndr.BYTE, size_is=_ndr.Name("cb"))
    assert zero_value(_ndr.Pointer("ref", conformant), {"cb": 3}) == bytes(3)
    assert zero_value(_ndr.Pointer("unique", _ndr.LONG), {}) is None
    point = _ndr.Struct("P", (_ndr.Field("x", _ndr.LONG), _ndr.Field("y", _ndr.DOUBLE)))
    assert zero_value(point, {}) == {"x": 0, "y": 0.0}


def _raw_call(apartment: Apartment, ipid: bytes, opnum: int, body: bytes) -> bytes:
    pending = new_pending()
    send(apartment, request_frame(pending.call_id, opnum, ipid, body), DIRECT)
    assert pending.wait(WAIT)
    return pending.reply


def _ipid_of(objref: bytes) -> bytes:
    std = _ndr.decode_objref(objref).std
    assert std is not None
    return std.ipid.bytes_le


@pytest.mark.parametrize(
    "body",
    [b"", b"\x01", b"\xff" * 3, b"\x00" * 12, bytes(range(40))],
    ids=["empty", "one-byte", "short", "trailing", "long"],
)
def test_bad_stub_data_is_a_fault_and_the_apartment_keeps_serving(
    server_sta: Apartment, body: bytes
) -> None:
    _, objref = serve(server_sta, Calc, ICalc)
    reply = parse(_raw_call(server_sta, _ipid_of(objref), 3, body))
    assert reply is not None and reply.kind == FAULT
    assert reply.code == _rt.RPC_X_BAD_STUB_DATA
    proxy = unmarshal_interface(objref)
    assert proxy.Add(20, 22) == 42


def test_unknown_opnum_and_iunknown_slots_are_invalid_methods(server_sta: Apartment) -> None:
    _, objref = serve(server_sta, Calc, ICalc)
    for opnum in (0, 1, 2, 4, 999):
        reply = parse(_raw_call(server_sta, _ipid_of(objref), opnum, b""))
        assert reply is not None and (reply.kind, reply.code) == (FAULT, _rt.RPC_E_INVALIDMETHOD)


def test_unknown_ipid_is_disconnected(server_sta: Apartment) -> None:
    serve(server_sta, Calc, ICalc)
    reply = parse(_raw_call(server_sta, uuid.uuid4().bytes_le, 3, b""))
    assert reply is not None and (reply.kind, reply.code) == (FAULT, _rt.RPC_E_DISCONNECTED)


def test_garbage_frames_are_dropped_not_fatal(server_sta: Apartment) -> None:
    _, proxy = connect(server_sta, Calc, ICalc)
    for junk in (b"", b"\x00", b"\x63" + bytes(40), bytes(27)):
        send(server_sta, junk, DIRECT)
    assert proxy.Add(1, 2) == 3


def test_local_method_fails_without_a_round_trip(server_sta: Apartment) -> None:
    _, proxy = connect(server_sta, lambda: Stream(b"abc"), ISeekableStream)
    tap = Tap()
    with _rt_observe(tap), pytest.raises(_rt.COMError) as info:
        proxy.Peek()
    assert info.value.hresult == _rt.RPC_E_INVALIDMETHOD
    assert tap.frames == []


def test_local_interface_cannot_be_marshaled(server_sta: Apartment) -> None:
    class Local(_rt.ComObject, ILocalOnly):
        def Poke(self) -> int:
            return _rt.S_OK

    with pytest.raises(_rt.NoInterfaceError):
        server_sta.run(lambda: marshal_interface(Local(), ILocalOnly))


def test_malformed_objref_is_bad_stub_data() -> None:
    with pytest.raises(_rt.BadStubDataError):
        unmarshal_interface(b"MEOW" + bytes(10))


def test_bad_argument_value_raises_before_sending(server_sta: Apartment) -> None:
    _, proxy = connect(server_sta, Calc, ICalc)
    tap = Tap()
    with _rt_observe(tap), pytest.raises(_rt.COMError):
        proxy.Add(1 << 40, 1)  # does not fit a long
    assert tap.frames == []


def test_sync_stream_in_mta_called_from_sta(client_sta: Apartment) -> None:
    mta = Apartment.mta(2, "server-mta")
    try:
        _, objref = serve(mta, lambda: SyncStream(b"hello"), ISimpleStream)

        def client() -> object:
            return unmarshal_interface(objref).Read(5)

        assert client_sta.run(client) == (b"hello", 5)
    finally:
        mta.shutdown()


def _rt_observe(tap: Tap):  # type: ignore[no-untyped-def]
    from idlgen.runtime.apartments.channel import observe

    return observe(tap)
