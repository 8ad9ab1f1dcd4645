"""NTLM security on DCE/RPC ([MS-RPCE] 2.2.2.11-12, 3.3.1.5.2; [MS-NLMP]): our client (pyspnego)
and impacket's against our server, at the connect, integrity and privacy levels."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from rpc_calc import calc, calc_Client
from rpc_calc_server import Calc
from rpc_helpers import WAIT, raw_connect, read_until_closed

from idlgen.runtime.com.hresult import COMError
from idlgen.runtime.rpc.dcerpc import RpcServer, current_call
from idlgen.runtime.rpc.dcerpc import pdu as P
from idlgen.runtime.rpc.dcerpc.auth import (
    AuthLevel,
    CallSecurity,
    ClientAuth,
    ClientSecurity,
    Credentials,
    ServerSecurity,
    protect,
)
from idlgen.runtime.rpc.dcerpc.ntlm import AuthError, NtlmAcceptor, NtlmSession, _md4, nt_hash
from idlgen.runtime.rpc.dcerpc.wire import read_pdu

pytest.importorskip("spnego", reason="pyspnego (idlgen[ntlm]) is a test dependency")

USER, PASSWORD, DOMAIN = "alice", "S3cret-pass", "WORKGROUP"
ACCESS_DENIED = 0x80070005
LEVELS = [AuthLevel.CONNECT, AuthLevel.PKT_INTEGRITY, AuthLevel.PKT_PRIVACY]


class WhoCalc(Calc):
    """Records how each Add call was authenticated (the server's view of the caller)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[CallSecurity] = []

    def Add(self, a: int, b: int) -> int:
        state = current_call()
        assert state is not None
        self.seen.append(state.security)
        return super().Add(a, b)


def _credentials() -> Credentials:
    creds = Credentials()
    creds.add(DOMAIN, USER, PASSWORD)
    return creds


@pytest.fixture
def server() -> Iterator[tuple[RpcServer, WhoCalc, str]]:
    impl = WhoCalc()
    srv = RpcServer(security=ServerSecurity(_credentials()))
    srv.register(impl)
    binding = srv.listen("ncacn_ip_tcp:127.0.0.1[0]")
    try:
        yield srv, impl, str(binding)
    finally:
        srv.close()


def _client(binding: str, level: AuthLevel, password: str = PASSWORD) -> calc_Client:
    return calc_Client(binding, auth=ClientAuth(USER, password, DOMAIN, level), timeout=WAIT)


# ------------------------------------------------------------------ building blocks


def test_md4_matches_rfc1320_test_suite() -> None:
    vectors = {
        b"": "31d6cfe0d16ae931b73c59d7e0c089c0",
        b"a": "bde52cb31de33e46245e05fbdbd6fb24",
        b"abc": "a448017aaf21d8525fc10ae87aa6729d",
        b"message digest": "d9130a8164549fe818874806e1c7014b",
        b"1234567890" * 8: "e33b4ddc9c38f2199c3e7b164fcc0536",
    }
    for message, digest in vectors.items():
        assert _md4(message).hex() == digest


def test_nt_hash_is_what_pyspnego_derives() -> None:
    from spnego._ntlm_raw.crypto import ntowfv1

    for password in ("", "Password", "pässwörd-ünïcode", "x" * 100):
        assert nt_hash(password) == ntowfv1(password)


def test_credentials_file_takes_passwords_and_smbpasswd_hashes(tmp_path: Path) -> None:
    path = tmp_path / "users"
    bob_hash = nt_hash("bobpw").hex().upper()
    path.write_text(
        "# comment\n\n"
        f"{DOMAIN}:{USER}:{PASSWORD}\n"
        ":anyone:pw2\n"
        f"bob:1000:{'X' * 32}:{bob_hash}:[U          ]:LCT-5F000000:\n"
        f"carol:1001:{'X' * 32}:{'X' * 32}:[DU         ]:LCT-5F000000:\n"
    )
    creds = Credentials.from_file(path)
    assert creds.lookup("workgroup", "ALICE") == nt_hash(PASSWORD)
    assert creds.lookup("OTHER", USER) is None  # a named domain matches only itself
    assert creds.lookup("ANY", "anyone") == nt_hash("pw2")  # an empty one matches any
    assert creds.lookup("WORKGROUP", "bob") == nt_hash("bobpw")
    assert creds.lookup("WORKGROUP", "carol") is None  # disabled entry


@pytest.mark.parametrize(
    "line", ["just-one-field", "a:b", "bob:1:XX:nothex!:[U]:LCT-0:", "bob:1:XX:ABCD:[U]:LCT-0:"]
)
def test_credentials_file_errors_name_the_line(tmp_path: Path, line: str) -> None:
    path = tmp_path / "users"
    path.write_text(f"ok::pw\n{line}\n")
    with pytest.raises(ValueError, match=r"users:2: "):
        Credentials.from_file(path)


def test_credentials_callback_is_asked_first() -> None:
    asked: list[tuple[str, str]] = []

    def lookup(domain: str, user: str) -> bytes | None:
        asked.append((domain, user))
        return nt_hash("from-callback") if user == "dave" else None

    creds = Credentials(lookup)
    assert creds.lookup("D", "dave") == nt_hash("from-callback")
    assert creds.lookup("D", "erin") is None
    assert asked == [("D", "dave"), ("D", "erin")]


def test_pdu_auth_verifier_round_trips() -> None:
    v = P.AuthVerifier(10, 6, 79231, b"NTLMSSP\0token")
    bind = P.Bind(1, 5840, 5840, 0, (P.ContextElem(0, P.NDR20, (P.NDR20,)),), auth=v)
    back = P.decode(P.encode(bind))
    assert isinstance(back, P.Bind) and back.auth == v and back.contexts == bind.contexts
    auth3 = P.decode(P.encode(P.Auth3(1, v)))
    assert isinstance(auth3, P.Auth3) and auth3.auth == v
    data = P.encode(P.Auth3(1, v))
    assert struct.unpack_from("<H", data, 10)[0] == len(v.value)  # auth_length
    assert isinstance(P.decode(data[:10] + b"\0\0" + data[12:]), P.ProtocolError)  # no verifier


def test_privacy_hides_the_stub_and_integrity_does_not() -> None:
    marker = "SECRET-MARKER".encode("utf-16-le")
    frame = P.encode(P.Request(3, 0, 4, marker + b"\0" * 7))
    acceptor, client = _handshake(DOMAIN, USER, PASSWORD)
    assert acceptor.session is not None
    for level, hidden in ((AuthLevel.PKT_INTEGRITY, False), (AuthLevel.PKT_PRIVACY, True)):
        out = protect(frame, client, level, 5)
        assert (marker not in out) is hidden
        decoded = P.decode(out)
        assert isinstance(decoded, P.Request) and decoded.auth is not None
        assert (len(decoded.stub) - 0) % 16 == 0  # sec_trailer 16-aligned from the stub
        assert decoded.auth.level == level and decoded.auth.context_id == 5


def _handshake(domain: str, user: str, password: str) -> tuple[NtlmAcceptor, NtlmSession]:
    """Our acceptor against pyspnego's initiator; returns a client-side session too."""
    security = ClientSecurity(ClientAuth(user, password, domain))
    creds = Credentials()
    creds.add(DOMAIN, USER, PASSWORD)
    acceptor = NtlmAcceptor(creds.lookup)
    challenge = acceptor.challenge(security.first().value)
    third = security.third(P.AuthVerifier(10, 6, 0, challenge))
    acceptor.accept(third.value)
    assert security.session is not None
    return acceptor, security.session  # type: ignore[return-value]


def test_acceptor_refuses_a_wrong_password_and_an_unknown_user() -> None:
    with pytest.raises(AuthError, match="wrong password"):
        _handshake(DOMAIN, USER, "not-it")
    with pytest.raises(AuthError, match="unknown user"):
        _handshake(DOMAIN, "mallory", PASSWORD)


def test_acceptor_accepts_an_ntlmv2_blob_without_the_trailing_zero_bytes() -> None:
    """impacket's client omits the blob's final Z(4); Windows and Samba verify the proof
    over the bytes as sent, so a correct proof over the shorter blob must pass."""
    ntlm = pytest.importorskip("impacket.ntlm")
    creds = Credentials()
    creds.add(DOMAIN, USER, PASSWORD)
    acceptor = NtlmAcceptor(creds.lookup)
    negotiate = ntlm.getNTLMSSPType1("", "", signingRequired=True, use_ntlmv2=True)
    challenge = acceptor.challenge(negotiate.getData())
    auth, _key = ntlm.getNTLMSSPType3(
        negotiate, challenge, USER, PASSWORD, DOMAIN, "", "", use_ntlmv2=True
    )
    blob = auth["ntlm"][16:]
    assert not blob.endswith(b"\0\0\0\0\0\0\0\0")  # MsvAvEOL is the end: no Z(4) after it
    acceptor.accept(auth.getData())
    assert acceptor.identity is not None and acceptor.identity.user == USER


# ------------------------------------------------------------------ our client, our server


@pytest.mark.parametrize("level", LEVELS, ids=lambda lv: lv.name)
def test_calls_at_each_level_reach_the_method_with_the_callers_identity(
    server: tuple[RpcServer, WhoCalc, str], level: AuthLevel
) -> None:
    _srv, impl, binding = server
    with _client(binding, level) as c:
        assert c.Add(40, 2) == 42
        big = list(range(-3000, 3000))  # several fragments each way, each one protected
        assert c.Sum(len(big), big) == (sum(big), len(big))
        assert c.Upper("ßtraße" * 500) == "SSTRASSE" * 500
    seen = impl.seen[-1]
    assert (seen.level, seen.user, seen.domain) == (level, USER, DOMAIN)


@pytest.mark.parametrize("level", [AuthLevel.PKT_INTEGRITY, AuthLevel.PKT_PRIVACY])
def test_concurrent_calls_on_one_association_keep_sequence_order(
    server: tuple[RpcServer, WhoCalc, str], level: AuthLevel
) -> None:
    _srv, _impl, binding = server
    with _client(binding, level) as c, ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda i: c.Add(i, i), range(200)))
        assert results == [2 * i for i in range(200)]
        assert c.connection.association_count == 1


