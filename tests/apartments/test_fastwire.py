"""The precompiled primitive codec puts exactly the engine's bytes on the wire."""

from __future__ import annotations

import struct
from typing import Any, Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from idlgen.runtime import ndr as _ndr
from idlgen.runtime.ndr.fastwire import BufferCodec, PrimitiveCodec, fast_codec

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


@pytest.mark.parametrize(
    "array",
    [
        _ndr.ConformantArray(_ndr.LONG, size_is=_ndr.Name("n")),  # not bytes
        _ndr.ConformantArray(_ndr.BYTE, size_is=_ndr.parse_expr("n * 2")),
        _ndr.ConformantArray(_ndr.BYTE, max_is=_ndr.Name("n")),
        _ndr.ConformantVaryingArray(_ndr.BYTE, size_is=_ndr.Name("n"), first_is=_ndr.Name("n")),
        _ndr.Pointer("unique", _ndr.ConformantArray(_ndr.BYTE, size_is=_ndr.Name("n"))),
        _ndr.String(_ndr.WCHAR),
    ],
    ids=["long-elements", "size-expression", "max_is", "first_is", "unique-pointer", "string"],
)
def test_methods_with_other_types_keep_the_engine(array: Any) -> None:
    wire = _ndr.MethodMarshaler(
        _ndr.Method(
            "M",
            (_ndr.Param("p", _ndr.Pointer("ref", array)), _ndr.Param("n", _ndr.ULONG)),
            opnum=3,
        )
    )
    assert fast_codec(wire) is wire
    assert fast_codec(None) is None


# -- byte buffers (BufferCodec) -----------------------------------------------------------

COUNTS = [_ndr.USMALL, _ndr.SHORT, _ndr.USHORT, _ndr.LONG, _ndr.ULONG, _ndr.HYPER, _ndr.UHYPER]
Case = tuple[_ndr.MethodMarshaler, dict[str, Any], dict[str, Any], Any]


@st.composite
def buffer_methods(draw: st.DrawFn) -> Case:
    """Primitives and `[size_is(s), length_is(*l)] byte *p` buffers in any order: the sizes
    in the same message or (an [out] buffer sized by an [in]) in the caller's scope."""
    params: list[_ndr.Param] = []
    ins: dict[str, Any] = {}
    outs: dict[str, Any] = {}

    def add(name: str, t: _ndr.NdrType, direction: Any, value: Any) -> None:
        pointer = direction != "in" or draw(st.booleans())
        params.append(_ndr.Param(name, _ndr.Pointer("ref", t) if pointer else t, direction))
        if direction in ("in", "inout"):
            ins[name] = value
        if direction in ("out", "inout"):
            outs[name] = value

    for i in range(draw(st.integers(0, 4))):
        prim = draw(st.sampled_from(PRIMS))
        add(f"p{i}", prim, draw(st.sampled_from(["in", "out", "inout"])), draw(_value(prim)))
    for i in range(draw(st.integers(1, 3))):
        direction = draw(st.sampled_from(["in", "out", "inout"]))
        data = draw(st.binary(max_size=40))
        varying = draw(st.booleans())
        size = len(data) + (draw(st.integers(0, 9)) if varying else 0)
        size_dir = "in" if direction != "out" else draw(st.sampled_from(["in", "out", "inout"]))
        elem = draw(st.sampled_from([_ndr.BYTE, _ndr.CHAR]))
        add(f"s{i}", draw(st.sampled_from(COUNTS)), size_dir, size)
        size_is: Any = _ndr.Name(f"s{i}")
        if size_dir != "in" and draw(st.booleans()):
            size_is = _ndr.Unary("*", size_is)
        if varying:
            length_is = None
            if draw(st.booleans()):
                length_dir = "in" if direction == "in" else draw(st.sampled_from(["out", "inout"]))
                if direction == "inout":
                    length_dir = "inout"
                add(f"l{i}", _ndr.ULONG, length_dir, len(data))
                length_is = _ndr.Unary("*", _ndr.Name(f"l{i}"))
            t: Any = _ndr.ConformantVaryingArray(elem, size_is=size_is, length_is=length_is)
        else:
            t = _ndr.ConformantArray(elem, size_is=size_is)
        params.append(_ndr.Param(f"b{i}", _ndr.Pointer("ref", t), direction))
        if direction != "out":
            ins[f"b{i}"] = data
        if direction != "in":
            outs[f"b{i}"] = data
    order = draw(st.permutations(params))
    returns = draw(st.sampled_from([None, _ndr.HRESULT, _ndr.DOUBLE, _ndr.SMALL]))
    result = None if returns is None else draw(_value(returns))
    method = _ndr.Method("M", tuple(order), returns=returns, opnum=3)
    return _ndr.MethodMarshaler(method), ins, outs, result


