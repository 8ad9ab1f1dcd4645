"""The endpoint mapper (epmp, [MS-RPCE] 2.2.1.2, [C706] appendix O): towers, client, server.

A client that knows a host but not the port of an interface asks the host's endpoint mapper
(port 135) with `ept_map`, giving a tower that names the interface and the protocol; the
answer is a tower with the port. `ept_lookup` enumerates everything registered, in batches
tied to a context handle. The interface's NDR comes from `idlgen/protocol_idl/epm.idl`,
compiled by idlgen into `epm_idl.py`.

Towers ([C706] appendix L): a floor count, then floors of (lhs, rhs) octet strings: the
interface (0x0D, UUID, major; rhs minor), the transfer syntax, the RPC protocol (0x0B,
connection-oriented), then the transport: TCP port (0x07, big-endian) and IPv4 address
(0x09), or for a Unix socket 0x10 and its path (our choice, as in ORPC's string bindings).
"""

from __future__ import annotations

import ipaddress
import os
import struct
import threading
from dataclasses import dataclass

from idlgen.runtime.com.guid import GUID
from idlgen.runtime.com.hresult import HRESULT_FROM_WIN32, COMError
from idlgen.runtime.ndr import ContextHandle
from idlgen.runtime.rpc.dcerpc import binding as B
from idlgen.runtime.rpc.dcerpc import pdu as P
from idlgen.runtime.rpc.dcerpc.auth import ClientAuth
from idlgen.runtime.rpc.dcerpc.endpoints import EndpointMap, Registration, process_map
from idlgen.runtime.rpc.dcerpc.epm_idl import (
    EPT_S_CANT_PERFORM_OP,
    EPT_S_NOT_REGISTERED,
    RPC_C_EP_ALL_ELTS,
    RPC_C_EP_MATCH_BY_BOTH,
    RPC_C_EP_MATCH_BY_IF,
    RPC_C_EP_MATCH_BY_OBJ,
    RPC_C_VERS_ALL,
    RPC_C_VERS_COMPATIBLE,
    RPC_C_VERS_EXACT,
    RPC_C_VERS_MAJOR_ONLY,
    RPC_C_VERS_UPTO,
    RPC_IF_ID,
    epmp,
    epmp_Client,
    ept_entry_t,
    twr_t,
)

__all__ = [
    "EPT_S_NOT_REGISTERED",
    "EndpointMap",
    "EndpointMapper",
    "Entry",
    "decode_tower",
    "encode_tower",
    "lookup",
    "map_endpoint",
    "process_map",
]

EPM_PORT = 135
FLOOR_UUID = 0x0D
FLOOR_NCACN = 0x0B
FLOOR_TCP = 0x07
FLOOR_IP = 0x09
FLOOR_LOCAL = 0x10
LOOKUP_BATCH = 50


class TowerError(ValueError):
    """A tower we cannot read."""


def _floor(lhs: bytes, rhs: bytes) -> bytes:
    return struct.pack("<H", len(lhs)) + lhs + struct.pack("<H", len(rhs)) + rhs


def _syntax_floor(s: P.SyntaxId) -> bytes:
    return _floor(bytes([FLOOR_UUID]) + s.uuid.bytes_le + struct.pack("<H", s.major),
                  struct.pack("<H", s.minor))  # fmt: skip


def encode_tower(syntax: P.SyntaxId, binding: B.Binding | None = None) -> bytes:
    """The tower for `syntax` over `binding` (None: TCP with port 0 and address 0, the form
    a client gives ept_map to ask "which port?")."""
    floors = [_syntax_floor(syntax), _syntax_floor(P.NDR20), _floor(bytes([FLOOR_NCACN]), b"\0\0")]
    if binding is None or binding.protseq == B.NCACN_IP_TCP:
        port = binding.port if binding is not None else 0
        address = _ipv4(binding.address) if binding is not None else bytes(4)
        floors.append(_floor(bytes([FLOOR_TCP]), struct.pack(">H", port)))
        floors.append(_floor(bytes([FLOOR_IP]), address))
    else:
        floors.append(_floor(bytes([FLOOR_LOCAL]), binding.endpoint.encode() + b"\0"))
    return struct.pack("<H", len(floors)) + b"".join(floors)


def _ipv4(address: str) -> bytes:
    try:
        return ipaddress.IPv4Address(address).packed
    except ValueError:
        return bytes(4)  # a host name: the tower cannot carry it, the client knows it


def _floors(data: bytes) -> list[tuple[bytes, bytes]]:
    if len(data) < 2:
        raise TowerError("tower shorter than its floor count")
    (count,) = struct.unpack_from("<H", data)
    pos, floors = 2, []
    for _ in range(count):
        parts = []
        for _side in range(2):
            if pos + 2 > len(data):
                raise TowerError("tower truncated")
            (n,) = struct.unpack_from("<H", data, pos)
            if pos + 2 + n > len(data):
                raise TowerError("tower floor truncated")
            parts.append(data[pos + 2 : pos + 2 + n])
            pos += 2 + n
        floors.append((parts[0], parts[1]))
    return floors


