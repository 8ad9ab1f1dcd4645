"""The precompiled primitive codec puts exactly the engine's bytes on the wire."""

from __future__ import annotations

from typing import Any, Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from idlgen.runtime import ndr as _ndr
from idlgen.runtime.ndr.fastwire import PrimitiveCodec, fast_codec

PRIMS = [
    _ndr.SMALL, _ndr.USMALL, _ndr.BYTE, _ndr.BOOLEAN, _ndr.SHORT, _ndr.USHORT, _ndr.WCHAR,
    _ndr.LONG, _ndr.ULONG, _ndr.HYPER, _ndr.UHYPER, _ndr.FLOAT, _ndr.DOUBLE, _ndr.HRESULT,
]  # fmt: skip


def _value(prim: _ndr.Primitive) -> st.SearchStrategy[Any]:
    if prim.kind == "float":
        if prim.fmt == "f":
            return st.floats(width=32, allow_nan=False)
        return st.floats(allow_nan=False)
    if prim.kind == "bool":
        return st.booleans()
    return st.integers(prim.lo, prim.hi)


@st.composite
def methods(draw: st.DrawFn) -> tuple[_ndr.MethodMarshaler, dict[str, Any], dict[str, Any], Any]:
    count = draw(st.integers(0, 6))
    params, ins, outs = [], {}, {}
    for i in range(count):
        prim = draw(st.sampled_from(PRIMS))
        direction: Literal["in", "out", "inout"] = draw(st.sampled_from(["in", "out", "inout"]))
        pointer = direction != "in" or draw(st.booleans())
        t: _ndr.NdrType = _ndr.Pointer("ref", prim) if pointer else prim
        params.append(_ndr.Param(f"p{i}", t, direction))
        if direction in ("in", "inout"):
            ins[f"p{i}"] = draw(_value(prim))
        if direction in ("out", "inout"):
            outs[f"p{i}"] = draw(_value(prim))
    returns = draw(st.sampled_from([None, _ndr.HRESULT, _ndr.LONG, _ndr.DOUBLE]))
    result = None if returns is None else draw(_value(returns))
    method = _ndr.Method("M", tuple(params), returns=returns, opnum=3)
    return _ndr.MethodMarshaler(method), ins, outs, result


@settings(max_examples=300, deadline=None)
@given(methods())
def test_same_bytes_and_values_as_the_engine(case: Any) -> None:
    wire, ins, outs, result = case
    fast = fast_codec(wire)
    assert isinstance(fast, PrimitiveCodec)
    request = wire.encode_request(ins)
    assert fast.encode_request(ins) == request
    assert fast.decode_request(request) == wire.decode_request(request)
    response = wire.encode_response(outs, result)
    assert fast.encode_response(outs, result) == response
    assert fast.decode_response(response) == wire.decode_response(response)


@settings(max_examples=200, deadline=None)
@given(methods(), st.binary(max_size=40))
def test_same_verdict_on_any_buffer(case: Any, data: bytes) -> None:
    wire, *_ = case
    fast = fast_codec(wire)
    for engine_decode, fast_decode in (
        (wire.decode_request, fast.decode_request),
        (wire.decode_response, fast.decode_response),
    ):
        try:
            expected = engine_decode(data)
        except _ndr.NdrFault:
            with pytest.raises(_ndr.NdrFault):
                fast_decode(data)
        else:
            assert repr(fast_decode(data)) == repr(expected)  # repr: NaN != NaN


@pytest.mark.parametrize("bad", [1 << 31, -(1 << 31) - 1, "1", 1.5, None])
def test_same_refusals_of_bad_values(bad: Any) -> None:
    wire = _ndr.MethodMarshaler(_ndr.Method("M", (_ndr.Param("a", _ndr.LONG),), opnum=3))
    fast = fast_codec(wire)
    with pytest.raises(_ndr.NdrMarshalError):
        wire.encode_request({"a": bad})
    with pytest.raises(_ndr.NdrMarshalError):
        fast.encode_request({"a": bad})
    with pytest.raises(_ndr.NdrMarshalError):
        fast.encode_request({})


def test_methods_with_other_types_keep_the_engine() -> None:
    array = _ndr.Pointer("ref", _ndr.ConformantArray(_ndr.BYTE, size_is=_ndr.Name("n")))
    wire = _ndr.MethodMarshaler(
        _ndr.Method("M", (_ndr.Param("p", array), _ndr.Param("n", _ndr.ULONG)), opnum=3)
    )
    assert fast_codec(wire) is wire
    assert fast_codec(None) is None