def _outcome(run: Any, *args: Any, **kwargs: Any) -> Any:
    """What a call gives: its value, or the fault's type and HRESULT."""
    try:
        return ("ok", repr(run(*args, **kwargs)))  # repr: NaN != NaN
    except _ndr.NdrFault as fault:
        return (type(fault).__name__, fault.hresult)


@settings(max_examples=400, deadline=None)
@given(buffer_methods())
def test_buffers_same_bytes_and_values_as_the_engine(case: Case) -> None:
    wire, ins, outs, result = case
    fast = fast_codec(wire)
    assert isinstance(fast, BufferCodec)
    request = wire.encode_request(ins)
    assert fast.encode_request(ins) == request
    assert fast._request.pack(ins, None, None) == request  # taken, not handed to the engine
    assert fast.decode_request(request) == wire.decode_request(request)
    assert fast._request.unpack(request, None) is not None
    response = wire.encode_response(outs, result, scope=ins)
    assert fast.encode_response(outs, result, scope=ins) == response
    assert fast._response.pack(outs, ins, result) == response
    assert repr(fast.decode_response(response, scope=ins)) == repr(
        wire.decode_response(response, scope=ins)
    )
    assert fast._response.unpack(response, ins) is not None


@settings(max_examples=300, deadline=None)
@given(buffer_methods(), st.data())
def test_buffers_same_verdict_on_damaged_messages(case: Case, data: st.DataObject) -> None:
    """A valid message cut, extended or with a byte changed (counts, offsets, padding),
    or any bytes at all: the same values or the same fault (HRESULT) as the engine."""
    wire, ins, outs, result = case
    fast = fast_codec(wire)
    for engine_decode, fast_decode, good in (
        (wire.decode_request, fast.decode_request, wire.encode_request(ins)),
        (wire.decode_response, fast.decode_response, wire.encode_response(outs, result, scope=ins)),
    ):
        how = data.draw(st.sampled_from(["cut", "extend", "flip", "any"]))
        if how == "cut":
            damaged = good[: data.draw(st.integers(0, max(len(good) - 1, 0)))]
        elif how == "extend":
            damaged = good + data.draw(st.binary(min_size=1, max_size=9))
        elif how == "flip" and good:
            at = data.draw(st.integers(0, len(good) - 1))
            damaged = good[:at] + bytes([data.draw(st.integers(0, 255))]) + good[at + 1 :]
        else:
            damaged = data.draw(st.binary(max_size=60))
        scope = data.draw(st.sampled_from([ins, {}, None]))
        assert _outcome(fast_decode, damaged, scope=scope) == _outcome(
            engine_decode, damaged, scope=scope
        )


@settings(max_examples=300, deadline=None)
@given(buffer_methods(), st.data())
def test_buffers_same_refusals_of_bad_values(case: Case, data: st.DataObject) -> None:
    """A buffer of the wrong length or type, a size that disagrees, a missing value: the
    engine's bytes if it takes the value anyway, else its refusal."""
    wire, ins, outs, result = case
    fast = fast_codec(wire)
    for values, scope, encode_engine, encode_fast in (
        (ins, None, wire.encode_request, fast.encode_request),
        (outs, ins, wire.encode_response, fast.encode_response),
    ):
        if not values:
            continue
        name = data.draw(st.sampled_from(sorted(values)))
        bad = data.draw(
            st.sampled_from(
                [
                    None,
                    "text",
                    True,
                    -1,
                    1 << 32,
                    b"x" * 50,
                    b"",
                    [1, 2, 3],
                    [300],
                    memoryview(b"abc"),
                    bytearray(b"ab"),
                ]
            )
        )
        changed = {**values, name: bad}
        if data.draw(st.booleans()):
            del changed[name]
        args: tuple[Any, ...] = (
            (changed,) if encode_engine == wire.encode_request else (changed, result)
        )
        assert _outcome(encode_fast, *args, scope=scope) == _outcome(
            encode_engine, *args, scope=scope
        )


