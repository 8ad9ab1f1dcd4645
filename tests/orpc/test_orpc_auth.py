"""ORPC with NTLM: `python -m idlgen.runtime serve --credentials FILE --level L` in a child, our
client connecting with `orpc.connect(..., auth=ClientAuth(...))`."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from orpc_helpers import child_env, first_line, stop
from stream_handwritten import ICalc, ISimpleStream

from idlgen.runtime.com.hresult import COMError
from idlgen.runtime.rpc import orpc
from idlgen.runtime.rpc.dcerpc.auth import AuthLevel, ClientAuth

pytest.importorskip("spnego", reason="pyspnego (idlgen[ntlm]) is a test dependency")

ACCESS_DENIED = 0x80070005


@pytest.fixture(scope="module")
def private_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A hub that accepts privacy only, for user alice."""
    users = tmp_path_factory.mktemp("orpc-auth") / "users"
    users.write_text("WORKGROUP:alice:Wonder-1\n")
    cmd = [sys.executable, "-m", "idlgen.runtime", "serve", "orpc_objects:hub"]
    cmd += ["--binding", "ncacn_ip_tcp:127.0.0.1[0]", "--credentials", str(users)]
    proc = subprocess.Popen(
        [*cmd, "--level", "privacy"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    try:
        yield first_line(proc)
    finally:
        stop(proc)


def test_connect_at_privacy_calls_and_queries_interfaces(private_server: str) -> None:
    auth = ClientAuth("alice", "Wonder-1", "WORKGROUP", AuthLevel.PKT_PRIVACY)
    calc = orpc.connect(private_server, ICalc, auth=auth)
    try:
        assert calc.Add(2, 40) == 42
        stream = calc.QueryInterface(ISimpleStream)  # RemQueryInterface, sealed too
        assert stream.Write(b"abc", 3) == 3
        stream.Release()
    finally:
        calc.Release()


@pytest.mark.parametrize(
    "auth",
    [
        None,
        ClientAuth("alice", "Wonder-1", "WORKGROUP", AuthLevel.PKT_INTEGRITY),
        ClientAuth("alice", "wrong", "WORKGROUP", AuthLevel.PKT_PRIVACY),
    ],
    ids=["anonymous", "integrity-below-required", "wrong-password"],
)
def test_connect_below_the_level_or_with_bad_credentials_is_access_denied(
    private_server: str, auth: ClientAuth | None
) -> None:
    with pytest.raises(COMError) as info:
        orpc.connect(private_server, ICalc, auth=auth)
    assert info.value.hresult == ACCESS_DENIED


def test_serve_refuses_a_level_without_credentials(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "idlgen.runtime", "serve", "orpc_objects:hub"]
    done = subprocess.run(
        [*cmd, "--level", "privacy"], capture_output=True, text=True, env=child_env(), timeout=60
    )
    assert done.returncode == 2
    assert done.stderr.startswith("idlgen.runtime serve: error: --level needs --credentials")
