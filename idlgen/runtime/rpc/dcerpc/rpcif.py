"""Plain (non-[object]) RPC interfaces: the classes generated code derives from.

A generated module declares `class svc(RpcInterface)` with `_uuid_`, `_version_`, `_methods_`
(the Python calling convention, opnum = index) and `_wire_` (one NDR `MethodMarshaler` per
opnum, or None for a method that cannot be remoted). Servers subclass `svc` and write the
methods; clients use `svc_Client(binding)`. This module also holds the one place where the
Python calling convention meets the wire: which values are outs, which is the C return value,
and when an HRESULT raises (docs/runtime.md section 2).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from idlgen.runtime.com.guid import GUID
from idlgen.runtime.com.hresult import S_OK, error_for
from idlgen.runtime.com.interface import Method
from idlgen.runtime.com.status import WithHResult, set_last_hresult
from idlgen.runtime.ndr.method import MethodMarshaler
from idlgen.runtime.rpc.dcerpc.pdu import SyntaxId

__all__ = ["RpcInterface", "interface_of", "syntax_of"]


class RpcInterface:
    """Base of generated plain RPC interface classes (declares, never implements)."""

    __slots__ = ()

    _uuid_: ClassVar[GUID]
    _version_: ClassVar[tuple[int, int]] = (0, 0)
    _methods_: ClassVar[tuple[Method, ...]] = ()
    _wire_: ClassVar[tuple[MethodMarshaler | None, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "_uuid_" in cls.__dict__ and len(cls._methods_) != len(cls._wire_):
            raise TypeError(f"{cls.__name__}: _methods_ and _wire_ must have one entry per opnum")


def interface_of(obj: object) -> type[RpcInterface]:
    """The RPC interface a server object or client class implements (the most derived one)."""
    cls = obj if isinstance(obj, type) else type(obj)
    for base in cls.__mro__:
        if "_uuid_" in base.__dict__ and issubclass(base, RpcInterface):
            return base
    raise TypeError(f"{cls.__name__} implements no RPC interface (no class with _uuid_)")


def syntax_of(iface: type[RpcInterface]) -> SyntaxId:
    major, minor = iface._version_
    return SyntaxId(iface._uuid_, major, minor)


# ----------------------------------------------------------------- server side


def _outs_from(method: Method, value: Any) -> dict[str, Any]:
    names = method.outs
    if not names:
        return {}
    if len(names) == 1:
        return {names[0]: value}
    if not isinstance(value, tuple) or len(value) != len(names):
        raise TypeError(f"{method.name} must return a tuple of {len(names)} values")
    return dict(zip(names, value, strict=True))


def server_reply(method: Method, wire: MethodMarshaler, value: Any) -> tuple[dict[str, Any], Any]:
    """What a server method returned, as (out values, C return value) for the marshaler."""
    if wire.method.returns is None:  # void: the value is only the outs
        return _outs_from(method, value), None
    if method.hresult:
        hr = S_OK
        if isinstance(value, WithHResult):
            hr, value = value.hresult, value.value
        if not method.outs:
            return {}, hr if value is None else int(value)
        return _outs_from(method, value), hr
    if not method.outs:
        return {}, value
    if not isinstance(value, tuple) or len(value) != len(method.outs) + 1:
        raise TypeError(f"{method.name} must return (return_, {', '.join(method.outs)})")
    rest = value[1] if len(method.outs) == 1 else tuple(value[1:])
    return _outs_from(method, rest), value[0]


# ----------------------------------------------------------------- client side


def _shape_outs(method: Method, outs: Mapping[str, Any]) -> Any:
    values = tuple(outs[n] for n in method.outs)
    if len(values) == 1:
        return values[0]
    return method.result(*values) if method.result is not None else values


def client_result(
    method: Method, wire: MethodMarshaler, outs: Mapping[str, Any], result: Any
) -> Any:
    """The Python value a client call returns (and raises for a failure HRESULT)."""
    if wire.method.returns is None:
        set_last_hresult(S_OK)
        return _shape_outs(method, outs) if method.outs else None
    if method.hresult:
        hr = int(result) & 0xFFFFFFFF
        set_last_hresult(hr)
        if hr & 0x80000000:
            raise error_for(hr)
        return _shape_outs(method, outs) if method.outs else hr
    set_last_hresult(S_OK)
    if not method.outs:
        return result
    values = (result, *(outs[n] for n in method.outs))
    return method.result(*values) if method.result is not None else values