@pytest.mark.parametrize("level", LEVELS, ids=lambda lv: lv.name)
def test_a_wrong_password_is_refused_with_access_denied(
    server: tuple[RpcServer, WhoCalc, str], level: AuthLevel
) -> None:
    _srv, impl, binding = server
    with _client(binding, level, "wrong") as c, pytest.raises(COMError) as info:
        c.Add(1, 1)
    assert info.value.hresult == ACCESS_DENIED
    assert impl.seen == []
    with _client(binding, level) as good:  # the server keeps serving others
        assert good.Add(1, 1) == 2


def test_anonymous_calls_are_refused_once_security_is_configured(
    server: tuple[RpcServer, WhoCalc, str],
) -> None:
    _srv, impl, binding = server
    with calc_Client(binding, timeout=WAIT) as c, pytest.raises(COMError) as info:
        c.Add(1, 1)
    assert info.value.hresult == ACCESS_DENIED and impl.seen == []


def test_an_interface_requiring_privacy_refuses_lower_levels_and_keeps_the_connection() -> None:
    impl = WhoCalc()
    srv = RpcServer(security=ServerSecurity(_credentials()))
    srv.register(impl, level=AuthLevel.PKT_PRIVACY)
    binding = str(srv.listen("ncacn_ip_tcp:127.0.0.1[0]"))
    try:
        for level in (AuthLevel.CONNECT, AuthLevel.PKT_INTEGRITY):
            with _client(binding, level) as c:
                with pytest.raises(COMError) as info:
                    c.Add(1, 1)
                assert info.value.hresult == ACCESS_DENIED
                with pytest.raises(COMError):  # same association, still answering
                    c.Add(2, 2)
                assert c.connection.association_count == 1
        with _client(binding, AuthLevel.PKT_PRIVACY) as c:
            assert c.Add(1, 1) == 2
        assert [s.level for s in impl.seen] == [AuthLevel.PKT_PRIVACY]
    finally:
        srv.close()


