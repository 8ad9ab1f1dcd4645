"""The PDU codec: every PDU type round-trips, the header follows DCE 12.6.3.1, bad buffers are
values (never exceptions), and fragmentation obeys the negotiated size."""

from __future__ import annotations

import struct

import pytest

from idlgen.runtime.com.guid import GUID
from idlgen.runtime.rpc.dcerpc import fragments as F
from idlgen.runtime.rpc.dcerpc import pdu as P

IFACE = P.SyntaxId(GUID("{5A3E0F1C-8B2D-4E6A-9C71-2B4D6F8A0C13}"), 1, 2)
NDR64 = P.SyntaxId(GUID("{71710533-BEBA-4937-8319-B5DBEF9CCC36}"), 1, 0)
OBJ = GUID("{00112233-4455-6677-8899-AABBCCDDEEFF}")

SAMPLES: list[P.Pdu] = [
    P.Bind(1, 5840, 5840, 0, (P.ContextElem(0, IFACE, (P.NDR20, NDR64)),), flags=0x13),
    P.Bind(2, 4280, 4280, 77, (P.ContextElem(1, IFACE, (P.NDR20,)),), alter=True),
    P.BindAck(
        1,
        4280,
        4280,
        0x1234,
        "4000",
        (P.ContextResult(P.ACCEPTANCE, 0, P.NDR20), P.ContextResult(P.PROVIDER_REJECTION, 2)),
    ),
    P.BindAck(2, 4280, 4280, 77, "", (P.ContextResult(P.ACCEPTANCE, 0, P.NDR20),), alter=True),
    P.BindNak(3, P.NAK_PROTOCOL_VERSION_NOT_SUPPORTED),
    P.Request(4, 0, 7, b"\x01\x02\x03\x04", None, 4),
    P.Request(5, 1, 3, b"x" * 40, OBJ, 40, P.PFC_FIRST_FRAG | P.PFC_PENDING_CANCEL),
    P.Response(4, 0, b"\x00" * 8, 8, 1),
    P.Fault(6, P.NCA_S_OP_RNG_ERROR, 0, 0, b"", 0x23),
    P.CoCancel(5),
    P.Orphaned(5),
    P.Shutdown(),
]


@pytest.mark.parametrize("pdu", SAMPLES, ids=lambda p: type(p).__name__)
def test_every_pdu_type_round_trips(pdu: P.Pdu) -> None:
    data = P.encode(pdu)
    assert P.decode(data) == pdu


@pytest.mark.parametrize("pdu", SAMPLES, ids=lambda p: type(p).__name__)
def test_common_header_fields(pdu: P.Pdu) -> None:
    data = P.encode(pdu)
    vers, minor, _, _, drep, frag_len, auth_len, call_id = struct.unpack_from("<BBBB4sHHI", data)
    assert (vers, minor) == (5, 0)
    assert drep == b"\x10\x00\x00\x00"  # little-endian integers, ASCII, IEEE floats
    assert frag_len == len(data)
    assert auth_len == 0
    assert call_id == pdu.call_id


def test_request_with_object_sets_pfc_object_uuid_and_carries_it_after_opnum() -> None:
    data = P.encode(P.Request(9, 2, 5, b"stub", OBJ))
    assert data[3] & P.PFC_OBJECT_UUID
    assert data[24:40] == OBJ.bytes_le
    assert data[40:] == b"stub"


def test_bind_ack_pads_the_secondary_address_to_four_bytes() -> None:
    for addr in ("", "1", "12", "135", "65535"):
        ack = P.BindAck(1, 4280, 4280, 1, addr, (P.ContextResult(0, 0, P.NDR20),))
        data = P.encode(ack)
        addr_len = struct.unpack_from("<H", data, 24)[0]
        results_at = 26 + addr_len + (-(26 + addr_len) % 4)
        assert data[results_at] == 1  # n_results
        assert P.decode(data) == ack


def test_impacket_builds_a_bind_we_read() -> None:
    rpcrt = pytest.importorskip("impacket.dcerpc.v5.rpcrt")
    from impacket.uuid import uuidtup_to_bin  # type: ignore[import-untyped]

    bind = rpcrt.MSRPCBind()
    item = rpcrt.CtxItem()
    item["AbstractSyntax"] = uuidtup_to_bin((str(IFACE.uuid.uuid), "1.2"))
    item["TransferSyntax"] = uuidtup_to_bin(("8a885d04-1ceb-11c9-9fe8-08002b104860", "2.0"))
    item["ContextID"] = 0
    item["TransItems"] = 1
    bind.addCtxItem(item)
    header = rpcrt.MSRPCHeader()
    header["type"] = rpcrt.MSRPC_BIND
    header["pduData"] = bind.getData()
    header["call_id"] = 42
    got = P.decode(header.getData())
    assert isinstance(got, P.Bind)
    assert got.call_id == 42
    assert got.contexts == (P.ContextElem(0, IFACE, (P.NDR20,)),)


def test_impacket_reads_our_bind_ack() -> None:
    rpcrt = pytest.importorskip("impacket.dcerpc.v5.rpcrt")
    ack = P.BindAck(1, 4280, 2048, 0x99, "4000", (P.ContextResult(2, 1),))
    parsed = rpcrt.MSRPCBindAck(P.encode(ack))
    assert parsed["max_tfrag"] == 4280 and parsed["max_rfrag"] == 2048
    assert parsed["assoc_group"] == 0x99
    assert parsed["SecondaryAddr"].rstrip("\0") == "4000"
    result = rpcrt.CtxItemResult(parsed["ctx_items"])
    assert (result["Result"], result["Reason"]) == (2, 1)


