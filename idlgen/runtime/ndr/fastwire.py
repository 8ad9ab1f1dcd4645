"""Precompiled codecs for methods whose parameters are primitives and byte buffers.

Most cross-apartment calls are small (`Add(long, long, [out] long*)`): interpreting their
descriptors costs more than moving them between threads. When every [in], every [out]
(after the top-level [ref] pointer, which has no bytes on the wire) and the return type are
`Primitive`s, a message is a fixed layout: each value aligned to its own size, in order. One
`struct.Struct` with explicit pad bytes then encodes and decodes it with the engine's value
checks and faults. The output is byte-identical to `MethodMarshaler` (tests/apartments
checks it with hypothesis); every other method keeps using the engine.

Byte buffers (`[size_is(cb)] byte *pv`, `[size_is(cb), length_is(*pcb)] byte *pv`) are the
other common payload, and the engine walks them one descriptor at a time. `BufferCodec`
cuts such a message into runs of fixed fields, each ending with an array's header (its
counts), and the array's bytes in between: one `struct` call per run (the padding before a
run depends on where the previous bytes ended, so each run has a struct per alignment
phase) and one slice per array. It takes only what it is sure of: exact `bytes` or
`bytearray` values and integer counts that agree; anything else (a wrong length, a count
out of range, a reply whose counts disagree or whose size is off) is handed to the engine,
so every refusal and fault is the engine's own, with its HRESULT.
"""

from __future__ import annotations

import operator
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from idlgen.runtime import ndr as _ndr
from idlgen.runtime.ndr.fault import bad_stub
from idlgen.runtime.ndr.method import wire_type

__all__ = ["BufferCodec", "OneBufferReader", "PrimitiveCodec", "exact_ints", "fast_codec"]


class _Layout:
    """One message: names, their primitives and the packed struct with padding."""

    __slots__ = ("as_is", "bools", "get", "names", "plain", "prims", "struct")

    def __init__(self, fields: list[tuple[str, _ndr.Primitive]]) -> None:
        self.names = tuple(name for name, _ in fields)
        self.prims = tuple(prim for _, prim in fields)
        self.bools = any(prim.kind == "bool" for prim in self.prims)
        # Every field an integer whose accepted range is its struct format's: struct's own
        # range check is then the engine's, and exact ints need no check in Python.
        self.plain = all(
            not prim.unsigned_view and _struct_range(prim) == (prim.lo, prim.hi)
            for prim in self.prims
        )
        # Every field an integer that `_check` gives back as it is whenever struct's format
        # takes it: exact ints then need no check in Python either, and a value struct
        # refuses is one `_check` refuses or would change (a negative HRESULT).
        self.as_is = all(_as_is(prim) for prim in self.prims)
        # The values by name in one C call (one name: itemgetter gives the bare value).
        self.get = operator.itemgetter(*self.names) if len(self.names) > 1 else None
        fmt, pos = "<", 0
        for prim in self.prims:
            pad = -pos % prim.size
            fmt += "x" * pad + prim.fmt
            pos += pad + prim.size
        self.struct = struct.Struct(fmt)

    def pack(self, values: Sequence[Any]) -> bytes:
        # `as_is`, not only `plain`: a reply's HRESULT (an unsigned view) is as it is too,
        # and exact ints struct takes are then what the checks would give back.
        if self.as_is and exact_ints(values):
            try:
                return self.struct.pack(*values)
            except struct.error:
                pass  # out of range: the checks below fault it with the engine's message
        checked = [_check(p, v) for p, v in zip(self.prims, values, strict=True)]
        try:
            return self.struct.pack(*checked)
        except (OverflowError, struct.error) as exc:  # a float too large for a `float`
            raise _ndr.NdrMarshalError(f"value does not fit: {exc}") from None

    def pack_exact(self, values: Sequence[Any]) -> bytes | None:
        """`pack` for values that are exact ints in their formats' ranges (`struct`'s own
        checks are then the engine's); None for anything else, which `pack` checks."""
        if not self.plain or not exact_ints(values):
            return None
        try:
            return self.struct.pack(*values)
        except struct.error:
            return None

    def unpack(self, data: bytes | bytearray | memoryview) -> tuple[Any, ...]:
        if len(data) != self.struct.size:
            what = "too short" if len(data) < self.struct.size else "followed by trailing bytes"
            raise bad_stub(f"message is {what} ({len(data)} bytes, {self.struct.size} expected)")
        raw = self.struct.unpack(data)
        if not self.bools:
            return raw
        return tuple(
            bool(v) if p.kind == "bool" else v for p, v in zip(self.prims, raw, strict=True)
        )


