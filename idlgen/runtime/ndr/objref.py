"""OBJREF encode/decode ([MS-DCOM] 2.2.18): what an MInterfacePointer's abData carries.

These are byte layouts, not NDR: fields are little-endian and packed.  An InterfaceMarshaler
(apartments) builds an `ObjRef` when exporting an object and reads one when importing; keeping
the parsing here means every importer gets the same strict checks.
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass, field

from idlgen.runtime.ndr.fault import bad_stub

OBJREF_SIGNATURE = 0x574F454D  # "MEOW"
OBJREF_STANDARD = 0x1
OBJREF_HANDLER = 0x2
OBJREF_CUSTOM = 0x4
SORF_NOPING = 0x1000
_STD = struct.Struct("<IIQQ16s")  # STDOBJREF: flags, cPublicRefs, oxid, oid, ipid
_HEAD = struct.Struct("<II16s")  # signature, flags, iid
MAX_DUALSTRING_ENTRIES = 0x8000


@dataclass(frozen=True)
class StdObjRef:
    flags: int
    public_refs: int
    oxid: int
    oid: int
    ipid: uuid.UUID


@dataclass(frozen=True)
class StringBinding:
    tower_id: int
    network_addr: str


@dataclass(frozen=True)
class SecurityBinding:
    authn_svc: int
    authz_svc: int
    principal: str


@dataclass(frozen=True)
class DualStringArray:
    strings: tuple[StringBinding, ...] = ()
    security: tuple[SecurityBinding, ...] = ()


@dataclass(frozen=True)
class ObjRef:
    """OBJREF_STANDARD / OBJREF_HANDLER (std + resolver) or OBJREF_CUSTOM (clsid + data)."""

    flags: int
    iid: uuid.UUID
    std: StdObjRef | None = None
    resolver: DualStringArray = field(default_factory=DualStringArray)
    clsid: uuid.UUID | None = None
    custom_data: bytes = b""


def encode_dualstringarray(dsa: DualStringArray) -> bytes:
    units: list[int] = []
    for sb in dsa.strings:
        units.append(sb.tower_id)
        units.extend(_wide_units(sb.network_addr))
    units.append(0)
    security_offset = len(units)
    for sec in dsa.security:
        units += [sec.authn_svc, sec.authz_svc, *_wide_units(sec.principal)]
    units.append(0)
    return struct.pack(f"<HH{len(units)}H", len(units), security_offset, *units)


def _wide_units(text: str) -> list[int]:
    raw = text.encode("utf-16-le", "surrogatepass")
    return [*struct.unpack(f"<{len(raw) // 2}H", raw), 0]


def decode_dualstringarray(data: bytes, pos: int = 0) -> tuple[DualStringArray, int]:
    """Parse a DUALSTRINGARRAY at `pos`; returns it and the position after it."""
    if len(data) - pos < 4:
        raise bad_stub("DUALSTRINGARRAY header truncated")
    count, security_offset = struct.unpack_from("<HH", data, pos)
    pos += 4
    if count * 2 > len(data) - pos or security_offset > count:
        raise bad_stub("DUALSTRINGARRAY sizes exceed the data")
    units = struct.unpack_from(f"<{count}H", data, pos)
    strings = _strings(units, security_offset)
    security = _security(units, security_offset, count)
    return DualStringArray(tuple(strings), tuple(security)), pos + count * 2


def _strings(units: tuple[int, ...], end: int) -> list[StringBinding]:
    out: list[StringBinding] = []
    i = 0
    while i < end and units[i] != 0:
        tower = units[i]
        text, i = _read_wide(units, i + 1, end)
        out.append(StringBinding(tower, text))
    return out


def _security(units: tuple[int, ...], start: int, end: int) -> list[SecurityBinding]:
    out: list[SecurityBinding] = []
    i = start
    while i < end and units[i] != 0:
        if i + 2 > end:
            raise bad_stub("security binding truncated")
        authn, authz = units[i], units[i + 1]
        text, i = _read_wide(units, i + 2, end)
        out.append(SecurityBinding(authn, authz, text))
    return out


def _read_wide(units: tuple[int, ...], start: int, end: int) -> tuple[str, int]:
    try:
        stop = units.index(0, start, end)
    except ValueError:
        raise bad_stub("unterminated string in DUALSTRINGARRAY") from None
    raw = struct.pack(f"<{stop - start}H", *units[start:stop])
    return raw.decode("utf-16-le", "surrogatepass"), stop + 1


def encode_objref(ref: ObjRef) -> bytes:
    head = _HEAD.pack(OBJREF_SIGNATURE, ref.flags, ref.iid.bytes_le)
    if ref.flags in (OBJREF_STANDARD, OBJREF_HANDLER):
        if ref.std is None:
            raise ValueError("standard OBJREF needs a StdObjRef")
        s = ref.std
        body = _STD.pack(s.flags, s.public_refs, s.oxid, s.oid, s.ipid.bytes_le)
        if ref.flags == OBJREF_HANDLER:
            body += _clsid(ref).bytes_le
        return head + body + encode_dualstringarray(ref.resolver)
    if ref.flags == OBJREF_CUSTOM:
        data = ref.custom_data
        return head + _clsid(ref).bytes_le + struct.pack("<II", 0, len(data)) + data
    raise ValueError(f"unsupported OBJREF flags 0x{ref.flags:x}")


def _clsid(ref: ObjRef) -> uuid.UUID:
    if ref.clsid is None:
        raise ValueError("this OBJREF kind needs a clsid")
    return ref.clsid


def decode_objref(data: bytes) -> ObjRef:
    """Parse OBJREF bytes strictly; anything malformed raises NdrFault."""
    if len(data) < _HEAD.size:
        raise bad_stub("OBJREF truncated")
    signature, flags, iid_raw = _HEAD.unpack_from(data, 0)
    if signature != OBJREF_SIGNATURE:
        raise bad_stub("OBJREF signature is not MEOW")
    iid = uuid.UUID(bytes_le=iid_raw)
    pos = _HEAD.size
    if flags in (OBJREF_STANDARD, OBJREF_HANDLER):
        if len(data) - pos < _STD.size:
            raise bad_stub("STDOBJREF truncated")
        f, refs, oxid, oid, ipid = _STD.unpack_from(data, pos)
        pos += _STD.size
        clsid = None
        if flags == OBJREF_HANDLER:
            if len(data) - pos < 16:
                raise bad_stub("OBJREF_HANDLER clsid truncated")
            clsid = uuid.UUID(bytes_le=data[pos : pos + 16])
            pos += 16
        resolver, pos = decode_dualstringarray(data, pos)
        _no_trailing(data, pos)
        std = StdObjRef(f, refs, oxid, oid, uuid.UUID(bytes_le=ipid))
        return ObjRef(flags, iid, std, resolver, clsid)
    if flags == OBJREF_CUSTOM:
        if len(data) - pos < 24:
            raise bad_stub("OBJREF_CUSTOM truncated")
        clsid = uuid.UUID(bytes_le=data[pos : pos + 16])
        _, size = struct.unpack_from("<II", data, pos + 16)
        pos += 24
        if size != len(data) - pos:
            raise bad_stub("OBJREF_CUSTOM size does not match its data")
        return ObjRef(flags, iid, clsid=clsid, custom_data=bytes(data[pos:]))
    raise bad_stub(f"unsupported OBJREF flags 0x{flags:x}")


def _no_trailing(data: bytes, pos: int) -> None:
    if pos != len(data):
        raise bad_stub("trailing bytes after OBJREF")