def _damaged(good: bytes, data: st.DataObject) -> bytes:
    """`good` as it is, cut, extended, with a byte changed (counts, offsets, padding), or
    any bytes at all."""
    how = data.draw(st.sampled_from(["as is", "cut", "extend", "flip", "any"]))
    if how == "cut":
        return good[: data.draw(st.integers(0, max(len(good) - 1, 0)))]
    if how == "extend":
        return good + data.draw(st.binary(min_size=1, max_size=9))
    if how == "flip" and good:
        at = data.draw(st.integers(0, len(good) - 1))
        return good[:at] + bytes([data.draw(st.integers(0, 255))]) + good[at + 1 :]
    if how == "any":
        return data.draw(st.binary(max_size=60))
    return good


_PREFIX = struct.Struct("<HHQ4s")  # 16 bytes, as ORPCTHIS's 32 before a request


@settings(max_examples=500, deadline=None)
@given(buffer_methods(), st.data())
def test_one_buffer_reader_takes_what_the_codec_takes(case: Case, data: st.DataObject) -> None:
    """`OneBufferReader` (the server's read of `Write(pv, cb)`: prefix, fields and buffer in
    two `struct` calls and a slice) gives the prefix's values and `fast_request_values`'s,
    and refuses what that refuses, for good and damaged requests anywhere in a frame."""
    wire, ins, _outs, _result = case
    fast = fast_codec(wire)
    reader = fast.request_reader(_PREFIX)
    if reader is None:
        return
    body = _damaged(wire.encode_request(ins), data)
    at = data.draw(st.integers(0, 9))
    frame = bytes(range(at)) + _PREFIX.pack(1, 2, 3, b"four") + body
    expected = fast.fast_request_values(body)
    got = reader.read(frame, at)
    assert repr(got) == repr(None if expected is None else (1, 2, 3, b"four", *expected))


@settings(max_examples=500, deadline=None)
@given(buffer_methods(), st.data())
def test_pack_exact_gives_the_engines_bytes_or_leaves_it_to_the_engine(
    case: Case, data: st.DataObject
) -> None:
    """What a proxy packs from the [in] values in wire order (`OneBufferWriter` for one
    buffer between the fields that size it, `_Message.pack` otherwise): the engine's bytes,
    or None and the engine encodes (or refuses) them; good values of one buffer are taken."""
    wire, ins, _outs, _result = case
    fast = fast_codec(wire)
    assert isinstance(fast, BufferCodec)
    names = fast.request_names
    values = [ins[name] for name in names]
    good = not names or data.draw(st.booleans())
    if not good:
        at = data.draw(st.integers(0, len(values) - 1))
        values[at] = data.draw(
            st.sampled_from(
                [None, "text", True, -1, 1 << 32, 1 << 64, b"x" * 50, b"", bytearray(b"ab"), 2.0]
            )
        )
    got = fast.pack_exact(values)
    expected = _outcome(wire.encode_request, dict(zip(names, values, strict=True)))
    if got is not None:
        assert ("ok", repr(got)) == expected
    if good and fast._one is not None:
        assert got == wire.encode_request(ins)


def _one_buffer(*params: _ndr.Param) -> BufferCodec:
    codec = fast_codec(_ndr.MethodMarshaler(_ndr.Method("M", params, opnum=3)))
    assert isinstance(codec, BufferCodec)
    return codec