def test_an_interface_registered_at_level_none_stays_open_to_anonymous_callers() -> None:
    srv = RpcServer(security=ServerSecurity(_credentials()))
    srv.register(WhoCalc(), level=AuthLevel.NONE)
    binding = str(srv.listen("ncacn_ip_tcp:127.0.0.1[0]"))
    try:
        with calc_Client(binding, timeout=WAIT) as c:
            assert c.Add(1, 2) == 3
    finally:
        srv.close()


def test_a_server_without_security_refuses_an_authenticated_bind() -> None:
    srv = RpcServer()
    srv.register(Calc())
    binding = str(srv.listen("ncacn_ip_tcp:127.0.0.1[0]"))
    try:
        with _client(binding, AuthLevel.PKT_INTEGRITY) as c, pytest.raises(COMError) as info:
            c.Add(1, 1)
        assert info.value.hresult == ACCESS_DENIED
    finally:
        srv.close()


def _raw_session(port: int, ctx_id: int, sock: socket.socket | None = None) -> tuple:
    """Bind (or alter_context on `sock`) with a new security context `ctx_id`, then AUTH3."""
    first_bind = sock is None
    sock = sock or raw_connect(port)
    security = ClientSecurity(ClientAuth(USER, PASSWORD, DOMAIN, AuthLevel.PKT_PRIVACY), ctx_id)
    syntax = P.SyntaxId(calc._uuid_, *calc._version_)
    ctx = P.ContextElem(ctx_id, syntax, (P.NDR20,))
    bind = P.Bind(ctx_id, 5840, 5840, 0, (ctx,), alter=not first_bind, auth=security.first())
    sock.sendall(P.encode(bind))
    ack = read_pdu(sock, 0xFFFF, WAIT)
    assert isinstance(ack, P.BindAck) and ack.results[0].result == P.ACCEPTANCE
    sock.sendall(P.encode(P.Auth3(ctx_id, security.third(ack.auth))))
    return sock, security


