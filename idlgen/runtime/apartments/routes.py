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

A lane's reply (orpc.fastcall) comes as ORPC stub data: ORPCTHAT, then the NDR data. Its
ORPCTHAT is almost always 8 zero bytes (no flags, no extensions), and NDR aligns from the
start of its own data, which that keeps 8-aligned: `read_stub` reads that ORPCTHAT and the
reply's fields in one `struct` call (no slice of the stub), and leaves anything else to
the two steps (ORPCTHAT taken off, then `read` or the marshaler).
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
ReadStub = Callable[[Any], tuple[Any, int] | None]
# what a lane's reply stub starts with in the common case: ORPCTHAT's flags and extensions
# pointer, both zero, read as one field before the reply's own
_LEAD = "Q"
# The largest HRESULT the interpreter compares without bitwise work (one 30-bit digit):
# success codes (S_OK, S_FALSE) are under it, failures (bit 31 set) above.
_SMALL = 0x3FFFFFFF


class Route:
    """One vtable slot as a proxy calls it."""

    __slots__ = ("ints", "lean", "method", "opnum", "pack", "read", "read_stub", "wire")

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
        # a lane's reply stub (ORPCTHAT, then the data) -> the same, or None for the two
        # steps: an ORPCTHAT with flags or extensions, or a size that is off
        self.read_stub: ReadStub | None = _reader(method, wire, stub=True)


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


def _reader(method: Method, wire: Any, stub: bool = False) -> Any:
    """A reply's fields by position into the method's value, for an HRESULT method whose
    response is one struct ending with the HRESULT; else None (the general way). With
    `stub`, read from a lane's reply stub, led by a null ORPCTHAT (`Route.read_stub`)."""
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
    if stub:
        if codec.response_struct_unpacker is None:
            return None  # values to convert (booleans): the two steps
        unpack = struct.Struct("<" + _LEAD + codec.response_format).unpack
        return _stub_reader(unpack, picks, method.result)
    if not picks:  # the value is the HRESULT itself, on success a non-negative one
        return _one_out(unpack, checked, -1)
    if len(picks) == 1:
        return _one_out(unpack, checked, picks[0])
    return _several_outs(unpack, checked, operator.itemgetter(*picks), method.result)


Unpack = Callable[[Any], tuple[Any, ...]]


def _stub_reader(unpack: Unpack, picks: list[int], result: Any) -> ReadStub:
    """`_one_out` or `_several_outs` of a reply stub that `unpack` reads: its lead
    (ORPCTHAT) first, then the reply's fields, so each pick is one further on."""
    pick = operator.itemgetter(*(p + 1 for p in picks)) if picks else operator.itemgetter(-1)
    make = result._make if len(picks) > 1 and result is not None else None

    def read(data: Any) -> tuple[Any, int] | None:
        try:
            values = unpack(data)
        except struct.error:
            return None  # the two steps fault as the codec does
        if values[0]:
            return None  # ORPCTHAT with flags or extensions: the two steps
        hr: int = values[-1]
        if not 0 <= hr <= _SMALL:  # (see `_one_out`)
            hr &= 0xFFFFFFFF
            if hr & 0x80000000:
                return None, hr
        return (pick(values) if make is None else make(pick(values))), hr

    return read


def _one_out(unpack: Unpack, checked: Unpack, pick: int) -> Read:
    def read(data: Any) -> tuple[Any, int]:
        try:
            values = unpack(data)
        except struct.error:
            values = checked(data)
        hr: int = values[-1]
        if not 0 <= hr <= _SMALL:  # a success code is small: no bitwise work, a compare
            hr &= 0xFFFFFFFF
            if hr & 0x80000000:
                return None, hr
        return values[pick], hr

    return read


def _several_outs(
    unpack: Unpack, checked: Unpack, pick: Callable[[tuple[Any, ...]], tuple[Any, ...]], result: Any
) -> Read:
    def read(data: Any) -> tuple[Any, int]:
        try:
            values = unpack(data)
        except struct.error:
            values = checked(data)
        hr: int = values[-1]
        if not 0 <= hr <= _SMALL:  # (see `_one_out`)
            hr &= 0xFFFFFFFF
            if hr & 0x80000000:
                return None, hr
        items = pick(values)
        return (result._make(items) if result is not None else items), hr

    return read
