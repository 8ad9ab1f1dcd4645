"""A proxy route's shortcuts give what the general way gives: the request packed from the
[in] values as passed is the marshaler's (or not taken at all), a reply read by position is
`_shape` of the decoded `Response` (or the same fault), and Finish_ may take a shaped value
as it is. The riid CreateCall was just asked for answers like any other."""

from __future__ import annotations

import collections
from typing import Any

import pytest
from apartment_fixtures import WAIT
from helpers import connect
from hypothesis import given, settings
from hypothesis import strategies as st
from servers import Calc
from stream_handwritten import ICalc, IID_AsyncICalc
from test_fastwire import PRIMS, buffer_methods, methods

from idlgen import runtime as _rt
from idlgen.runtime import ndr as _ndr
from idlgen.runtime.apartments.apartment import Apartment
from idlgen.runtime.apartments.proxy import _shape
from idlgen.runtime.apartments.routes import Route
from idlgen.runtime.com.callobj import _as_returned
from idlgen.runtime.ndr.fastwire import BufferCodec, PrimitiveCodec, fast_codec
from idlgen.runtime.ndr.method import wire_type

Case = tuple[_ndr.MethodMarshaler, dict[str, Any], dict[str, Any], Any]


def _com_method(wire: _ndr.MethodMarshaler) -> _rt.Method:
    """The interface's view of an NDR method, as generated code declares it."""
    params = wire.method.params
    ins = tuple(p.name for p in params if p.is_in)
    outs = tuple(p.name for p in params if p.is_out)
    hresult = wire.method.returns is _ndr.HRESULT
    fields = outs if hresult else ("retval", *outs)  # a non-HRESULT return leads the tuple
    result = collections.namedtuple("Result", fields) if len(outs) > hresult else None  # type: ignore[misc]
    return _rt.Method("M", ins=ins, outs=outs, result=result, hresult=hresult)


def _outcome(run: Any, *args: Any) -> Any:
    try:
        return "ok", repr(run(*args))  # repr: NaN != NaN
    except _ndr.NdrFault as fault:
        return type(fault).__name__, fault.hresult


def _general(route: Route, data: bytes) -> tuple[Any, int]:
    return _shape(route.method, route.wire.decode_response(data))


NULL_THAT = bytes(8)  # a lane's reply stub starts with it: ORPCTHAT, no flags or extensions


def _check_reply(route: Route, data: bytes) -> None:
    expected = _outcome(_general, route, data)
    if route.read is not None:
        assert _outcome(route.read, data) == expected
        assert _outcome(route.read, memoryview(data)) == expected  # as a lane hands it
    if route.read_stub is not None:  # a lane's reply stub in one unpack, or None: two steps
        for stub in (NULL_THAT + data, memoryview(NULL_THAT + data)):
            got = route.read_stub(stub)
            assert (expected if got is None else ("ok", repr(got))) == expected
            assert (got is None) == (expected[0] != "ok")  # a fault is the two steps' to say
        for lead in (b"\1" + bytes(7), bytes(4) + b"\0\0\2\0"):  # flags, extensions
            assert route.read_stub(lead + data) is None
    if expected[0] == "ok":  # what a call object's Finish_ then gives as it is
        assert _finished(*_as_returned(route.method, *_general(route, data))) == _finished(
            *_general(route, data)
        )


def _finished(value: Any, hr: int) -> Any:
    """What Finish_ makes of a completion: a failure HRESULT raises, whatever the value."""
    return ("raises", hr) if hr & 0x80000000 else repr((value, hr))


