"""Connection-oriented DCE/RPC PDUs (DCE 1.1 RPC chapter 12, [MS-RPCE] 2.2.2): bytes <-> values.

`decode` never raises: a buffer that is not exactly one well-formed PDU comes back as a
`ProtocolError` value, because the connection code must answer a hostile peer with a fault or a
bind_nak and close, not unwind a stack. Only little-endian ASCII/IEEE senders are accepted (the
NDR engine reads nothing else) and only auth_length 0 (no security providers).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from idlgen.runtime.com.guid import GUID

# Packet types (DCE 12.6.4.1).
REQUEST = 0
RESPONSE = 2
FAULT = 3
BIND = 11
BIND_ACK = 12
BIND_NAK = 13
ALTER_CONTEXT = 14
ALTER_CONTEXT_RESP = 15
SHUTDOWN = 17
CO_CANCEL = 18
ORPHANED = 19
AUTH3 = 16

# pfc_flags (DCE 12.6.3.1).
PFC_FIRST_FRAG = 0x01
PFC_LAST_FRAG = 0x02
PFC_PENDING_CANCEL = 0x04
PFC_CONC_MPX = 0x10
PFC_DID_NOT_EXECUTE = 0x20
PFC_MAYBE = 0x40
PFC_OBJECT_UUID = 0x80

# Context negotiation results and provider reasons (DCE 12.6.3.1).
ACCEPTANCE = 0
USER_REJECTION = 1
PROVIDER_REJECTION = 2
REASON_NOT_SPECIFIED = 0
ABSTRACT_SYNTAX_NOT_SUPPORTED = 1
TRANSFER_SYNTAXES_NOT_SUPPORTED = 2
LOCAL_LIMIT_EXCEEDED = 3

# bind_nak reject reasons (DCE 12.6.3.1, p_reject_reason_t).
NAK_NOT_SPECIFIED = 0
NAK_TEMPORARY_CONGESTION = 1
NAK_LOCAL_LIMIT_EXCEEDED = 2
NAK_PROTOCOL_VERSION_NOT_SUPPORTED = 4

# Fault status codes (DCE appendix E, [MS-RPCE] 3.1.1.5.5).
NCA_S_FAULT_CANCEL = 0x1C00000D
NCA_S_FAULT_REMOTE_NO_MEMORY = 0x1C00001B
NCA_S_FAULT_INVALID_BOUND = 0x1C000007
NCA_S_FAULT_INVALID_TAG = 0x1C000006
NCA_S_FAULT_CONTEXT_MISMATCH = 0x1C00001A
NCA_S_UNSPEC_REJECT = 0x1C000009
NCA_S_OP_RNG_ERROR = 0x1C010002
NCA_S_UNK_IF = 0x1C010003
NCA_S_PROTO_ERROR = 0x1C01000B
NCA_S_SERVER_TOO_BUSY = 0x1C010014

RPC_VERS = 5
RPC_VERS_MINOR = 0
DREP_LE_ASCII_IEEE = b"\x10\x00\x00\x00"
HEADER_SIZE = 16
REQUEST_HEADER = 24  # common header + alloc_hint, p_cont_id, opnum
RESPONSE_HEADER = 24  # common header + alloc_hint, p_cont_id, cancel_count, reserved
MIN_FRAG = 1432  # every implementation must accept fragments this large (DCE 12.6.3.7)
MAX_FRAG = 0xFFFF

_HDR = struct.Struct("<BBBB4sHHI")
_U16 = struct.Struct("<H")
_BIND_FIXED = struct.Struct("<HHI")
_SYNTAX = struct.Struct("<16sHH")
_CTX_ELEM = struct.Struct("<HBB")
_REQ = struct.Struct("<IHH")
_RESP = struct.Struct("<IHBB")
_FAULT = struct.Struct("<IHBBII")
SEC_TRAILER = struct.Struct("<BBBBI")  # auth_type, auth_level, pad length, reserved, context id


@dataclass(frozen=True, slots=True)
class SyntaxId:
    """An interface or transfer syntax: UUID plus version (major in the low 16 bits)."""

    uuid: GUID
    major: int
    minor: int = 0


NDR20 = SyntaxId(GUID("{8A885D04-1CEB-11C9-9FE8-08002B104860}"), 2, 0)
NULL_SYNTAX = SyntaxId(GUID(0), 0, 0)


@dataclass(frozen=True, slots=True)
class ContextElem:
    """One presentation context a client proposes: an interface and transfer syntaxes."""

    cont_id: int
    abstract: SyntaxId
    transfers: tuple[SyntaxId, ...]


@dataclass(frozen=True, slots=True)
class ContextResult:
    result: int
    reason: int = REASON_NOT_SPECIFIED
    transfer: SyntaxId = NULL_SYNTAX


@dataclass(frozen=True, slots=True)
class AuthVerifier:
    """sec_trailer plus token ([MS-RPCE] 2.2.2.11). `signed` and `stub_offset` are filled by
    `decode` (the PDU bytes before the token, and where the stub starts in them)."""

    auth_type: int
    level: int
    context_id: int
    value: bytes
    pad_length: int = 0
    signed: bytes = field(default=b"", compare=False, repr=False)
    stub_offset: int = field(default=0, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Bind:
    """bind (or alter_context when `alter` is set): propose contexts and fragment sizes."""

    call_id: int
    max_xmit_frag: int
    max_recv_frag: int
    assoc_group_id: int
    contexts: tuple[ContextElem, ...]
    flags: int = PFC_FIRST_FRAG | PFC_LAST_FRAG
    alter: bool = False
    auth: AuthVerifier | None = None


@dataclass(frozen=True, slots=True)
class BindAck:
    """bind_ack (or alter_context_resp when `alter` is set): one result per proposed context."""

    call_id: int
    max_xmit_frag: int
    max_recv_frag: int
    assoc_group_id: int
    sec_addr: str
    results: tuple[ContextResult, ...]
    flags: int = PFC_FIRST_FRAG | PFC_LAST_FRAG
    alter: bool = False
    auth: AuthVerifier | None = None


@dataclass(frozen=True, slots=True)
class BindNak:
    call_id: int
    reason: int
    versions: tuple[tuple[int, int], ...] = ((RPC_VERS, RPC_VERS_MINOR),)


@dataclass(frozen=True, slots=True)
class Request:
    """One request fragment; `stub` is this fragment's share of the stub data."""

    call_id: int
    cont_id: int
    opnum: int
    stub: bytes
    object: GUID | None = None
    alloc_hint: int = 0
    flags: int = PFC_FIRST_FRAG | PFC_LAST_FRAG
    auth: AuthVerifier | None = None


