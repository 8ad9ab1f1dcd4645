"""A precompiled codec for methods whose every parameter and result is a primitive.

Most cross-apartment calls are small (`Add(long, long, [out] long*)`): interpreting their
descriptors costs more than moving them between threads. When every [in], every [out]
(after the top-level [ref] pointer, which has no bytes on the wire) and the return type are
`Primitive`s, a message is a fixed layout: each value aligned to its own size, in order. One
`struct.Struct` with explicit pad bytes then encodes and decodes it with the engine's value
checks and faults. The output is byte-identical to `MethodMarshaler` (tests/apartments
checks it with hypothesis); every other method keeps using the engine.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

from idlgen.runtime import ndr as _ndr
from idlgen.runtime.ndr.fault import bad_stub
from idlgen.runtime.ndr.method import wire_type

__all__ = ["PrimitiveCodec", "fast_codec"]


class _Layout:
    """One message: names, their primitives and the packed struct with padding."""

    __slots__ = ("bools", "names", "prims", "struct")

    def __init__(self, fields: list[tuple[str, _ndr.Primitive]]) -> None:
        self.names = tuple(name for name, _ in fields)
        self.prims = tuple(prim for _, prim in fields)
        self.bools = any(prim.kind == "bool" for prim in self.prims)
        fmt, pos = "<", 0
        for prim in self.prims:
            pad = -pos % prim.size
            fmt += "x" * pad + prim.fmt
            pos += pad + prim.size
        self.struct = struct.Struct(fmt)

    def pack(self, values: list[Any]) -> bytes:
        checked = [_check(p, v) for p, v in zip(self.prims, values, strict=True)]
        try:
            return self.struct.pack(*checked)
        except (OverflowError, struct.error) as exc:  # a float too large for a `float`
            raise _ndr.NdrMarshalError(f"value does not fit: {exc}") from None

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
        return self._request.pack(_ordered(self._request.names, values))

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
        return self._response.pack(self._response_ordered(values, result))

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

    @property
    def response_format(self) -> str:
        """The response's struct format without the byte-order prefix."""
        return self._response.struct.format[1:]

    def response_fields(self, values: Mapping[str, Any], result: Any = None) -> list[Any]:
        """What `encode_response` packs, checked and in order, for a larger struct."""
        ordered = self._response_ordered(values, result)
        return [_check(p, v) for p, v in zip(self._response.prims, ordered, strict=True)]

    def decode_response(
        self, data: bytes | bytearray | memoryview, *, scope: Any = None, marshaler: Any = None
    ) -> _ndr.Response:
        values = self._response.unpack(data)
        if not self._returns:
            return _ndr.Response(dict(zip(self._response.names, values, strict=True)), None)
        names = self._response.names[:-1]
        return _ndr.Response(dict(zip(names, values[:-1], strict=True)), values[-1])


def _ordered(names: tuple[str, ...], values: Mapping[str, Any]) -> list[Any]:
    try:
        return [values[name] for name in names]
    except KeyError as exc:
        raise _ndr.NdrMarshalError(f"missing parameter {exc.args[0]!r}") from None


def fast_codec(wire: Any) -> Any:
    """A `PrimitiveCodec` for `wire` when its messages are all primitives, else `wire`."""
    if not isinstance(wire, _ndr.MethodMarshaler):
        return wire
    method = wire.method
    ins: list[Any] = []
    outs: list[Any] = []
    for param in method.params:
        t = wire_type(param.type)
        if not isinstance(t, _ndr.Primitive):
            return wire
        if param.is_in:
            ins.append((param.name, t))
        if param.is_out:
            outs.append((param.name, t))
    if method.returns is not None and not isinstance(method.returns, _ndr.Primitive):
        return wire
    return PrimitiveCodec(method, ins, outs)
