"""Client-side activation (CoCreateInstanceEx-style) against `serve --resolver` in a child
process: proxies for several IIDs, calls over NTLM privacy, the objects pinged at the
server's resolver; an unknown class and a wrong password refused."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from orpc_helpers import child_env, first_line, stop
from stream_handwritten import ICalc, ISimpleStream

from idlgen.runtime.com.hresult import COMError
from idlgen.runtime.rpc.dcerpc.auth import AuthLevel, ClientAuth
from idlgen.runtime.rpc.dcom import client as dcom_client

pytest.importorskip("spnego", reason="pyspnego (idlgen[ntlm]) is a test dependency")

CLSID = "5A3E0F1C-8B2D-4E6A-9C71-2B4D6F8A0C99"
ALICE = ClientAuth("alice", "Wonder-1", "WORKGROUP", AuthLevel.PKT_PRIVACY)


@pytest.fixture(scope="module")
def resolver_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    users: Path = tmp_path_factory.mktemp("dcom-client") / "users"
    users.write_text("WORKGROUP:alice:Wonder-1\n")
    cmd = [sys.executable, "-m", "idlgen.runtime", "serve", "orpc_objects:hub"]
    cmd += ["--binding", "ncacn_ip_tcp:127.0.0.1[0]", "--resolver", "ncacn_ip_tcp:127.0.0.1[0]"]
    cmd += ["--clsid", CLSID, "--credentials", str(users), "--level", "integrity"]
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    try:
        first_line(proc)
        assert proc.stdout is not None
        second = proc.stdout.readline().strip()  # printed right after the first
        assert second.startswith("resolver ncacn_ip_tcp:127.0.0.1[")
        yield int(second.rsplit("[", 1)[1].rstrip("]"))
    finally:
        stop(proc)


def test_create_instance_gives_working_proxies_and_pings_them(resolver_port: int) -> None:
    calc, stream = dcom_client.create_instance(
        "127.0.0.1", CLSID, [ICalc, ISimpleStream], auth=ALICE, port=resolver_port
    )
    try:
        assert calc.Add(40, 2) == 42  # over the object endpoint, sealed
        assert stream.Write(b"abc", 3) == 3
        pinger = dcom_client._pingers[f"ncacn_ip_tcp:127.0.0.1[{resolver_port}]"]
        assert pinger.setid != 0  # ComplexPing made a set at the server's resolver
        pinger.ping()  # SimplePing of that set is accepted
    finally:
        stream.Release()
        calc.Release()


def test_create_instance_of_an_unknown_class_is_regdb_e_classnotreg(resolver_port: int) -> None:
    with pytest.raises(COMError) as info:
        dcom_client.create_instance(
            "127.0.0.1", "0D8E4C1B-1111-2222-3333-444455556666", [ICalc], ALICE, resolver_port
        )
    assert info.value.hresult == 0x80040154


def test_create_instance_with_a_wrong_password_is_access_denied(resolver_port: int) -> None:
    wrong = ClientAuth("alice", "nope", "WORKGROUP", AuthLevel.PKT_PRIVACY)
    with pytest.raises(COMError) as info:
        dcom_client.create_instance("127.0.0.1", CLSID, [ICalc], wrong, resolver_port)
    assert info.value.hresult == 0x80070005
