"""ORPCTHIS and ORPCTHAT ([MS-DCOM] 2.2.13): what ORPC puts before the NDR stub data.

A request's stub data starts with ORPCTHIS (COM version 5.7, flags, reserved, the causality
id, a unique pointer to extensions); a response's with ORPCTHAT (flags, a unique pointer to
extensions). We send no extensions (NULL pointers); extensions a peer sends are read past and
ignored, as [MS-DCOM] 2.2.13.1 requires for formats one does not recognize (extents.py, which
also refuses malformed ones). Both headers, and a well-formed extension array, are multiples
of 8 bytes, so the NDR data after them keeps its alignment.
"""

from __future__ import annotations

import itertools
import os
import struct

from idlgen.runtime.com.hresult import HRESULT_FROM_WIN32
from idlgen.runtime.rpc.orpc.extents import ExtentError, read_extents

__all__ = [
    "CAUSALITY_PREFIX",
    "ORPCTHAT",
    "ORPCTHIS",
    "OrpcError",
    "causality_id",
    "next_causality",
    "orpcthat",
    "orpcthis",
    "split_orpcthat",
    "split_orpcthis",
]

ORPCTHIS = struct.Struct("<HHII16sI")  # major, minor, flags, reserved1, cid, extensions ptr
ORPCTHAT = struct.Struct("<II")  # flags, extensions ptr
COM_MAJOR, COM_MINOR = 5, 7
ORPCF_NULL = 0
RPC_X_BAD_STUB_DATA = HRESULT_FROM_WIN32(1783)


class OrpcError(ValueError):
    """An ORPC header we cannot accept; `hresult` is the fault to answer with."""

    hresult = RPC_X_BAD_STUB_DATA


# Causality ids: 8 random bytes fixed per process and a 64-bit counter, unique like a
# random UUID without a uuid4() per call.
CAUSALITY_PREFIX = os.urandom(8)
next_causality = itertools.count(1).__next__


def causality_id(counter: int | None = None) -> bytes:
    """A new causality id (16 bytes), or the one numbered `counter`."""
    n = next_causality() if counter is None else counter
    return CAUSALITY_PREFIX + (n & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "little")


def orpcthis(cid: bytes | None = None) -> bytes:
    """ORPCTHIS for a new request; `cid` (16 bytes) names the causality chain."""
    cid = cid or causality_id()
    return ORPCTHIS.pack(COM_MAJOR, COM_MINOR, ORPCF_NULL, 0, cid, 0)


_ORPCTHAT = ORPCTHAT.pack(ORPCF_NULL, 0)


def orpcthat() -> bytes:
    return _ORPCTHAT


def split_orpcthis(stub: bytes | memoryview) -> tuple[bytes, memoryview]:
    """(causality id, the NDR stub data after ORPCTHIS); OrpcError if it is unusable."""
    if len(stub) < ORPCTHIS.size:
        raise OrpcError("request shorter than ORPCTHIS")
    major, minor, _flags, _reserved, cid, extensions = ORPCTHIS.unpack_from(stub)
    if major != COM_MAJOR or minor < 1:
        raise OrpcError(f"unsupported COM version {major}.{minor}")
    return cid, memoryview(stub)[_past_extensions(stub, ORPCTHIS.size, extensions) :]


def split_orpcthat(stub: bytes | memoryview) -> memoryview:
    """The NDR reply data after ORPCTHAT; OrpcError if it is unusable."""
    if len(stub) < ORPCTHAT.size:
        raise OrpcError("response shorter than ORPCTHAT")
    _flags, extensions = ORPCTHAT.unpack_from(stub)
    return memoryview(stub)[_past_extensions(stub, ORPCTHAT.size, extensions) :]


def _past_extensions(stub: bytes | memoryview, offset: int, pointer: int) -> int:
    """Where the NDR data starts: after the extension array, if the header points to one."""
    if not pointer:
        return offset
    try:
        _ignored, end = read_extents(stub, offset)
    except ExtentError as exc:
        raise OrpcError(f"ORPC extensions: {exc}") from exc
    return end
