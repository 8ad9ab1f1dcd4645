"""What ORPC puts on the wire, checked with the plain DCE/RPC client, and mutated ORPC
sessions against a live server (no crash, no hang, the server keeps serving)."""

from __future__ import annotations

import dataclasses
import random
import socket
import struct
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from orpc_helpers import WAIT, server_process
from stream_handwritten import ICalc

from idlgen import runtime as rt
from idlgen.runtime.com.guid import GUID
from idlgen.runtime.rpc import orpc
from idlgen.runtime.rpc.dcerpc import Connection, parse_binding
from idlgen.runtime.rpc.dcerpc import pdu as P
from idlgen.runtime.rpc.orpc.wire import (
    ORPCTHAT,
    OrpcError,
    orpcthis,
    split_orpcthat,
    split_orpcthis,
)

ADD = ICalc._wire_[0]


def test_orpcthis_layout_is_version_5_7_with_null_extensions() -> None:
    cid = uuid.uuid4().bytes_le
    data = orpcthis(cid)
    assert struct.unpack("<HHII16sI", data) == (5, 7, 0, 0, cid, 0)
    assert split_orpcthis(data + b"ndr")[0] == cid
    with pytest.raises(OrpcError):
        split_orpcthis(data[:-4] + b"\x01\0\0\0")  # extensions present
    with pytest.raises(OrpcError):
        split_orpcthat(b"\0\0\0")


@pytest.fixture(scope="module")
def hub() -> Iterator[tuple[Any, str]]:
    with server_process("ncacn_ip_tcp:127.0.0.1[0]") as (proc, text):
        yield proc, text


def raw_add(text: str, stub: bytes) -> bytes:
    """ICalc::Add by hand: bind to the IID, IPID in the object field."""
    binding = parse_binding(text)
    plain = parse_binding(str(binding).split("@", 1)[1])
    with Connection(plain) as conn:
        syntax = P.SyntaxId(ICalc._iid_, 0, 0)
        reply: bytes = conn.call(syntax, 3, stub, binding.object, timeout=WAIT)
        return reply


def test_request_is_orpcthis_then_ndr_and_reply_orpcthat_then_ndr(hub: tuple[Any, str]) -> None:
    _, text = hub
    calc = orpc.connect(text, ICalc)  # holds the hub's ICalc IPID open
    ipid_text = f"{uuid.UUID(bytes_le=calc._ipid)}@{text.split('@')[1]}"
    reply = raw_add(ipid_text, orpcthis() + ADD.encode_request({"a": 20, "b": 22}))
    assert struct.unpack_from("<II", reply) == (0, 0)  # ORPCTHAT: flags, NULL extensions
    response = ADD.decode_response(reply[ORPCTHAT.size :], scope={})
    assert (response.outs["sum"], response.result) == (42, rt.S_OK)


def test_missing_orpcthis_or_unknown_ipid_is_a_fault(hub: tuple[Any, str]) -> None:
    _, text = hub
    with pytest.raises(rt.COMError) as info:
        raw_add(text, ADD.encode_request({"a": 1, "b": 2}))  # no ORPCTHIS
    assert info.value.hresult == 0x800706F7  # RPC_X_BAD_STUB_DATA
    stranger = f"{uuid.uuid4()}@{text.split('@')[1]}"
    with pytest.raises(rt.DisconnectedError):
        raw_add(stranger, orpcthis() + ADD.encode_request({"a": 1, "b": 2}))


def _session(text: str) -> list[bytes]:
    """The PDUs of one ORPC call: bind to ICalc, then a request for Add."""
    obj = parse_binding(text).object
    assert obj is not None
    bind = P.Bind(1, 5840, 5840, 0, (P.ContextElem(0, P.SyntaxId(ICalc._iid_, 0, 0), (P.NDR20,)),))
    stub = orpcthis() + ADD.encode_request({"a": 1, "b": 2})
    req = P.Request(2, 0, 3, stub, GUID(obj), len(stub))
    return [P.encode(bind), P.encode(req)]


def _mutate(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        choice = rng.random()
        if choice < 0.6 and buf:
            buf[rng.randrange(len(buf))] = rng.randrange(256)
        elif choice < 0.8 and buf:
            del buf[rng.randrange(len(buf)) :]
        else:
            buf += rng.randbytes(rng.randint(1, 16))
    return bytes(buf)


def test_mutated_orpc_sessions_leave_the_server_serving(hub: tuple[Any, str]) -> None:
    proc, text = hub
    address = parse_binding(text.split("@")[1])
    pdus = _session(text)
    rng = random.Random(7)
    for _ in range(150):
        victim = rng.randrange(len(pdus))
        session = [(_mutate(rng, p) if i == victim else p) for i, p in enumerate(pdus)]
        with socket.create_connection((address.address, address.port), timeout=WAIT) as sock:
            sock.settimeout(WAIT)
            try:
                for p in session:
                    sock.sendall(p)
                sock.shutdown(socket.SHUT_WR)
                while sock.recv(65536):  # the server answers or closes; never hangs
                    pass
            except OSError:
                pass
    assert proc.poll() is None
    calc = orpc.connect(text, ICalc)
    assert calc.Add(3, 4) == 7


def test_request_canceled_before_it_is_whole_is_never_run(hub: tuple[Any, str]) -> None:
    """PFC_PENDING_CANCEL (a co_cancel sent before the last fragment): the call is answered
    canceled, as a cancel that finds the request still queued (docs/orpc.md)."""
    _, text = hub
    calc = orpc.connect(text, ICalc)
    binding = parse_binding(f"{uuid.UUID(bytes_le=calc._ipid)}@{text.split('@')[1]}")
    stub = orpcthis() + ADD.encode_request({"a": 20, "b": 22})
    flags = P.PFC_FIRST_FRAG | P.PFC_LAST_FRAG | P.PFC_PENDING_CANCEL
    with Connection(parse_binding(str(binding).split("@", 1)[1])) as conn:
        syntax = P.SyntaxId(ICalc._iid_, 0, 0)
        assoc = conn._association(syntax)
        call = assoc._register()
        request = P.Request(call.call_id, assoc.context_for(syntax), 3, stub, binding.object)
        assoc.send([P.encode(dataclasses.replace(request, alloc_hint=len(stub), flags=flags))])
        with pytest.raises(rt.CallCanceledError):
            call.result(WAIT)
    assert calc.Add(1, 2) == 3  # the server keeps serving