def _raw_add(sock: socket.socket, security: ClientSecurity, call_id: int, cont_id: int) -> int:
    stub = struct.pack("<ii", call_id, 1)
    sock.sendall(security.protect(P.encode(P.Request(call_id, cont_id, 0, stub))))
    reply = read_pdu(sock, 0xFFFF, WAIT)
    assert isinstance(reply, P.Response), reply
    return int(struct.unpack("<i", security.response(reply))[0])


def test_several_security_contexts_on_one_connection(
    server: tuple[RpcServer, WhoCalc, str],
) -> None:
    """impacket opens a second context (alter_context) for IRemUnknown on the same socket."""
    _srv, impl, binding = server
    port = int(binding.split("[")[1].rstrip("]"))
    sock, first = _raw_session(port, 1)
    _, second = _raw_session(port, 2, sock)
    try:
        assert _raw_add(sock, first, 10, 1) == 11
        assert _raw_add(sock, second, 11, 2) == 12
        assert _raw_add(sock, first, 12, 1) == 13  # each context keeps its own sequence
        assert [s.context_id for s in impl.seen] == [1, 2, 1]
    finally:
        sock.close()


def test_a_tampered_request_is_refused_and_only_its_connection_closes(
    server: tuple[RpcServer, WhoCalc, str],
) -> None:
    _srv, impl, binding = server
    port = int(binding.split("[")[1].rstrip("]"))
    sock, security = _raw_session(port, 1)
    frame = bytearray(security.protect(P.encode(P.Request(5, 1, 0, struct.pack("<ii", 1, 2)))))
    frame[30] ^= 0x01  # one bit of the sealed stub
    sock.sendall(bytes(frame))
    replies = read_until_closed(sock)
    assert any(isinstance(r, P.Fault) and r.status == 5 for r in replies)
    assert impl.seen == []
    with _client(binding, AuthLevel.PKT_PRIVACY) as c:
        assert c.Add(2, 2) == 4


# ------------------------------------------------------------------ impacket's client

rpcrt = pytest.importorskip("impacket.dcerpc.v5.rpcrt")
transport = pytest.importorskip("impacket.dcerpc.v5.transport")
from impacket.uuid import uuidtup_to_bin  # noqa: E402
from test_dcerpc_impacket import Add, Sum, Upper  # noqa: E402

IMPACKET_LEVELS = {
    AuthLevel.CONNECT: rpcrt.RPC_C_AUTHN_LEVEL_CONNECT,
    AuthLevel.PKT_INTEGRITY: rpcrt.RPC_C_AUTHN_LEVEL_PKT_INTEGRITY,
    AuthLevel.PKT_PRIVACY: rpcrt.RPC_C_AUTHN_LEVEL_PKT_PRIVACY,
}


def _impacket(binding: str, level: AuthLevel, password: str = PASSWORD) -> object:
    port = binding.split("[")[1].rstrip("]")
    t = transport.DCERPCTransportFactory(f"ncacn_ip_tcp:127.0.0.1[{port}]")
    t.set_connect_timeout(WAIT)
    t.set_credentials(USER, password, DOMAIN)
    dce = t.get_dce_rpc()
    dce.set_auth_type(rpcrt.RPC_C_AUTHN_WINNT)
    dce.set_auth_level(IMPACKET_LEVELS[level])
    dce.connect()
    dce.bind(uuidtup_to_bin((str(calc._uuid_.uuid), "1.2")))
    return dce


@pytest.mark.parametrize("level", LEVELS, ids=lambda lv: lv.name)
def test_impacket_calls_us_at_each_level(
    server: tuple[RpcServer, WhoCalc, str], level: AuthLevel
) -> None:
    _srv, impl, binding = server
    dce = _impacket(binding, level)
    try:
        req = Add()
        req["a"], req["b"] = 1234, -34
        assert dce.request(req, checkError=False)["ErrorCode"] == 1200
        dce.set_max_fragment_size(256)  # fragmented, every fragment protected
        values = list(range(700))
        s = Sum()
        s["n"], s["v"] = len(values), values
        assert dce.request(s, checkError=False)["ErrorCode"] == sum(values)
        up = Upper()
        up["s"] = "impacket\0"
        assert dce.request(up)["out"].rstrip("\0") == "IMPACKET"
    finally:
        dce.disconnect()
    seen = impl.seen[-1]
    assert (seen.level, seen.user, seen.domain) == (level, USER, DOMAIN)