def exact_ints(values: Iterable[object]) -> bool:
    """Are `values` all exact ints (no bool, no int subclass, no `__index__` type)? Then
    `struct`'s range check is the engine's whole check for a plain layout's fields. A
    loop: for a call's few values it costs about two thirds of `frozenset({int}).
    issuperset(map(type, values))` in CPython 3.11 (the proxy call objects' Begin_ asks it
    per call)."""
    for value in values:  # noqa: SIM110 (all() over a generator: slower)
        if type(value) is not int:
            return False
    return True


def _struct_range(prim: _ndr.Primitive) -> tuple[int, int] | None:
    """The integers an integer primitive's struct format takes."""
    if prim.kind != "int" or prim.fmt.lower() not in "bhilq":
        return None
    bits = struct.calcsize("<" + prim.fmt) * 8
    if prim.fmt.islower():
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


def _as_is(prim: _ndr.Primitive) -> bool:
    """Does `_check` give back, unchanged, every int the primitive's struct format takes?
    (An unsigned view changes negative values only.)"""
    taken = _struct_range(prim)
    if taken is None:
        return False
    lo, hi = taken
    return prim.lo <= lo and hi <= prim.hi and (lo == 0 or not prim.unsigned_view)


def _check(t: _ndr.Primitive, value: Any) -> Any:
    """The engine's rules for a primitive value (range, type, unsigned view)."""
    if t.kind == "float":
        if not isinstance(value, int | float):
            raise _ndr.NdrMarshalError(f"{t.name} needs a number, got {type(value).__name__}")
        return value
    if not isinstance(value, int):
        raise _ndr.NdrMarshalError(f"{t.name} needs an int, got {type(value).__name__}")
    if t.kind == "bool":
        value = int(value)
        if value not in (0, 1):
            raise _ndr.NdrMarshalError(f"boolean must be 0 or 1, got {value}")
        return value
    if not t.lo <= value <= t.hi:
        raise _ndr.NdrMarshalError(f"{value} is out of range for {t.name}")
    if t.unsigned_view:
        value &= (1 << (8 * t.size)) - 1
    return value


