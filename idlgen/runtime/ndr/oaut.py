"""OLE Automation wire types ([MS-OAUT]): BSTR as FLAGGED_WORD_BLOB, and a VARIANT subset.

Both are `wire_marshal` types: the Python value (str / None, or a `Variant`) is converted to
the documented wire struct and marshaled with the ordinary vocabulary, so pointer deferral and
strict decoding come for free.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from idlgen.runtime.ndr.expr import Name
from idlgen.runtime.ndr.fault import bad_stub
from idlgen.runtime.ndr.types import (
    BYTE,
    DOUBLE,
    FLOAT,
    HRESULT,
    HYPER,
    LONG,
    SHORT,
    SMALL,
    ULONG,
    USHORT,
    Arm,
    ConformantArray,
    Field,
    Pointer,
    Struct,
    Union,
    WireMarshal,
)

NULL_BSTR_BYTES = 0xFFFFFFFF

# 2.2.23.1: typedef struct { ULONG cBytes; ULONG clSize; [size_is(clSize)] USHORT asData[]; }
FLAGGED_WORD_BLOB = Struct(
    "FLAGGED_WORD_BLOB",
    (
        Field("cBytes", ULONG),
        Field("clSize", ULONG),
        Field("asData", ConformantArray(USHORT, size_is=Name("clSize"))),
    ),
)


def bstr_to_wire(value: str | None) -> dict[str, Any]:
    """None is the null BSTR (cBytes 0xFFFFFFFF); "" the empty one (2.2.23.2)."""
    if value is None:
        return {"cBytes": NULL_BSTR_BYTES, "clSize": 0, "asData": []}
    if not isinstance(value, str):
        raise TypeError(f"BSTR needs str or None, got {type(value).__name__}")
    raw = value.encode("utf-16-le", "surrogatepass")
    units = list(struct.unpack(f"<{len(raw) // 2}H", raw))
    return {"cBytes": len(raw), "clSize": len(units), "asData": units}


def bstr_from_wire(blob: dict[str, Any] | None) -> str | None:
    if blob is None:
        return None
    size, units = blob["cBytes"], blob["asData"]
    if size == NULL_BSTR_BYTES:
        if units:
            raise bad_stub("null BSTR with data")
        return None
    if blob["clSize"] != (size + 1) // 2:
        raise bad_stub(f"BSTR cBytes {size} does not match clSize {blob['clSize']}")
    if size % 2:
        raise bad_stub("odd-length (byte) BSTR has no str form")
    return struct.pack(f"<{len(units)}H", *units).decode("utf-16-le", "surrogatepass")


BSTR = WireMarshal("BSTR", Pointer("unique", FLAGGED_WORD_BLOB), bstr_to_wire, bstr_from_wire)


# --- VARIANT (2.2.29): the scalar and BSTR arms ---------------------------------------------

VT_EMPTY, VT_NULL, VT_I2, VT_I4, VT_R4, VT_R8 = 0, 1, 2, 3, 4, 5
VT_DATE, VT_BSTR, VT_ERROR, VT_BOOL = 7, 8, 10, 11
VT_I1, VT_UI1, VT_UI2, VT_UI4, VT_I8, VT_UI8, VT_INT, VT_UINT = 16, 17, 18, 19, 20, 21, 22, 23

_ULONG64 = HYPER.__class__("ULONG64", "Q", 8, "int", 0, (1 << 64) - 1)
_SCALARS = {
    VT_I1: SMALL,
    VT_UI1: BYTE,
    VT_I2: SHORT,
    VT_UI2: USHORT,
    VT_I4: LONG,
    VT_UI4: ULONG,
    VT_INT: LONG,
    VT_UINT: ULONG,
    VT_I8: HYPER,
    VT_UI8: _ULONG64,
    VT_R4: FLOAT,
    VT_R8: DOUBLE,
    VT_DATE: DOUBLE,
    VT_BOOL: SHORT,  # VARIANT_BOOL: -1 true, 0 false
    VT_ERROR: HRESULT,
}


@dataclass(frozen=True)
class Variant:
    """A VARIANT as Python sees it: its VARTYPE and value (None for VT_EMPTY / VT_NULL)."""

    vt: int
    value: Any = None


_arms = [Arm((vt,), t) for vt, t in _SCALARS.items()]
_arms += [Arm((VT_BSTR,), BSTR), Arm((VT_EMPTY, VT_NULL), None)]
VARIANT_UNION = Union(ULONG, tuple(_arms), switch_is=Name("vt"))

wireVARIANTStr = Struct(
    "wireVARIANTStr",
    (
        Field("clSize", ULONG),
        Field("rpcReserved", ULONG),
        Field("vt", USHORT),
        Field("wReserved1", USHORT),
        Field("wReserved2", USHORT),
        Field("wReserved3", USHORT),
        Field("_varUnion", VARIANT_UNION),
    ),
)


def _variant_size(vt: int) -> int:
    """clSize: the wire struct's size in 8-byte units (16-byte header, union tag, arm)."""
    arm = 4 if vt == VT_BSTR else _SCALARS[vt].size if vt in _SCALARS else 0
    end = 20 + (-20 % arm if arm else 0) + arm
    return (end + 7) // 8


def variant_to_wire(value: Variant) -> dict[str, Any]:
    if not isinstance(value, Variant):
        raise TypeError(f"VARIANT needs a Variant, got {type(value).__name__}")
    return {
        "clSize": _variant_size(value.vt),
        "rpcReserved": 0,
        "vt": value.vt,
        "wReserved1": 0,
        "wReserved2": 0,
        "wReserved3": 0,
        "_varUnion": value.value,
    }


def variant_from_wire(wire: dict[str, Any] | None) -> Variant | None:
    if wire is None:
        return None
    return Variant(wire["vt"], wire["_varUnion"])


VARIANT = WireMarshal(
    "VARIANT", Pointer("unique", wireVARIANTStr), variant_to_wire, variant_from_wire
)
