"""ORPC extensions ([MS-DCOM] 2.2.13.1-2.2.13.2): ORPCTHIS and ORPCTHAT carrying extents are
read past (unknown extents ignored, as the specification requires) with the NDR after them
found exactly; malformed or oversized extension arrays are OrpcErrors, never crashes.

The reference encoding is idlgen's generated NDR for the specification's own IDL of
ORPC_EXTENT_ARRAY (idlgen/protocol_idl/activation.idl), independent of the hand-written
reader in orpc/extents.py."""

from __future__ import annotations

import random
import struct
import uuid

import pytest

from idlgen.runtime.com.guid import GUID
from idlgen.runtime.ndr.engine import encode
from idlgen.runtime.rpc.dcom import activation_idl as A
from idlgen.runtime.rpc.orpc.extents import MAX_EXTENTS, ExtentError, read_extents
from idlgen.runtime.rpc.orpc.wire import ORPCTHIS, OrpcError, split_orpcthat, split_orpcthis

ERROR_EXTENSION = GUID("0000031C-0000-0000-C000-000000000046")  # CLSID_ERROR_EXTENSION
CONTEXT_EXTENSION = GUID("00000334-0000-0000-C000-000000000046")  # CLSID_CONTEXT_EXTENSION
BODY = b"\x2a\0\0\0\x02\0\0\0"  # what follows: the method's NDR


def _extent(guid: GUID, payload: bytes) -> A.ORPC_EXTENT:
    return A.ORPC_EXTENT(guid, len(payload), payload + b"\0" * (-len(payload) % 8))


def _array(extents: list[A.ORPC_EXTENT | None]) -> A.ORPC_EXTENT_ARRAY:
    slots = list(extents) + [None] * (len(extents) % 2)  # the array rounds up to even
    return A.ORPC_EXTENT_ARRAY(sum(e is not None for e in extents), 0, slots)


def _orpcthis(extents: list[A.ORPC_EXTENT | None]) -> bytes:
    this = A.ORPCTHIS(A.COMVERSION(5, 7), 0, 0, GUID(uuid.uuid4()), _array(extents))
    return encode(A._ndr_ORPCTHIS, this)


CASES = {
    "one unknown": [_extent(GUID(uuid.uuid4()), b"opaque")],
    "error and context": [_extent(ERROR_EXTENSION, b"x" * 13), _extent(CONTEXT_EXTENSION, b"")],
    "three, sizes 0 8 9": [_extent(GUID(uuid.uuid4()), b"y" * n) for n in (0, 8, 9)],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_extents_are_read_past_and_the_method_ndr_found(name: str) -> None:
    stub = _orpcthis(list(CASES[name]))
    cid, body = split_orpcthis(stub + BODY)
    assert bytes(body) == BODY
    assert cid == stub[12:28]
    extents, end = read_extents(stub, ORPCTHIS.size)
    assert end == len(stub) and end % 8 == 0
    assert [(e.id, e.data) for e in extents] == [(x.id, x.data[: x.size]) for x in CASES[name]]


def test_orpcthat_extents_are_read_past_too() -> None:
    that = A.ORPCTHAT(0, _array([_extent(ERROR_EXTENSION, b"MEOW" * 5)]))
    assert bytes(split_orpcthat(encode(A._ndr_ORPCTHAT, that) + BODY)) == BODY


def test_every_truncation_of_an_extension_array_is_an_orpc_error() -> None:
    stub = _orpcthis(list(CASES["error and context"]))
    for cut in range(ORPCTHIS.size, len(stub)):
        with pytest.raises(OrpcError):
            split_orpcthis(stub[:cut])


def _patched(stub: bytes, offset: int, value: int) -> bytes:
    return stub[:offset] + struct.pack("<I", value) + stub[offset + 4 :]


ONE = _orpcthis([_extent(GUID(uuid.uuid4()), b"opaque")])
# ORPCTHIS (32 bytes), then size @32, reserved @36, array pointer @40, count @44, two
# pointers, then the extent: conformance @56, id @60, size @76, data @80
BAD = {
    "more extents than the limit": _patched(_patched(ONE, 32, MAX_EXTENTS + 1), 44, 66),
    "array count not the size rounded up to even": _patched(ONE, 44, 4),
    "extent conformance not its size rounded up to 8": _patched(ONE, 56, 16),
    "extents announced with no array": _patched(ONE, 40, 0),
    "extent size past the stub": _patched(_patched(ONE, 76, 4096), 56, 4096),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_inconsistent_or_oversized_arrays_are_orpc_errors(name: str) -> None:
    with pytest.raises(OrpcError):
        split_orpcthis(BAD[name] + BODY)
    with pytest.raises(ExtentError):
        read_extents(BAD[name] + BODY, ORPCTHIS.size)


def test_an_extension_array_without_extents_is_refused() -> None:
    """A NULL extent array would leave the method's NDR 4 bytes off its 8-byte grid."""
    this = A.ORPCTHIS(A.COMVERSION(5, 7), 0, 0, GUID(uuid.uuid4()), A.ORPC_EXTENT_ARRAY(0, 0, None))  # type: ignore[arg-type]
    with pytest.raises(OrpcError, match="misaligns"):
        split_orpcthis(encode(A._ndr_ORPCTHIS, this) + BODY)


def test_mutated_extension_arrays_never_escape_as_other_errors() -> None:
    rng = random.Random(12)
    good = _orpcthis(list(CASES["three, sizes 0 8 9"])) + BODY
    for _ in range(2000):
        data = bytearray(good)
        for _ in range(rng.randrange(1, 4)):
            data[rng.randrange(ORPCTHIS.size - 4, len(data))] ^= 1 << rng.randrange(8)
        try:
            _cid, body = split_orpcthis(bytes(data))
        except OrpcError:
            continue
        assert len(body) <= len(data) - ORPCTHIS.size