class PrimitiveCodec:
    """Drop-in for `MethodMarshaler` (same four methods, same bytes, same faults)."""

    __slots__ = ("_request", "_response", "_returns", "method")

    def __init__(self, method: _ndr.Method, ins: list[Any], outs: list[Any]) -> None:
        self.method = method
        self._returns = method.returns is not None
        if method.returns is not None:
            outs = [*outs, ("", method.returns)]
        self._request = _Layout(ins)
        self._response = _Layout(outs)

    def encode_request(
        self, values: Mapping[str, Any], *, scope: Any = None, marshaler: Any = None
    ) -> bytes:
        layout = self._request
        if layout.get is None:
            return layout.pack(_ordered(layout.names, values))
        try:
            ordered = layout.get(values)
        except KeyError:
            ordered = _ordered(layout.names, values)  # raises, naming the missing one
        return layout.pack(ordered)

    def decode_request(
        self, data: bytes | bytearray | memoryview, *, scope: Any = None, marshaler: Any = None
    ) -> dict[str, Any]:
        return dict(zip(self._request.names, self._request.unpack(data), strict=True))

    def encode_response(
        self,
        values: Mapping[str, Any],
        result: Any = None,
        *,
        scope: Any = None,
        marshaler: Any = None,
    ) -> bytes:
        layout = self._response
        if self._returns and len(layout.names) == 2:  # one [out] and the result: most methods
            try:
                ordered = [values[layout.names[0]], result]
            except KeyError:
                ordered = self._response_ordered(values, result)  # raises, naming it
            return layout.pack(ordered)
        return layout.pack(self._response_ordered(values, result))

    def _response_ordered(self, values: Mapping[str, Any], result: Any) -> list[Any]:
        names = self._response.names
        ordered = _ordered(names[:-1] if self._returns else names, values)
        if self._returns:
            ordered.append(result)
        return ordered

    # -- for callers that pack the message into a larger struct (the server's fast path) --

    @property
    def request_names(self) -> tuple[str, ...]:
        return self._request.names

    @property
    def request_size(self) -> int:
        return self._request.struct.size

    def request_values(self, data: bytes | bytearray | memoryview) -> tuple[Any, ...]:
        """The [in] values in wire order (same checks and faults as `decode_request`)."""
        return self._request.unpack(data)

    def fast_request_values(self, data: bytes | bytearray | memoryview) -> tuple[Any, ...] | None:
        """`request_values`, or None for data of the wrong size (the general path faults it)."""
        if len(data) != self._request.struct.size:
            return None
        return self._request.unpack(data)

    @property
    def request_format(self) -> str | None:
        """The request's struct format without the byte-order prefix; None when `struct`'s
        values are not the [in] values as they are (a boolean is read as an int)."""
        return None if self._request.bools else self._request.struct.format[1:]

    @property
    def exact_format(self) -> str | None:
        """The request's struct format without the byte-order prefix when `pack_exact`
        packs exact ints in range with it as they are (every field a plain integer); else
        None. A caller may pack the request into a larger struct with it."""
        return self._request.struct.format[1:] if self._request.plain else None

    @property
    def pack_exact(self) -> Callable[[Sequence[Any]], bytes | None]:
        """The request for [in] values in wire order when they are exact ints in range
        (bytes identical to `encode_request`'s), else None: the caller then encodes by
        name, with the per-value checks and faults. Bound once by a caller that keeps it."""
        return self._request.pack_exact

    @property
    def response_unpacker(self) -> Callable[[bytes | bytearray | memoryview], tuple[Any, ...]]:
        """The response's fields in `response_names` order, with `decode_response`'s
        checks (a message of the wrong size faults); bound once by a caller that keeps it."""
        return self._response.unpack

    @property
    def response_struct_unpacker(
        self,
    ) -> Callable[[bytes | bytearray | memoryview], tuple[Any, ...]] | None:
        """`struct`'s own unpack of the response when its fields are the values as they are
        (no booleans to convert), else None. A message of the wrong size raises
        `struct.error`, not the codec's fault: `response_unpacker` gives that one."""
        return None if self._response.bools else self._response.struct.unpack

    @property
    def response_format(self) -> str:
        """The response's struct format without the byte-order prefix."""
        return self._response.struct.format[1:]

    @property
    def response_as_is(self) -> bool:
        """Are exact ints in range the response's checked values as they are, and does
        `struct` refuse the others (`_Layout.as_is`)?"""
        return self._response.as_is

    @property
    def response_names(self) -> tuple[str, ...]:
        """The response's fields in wire order; the result's is ""."""
        return self._response.names

    def response_fields(self, values: Mapping[str, Any], result: Any = None) -> list[Any]:
        """What `encode_response` packs, checked and in order, for a larger struct."""
        return self.checked_response(self._response_ordered(values, result))

    def checked_response(self, ordered: tuple[Any, ...] | list[Any]) -> list[Any]:
        """`response_fields` for values already in `response_names` order."""
        return [_check(p, v) for p, v in zip(self._response.prims, ordered, strict=True)]

    def decode_response(
        self, data: bytes | bytearray | memoryview, *, scope: Any = None, marshaler: Any = None
    ) -> _ndr.Response:
        # One value per name by construction: no strict= (a keyword argument costs zip a
        # parse per call, on every reply).
        values = self._response.unpack(data)
        outs = zip(self._response.names, values[:-1] if self._returns else values)  # noqa: B905
        return _ndr.Response(dict(outs), values[-1] if self._returns else None)


def _ordered(names: tuple[str, ...], values: Mapping[str, Any]) -> list[Any]:
    try:
        return [values[name] for name in names]
    except KeyError as exc:
        raise _ndr.NdrMarshalError(f"missing parameter {exc.args[0]!r}") from None


class _Array:
    """A byte buffer parameter; its header's counts are the values `size` (and `length`) name."""

    __slots__ = ("length", "name", "size", "varying")

    def __init__(self, name: str, size: str, length: str | None, varying: bool) -> None:
        self.name = name
        self.size = size
        self.length = length
        self.varying = varying