@settings(max_examples=300, deadline=None)
@given(methods(), st.data())
def test_primitive_routes_pack_and_read_as_the_general_way(case: Case, data: Any) -> None:
    engine, ins, outs, result = case
    route = Route(3, _com_method(engine), fast_codec(engine))
    assert isinstance(route.wire, PrimitiveCodec)
    values = tuple(ins[name] for name in route.method.ins)
    packed = route.pack(values) if route.pack is not None else None
    assert packed is None or packed == engine.encode_request(ins)
    odd = tuple(data.draw(st.one_of(st.integers(), st.booleans(), st.floats())) for _ in values)
    if route.pack is not None and (packed := route.pack(odd)) is not None:
        assert packed == engine.encode_request(dict(zip(route.method.ins, odd, strict=True)))
    if route.method.hresult and not any(p.kind == "bool" for p in _prims(engine)):
        assert route.read is not None and route.read_stub is not None
    good = engine.encode_response(outs, result)
    _check_reply(route, good)
    # the read unpacks with struct itself: a reply one byte off faults as the codec does
    _check_reply(route, good + b"\0")
    _check_reply(route, good[:-1])
    _check_reply(route, data.draw(st.binary(max_size=40)))


def _prims(engine: _ndr.MethodMarshaler) -> list[Any]:
    return [wire_type(p.type) for p in engine.method.params]


@settings(max_examples=200, deadline=None)
@given(buffer_methods(), st.binary(max_size=40))
def test_buffer_routes_read_as_the_general_way(case: Case, junk: bytes) -> None:
    engine, ins, outs, result = case
    route = Route(3, _com_method(engine), fast_codec(engine))
    assert isinstance(route.wire, BufferCodec)
    if route.wire.response_codec is None:  # the reply may need the [in] values: by name
        assert route.read is None and route.pack is None
        return
    assert route.pack is not None
    values = tuple(ins[name] for name in route.method.ins)
    assert route.pack(values) == engine.encode_request(ins)  # taken, the same bytes
    for i, bad in enumerate([None, True, -1, 1 << 32, b"x" * 50, bytearray(b"ab"), "text"]):
        odd = tuple(bad if j == i % max(1, len(values)) else v for j, v in enumerate(values))
        packed = route.pack(odd)
        by_name = dict(zip(route.method.ins, odd, strict=True))
        assert packed is None or packed == engine.encode_request(by_name)
    assert route.pack((*values, 0)) is None
    assert not values or route.pack(values[:-1]) is None
    _check_reply(route, route.wire.encode_response(outs, result, scope=ins))
    _check_reply(route, junk)


def test_exact_ints_are_packed_and_anything_else_left_to_the_marshaler() -> None:
    engine = _ndr.MethodMarshaler(
        _ndr.Method("M", (_ndr.Param("a", _ndr.LONG), _ndr.Param("b", _ndr.ULONG)), opnum=3)
    )
    route = Route(3, _com_method(engine), fast_codec(engine))
    assert route.pack is not None
    assert route.pack((-1, 7)) == engine.encode_request({"a": -1, "b": 7})
    for odd in [(True, 1), (1.0, 1), (1 << 31, 1), (1, -1), ("1", 1), (1,), (1, 2, 3)]:
        assert route.pack(odd) is None


@pytest.mark.parametrize("prim", PRIMS)
def test_a_failure_hresult_reads_as_no_value(prim: _ndr.Primitive) -> None:
    out = _ndr.Param("x", _ndr.Pointer("ref", prim), "out")
    engine = _ndr.MethodMarshaler(_ndr.Method("M", (out,), returns=_ndr.HRESULT, opnum=3))
    route = Route(3, _com_method(engine), fast_codec(engine))
    failed = engine.encode_response({"x": 0}, 0x80004005 - (1 << 32))
    assert route.read is not None and route.read(failed) == (None, 0x80004005)
    assert _general(route, failed) == (None, 0x80004005)


def test_create_call_alternating_riids_gets_each_its_own_class(server_sta: Apartment) -> None:
    _, proxy = connect(server_sta, Calc, ICalc)
    factory = proxy.QueryInterface(_rt.ICallFactory)
    with pytest.raises(_rt.NoInterfaceError):  # asked right after a good one: still refused
        factory.CreateCall(IID_AsyncICalc, None, IID_AsyncICalc).Release()
        factory.CreateCall(ICalc._iid_, None, ICalc._iid_)
    call = factory.CreateCall(IID_AsyncICalc, None, IID_AsyncICalc)
    call.Begin_Add(2, 3)
    assert call.wait(WAIT) and call.Finish_Add() == 5
    assert call.Release() == 0
    factory.Release()
    proxy.Release()