def test_one_buffer_reader_for_the_usual_buffer_requests_only() -> None:
    """The reader the test above checks exists for one buffer sized by the request's own
    integers, before or after it, conformant or varying; not for two buffers, a size
    from elsewhere, a boolean field or a prefix that moves the alignment."""
    ulong = _ndr.ULONG
    size = _ndr.ConformantArray(_ndr.BYTE, size_is=_ndr.Name("cb"))
    varying = _ndr.ConformantVaryingArray(
        _ndr.BYTE, size_is=_ndr.Name("cb"), length_is=_ndr.Unary("*", _ndr.Name("n"))
    )
    pv = _ndr.Param("pv", _ndr.Pointer("ref", size))
    cb = _ndr.Param("cb", ulong)
    usual = [
        _one_buffer(pv, cb),
        _one_buffer(cb, pv),
        _one_buffer(cb, _ndr.Param("pv", _ndr.Pointer("ref", varying)), _ndr.Param("n", ulong)),
    ]
    assert all(codec.request_reader(_PREFIX) is not None for codec in usual)
    assert all(codec._one is not None for codec in usual)  # and the proxy's writer
    assert usual[0].request_reader(struct.Struct("<I")) is None
    two = _ndr.Param("pw", _ndr.Pointer("ref", size))
    flag = _ndr.Param("f", _ndr.BOOLEAN)
    out_size = _ndr.Param("cb", _ndr.Pointer("ref", ulong), "out")
    for other in (_one_buffer(pv, cb, two), _one_buffer(pv, cb, flag), _one_buffer(pv, out_size)):
        assert other.request_reader(_PREFIX) is None
        assert other._one is None


def test_byte_buffers_padding_before_the_next_field() -> None:
    """An odd-sized buffer then a hyper: 7 pad bytes the codec must add and skip."""
    array = _ndr.ConformantArray(_ndr.BYTE, size_is=_ndr.Name("n"))
    method = _ndr.Method(
        "M",
        (
            _ndr.Param("n", _ndr.ULONG),
            _ndr.Param("p", _ndr.Pointer("ref", array)),
            _ndr.Param("h", _ndr.HYPER),
        ),
        opnum=3,
    )
    wire = _ndr.MethodMarshaler(method)
    fast = fast_codec(wire)
    assert isinstance(fast, BufferCodec)
    values = {"n": 1, "p": b"\x07", "h": -2}
    body = fast.encode_request(values)
    assert body == wire.encode_request(values)
    assert body == b"\1\0\0\0" + b"\1\0\0\0" + b"\7" + bytes(7) + b"\xfe" + b"\xff" * 7
    assert fast.decode_request(body) == values
    empty = {"n": 0, "p": b"", "h": 5}
    assert fast.encode_request(empty) == wire.encode_request(empty) == bytes(8) + b"\5" + bytes(7)


class _Indexable:
    """Not an int, though struct would take it (`__index__`): the engine refuses it."""

    def __index__(self) -> int:
        return 1


INTS = [p for p in PRIMS if p.kind == "int"]
_ANY_VALUE = st.one_of(
    st.integers(-(1 << 65), 1 << 65),
    st.booleans(),
    st.just(_Indexable()),
    st.floats(allow_nan=False),
    st.none(),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(INTS), _ANY_VALUE), min_size=1, max_size=5))
def test_integer_requests_same_verdict_as_the_engine_for_any_value(
    fields: list[tuple[_ndr.Primitive, Any]],
) -> None:
    """Integer-only requests skip the per-value checks for exact ints in range (struct
    checks the range): every value, in range or not, still gets the engine's bytes or
    the engine's refusal."""
    params = tuple(_ndr.Param(f"p{i}", prim) for i, (prim, _) in enumerate(fields))
    wire = _ndr.MethodMarshaler(_ndr.Method("M", params, opnum=3))
    ins = {f"p{i}": value for i, (_, value) in enumerate(fields)}
    fast = fast_codec(wire)
    try:
        expected = wire.encode_request(ins)
    except _ndr.NdrMarshalError:
        with pytest.raises(_ndr.NdrMarshalError):
            fast.encode_request(ins)
    else:
        assert fast.encode_request(ins) == expected
    for missing in ins:
        with pytest.raises(_ndr.NdrMarshalError, match=missing):
            fast.encode_request({k: v for k, v in ins.items() if k != missing})


@settings(max_examples=200, deadline=None)
@given(buffer_methods(), st.sampled_from([None, True, 1 << 40, -(1 << 40), b"x", 1.5, "1"]))
def test_buffers_same_verdict_on_any_result_value(case: Case, bad: Any) -> None:
    """The return value is checked like the values by name: exact ints in range go to
    `struct` unchecked, anything else the engine's way (what it refuses, refused)."""
    wire, ins, outs, _ = case
    fast = fast_codec(wire)
    assert _outcome(fast.encode_response, outs, bad, scope=ins) == _outcome(
        wire.encode_response, outs, bad, scope=ins
    )
