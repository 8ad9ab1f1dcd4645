"""ORPC extensions ([MS-DCOM] 2.2.13.1-2.2.13.2, 2.2.21): read, bounded, and set aside.

ORPCTHIS and ORPCTHAT may point to an ORPC_EXTENT_ARRAY: a count, a reserved word and a
unique pointer to a conformant array (the count rounded up to even) of unique pointers to
ORPC_EXTENTs (a GUID, the data size, the data padded to 8). "Unless otherwise specified,
clients and servers MUST ignore ORPC_EXTENTs whose format they do not recognize"; the
documented ones (error information, debugging) ask nothing of a server that does not
support them, so every extent is read past and ignored. The array sits in the stub data
before the method's NDR, so reading it exactly is what finds where that NDR starts.

Every count and size is checked against what the stub holds and against `MAX_EXTENTS`
before anything is read: a malformed or hostile array is an `ExtentError` (answered with a
fault), never a large allocation. An array that leaves the method's NDR misaligned (only
possible when it breaks the specification's rounding, or has no extents at all) is
refused too: NDR aligns relative to the stub's start, which a slice cannot keep.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from idlgen.runtime.com.guid import GUID

__all__ = ["MAX_EXTENTS", "Extent", "ExtentError", "read_extents"]

MAX_EXTENTS = 64  # far above what any peer sends; bounds the pointer table we walk
_ARRAY = struct.Struct("<III")  # size, reserved, extent array pointer
_EXTENT = struct.Struct("<I16sI")  # conformance (data length), id, size
_COUNT = struct.Struct("<I")  # the conformance of the array of extent pointers


class ExtentError(ValueError):
    """An ORPC_EXTENT_ARRAY that does not follow [MS-DCOM] 2.2.13.2."""


@dataclass(frozen=True)
class Extent:
    id: GUID
    data: bytes  # without its padding


def read_extents(stub: bytes | memoryview, offset: int) -> tuple[list[Extent], int]:
    """The extents of the ORPC_EXTENT_ARRAY at `offset` and the offset just after it."""
    view = memoryview(stub)
    size, _reserved, array = _take(_ARRAY, view, offset)
    offset += _ARRAY.size
    if not array:
        if size:
            raise ExtentError(f"{size} extents announced with no array")
        raise ExtentError("an extension array without extents misaligns the stub data")
    if size > MAX_EXTENTS:
        raise ExtentError(f"{size} extents: more than {MAX_EXTENTS}")
    (count,) = _take(_COUNT, view, offset)
    if count != (size + 1) & ~1:
        raise ExtentError(f"extent array of {count} for {size} extents")
    offset += _COUNT.size
    pointers = _take(struct.Struct(f"<{count}I"), view, offset)
    offset += 4 * count
    extents = []
    for pointer in pointers:
        if pointer:
            extent, offset = _read_extent(view, offset)
            extents.append(extent)
    if offset % 8:
        raise ExtentError("the extension array leaves the stub data misaligned")
    return extents, offset


def _read_extent(view: memoryview, offset: int) -> tuple[Extent, int]:
    conformance, raw_id, size = _take(_EXTENT, view, offset)
    if conformance != (size + 7) & ~7:
        raise ExtentError(f"extent data of {conformance} bytes for size {size}")
    offset += _EXTENT.size
    if offset + conformance > len(view):
        raise ExtentError("extent data runs past the stub")
    data = bytes(view[offset : offset + size])
    return Extent(GUID.from_bytes_le(raw_id), data), offset + conformance


def _take(shape: struct.Struct, view: memoryview, offset: int) -> tuple[Any, ...]:
    if offset + shape.size > len(view):
        raise ExtentError("extension array runs past the stub")
    return shape.unpack_from(view, offset)