def _syntax_of(lhs: bytes, rhs: bytes) -> P.SyntaxId:
    if len(lhs) != 19 or lhs[0] != FLOOR_UUID or len(rhs) != 2:
        raise TowerError("tower floor is not a syntax identifier")
    (major,) = struct.unpack_from("<H", lhs, 17)
    (minor,) = struct.unpack("<H", rhs)
    return P.SyntaxId(GUID.from_bytes_le(lhs[1:17]), major, minor)


@dataclass(frozen=True)
class Tower:
    syntax: P.SyntaxId
    transfer: P.SyntaxId
    binding: B.Binding | None  # None: a transport we do not speak


def decode_tower(data: bytes) -> Tower:
    floors = _floors(bytes(data))
    if len(floors) < 3:
        raise TowerError("tower with fewer than three floors")
    syntax, transfer = _syntax_of(*floors[0]), _syntax_of(*floors[1])
    rest = {lhs[:1]: rhs for lhs, rhs in floors[3:] if lhs}
    binding: B.Binding | None = None
    if floors[2][0] == bytes([FLOOR_NCACN]):
        tcp, ip = rest.get(bytes([FLOOR_TCP])), rest.get(bytes([FLOOR_IP]))
        local = rest.get(bytes([FLOOR_LOCAL]))
        if tcp is not None and len(tcp) == 2:
            address = str(ipaddress.IPv4Address(ip)) if ip is not None and len(ip) == 4 else ""
            binding = B.Binding(B.NCACN_IP_TCP, address, str(struct.unpack(">H", tcp)[0]))
        elif local:
            binding = B.Binding(B.NCACN_UNIX_STREAM, "", local.rstrip(b"\0").decode())
    return Tower(syntax, transfer, binding)


# ------------------------------------------------------------------ client


def _mapper(host: str, auth: ClientAuth | None, timeout: float | None, port: int) -> epmp_Client:
    return epmp_Client(f"ncacn_ip_tcp:{host}[{port}]", auth=auth, timeout=timeout)


def _not_registered(syntax: P.SyntaxId, host: str) -> COMError:
    return COMError(
        HRESULT_FROM_WIN32(1753),  # EPT_S_NOT_REGISTERED as Windows reports it
        f"{syntax.uuid} v{syntax.major}.{syntax.minor} is not registered at {host}",
    )


def map_endpoint(
    host: str,
    syntax: P.SyntaxId,
    auth: ClientAuth | None = None,
    timeout: float | None = 10.0,
    port: int = EPM_PORT,
) -> B.Binding:
    """The TCP binding where `host` serves `syntax`, from its endpoint mapper (ept_map)."""
    with _mapper(host, auth, timeout, port) as mapper:
        tower = encode_tower(syntax)
        result = mapper.ept_map(0, None, twr_t(len(tower), tower), ContextHandle(), 4)
    for twr in result.ITowers[: result.num_towers]:
        if twr is None:
            continue
        try:
            found = decode_tower(twr.tower_octet_string).binding
        except TowerError:
            continue
        if found is not None and found.protseq == B.NCACN_IP_TCP:
            return B.Binding(found.protseq, host, found.endpoint)
    raise _not_registered(syntax, host)


@dataclass(frozen=True)
class Entry:
    """One endpoint map element: object, interface, where, and its annotation."""

    object: GUID
    syntax: P.SyntaxId
    binding: B.Binding | None
    annotation: str


def lookup(
    host: str,
    auth: ClientAuth | None = None,
    timeout: float | None = 10.0,
    batch: int = LOOKUP_BATCH,
    port: int = EPM_PORT,
) -> list[Entry]:
    """Every element of `host`'s endpoint map (ept_lookup, batch after batch).

    A batch may come back with EPT_S_NOT_REGISTERED and entries at once (Samba marks the last
    batch that way); as Windows clients do, the entries count and the enumeration ends."""
    entries: list[Entry] = []
    handle = ContextHandle()
    with _mapper(host, auth, timeout, port) as mapper:
        while True:
            r = mapper.ept_lookup(0, RPC_C_EP_ALL_ELTS, None, None, RPC_C_VERS_ALL, handle, batch)
            entries.extend(_entries(r.entries[: r.num_ents]))
            assert isinstance(r.entry_handle, ContextHandle)  # the [in, out] handle comes back
            handle = r.entry_handle
            if r.status != 0 or r.num_ents == 0 or handle.is_null:
                if r.status not in (0, EPT_S_NOT_REGISTERED):
                    raise COMError(r.status, f"ept_lookup failed with 0x{r.status:08x}")
                return entries


def _entries(raw: list[ept_entry_t]) -> list[Entry]:
    out = []
    for e in raw:
        if e.tower is None:
            continue
        try:
            tower = decode_tower(e.tower.tower_octet_string)
        except TowerError:
            continue
        obj = e.object if e.object is not None else GUID(0)
        out.append(Entry(obj, tower.syntax, tower.binding, e.annotation))
    return out


# ------------------------------------------------------------------ server


