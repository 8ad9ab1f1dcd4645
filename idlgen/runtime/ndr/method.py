"""Per-method marshalers: a method descriptor in, request/response encoders and decoders out.

Parameters are top-level constructs: each one is marshaled in declaration order with its own
deferred pointees, and a parameter's outermost [ref] pointer has no referent id on the wire
(DCE 14.3.11.1), so the marshaler strips it here once instead of at every call.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from idlgen.runtime.ndr.engine import (
    InterfaceMarshaler,
    finish,
    guard_decode,
    guard_encode,
    new_decoder,
    new_encoder,
    read_top,
    write_top,
)
from idlgen.runtime.ndr.fault import NdrMarshalError
from idlgen.runtime.ndr.types import HRESULT, NdrType, Pointer

Direction = Literal["in", "out", "inout"]


@dataclass(frozen=True)
class Param:
    """One parameter as declared: `type` includes its top-level pointer (`[out] long *p`)."""

    name: str
    type: NdrType
    direction: Direction = "in"

    @property
    def is_in(self) -> bool:
        return self.direction in ("in", "inout")

    @property
    def is_out(self) -> bool:
        return self.direction in ("out", "inout")


@dataclass(frozen=True)
class Method:
    """A method's wire signature; `returns` is None for a void method."""

    name: str
    params: tuple[Param, ...]
    returns: NdrType | None = HRESULT
    opnum: int | None = None


@dataclass(frozen=True)
class Response:
    outs: dict[str, Any]
    result: Any


def wire_type(t: NdrType) -> NdrType:
    """A parameter's type as marshaled: the outermost [ref] pointer contributes no bytes."""
    return t.target if isinstance(t, Pointer) and t.kind == "ref" else t


@dataclass(frozen=True)
class MethodMarshaler:
    """Encodes and decodes one method's request ([in], [in,out]) and response ([out], result).

    `scope` arguments supply names the expressions need that this message does not carry: the
    saved [in] values when a client decodes a response (a Finish_X naming a Begin_X input).
    """

    method: Method
    _ins: tuple[tuple[str, NdrType], ...] = field(init=False)
    _outs: tuple[tuple[str, NdrType], ...] = field(init=False)

    def __post_init__(self) -> None:
        params = self.method.params
        ins = tuple((p.name, wire_type(p.type)) for p in params if p.is_in)
        outs = tuple((p.name, wire_type(p.type)) for p in params if p.is_out)
        object.__setattr__(self, "_ins", ins)
        object.__setattr__(self, "_outs", outs)

    def encode_request(
        self,
        values: Mapping[str, Any],
        *,
        scope: Mapping[str, Any] | None = None,
        marshaler: InterfaceMarshaler | None = None,
    ) -> bytes:
        return _encode(self._ins, values, None, None, scope, marshaler)

    def decode_request(
        self,
        data: bytes | bytearray | memoryview,
        *,
        scope: Mapping[str, Any] | None = None,
        marshaler: InterfaceMarshaler | None = None,
    ) -> dict[str, Any]:
        values, _ = _decode(self._ins, None, data, scope, marshaler)
        return values

    def encode_response(
        self,
        values: Mapping[str, Any],
        result: Any = None,
        *,
        scope: Mapping[str, Any] | None = None,
        marshaler: InterfaceMarshaler | None = None,
    ) -> bytes:
        return _encode(self._outs, values, self.method.returns, result, scope, marshaler)

    def decode_response(
        self,
        data: bytes | bytearray | memoryview,
        *,
        scope: Mapping[str, Any] | None = None,
        marshaler: InterfaceMarshaler | None = None,
    ) -> Response:
        values, result = _decode(self._outs, self.method.returns, data, scope, marshaler)
        return Response(values, result)


def _encode(
    params: tuple[tuple[str, NdrType], ...],
    values: Mapping[str, Any],
    returns: NdrType | None,
    result: Any,
    scope: Mapping[str, Any] | None,
    marshaler: InterfaceMarshaler | None,
) -> bytes:
    def run() -> bytes:
        e = new_encoder(marshaler)
        names: Mapping[str, Any] = ChainMap(dict(values), dict(scope or {}))
        for name, t in params:
            if name not in values:
                raise NdrMarshalError(f"missing parameter {name!r}")
            write_top(t, values[name], e, names)
        if returns is not None:
            write_top(returns, result, e, names)
        return bytes(e.buf)

    return guard_encode(run)


def _decode(
    params: tuple[tuple[str, NdrType], ...],
    returns: NdrType | None,
    data: bytes | bytearray | memoryview,
    scope: Mapping[str, Any] | None,
    marshaler: InterfaceMarshaler | None,
) -> tuple[dict[str, Any], Any]:
    def run() -> tuple[dict[str, Any], Any]:
        d = new_decoder(data, marshaler)
        values: dict[str, Any] = {}
        names = ChainMap(values, dict(scope or {}))
        for name, t in params:
            values[name] = read_top(t, d, names)
        result = read_top(returns, d, names) if returns is not None else None
        finish(d)
        return values, result

    return guard_decode(run)
