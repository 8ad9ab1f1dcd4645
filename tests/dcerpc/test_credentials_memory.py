"""Credentials stay out of memory once they are no longer needed (docs/security.md): a server
that loaded a credentials file keeps NT hashes only, a client keeps the NT hash its
ClientAuth derived, and authentication works with nothing more. Checked by walking every
object reachable from the server's and the client's security objects (gc.get_referents,
bounded), looking for the password as text and as UTF-16LE bytes, the NT hash itself being
the walk's positive control (it is found, so the walk reaches where credentials live)."""

from __future__ import annotations

import contextlib
import gc
import secrets
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
from rpc_calc import calc_Client
from rpc_calc_server import Calc
from rpc_helpers import WAIT

from idlgen.runtime.com.hresult import COMError
from idlgen.runtime.rpc.dcerpc import RpcServer
from idlgen.runtime.rpc.dcerpc.auth import AuthLevel, ClientAuth, Credentials, ServerSecurity
from idlgen.runtime.rpc.dcerpc.ntlm import nt_hash

pytest.importorskip("spnego", reason="pyspnego (idlgen[ntlm]) is a test dependency")

USER, DOMAIN = "alice", "WORKGROUP"
LIMIT = 200_000  # objects visited at most


def _walk(*roots: object) -> tuple[list[object], int]:
    """Every object reachable from `roots` (modules, classes, functions, code and frames
    left out: they lead to globals and the test's own locals, not to what the runtime
    keeps), as (objects, how many)."""
    seen: set[int] = set()
    found: list[object] = []
    stack = list(roots)
    while stack and len(seen) < LIMIT:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        found.append(obj)
        if isinstance(
            obj,
            type
            | types.ModuleType
            | types.FunctionType
            | types.CodeType
            | types.FrameType
            | types.BuiltinFunctionType,
        ):
            continue
        if isinstance(obj, dict) and "__builtins__" in obj:
            continue  # a module's namespace
        stack.extend(gc.get_referents(obj))
    return found, len(seen)


def _holding(objects: list[object], password: str) -> list[str]:
    utf16 = password.encode("utf-16-le")
    hits = []
    for obj in objects:
        if isinstance(obj, str) and password in obj:
            hits.append(f"str {obj[:40]!r}...")
        elif isinstance(obj, bytes | bytearray) and utf16 in obj:
            hits.append(f"{type(obj).__name__} of {len(obj)} bytes")
    return hits


def _has_bytes(objects: list[object], value: bytes) -> bool:
    return any(isinstance(o, bytes | bytearray) and value in o for o in objects)


@contextlib.contextmanager
def calc_server(security: ServerSecurity) -> Iterator[tuple[RpcServer, str]]:
    """A Calc server that authenticates with `security`, and its binding."""
    server = RpcServer(security=security)
    server.register(Calc())
    try:
        yield server, str(server.listen("ncacn_ip_tcp:127.0.0.1[0]"))
    finally:
        server.close()


def _security_for(password: str) -> ServerSecurity:
    creds = Credentials()
    creds.add(DOMAIN, USER, password)
    return ServerSecurity(creds)


@pytest.fixture
def password() -> str:
    return "Zq-" + secrets.token_hex(12) + "-distinct"  # made now: no constant holds it


def test_a_server_keeps_nt_hashes_not_passwords_and_still_authenticates(
    tmp_path: Path, password: str
) -> None:
    users = tmp_path / "users"
    users.write_text(f"{DOMAIN}:{USER}:{password}\n# and a comment\n")
    security = ServerSecurity(Credentials.from_file(users), AuthLevel.PKT_INTEGRITY)
    with calc_server(security) as (server, binding):
        auth = ClientAuth.from_nt_hash(USER, nt_hash(password), DOMAIN, AuthLevel.PKT_PRIVACY)
        with calc_Client(binding, auth=auth, timeout=WAIT) as client:
            assert client.Add(40, 2) == 42  # authenticated with what the server kept
            objects, count = _walk(security, server)
            assert _has_bytes(objects, nt_hash(password)), f"walk of {count} missed the hash"
            assert _holding(objects, password) == []


def test_a_client_keeps_the_nt_hash_not_the_password_and_still_authenticates(
    password: str,
) -> None:
    with calc_server(_security_for(password)) as (_server, binding):
        auth = ClientAuth(USER, password, DOMAIN, AuthLevel.PKT_PRIVACY)
        assert "password" not in repr(auth) and auth.nt_hash.hex() not in repr(auth)
        with calc_Client(binding, auth=auth, timeout=WAIT) as client:
            assert client.Add(1, 2) == 3
            objects, count = _walk(auth, client)
            assert _has_bytes(objects, nt_hash(password)), f"walk of {count} missed the hash"
            assert _holding(objects, password) == []


def test_a_wrong_hash_is_refused_like_a_wrong_password(password: str) -> None:
    with calc_server(_security_for(password)) as (_server, binding):
        auth = ClientAuth.from_nt_hash(USER, nt_hash(password + "x").hex(), DOMAIN)
        with (
            calc_Client(binding, auth=auth, timeout=WAIT) as client,
            pytest.raises(COMError) as info,
        ):
            client.Add(1, 2)
        assert info.value.hresult == 0x80070005  # access denied


def test_client_auth_takes_a_password_or_a_hash_not_both() -> None:
    with pytest.raises(ValueError):
        ClientAuth(USER, "pw", nt_hash=bytes(16))
    with pytest.raises(ValueError):
        ClientAuth.from_nt_hash(USER, b"short")
    one = ClientAuth(USER, "pw", DOMAIN)
    assert one == ClientAuth.from_nt_hash(USER, nt_hash("pw"), DOMAIN)  # same credentials
    assert not hasattr(one, "password")