@dataclass(frozen=True, slots=True)
class Response:
    call_id: int
    cont_id: int
    stub: bytes
    alloc_hint: int = 0
    cancel_count: int = 0
    flags: int = PFC_FIRST_FRAG | PFC_LAST_FRAG
    auth: AuthVerifier | None = None


@dataclass(frozen=True, slots=True)
class Fault:
    call_id: int
    status: int
    cont_id: int = 0
    cancel_count: int = 0
    stub: bytes = b""
    flags: int = PFC_FIRST_FRAG | PFC_LAST_FRAG
    auth: AuthVerifier | None = None


@dataclass(frozen=True, slots=True)
class Auth3:
    """The third leg of a three-way authentication (NTLM's AUTHENTICATE); no reply."""

    call_id: int
    auth: AuthVerifier
    flags: int = PFC_FIRST_FRAG | PFC_LAST_FRAG


@dataclass(frozen=True, slots=True)
class CoCancel:
    call_id: int
    flags: int = PFC_FIRST_FRAG | PFC_LAST_FRAG


@dataclass(frozen=True, slots=True)
class Orphaned:
    call_id: int
    flags: int = PFC_FIRST_FRAG | PFC_LAST_FRAG


@dataclass(frozen=True, slots=True)
class Shutdown:
    call_id: int = 0
    flags: int = PFC_FIRST_FRAG | PFC_LAST_FRAG


@dataclass(frozen=True, slots=True)
class ProtocolError:
    """Why a buffer is not a PDU we accept; `call_id` when the header was readable."""

    reason: str
    call_id: int | None = None
    ptype: int | None = None
    status: int = NCA_S_PROTO_ERROR  # what a fault reply carries
    nak_reason: int = NAK_NOT_SPECIFIED  # what a bind_nak reply carries


Pdu = Bind | BindAck | BindNak | Request | Response | Fault | Auth3 | CoCancel | Orphaned | Shutdown


@dataclass(frozen=True, slots=True)
class Header:
    ptype: int
    flags: int
    frag_length: int
    auth_length: int
    call_id: int
    drep: bytes = field(default=DREP_LE_ASCII_IEEE)


# ---------------------------------------------------------------- header


