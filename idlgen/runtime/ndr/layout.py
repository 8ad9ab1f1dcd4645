"""Static wire facts about descriptors: alignment, minimum size, conformant tails.

Computed once per descriptor (cached on identity) so that the engine's hot loops only look
them up.  The minimum size is what lets the decoder refuse a huge count before allocating:
n elements need at least n * min_size bytes of the remaining buffer.
"""

from __future__ import annotations

from functools import cache

from idlgen.runtime.ndr.types import (
    NO_DEFAULT,
    ConformantArray,
    ConformantVaryingArray,
    EncapsulatedUnion,
    Enum,
    FixedArray,
    Forward,
    Guid,
    InterfacePointer,
    NdrType,
    Pointer,
    Primitive,
    String,
    Struct,
    Union,
    VaryingArray,
    WireMarshal,
)


def resolve(t: NdrType) -> NdrType:
    """Follow Forward placeholders to the real descriptor."""
    seen = 0
    while isinstance(t, Forward):
        if t.target is None or seen > 64:
            raise TypeError(f"forward type {t.name!r} was never resolved")
        t = t.target
        seen += 1
    return t


@cache
def alignment(t: NdrType) -> int:
    t = resolve(t)
    if isinstance(t, Primitive):
        return t.size
    if isinstance(t, Enum):
        return t.wire.size
    if isinstance(t, Pointer | InterfacePointer | Guid | String):
        return 4
    if isinstance(t, Struct):
        return max((alignment(f.type) for f in t.fields), default=1)
    if isinstance(t, FixedArray | ConformantArray):
        return alignment(t.elem)
    if isinstance(t, VaryingArray | ConformantVaryingArray):
        return max(4, alignment(t.elem))
    if isinstance(t, Union | EncapsulatedUnion):
        return max(t.switch_type.size, arm_alignment(t))
    if isinstance(t, WireMarshal):
        return alignment(t.wire)
    raise TypeError(f"not an NDR descriptor: {t!r}")


@cache
def arm_alignment(t: Union | EncapsulatedUnion) -> int:
    """The largest alignment among a union's arms (the default arm included)."""
    types = [arm.type for arm in t.arms if arm.type is not None]
    if t.default is not None and t.default is not NO_DEFAULT:
        types.append(t.default)
    return max((alignment(x) for x in types), default=1)


@cache
def min_size(t: NdrType) -> int:
    """A lower bound on the bytes one value occupies (padding ignored); 0 for empty types."""
    t = resolve(t)
    if isinstance(t, Primitive):
        return t.size
    if isinstance(t, Enum):
        return t.wire.size
    if isinstance(t, Pointer | InterfacePointer):
        return 4
    if isinstance(t, Guid):
        return 16
    if isinstance(t, String):
        return 8 + t.char.size
    if isinstance(t, Struct):
        return sum(min_size(f.type) for f in t.fields)
    if isinstance(t, FixedArray):
        return t.count * min_size(t.elem)
    if isinstance(t, ConformantArray):
        return 4
    if isinstance(t, VaryingArray | ConformantVaryingArray):
        return 8
    if isinstance(t, Union | EncapsulatedUnion):
        return t.switch_type.size
    if isinstance(t, WireMarshal):
        return min_size(t.wire)
    raise TypeError(f"not an NDR descriptor: {t!r}")


def is_conformant(t: NdrType) -> bool:
    """True for types whose max count is hoisted to the front of an enclosing struct."""
    t = resolve(t)
    if isinstance(t, ConformantArray | ConformantVaryingArray):
        return True
    if isinstance(t, String):
        return t.fixed is None
    if isinstance(t, Struct):
        return conformant_tail(t) is not None
    return False


@cache
def conformant_tail(t: Struct) -> tuple[tuple[str, ...], NdrType] | None:
    """Field path from `t` to its trailing conformant array, and that array, or None."""
    if not t.fields:
        return None
    last = t.fields[-1]
    inner = resolve(last.type)
    if isinstance(inner, Struct):
        nested = conformant_tail(inner)
        if nested is None:
            return None
        return (last.name, *nested[0]), nested[1]
    if is_conformant(inner):
        return (last.name,), inner
    return None