def _with(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    b = bytearray(data)
    struct.pack_into(fmt, b, offset, value)
    return bytes(b)


BIND = P.encode(SAMPLES[0])
REQ = P.encode(SAMPLES[5])

MALFORMED = {
    "empty": b"",
    "short header": BIND[:10],
    "version 4": _with(BIND, 0, "<B", 4),
    "big-endian sender": _with(BIND, 4, "<B", 0x00),
    "auth_length beyond the PDU": _with(BIND, 10, "<H", len(BIND)),
    "auth verifier on a shutdown": _with(
        _with(BIND, 2, "<B", P.SHUTDOWN), 10, "<H", len(BIND) - P.HEADER_SIZE - 8
    ),
    "frag_length too small": _with(BIND, 8, "<H", 8),
    "frag_length too long": _with(BIND, 8, "<H", len(BIND) + 4),
    "truncated context list": _with(BIND[:-8], 8, "<H", len(BIND) - 8),
    "trailing bytes after bind": _with(BIND + b"\0" * 4, 8, "<H", len(BIND) + 4),
    "unknown packet type": _with(BIND, 2, "<B", 99),
    "datagram packet type": _with(BIND, 2, "<B", 1),
    "request without opnum": _with(REQ[:20], 8, "<H", 20),
    "object flag without object": _with(REQ, 3, "<B", REQ[3] | P.PFC_OBJECT_UUID),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_buffers_are_protocol_errors(name: str) -> None:
    got = P.decode(MALFORMED[name])
    assert isinstance(got, P.ProtocolError), got


def test_a_context_with_zero_transfer_syntaxes_is_refused() -> None:
    good = P.encode(P.Bind(1, 5840, 5840, 0, (P.ContextElem(0, IFACE, (P.NDR20,)),)))
    body = bytearray(good[:-20])
    body[30] = 0  # n_transfer_syn of the only context
    struct.pack_into("<H", body, 8, len(body))
    assert isinstance(P.decode(bytes(body)), P.ProtocolError)


def test_version_errors_ask_for_a_version_bind_nak() -> None:
    err = P.decode(MALFORMED["version 4"])
    assert isinstance(err, P.ProtocolError)
    assert err.nak_reason == P.NAK_PROTOCOL_VERSION_NOT_SUPPORTED


@pytest.mark.parametrize("size", [0, 1, 7, 1400, 1408, 1409, 5000, 100_003])
@pytest.mark.parametrize("max_frag", [P.MIN_FRAG, 4280])
def test_request_fragmentation_and_reassembly(size: int, max_frag: int) -> None:
    stub = bytes(i % 251 for i in range(size))
    frames = F.request_fragments(7, 0, 3, stub, max_frag, OBJ)
    pdus = [P.decode(f) for f in frames]
    assert all(isinstance(p, P.Request) for p in pdus)
    assert all(len(f) <= max_frag for f in frames)
    assert pdus[0].flags & P.PFC_FIRST_FRAG and pdus[-1].flags & P.PFC_LAST_FRAG  # type: ignore[union-attr]
    for p in pdus[:-1]:
        assert isinstance(p, P.Request)
        assert len(p.stub) % 8 == 0 and not p.flags & P.PFC_LAST_FRAG
    for p in pdus[1:]:
        assert isinstance(p, P.Request) and not p.flags & P.PFC_FIRST_FRAG
    first = pdus[0]
    assert isinstance(first, P.Request)
    r = F.start(first, limit=size)
    assert isinstance(r, F.Reassembly)
    done = [r.add(p) for p in pdus]  # type: ignore[arg-type]
    assert done[-1] is True and not any(done[:-1])
    assert r.stub() == stub


def test_response_fragments_carry_the_cancel_count() -> None:
    frames = F.response_fragments(3, 1, b"z" * 9000, P.MIN_FRAG, cancel_count=2)
    pdus = [P.decode(f) for f in frames]
    assert len(pdus) > 1
    assert all(isinstance(p, P.Response) and p.cancel_count == 2 for p in pdus)


def test_reassembly_enforces_the_size_limit() -> None:
    frames = F.request_fragments(7, 0, 3, b"a" * 5000, P.MIN_FRAG)
    pdus = [P.decode(f) for f in frames]
    r = F.start(pdus[0], limit=3000)  # type: ignore[arg-type]
    assert isinstance(r, F.Reassembly)
    results = [r.add(p) for p in pdus]  # type: ignore[arg-type]
    err = next(x for x in results if isinstance(x, P.ProtocolError))
    assert err.status == P.NCA_S_FAULT_REMOTE_NO_MEMORY


def test_reassembly_refuses_inconsistent_fragments() -> None:
    frames = [P.decode(f) for f in F.request_fragments(7, 0, 3, b"a" * 5000, P.MIN_FRAG)]
    assert isinstance(F.start(frames[1], 10_000), P.ProtocolError)  # type: ignore[arg-type]
    r = F.start(frames[0], 10_000)  # type: ignore[arg-type]
    assert isinstance(r, F.Reassembly)
    assert r.add(frames[0]) is False  # type: ignore[arg-type]
    second_first = r.add(frames[0])  # type: ignore[arg-type]
    assert isinstance(second_first, P.ProtocolError)
    other_op = P.Request(7, 0, 4, b"x" * 8, None, 0, 0)
    assert isinstance(r.add(other_op), P.ProtocolError)