class _Run:
    """Fixed fields up to the next byte buffer: primitives, then the buffer's header."""

    __slots__ = ("array", "bools", "hi", "lo", "names", "plain", "prims", "result", "structs")

    def __init__(
        self,
        fields: list[tuple[str, _ndr.Primitive]],
        array: _Array | None,
        result: _ndr.Primitive | None,
        lo: int = 0,
    ) -> None:
        self.names = tuple(name for name, _ in fields)
        # where its primitives are in the message's values (`_Message.names` order), and
        # its buffer's at `hi`
        self.lo, self.hi = lo, lo + len(fields)
        self.prims = tuple(prim for _, prim in fields) + ((result,) if result is not None else ())
        self.result = result is not None
        self.bools = any(prim.kind == "bool" for prim in self.prims)
        # As `_Layout.plain`: exact ints need no check in Python, `struct` range-checks them
        self.plain = all(_struct_range(prim) == (prim.lo, prim.hi) for prim in self.prims)
        self.array = array
        header = () if array is None else (_ndr.ULONG,) * (3 if array.varying else 1)
        # The bytes before a run end anywhere: one struct per start offset modulo 8 (the
        # largest alignment), each with the padding that offset needs.
        self.structs = tuple(_padded(phase, self.prims + header) for phase in range(8))


def _padded(phase: int, prims: tuple[_ndr.Primitive, ...]) -> struct.Struct:
    fmt, pos = "<", phase
    for prim in prims:
        pad = -pos % prim.size
        fmt += "x" * pad + prim.fmt
        pos += pad + prim.size
    return struct.Struct(fmt)


_EXACT_VALUES = frozenset({int, bytes, bytearray, type(None)})  # None: no result


