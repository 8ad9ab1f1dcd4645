"""Authorization: the server method asks who calls (CoQueryClientBlanket, `auth.caller()`),
and access checks (per interface, per class) run before it; for ORPC objects and plain RPC."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any

import pytest
from orpc_helpers import REPO, WAIT
from stream_handwritten import ICalc, IID_ICalc

from idlgen import runtime as rt
from idlgen.runtime.apartments.marshal import marshaler_for
from idlgen.runtime.com.guid import GUID
from idlgen.runtime.com.hresult import COMError
from idlgen.runtime.rpc.dcerpc import pdu as P
from idlgen.runtime.rpc.dcerpc.auth import (
    AuthLevel,
    CallSecurity,
    ClientAuth,
    ClientBlanket,
    CoQueryClientBlanket,
    Credentials,
    ServerSecurity,
)
from idlgen.runtime.rpc.dcerpc.client import Connection
from idlgen.runtime.rpc.orpc.endpoint import Endpoint
from idlgen.runtime.rpc.orpc.wire import orpcthis, split_orpcthat

pytest.importorskip("spnego", reason="pyspnego (idlgen[ntlm]) is a test dependency")

ACCESS_DENIED = 0x80070005
USERS = {"alice": "A-pass-1", "bob": "B-pass-2"}


class Guarded(rt.ComObject, ICalc):
    """Refuses bob by its own check; records what each call saw of its caller."""

    def __init__(self) -> None:
        super().__init__()
        self.blankets: list[ClientBlanket] = []

    def Add(self, a: int, b: int) -> int:
        self.blankets.append(CoQueryClientBlanket())
        return a + b

    def _access_check_(self, caller: CallSecurity, iid: GUID) -> bool:
        return caller.user != "bob"


@pytest.fixture
def guarded() -> Iterator[tuple[Endpoint, Guarded, GUID, str]]:
    creds = Credentials()
    for user, password in USERS.items():
        creds.add("WORKGROUP", user, password)
    ep = Endpoint(security=ServerSecurity(creds, AuthLevel.CONNECT))
    binding = str(ep.listen("ncacn_ip_tcp:127.0.0.1[0]"))
    obj = Guarded()
    exporter = marshaler_for(rt.current_apartment()).exporter
    _oid, ipid = exporter.export(obj, IID_ICalc, 1)
    try:
        yield ep, obj, GUID.from_bytes_le(ipid), binding
    finally:
        exporter.release_refs(ipid, 1)
        ep.close()


def _add(binding: str, ipid: GUID, user: str, level: AuthLevel) -> int:
    auth = ClientAuth(user, USERS[user], "WORKGROUP", level)
    with Connection(binding, auth=auth) as conn:
        stub = orpcthis() + struct.pack("<ii", 20, 22)
        reply = conn.call(P.SyntaxId(IID_ICalc, 0, 0), 3, stub, ipid, timeout=WAIT)
    total, hr = struct.unpack("<iI", bytes(split_orpcthat(reply)))
    assert hr == 0
    return int(total)


def test_an_orpc_method_sees_its_callers_blanket(guarded: Any) -> None:
    _ep, obj, ipid, binding = guarded
    for level in (AuthLevel.CONNECT, AuthLevel.PKT_INTEGRITY, AuthLevel.PKT_PRIVACY):
        assert _add(binding, ipid, "alice", level) == 42
    assert [b.authn_level for b in obj.blankets] == [2, 5, 6]
    assert {b.client_principal for b in obj.blankets} == {"WORKGROUP\\alice"}
    assert {b.authn_service for b in obj.blankets} == {10}  # RPC_C_AUTHN_WINNT


def test_a_class_access_check_refuses_before_the_method_runs(guarded: Any) -> None:
    _ep, obj, ipid, binding = guarded
    with pytest.raises(COMError) as info:
        _add(binding, ipid, "bob", AuthLevel.PKT_PRIVACY)
    assert info.value.hresult == ACCESS_DENIED and obj.blankets == []


def test_an_interface_access_check_refuses_before_the_method_runs(guarded: Any) -> None:
    ep, obj, ipid, binding = guarded
    ep.objects.access_checks[IID_ICalc] = lambda caller: caller.level >= AuthLevel.PKT_PRIVACY
    with pytest.raises(COMError) as info:
        _add(binding, ipid, "alice", AuthLevel.PKT_INTEGRITY)
    assert info.value.hresult == ACCESS_DENIED and obj.blankets == []
    assert _add(binding, ipid, "alice", AuthLevel.PKT_PRIVACY) == 42


def test_outside_a_served_call_there_is_no_blanket() -> None:
    with pytest.raises(COMError):
        CoQueryClientBlanket()


def test_a_plain_rpc_interface_check_and_blanket() -> None:
    import sys

    sys.path.insert(0, str(REPO / "tests" / "dcerpc"))
    from rpc_calc import calc_Client
    from rpc_calc_server import Calc

    from idlgen.runtime.rpc.dcerpc import RpcServer

    seen: list[ClientBlanket] = []

    class Watched(Calc):
        def Add(self, a: int, b: int) -> int:
            seen.append(CoQueryClientBlanket())
            return super().Add(a, b)

    creds = Credentials()
    for user, password in USERS.items():
        creds.add("WORKGROUP", user, password)
    server = RpcServer(security=ServerSecurity(creds))
    server.register(Watched(), check=lambda caller: caller.user == "alice")
    binding = str(server.listen("ncacn_ip_tcp:127.0.0.1[0]"))
    try:
        for user, expected in (("alice", None), ("bob", ACCESS_DENIED)):
            auth = ClientAuth(user, USERS[user], "WORKGROUP", AuthLevel.PKT_INTEGRITY)
            with calc_Client(binding, auth=auth, timeout=WAIT) as c:
                if expected is None:
                    assert c.Add(1, 2) == 3
                else:
                    with pytest.raises(COMError) as info:
                        c.Add(1, 2)
                    assert info.value.hresult == expected
        assert [b.client_principal for b in seen] == ["WORKGROUP\\alice"]
        assert seen[0].authn_level == AuthLevel.PKT_INTEGRITY
    finally:
        server.close()


def test_levels_per_interface_and_per_class_refuse_lower_calls(guarded: Any) -> None:
    ep, obj, ipid, binding = guarded
    ep.objects.levels[IID_ICalc] = AuthLevel.PKT_INTEGRITY
    with pytest.raises(COMError) as info:
        _add(binding, ipid, "alice", AuthLevel.CONNECT)
    assert info.value.hresult == ACCESS_DENIED
    assert _add(binding, ipid, "alice", AuthLevel.PKT_INTEGRITY) == 42
    obj._authn_level_ = AuthLevel.PKT_PRIVACY  # the class (here: this object) wants more
    with pytest.raises(COMError):
        _add(binding, ipid, "alice", AuthLevel.PKT_INTEGRITY)
    assert _add(binding, ipid, "alice", AuthLevel.PKT_PRIVACY) == 42
    assert [b.authn_level for b in obj.blankets] == [5, 6]