def _version_matches(option: int, want: RPC_IF_ID, have: P.SyntaxId) -> bool:
    if option == RPC_C_VERS_ALL:
        return True
    if option == RPC_C_VERS_COMPATIBLE:
        return have.major == want.VersMajor and have.minor >= want.VersMinor
    if option == RPC_C_VERS_EXACT:
        return (have.major, have.minor) == (want.VersMajor, want.VersMinor)
    if option == RPC_C_VERS_MAJOR_ONLY:
        return have.major == want.VersMajor
    if option == RPC_C_VERS_UPTO:
        return (have.major, have.minor) <= (want.VersMajor, want.VersMinor)
    return False


class EndpointMapper(epmp):
    """The server side: ept_map and ept_lookup over an `EndpointMap` (insert and delete are
    refused, as Windows refuses them remotely). Default: the process's map, which every
    `RpcServer` fills with the interfaces it serves and where."""

    def __init__(self, endpoints: EndpointMap | None = None) -> None:
        self.endpoints = endpoints if endpoints is not None else process_map
        self._cursors: dict[GUID, list[Registration]] = {}  # lookup continuations by handle
        self._lock = threading.Lock()

    def ept_insert(self, hEpMapper: object, num_ents: int, entries: list[ept_entry_t],
                   replace: int) -> int:  # fmt: skip
        return EPT_S_CANT_PERFORM_OP

    def ept_delete(self, hEpMapper: object, num_ents: int, entries: list[ept_entry_t]) -> int:
        return EPT_S_CANT_PERFORM_OP

    def ept_map(
        self,
        hEpMapper: object,
        obj: GUID | None,
        map_tower: twr_t,
        entry_handle: object,
        max_towers: int,
    ) -> epmp.ept_mapResult:
        try:
            wanted = decode_tower(map_tower.tower_octet_string) if map_tower else None
        except TowerError:
            wanted = None
        if wanted is None or max_towers == 0:
            return epmp.ept_mapResult(ContextHandle(), 0, [], EPT_S_NOT_REGISTERED)
        towers = []
        for e in self.endpoints.snapshot():
            same = e.syntax.uuid == wanted.syntax.uuid and e.syntax.major == wanted.syntax.major
            kind = wanted.binding.protseq if wanted.binding is not None else B.NCACN_IP_TCP
            object_ok = obj is None or obj == GUID(0) or e.object in (obj, GUID(0))
            minor_ok = e.syntax.minor >= wanted.syntax.minor
            if same and minor_ok and e.binding.protseq == kind and object_ok:
                tower = encode_tower(e.syntax, e.binding)
                towers.append(twr_t(len(tower), tower))
        towers = towers[:max_towers]
        status = 0 if towers else EPT_S_NOT_REGISTERED
        return epmp.ept_mapResult(ContextHandle(), len(towers), towers, status)

    def ept_lookup(
        self,
        hEpMapper: object,
        inquiry_type: int,
        object_: GUID | None,
        Ifid: RPC_IF_ID | None,
        vers_option: int,
        entry_handle: object,
        max_ents: int,
    ) -> epmp.ept_lookupResult:
        handle = entry_handle if isinstance(entry_handle, ContextHandle) else ContextHandle()
        with self._lock:
            pending = self._cursors.pop(handle.uuid, None) if not handle.is_null else None
        if pending is None:
            pending = [
                e
                for e in self.endpoints.snapshot()
                if _lookup_matches(e, inquiry_type, object_, Ifid, vers_option)
            ]
        batch, rest = pending[: max(max_ents, 0)], pending[max(max_ents, 0) :]
        entries = [_entry_of(e) for e in batch]
        if not batch:
            return epmp.ept_lookupResult(ContextHandle(), 0, [], EPT_S_NOT_REGISTERED)
        if not rest:
            return epmp.ept_lookupResult(ContextHandle(), len(entries), entries, 0)
        key = GUID(os.urandom(16))
        with self._lock:
            self._cursors[key] = rest
        return epmp.ept_lookupResult(ContextHandle(0, key), len(entries), entries, 0)

    def ept_lookup_handle_free(
        self, hEpMapper: object, entry_handle: object
    ) -> epmp.ept_lookup_handle_freeResult:
        if isinstance(entry_handle, ContextHandle):
            with self._lock:
                self._cursors.pop(entry_handle.uuid, None)
        return epmp.ept_lookup_handle_freeResult(ContextHandle(), 0)


def _lookup_matches(
    e: Registration, inquiry: int, obj: GUID | None, ifid: RPC_IF_ID | None, option: int
) -> bool:
    by_if = inquiry in (RPC_C_EP_MATCH_BY_IF, RPC_C_EP_MATCH_BY_BOTH)
    by_obj = inquiry in (RPC_C_EP_MATCH_BY_OBJ, RPC_C_EP_MATCH_BY_BOTH)
    if by_if and (ifid is None or ifid.Uuid != e.syntax.uuid):
        return False
    if by_if and ifid is not None and not _version_matches(option, ifid, e.syntax):
        return False
    return not (by_obj and obj is not None and e.object != obj)


def _entry_of(e: Registration) -> ept_entry_t:
    tower = encode_tower(e.syntax, e.binding)
    return ept_entry_t(e.object, twr_t(len(tower), tower), e.annotation)