def _tuple_getter(names: tuple[str, ...]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """`names`' values from a mapping, always as a tuple (one C call for two or more)."""
    if len(names) > 1:
        return operator.itemgetter(*names)
    return lambda values: tuple(values[name] for name in names)


def _count(name: str, values: Mapping[str, Any], scope: Mapping[str, Any] | None) -> int:
    """What the engine's correlation names evaluate to, or -1 when it is not a plain int (a
    bool, a missing name...): the caller then leaves the message to the engine."""
    if name in values:
        value = values[name]
    elif scope is not None and name in scope:
        value = scope[name]
    else:
        return -1
    return value if type(value) is int else -1


class _Message:
    """Runs and byte buffers in wire order."""

    __slots__ = ("get", "names", "plain", "runs")

    def __init__(self, fields: list[tuple[str, Any]], result: _ndr.Primitive | None) -> None:
        self.runs: list[_Run] = []
        self.names = tuple(name for name, _ in fields)
        run: list[tuple[str, _ndr.Primitive]] = []
        for index, (name, t) in enumerate(fields):
            if isinstance(t, _Array):
                self.runs.append(_Run(run, t, None, index - len(run)))
                run = []
            else:
                run.append((name, t))
        self.runs.append(_Run(run, None, result, len(fields) - len(run)))
        # Every value by name in one C call, as a tuple in `names` order
        self.get = _tuple_getter(self.names)
        self.plain = all(run.plain for run in self.runs)

    def pack(
        self, values: Mapping[str, Any], scope: Mapping[str, Any] | None, result: Any
    ) -> bytes | None:
        """The engine's bytes, or None for the engine to encode (or refuse) instead."""
        parts: list[bytes] = []
        pos = 0
        try:
            got = self.get(values)
            # Exact ints where primitives are and whose ranges are their formats' need no
            # check in Python (`struct` range-checks them; a buffer in a primitive's place
            # is refused by `struct`, an int in a buffer's place below).
            exact = self.plain and set(map(type, (*got, result))) <= _EXACT_VALUES
            for run in self.runs:
                fields = list(got[run.lo : run.hi])
                if run.result:
                    fields.append(result)
                if not exact:
                    fields = [_check(p, v) for p, v in zip(run.prims, fields, strict=True)]
                a = run.array
                data = b""
                if a is not None:
                    data = got[run.hi]
                    if type(data) is not bytes and type(data) is not bytearray:
                        return None
                    size = a.size  # in the same message, as a request's mostly is: no call
                    count = values[size] if size in values else _count(size, values, scope)
                    count = count if type(count) is int else -1  # as `_count` says
                    if a.varying:
                        n = len(data) if a.length is None else _count(a.length, values, scope)
                        if n != len(data) or not n <= count <= 0xFFFFFFFF:
                            return None
                        fields += (count, 0, n)
                    else:
                        if count != len(data) or count > 0xFFFFFFFF:
                            return None
                        fields.append(count)
                s = run.structs[pos & 7]
                parts.append(s.pack(*fields))
                pos += s.size
                if a is not None:
                    parts.append(data)
                    pos += len(data)
        except Exception:  # a missing or wrong value: the engine says which, as it always did
            return None
        return b"".join(parts)

    def unpack(
        self, data: bytes | bytearray | memoryview, scope: Mapping[str, Any] | None
    ) -> tuple[dict[str, Any], Any] | None:
        """Values and result as the engine decodes them; None where the engine must look
        (it then faults, or decodes what this does not take)."""
        try:
            out: dict[str, Any] = {}
            result = None
            pos, end = 0, len(data)
            seen: list[tuple[_Array, int, int]] = []
            for run in self.runs:
                s = run.structs[pos & 7]
                raw = s.unpack_from(data, pos)  # too short: struct.error, below
                pos += s.size
                if run.bools:
                    raw = (
                        tuple(
                            bool(v) if p.kind == "bool" else v
                            for p, v in zip(run.prims, raw, strict=False)
                        )
                        + raw[len(run.prims) :]
                    )
                k = len(run.names)
                out.update(zip(run.names, raw))  # noqa: B905 (stops at the names: the rest is counts)
                if run.result:
                    result = raw[k]
                a = run.array
                if a is not None:
                    count = raw[k]
                    if a.varying:
                        n = raw[k + 2]
                        if raw[k + 1] or n > count:
                            return None
                    else:
                        n = count
                    if end - pos < n:
                        return None
                    out[a.name] = bytes(data[pos : pos + n])
                    pos += n
                    seen.append((a, count, n))
            if pos != end:
                return None
            for a, count, n in seen:
                if _count(a.size, out, scope) != count:
                    return None
                if a.length is not None and _count(a.length, out, scope) != n:
                    return None
            return out, result
        except Exception:  # a peer's bytes must end in the engine's fault, never a traceback
            return None


class BufferCodec:
    """Drop-in for `MethodMarshaler` when parameters are primitives and byte buffers (same
    four methods, same bytes, same faults: what it does not take, the engine does)."""

    __slots__ = ("_one", "_request", "_response", "engine", "method", "response_codec")

    def __init__(self, engine: _ndr.MethodMarshaler, ins: list[Any], outs: list[Any]) -> None:
        self.engine = engine
        self.method = engine.method
        returns = self.method.returns
        self._request = _Message(ins, None)
        self._response = _Message(outs, returns if isinstance(returns, _ndr.Primitive) else None)
        self._one = OneBufferWriter.of(self._request)  # `Write(pv, cb)`'s request, if so
        # A response without byte buffers (`Write`'s: a count and the HRESULT) is all
        # primitives: `PrimitiveCodec` reads and writes it in one `struct` call, and the
        # server's lean path packs it into the reply PDU's own struct. Its request side is
        # empty: use it for responses only.
        self.response_codec: PrimitiveCodec | None = None
        if not any(isinstance(t, _Array) for _, t in outs):
            self.response_codec = PrimitiveCodec(self.method, [], outs)

    def encode_request(
        self,
        values: Mapping[str, Any],
        *,
        scope: Mapping[str, Any] | None = None,
        marshaler: Any = None,
    ) -> bytes:
        body = self._request.pack(values, scope, None)
        if body is None:
            return self.engine.encode_request(values, scope=scope, marshaler=marshaler)
        return body

    def pack_exact(self, values: Sequence[Any]) -> bytes | None:
        """The request for [in] values in `request_names` order, when this codec takes
        them as they are (the bytes `encode_request` gives); None: `encode_request` must
        encode them, with the engine's checks and faults."""
        names = self._request.names
        if len(values) != len(names):
            return None
        if self._one is not None:
            return self._one.pack(values)
        return self._request.pack(dict(zip(names, values)), None, None)  # noqa: B905

    def decode_request(
        self,
        data: bytes | bytearray | memoryview,
        *,
        scope: Mapping[str, Any] | None = None,
        marshaler: Any = None,
    ) -> dict[str, Any]:
        got = self._request.unpack(data, scope)
        if got is None:
            return self.engine.decode_request(data, scope=scope, marshaler=marshaler)
        return got[0]

    def encode_response(
        self,
        values: Mapping[str, Any],
        result: Any = None,
        *,
        scope: Mapping[str, Any] | None = None,
        marshaler: Any = None,
    ) -> bytes:
        if self.response_codec is not None:
            return self.response_codec.encode_response(values, result)
        body = self._response.pack(values, scope, result)
        if body is None:
            return self.engine.encode_response(values, result, scope=scope, marshaler=marshaler)
        return body

    def decode_response(
        self,
        data: bytes | bytearray | memoryview,
        *,
        scope: Mapping[str, Any] | None = None,
        marshaler: Any = None,
    ) -> _ndr.Response:
        if self.response_codec is not None:
            return self.response_codec.decode_response(data)
        got = self._response.unpack(data, scope)
        if got is None:
            return self.engine.decode_response(data, scope=scope, marshaler=marshaler)
        return _ndr.Response(*got)

    # -- for the server's fast path --

    @property
    def request_names(self) -> tuple[str, ...]:
        return self._request.names

    def fast_request_values(self, data: bytes | bytearray | memoryview) -> tuple[Any, ...] | None:
        """The [in] values in wire order if this codec takes `data` as it is, else None."""
        got = self._request.unpack(data, None)
        return None if got is None else tuple(got[0].values())

    def request_reader(self, prefix: struct.Struct) -> OneBufferReader | None:
        """A reader of requests after a fixed `prefix` (little-endian, a whole number of 8
        bytes: ORPC's ORPCTHIS) when the request is one byte buffer between fixed fields
        that size it (`Write(pv, cb)`); None otherwise."""
        return OneBufferReader.of(self._request, prefix)


class OneBufferReader:
    """A prefix, then a request of one byte buffer between fixed fields, read from a larger
    frame in two `struct` calls and one slice: the prefix, the fields before the buffer and
    its header in the first, the fields after it in the second (one struct per alignment
    phase, as `_Run`'s). It takes exactly what `_Message.unpack` takes after the prefix,
    with the same values (tests/apartments/test_fastwire.py compares them)."""

    __slots__ = ("before", "head", "length_at", "size_at", "tails", "varying")

    def __init__(
        self, message: _Message, prefix: struct.Struct, size_at: int, length_at: int
    ) -> None:
        first, last = message.runs
        assert first.array is not None
        self.head = struct.Struct(prefix.format + first.structs[0].format[1:])
        self.varying = first.array.varying
        self.tails = last.structs
        skip = len(prefix.unpack(bytes(prefix.size)))  # the prefix's fields
        # `head`'s values before the buffer's counts; the size and length fields' indices
        # in what `read` returns.
        self.before = skip + len(first.names)
        self.size_at = skip + size_at
        self.length_at = -1 if length_at < 0 else skip + length_at

    @classmethod
    def of(cls, message: _Message, prefix: struct.Struct) -> OneBufferReader | None:
        if prefix.size % 8 or not prefix.format.startswith("<") or len(message.runs) != 2:
            return None
        first, last = message.runs
        array = first.array
        if array is None or first.bools or last.bools:
            return None
        ints = [
            name
            for run in message.runs
            for name, prim in zip(run.names, run.prims, strict=False)  # prims: + the result's
            if prim.kind == "int"
        ]
        if array.size not in ints or (array.length is not None and array.length not in ints):
            return None  # sized by something else: `_Message.unpack` refuses it every time
        names = message.names
        length_at = -1 if array.length is None else names.index(array.length)
        return cls(message, prefix, names.index(array.size), length_at)

    def read(self, frame: bytes, at: int) -> tuple[Any, ...] | None:
        """The prefix's values, then the request's in wire order, of the frame whose prefix
        starts at `at` and whose request runs to its end; None where `_Message.unpack`
        says None (short, long, counts that disagree)."""
        head = self.head
        try:
            raw = head.unpack_from(frame, at)
        except struct.error:
            return None
        if self.varying:
            count, offset, n = raw[-3:]
            if offset or n > count:
                return None
        else:
            n = count = raw[-1]
        start = at + head.size
        end = start + n
        tail = self.tails[(end - at) & 7]
        if len(frame) - end != tail.size:
            return None
        values = (*raw[: self.before], frame[start:end], *tail.unpack_from(frame, end))
        if values[self.size_at] != count:
            return None
        if self.length_at >= 0 and values[self.length_at] != n:
            return None
        return values


def _buffer(t: Any) -> tuple[str, str | None, bool] | None:
    """(size name, length name, varying) of a byte buffer the codec takes, else None."""
    if not isinstance(t, _ndr.ConformantArray | _ndr.ConformantVaryingArray):
        return None
    elem = t.elem
    if not isinstance(elem, _ndr.Primitive) or not elem.bytes_like or elem.size != 1:
        return None
    if t.max_is is not None or t.size_is is None:
        return None
    size = _operand(t.size_is)
    if size is None:
        return None
    if isinstance(t, _ndr.ConformantArray):
        return size, None, False
    if t.first_is is not None:
        return None
    if t.length_is is None:
        return size, None, True
    length = _operand(t.length_is)
    return None if length is None else (size, length, True)


def _operand(expr: Any) -> str | None:
    """The parameter `cb` or `*pcb` names (the engine reads `*p` as p's value)."""
    if isinstance(expr, _ndr.Unary) and expr.op == "*":
        expr = expr.operand
    return expr.name if isinstance(expr, _ndr.Name) else None


def fast_codec(wire: Any) -> Any:
    """A `PrimitiveCodec` for `wire` when its messages are all primitives, a `BufferCodec`
    when they are primitives and byte buffers, else `wire`."""
    if not isinstance(wire, _ndr.MethodMarshaler):
        return wire
    method = wire.method
    ins: list[Any] = []
    outs: list[Any] = []
    buffers = False
    for param in method.params:
        t = wire_type(param.type)
        field: Any = t
        if not isinstance(t, _ndr.Primitive):
            buffer = _buffer(t)
            if buffer is None:
                return wire
            field = _Array(param.name, *buffer)
            buffers = True
        if param.is_in:
            ins.append((param.name, field))
        if param.is_out:
            outs.append((param.name, field))
    if method.returns is not None and not isinstance(method.returns, _ndr.Primitive):
        return wire
    if buffers:
        return BufferCodec(wire, ins, outs)
    return PrimitiveCodec(method, ins, outs)


class OneBufferWriter:
    """A request of one byte buffer between fixed fields that size it (`Write(pv, cb)`),
    packed from its values in wire order in two `struct` calls and a join: no dict of the
    values by name and no walk over `_Message`'s runs. It gives `_Message.pack`'s bytes or
    None (the engine then encodes, checks and faults); it takes only exact ints, which
    `struct` range-checks as the engine does (tests/apartments/test_fastwire.py)."""

    __slots__ = ("buffer_at", "head", "length_at", "size_at", "tails", "varying")

    def __init__(self, message: _Message) -> None:
        first, last = message.runs
        array = first.array
        assert array is not None
        names = message.names
        self.head = first.structs[0]  # fields before the buffer, then its counts
        self.tails = last.structs  # fields after it, by the phase the buffer ends at
        self.buffer_at = first.hi
        self.size_at = names.index(array.size)
        self.varying = array.varying
        self.length_at = -1 if array.length is None else names.index(array.length)

    @classmethod
    def of(cls, message: _Message) -> OneBufferWriter | None:
        if len(message.runs) != 2 or not message.plain:
            return None
        first, last = message.runs
        array = first.array
        if array is None or last.array is not None or first.bools or last.bools:
            return None
        names = message.names
        if array.size not in names or (array.length is not None and array.length not in names):
            return None  # sized by something else: `_Message.pack` refuses it every time
        return cls(message)

    def pack(self, values: Sequence[Any]) -> bytes | None:
        at = self.buffer_at
        data = values[at]
        if type(data) is not bytes and type(data) is not bytearray:
            return None
        for i, value in enumerate(values):  # exact ints everywhere else
            if i != at and type(value) is not int:
                return None
        count = values[self.size_at]
        if self.varying:
            n = len(data) if self.length_at < 0 else values[self.length_at]
            if n != len(data) or not n <= count <= 0xFFFFFFFF:
                return None
            counts: tuple[int, ...] = (count, 0, n)
        else:
            if count != len(data) or count > 0xFFFFFFFF:
                return None
            counts = (count,)
        head = self.head
        try:
            return b"".join(
                (
                    head.pack(*values[:at], *counts),
                    data,
                    self.tails[(head.size + len(data)) & 7].pack(*values[at + 1 :]),
                )
            )
        except struct.error:  # out of its format's range: the engine faults it
            return None