def parse_header(data: bytes | bytearray | memoryview) -> Header | ProtocolError:
    """Read and check the 16-byte common header; framing needs frag_length before the body."""
    if len(data) < HEADER_SIZE:
        return ProtocolError("short header")
    vers, minor, ptype, flags, drep, frag_len, auth_len, call_id = _HDR.unpack_from(data)
    if vers != RPC_VERS or minor > 1:  # 5.1 senders exist; both minors share the CO format
        reason = f"RPC version {vers}.{minor}"
        return ProtocolError(reason, None, ptype, nak_reason=NAK_PROTOCOL_VERSION_NOT_SUPPORTED)
    if bytes(drep[:2]) != DREP_LE_ASCII_IEEE[:2]:
        return ProtocolError(f"unsupported data representation {bytes(drep).hex()}", call_id, ptype)
    if frag_len < HEADER_SIZE:
        return ProtocolError("frag_length smaller than the header", call_id, ptype)
    if auth_len and frag_len < HEADER_SIZE + SEC_TRAILER.size + auth_len:
        return ProtocolError("auth_length larger than the PDU", call_id, ptype)
    return Header(ptype, flags, frag_len, auth_len, call_id, bytes(drep))


def _header(ptype: int, flags: int, length: int, call_id: int, auth_len: int = 0) -> bytes:
    drep = DREP_LE_ASCII_IEEE
    return _HDR.pack(RPC_VERS, RPC_VERS_MINOR, ptype, flags, drep, length, auth_len, call_id)


def _pdu(
    ptype: int, flags: int, call_id: int, body: bytes, auth: AuthVerifier | None = None
) -> bytes:
    """The PDU bytes; with `auth`, the body must already hold the pad (`auth.pad_length`)."""
    if auth is not None:
        trailer = SEC_TRAILER.pack(auth.auth_type, auth.level, auth.pad_length, 0, auth.context_id)
        body = body + trailer + auth.value
    auth_len = len(auth.value) if auth is not None else 0
    length = HEADER_SIZE + len(body)
    if length > MAX_FRAG:
        raise ValueError(f"PDU of {length} bytes exceeds frag_length range")
    return _header(ptype, flags, length, call_id, auth_len) + body


# ---------------------------------------------------------------- encoding


def _syntax(s: SyntaxId) -> bytes:
    return _SYNTAX.pack(s.uuid.bytes_le, s.major, s.minor)


def _pad4(n: int) -> int:
    return -n % 4


def encode(pdu: Pdu) -> bytes:
    """One PDU as bytes. Raises ValueError only for values this side built wrongly."""
    match pdu:
        case Bind():
            body = _BIND_FIXED.pack(pdu.max_xmit_frag, pdu.max_recv_frag, pdu.assoc_group_id)
            body += struct.pack("<BBH", len(pdu.contexts), 0, 0)
            for c in pdu.contexts:
                body += _CTX_ELEM.pack(c.cont_id, len(c.transfers), 0) + _syntax(c.abstract)
                body += b"".join(_syntax(t) for t in c.transfers)
            ptype = ALTER_CONTEXT if pdu.alter else BIND
            return _pdu(ptype, pdu.flags, pdu.call_id, body, pdu.auth)
        case BindAck():
            body = _BIND_FIXED.pack(pdu.max_xmit_frag, pdu.max_recv_frag, pdu.assoc_group_id)
            addr = (pdu.sec_addr.encode("ascii") + b"\0") if pdu.sec_addr else b""
            body += _U16.pack(len(addr)) + addr
            body += b"\0" * _pad4(HEADER_SIZE + len(body))
            body += struct.pack("<BBH", len(pdu.results), 0, 0)
            for r in pdu.results:
                body += struct.pack("<HH", r.result, r.reason) + _syntax(r.transfer)
            ptype = ALTER_CONTEXT_RESP if pdu.alter else BIND_ACK
            return _pdu(ptype, pdu.flags, pdu.call_id, body, pdu.auth)
        case BindNak():
            body = _U16.pack(pdu.reason) + bytes([len(pdu.versions)])
            body += b"".join(bytes(v) for v in pdu.versions)
            body += b"\0" * _pad4(HEADER_SIZE + len(body))
            return _pdu(BIND_NAK, PFC_FIRST_FRAG | PFC_LAST_FRAG, pdu.call_id, body)
        case Request():
            flags = pdu.flags | (PFC_OBJECT_UUID if pdu.object is not None else 0)
            body = _REQ.pack(pdu.alloc_hint, pdu.cont_id, pdu.opnum)
            if pdu.object is not None:
                body += pdu.object.bytes_le
            return _pdu(REQUEST, flags, pdu.call_id, body + pdu.stub, pdu.auth)
        case Response():
            body = _RESP.pack(pdu.alloc_hint, pdu.cont_id, pdu.cancel_count, 0) + pdu.stub
            return _pdu(RESPONSE, pdu.flags, pdu.call_id, body, pdu.auth)
        case Fault():
            body = _FAULT.pack(len(pdu.stub), pdu.cont_id, pdu.cancel_count, 0, pdu.status, 0)
            return _pdu(FAULT, pdu.flags, pdu.call_id, body + pdu.stub, pdu.auth)
        case Auth3():
            # [MS-RPCE] 2.2.2.10: four pad octets, then the sec_trailer.
            return _pdu(AUTH3, pdu.flags, pdu.call_id, b"\0" * 4, pdu.auth)
        case CoCancel():
            return _pdu(CO_CANCEL, pdu.flags, pdu.call_id, b"")
        case Orphaned():
            return _pdu(ORPHANED, pdu.flags, pdu.call_id, b"")
        case Shutdown():
            return _pdu(SHUTDOWN, pdu.flags, pdu.call_id, b"")
    raise TypeError(f"not a PDU: {pdu!r}")


