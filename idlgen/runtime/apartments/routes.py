"""How a proxy sends one method and reads its reply: the general way, and shortcuts.

The general way builds a dict of the [in] values by name for the marshaler, and reads a
reply into an `ndr.Response` (a dict of [out] values by name and the return value) before
shaping it into what the method returns (`proxy._shape`). For a method whose messages are
one `struct` (`fastwire.PrimitiveCodec`, or the all-primitive response of a
`BufferCodec`), neither the dict nor the `Response` is needed: the request is the [in]
values packed as the caller passed them, and the reply's fields are picked by position
into the method's value. `Route` holds both ways per method, chosen once per interface.

A shortcut takes only what it is sure of: a request whose values are not all exact `int`s
in their formats' ranges (so that `struct`'s checks are the engine's) returns None and the
general encoder takes it, with its checks and faults; a reply whose size is off faults
exactly as the codec does. tests/apartments/test_routes.py checks both against the
general way (hypothesis).
"""

from __future__ import annotations

import operator
import struct
import threading
from collections.abc import Callable
from typing import Any

from idlgen.runtime.apartments.registry import wire_table
from idlgen.runtime.com.interface import IUnknown, Method
from idlgen.runtime.ndr.fastwire import BufferCodec, PrimitiveCodec

__all__ = ["Route", "routes"]

Pack = Callable[[tuple[Any, ...]], bytes | None]
Read = Callable[[Any], tuple[Any, int]]


class Route:
    """One vtable slot as a proxy calls it."""

    __slots__ = ("ints", "lean", "method", "opnum", "pack", "read", "wire")

    def __init__(self, opnum: int, method: Method, wire: Any) -> None:
        self.opnum = opnum
        self.method = method
        self.wire = wire  # the marshaler (None: [local], not remotable)
        # [in] values as passed -> request bytes, or None: use the marshaler
        self.pack: Pack | None = _packer(method, wire)
        # The request's struct format (no byte order) when every [in] value is a plain
        # integer, in the caller's order: exact ints in range (`fastwire.exact_ints`) then
        # pack with it as `pack` packs them, also into a larger struct (the lean path
        # packs them with the request's header in one call); else None.
        self.ints: str | None = None
        if self.pack is not None and isinstance(wire, PrimitiveCodec):
            self.ints = wire.exact_format
        self.lean: Any = None  # what the lean path (orpc.fastcall) keeps per route
        # reply data -> (value, HRESULT) as `_shape` gives them; may raise the codec's fault
        self.read: Read | None = _reader(method, wire)


_routes: dict[type, tuple[Route, ...]] = {}
_lock = threading.Lock()


def routes(iface: type[IUnknown]) -> tuple[Route, ...]:
    """One `Route` per vtable slot of `iface`, made once."""
    table = _routes.get(iface)
    if table is None:
        with _lock:
            table = _routes.get(iface)
            if table is None:
                wires = wire_table(iface)
                table = tuple(Route(i, m, wires[i]) for i, m in enumerate(iface._vtable_))
                _routes[iface] = table
    return table


def _packer(method: Method, wire: Any) -> Pack | None:
    """The codec's packing of values in wire order, when that order is the caller's and
    the reply decodes without the [in] values (a byte buffer's size may be one of them)."""
    if isinstance(wire, BufferCodec) and wire.response_codec is None:
        return None
    if not isinstance(wire, PrimitiveCodec | BufferCodec) or wire.request_names != method.ins:
        return None
    return wire.pack_exact


def _reader(method: Method, wire: Any) -> Read | None:
    """A reply's fields by position into the method's value, for an HRESULT method whose
    response is one struct ending with the HRESULT; else None (the general way)."""
    codec = wire.response_codec if isinstance(wire, BufferCodec) else wire
    if not isinstance(codec, PrimitiveCodec) or not method.hresult:
        return None
    names = codec.response_names
    if not names or names[-1] != "" or not set(method.outs) <= set(names[:-1]):
        return None
    # struct's unpack straight from the read: no Python call per reply between them. A
    # reply of the wrong size makes it raise struct.error, and the codec's own unpack then
    # raises the codec's fault for it.
    checked = codec.response_unpacker
    unpack = codec.response_struct_unpacker or checked
    picks = [names.index(name) for name in method.outs]
    if not picks:  # the value is the HRESULT itself, on success a non-negative one
        return _one_out(unpack, checked, -1)
    if len(picks) == 1:
        return _one_out(unpack, checked, picks[0])
    return _several_outs(unpack, checked, operator.itemgetter(*picks), method.result)


Unpack = Callable[[Any], tuple[Any, ...]]


def _one_out(unpack: Unpack, checked: Unpack, pick: int) -> Read:
    def read(data: Any) -> tuple[Any, int]:
        try:
            values = unpack(data)
        except struct.error:
            values = checked(data)
        hr: int = values[-1] & 0xFFFFFFFF
        return (None, hr) if hr & 0x80000000 else (values[pick], hr)

    return read


def _several_outs(
    unpack: Unpack, checked: Unpack, pick: Callable[[tuple[Any, ...]], tuple[Any, ...]], result: Any
) -> Read:
    def read(data: Any) -> tuple[Any, int]:
        try:
            values = unpack(data)
        except struct.error:
            values = checked(data)
        hr: int = values[-1] & 0xFFFFFFFF
        if hr & 0x80000000:
            return None, hr
        items = pick(values)
        return (result._make(items) if result is not None else items), hr

    return read