def test_impacket_with_a_wrong_password_is_refused(
    server: tuple[RpcServer, WhoCalc, str],
) -> None:
    _srv, impl, binding = server
    dce = _impacket(binding, AuthLevel.PKT_PRIVACY, "wrong")
    try:
        req = Add()
        req["a"], req["b"] = 1, 1
        with pytest.raises(rpcrt.DCERPCException) as info:
            dce.request(req, checkError=False)
        assert "access_denied" in str(info.value).lower() or "0x5" in str(info.value)
    finally:
        dce.disconnect()
    assert impl.seen == []


def test_calls_in_flight_do_not_block_the_handshake_of_others(
    server: tuple[RpcServer, WhoCalc, str],
) -> None:
    _srv, _impl, binding = server
    errors: list[BaseException] = []

    def one(i: int) -> None:
        try:
            with _client(binding, LEVELS[i % 3]) as c:
                assert c.Add(i, 1) == i + 1
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    assert errors == []


def test_mutated_authenticated_sessions_never_break_the_server(
    server: tuple[RpcServer, WhoCalc, str], caplog: pytest.LogCaptureFixture
) -> None:
    """Bit flips and truncations anywhere in bind, AUTH3 and sealed requests: no handler
    fails (no logged error), and the server still serves a good client afterwards."""
    import logging
    import random

    caplog.set_level(logging.ERROR, logger="idlgen.runtime.rpc.dcerpc")
    srv, _impl, binding = server
    port = int(binding.split("[")[1].rstrip("]"))
    rng = random.Random(1234)
    for _ in range(60):
        security = ClientSecurity(ClientAuth(USER, PASSWORD, DOMAIN, AuthLevel.PKT_PRIVACY), 1)
        syntax = P.SyntaxId(calc._uuid_, *calc._version_)
        bind = P.Bind(
            1, 5840, 5840, 0, (P.ContextElem(1, syntax, (P.NDR20,)),), auth=security.first()
        )
        frames = [bytearray(P.encode(bind))]
        target = rng.randrange(3)
        sock = raw_connect(port)
        try:
            if target == 0:
                _mutate(frames[0], rng)
            sock.sendall(bytes(frames[0]))
            ack = read_pdu(sock, 0xFFFF, WAIT)
            if not isinstance(ack, P.BindAck) or ack.auth is None:
                continue
            auth3 = bytearray(P.encode(P.Auth3(1, security.third(ack.auth))))
            request = bytearray(
                security.protect(P.encode(P.Request(2, 1, 0, struct.pack("<ii", 1, 2))))
            )
            _mutate(auth3 if target == 1 else request, rng)
            sock.sendall(bytes(auth3) + bytes(request))
        except (OSError, AuthError):
            pass
        finally:
            sock.close()
    assert srv.wait_connections(0, WAIT)
    assert [r.getMessage() for r in caplog.records] == []
    with _client(binding, AuthLevel.PKT_PRIVACY) as c:
        assert c.Add(20, 22) == 42


def _mutate(frame: bytearray, rng: object) -> None:
    import random

    assert isinstance(rng, random.Random)
    if rng.random() < 0.3 and len(frame) > 20:
        del frame[rng.randrange(16, len(frame)) :]
        struct.pack_into("<H", frame, 8, len(frame))
        return
    for _ in range(rng.randrange(1, 4)):
        frame[rng.randrange(len(frame))] ^= 1 << rng.randrange(8)


@pytest.mark.parametrize("level", [0, 7, 9, 255])
def test_a_verifier_with_an_impossible_level_is_refused_not_a_crash(
    server: tuple[RpcServer, WhoCalc, str], caplog: pytest.LogCaptureFixture, level: int
) -> None:
    import logging

    caplog.set_level(logging.ERROR, logger="idlgen.runtime.rpc.dcerpc")
    _srv, impl, binding = server
    port = int(binding.split("[")[1].rstrip("]"))
    sock, security = _raw_session(port, 1)
    frame = bytearray(security.protect(P.encode(P.Request(5, 1, 0, struct.pack("<ii", 1, 2)))))
    frame[len(frame) - 16 - 8 + 1] = level  # the sec_trailer's auth_level
    sock.sendall(bytes(frame))
    replies = read_until_closed(sock)
    assert any(isinstance(r, P.Fault) and r.status == 5 for r in replies)
    assert impl.seen == [] and caplog.records == []