# ---------------------------------------------------------------- decoding


class _Short(Exception):
    """Internal: the body ended early. Converted to ProtocolError before leaving `decode`."""


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = HEADER_SIZE

    def take(self, s: struct.Struct) -> tuple[Any, ...]:
        if self.pos + s.size > len(self.data):
            raise _Short
        values = s.unpack_from(self.data, self.pos)
        self.pos += s.size
        return values

    def raw(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise _Short
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def align4(self) -> None:
        self.raw(_pad4(self.pos))

    def rest(self) -> bytes:
        return self.data[self.pos :]

    def syntax(self) -> SyntaxId:
        uid, major, minor = self.take(_SYNTAX)
        return SyntaxId(GUID.from_bytes_le(uid), int(major), int(minor))


def decode(data: bytes | bytearray | memoryview) -> Pdu | ProtocolError:
    """Exactly one PDU (frag_length must equal len(data)), or why not."""
    data = bytes(data)
    h = parse_header(data)
    if isinstance(h, ProtocolError):
        return h
    if h.frag_length != len(data):
        return ProtocolError("frag_length disagrees with the buffer", h.call_id, h.ptype)
    decoder = _DECODERS.get(h.ptype)
    if decoder is None:
        return ProtocolError(f"unexpected packet type {h.ptype}", h.call_id, h.ptype)
    try:
        if h.auth_length:
            data, auth = _split_auth(h, data)
            return _with_auth(decoder(h, _Reader(data)), auth)
        if h.ptype == AUTH3:
            raise _Bad("auth3 without an auth verifier")
        return decoder(h, _Reader(data))
    except _Short:
        return ProtocolError("PDU body truncated", h.call_id, h.ptype)
    except _Bad as e:
        return ProtocolError(str(e), h.call_id, h.ptype)


class _Bad(Exception):
    """Internal: a field with an impossible value."""


_AUTH_CARRIERS = {
    BIND,
    ALTER_CONTEXT,
    BIND_ACK,
    ALTER_CONTEXT_RESP,
    AUTH3,
    REQUEST,
    RESPONSE,
    FAULT,
}
_STUB_OFFSETS = {REQUEST: REQUEST_HEADER, RESPONSE: RESPONSE_HEADER, FAULT: 32}


def _split_auth(h: Header, data: bytes) -> tuple[bytes, AuthVerifier]:
    """(the PDU without its verifier, the verifier). Request/response pads stay in the body
    (they are part of what privacy encrypts); any other PDU's pad is dropped here."""
    if h.ptype not in _AUTH_CARRIERS:
        raise _Bad(f"packet type {h.ptype} cannot carry an auth verifier")
    end = len(data) - h.auth_length
    trailer_at = end - SEC_TRAILER.size
    auth_type, level, pad, _reserved, ctx_id = SEC_TRAILER.unpack_from(data, trailer_at)
    offset = _STUB_OFFSETS.get(h.ptype, HEADER_SIZE)
    if h.ptype == REQUEST and h.flags & PFC_OBJECT_UUID:
        offset += 16
    if trailer_at - pad < offset:
        raise _Bad("auth pad longer than the PDU body")
    auth = AuthVerifier(
        auth_type, level, ctx_id, data[end:], pad, signed=data[:end], stub_offset=offset
    )
    body_end = trailer_at if h.ptype in _STUB_OFFSETS else trailer_at - pad
    return data[:body_end], auth


def _with_auth(pdu: Pdu, auth: AuthVerifier) -> Pdu:
    if isinstance(pdu, Bind | BindAck | Request | Response | Fault | Auth3):
        return replace(pdu, auth=auth)
    raise _Bad("auth verifier on a PDU that cannot carry one")


def _no_trailing(r: _Reader) -> None:
    if r.pos != len(r.data):
        raise _Bad("trailing bytes after the PDU body")


def _bind(h: Header, r: _Reader) -> Bind:
    xmit, recv, group = r.take(_BIND_FIXED)
    n, _, _ = r.take(struct.Struct("<BBH"))
    contexts = []
    for _ in range(n):
        cont_id, n_transfer, _ = r.take(_CTX_ELEM)
        abstract = r.syntax()
        if n_transfer == 0:
            raise _Bad("presentation context without transfer syntaxes")
        transfers = tuple(r.syntax() for _ in range(n_transfer))
        contexts.append(ContextElem(int(cont_id), abstract, transfers))
    # No auth verifier (auth_length is 0), so nothing may follow the context list.
    _no_trailing(r)
    return Bind(
        h.call_id,
        int(xmit),
        int(recv),
        int(group),
        tuple(contexts),
        h.flags,
        h.ptype == ALTER_CONTEXT,
    )


def _bind_ack(h: Header, r: _Reader) -> BindAck:
    xmit, recv, group = r.take(_BIND_FIXED)
    (addr_len,) = r.take(_U16)
    addr = r.raw(int(addr_len))
    if addr and addr[-1:] != b"\0":
        raise _Bad("secondary address not NUL-terminated")
    try:
        sec_addr = addr[:-1].decode("ascii")
    except UnicodeDecodeError:
        raise _Bad("secondary address not ASCII") from None
    r.align4()
    n, _, _ = r.take(struct.Struct("<BBH"))
    results = []
    for _ in range(n):
        result, reason = r.take(struct.Struct("<HH"))
        results.append(ContextResult(int(result), int(reason), r.syntax()))
    _no_trailing(r)
    return BindAck(
        h.call_id,
        int(xmit),
        int(recv),
        int(group),
        sec_addr,
        tuple(results),
        h.flags,
        h.ptype == ALTER_CONTEXT_RESP,
    )


def _bind_nak(h: Header, r: _Reader) -> BindNak:
    (reason,) = r.take(_U16)
    versions: tuple[tuple[int, int], ...] = ()
    if r.pos < len(r.data):  # some peers send the reason alone
        (n,) = r.raw(1)
        pairs = r.raw(2 * n)
        versions = tuple((pairs[i], pairs[i + 1]) for i in range(0, len(pairs), 2))
    if any(b != 0 for b in r.rest()):
        raise _Bad("bind_nak padding is not zero")
    return BindNak(h.call_id, int(reason), versions)


def _request(h: Header, r: _Reader) -> Request:
    alloc_hint, cont_id, opnum = r.take(_REQ)
    obj = GUID.from_bytes_le(r.raw(16)) if h.flags & PFC_OBJECT_UUID else None
    flags = h.flags & ~PFC_OBJECT_UUID
    return Request(h.call_id, cont_id, opnum, r.rest(), obj, alloc_hint, flags)


def _response(h: Header, r: _Reader) -> Response:
    alloc_hint, cont_id, cancel_count, _ = r.take(_RESP)
    return Response(h.call_id, cont_id, r.rest(), alloc_hint, cancel_count, h.flags)


def _fault(h: Header, r: _Reader) -> Fault:
    _, cont_id, cancel_count, _, status, _ = r.take(_FAULT)
    return Fault(h.call_id, status, cont_id, cancel_count, r.rest(), h.flags)


def _auth3(h: Header, r: _Reader) -> Auth3:
    r.raw(len(r.data) - r.pos)  # the pad octets: any value, ignored ([MS-RPCE] 2.2.2.10)
    return Auth3(h.call_id, AuthVerifier(0, 0, 0, b""), h.flags)


def _simple(
    cls: type[CoCancel] | type[Orphaned] | type[Shutdown],
) -> Callable[[Header, _Reader], CoCancel | Orphaned | Shutdown]:
    def decode_simple(h: Header, r: _Reader) -> CoCancel | Orphaned | Shutdown:
        _no_trailing(r)
        return cls(h.call_id, h.flags)

    return decode_simple


_DECODERS: dict[int, Callable[[Header, _Reader], Pdu]] = {
    BIND: _bind,
    ALTER_CONTEXT: _bind,
    BIND_ACK: _bind_ack,
    ALTER_CONTEXT_RESP: _bind_ack,
    BIND_NAK: _bind_nak,
    REQUEST: _request,
    RESPONSE: _response,
    FAULT: _fault,
    AUTH3: _auth3,
    CO_CANCEL: _simple(CoCancel),
    ORPHANED: _simple(Orphaned),
    SHUTDOWN: _simple(Shutdown),
}
