"""Client-side activation (CoCreateInstanceEx-style) against `serve --resolver` in a child
process: proxies for several IIDs, calls over NTLM privacy, the objects pinged at the
server's resolver; an unknown class and a wrong password refused."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from orpc_helpers import first_line, spawn, stop
from stream_handwritten import ICalc, ISimpleStream

from idlgen import runtime as rt
from idlgen.runtime.com.hresult import COMError
from idlgen.runtime.rpc.dcerpc.auth import AuthLevel, ClientAuth
from idlgen.runtime.rpc.dcom import client as dcom_client

pytest.importorskip("spnego", reason="pyspnego (idlgen[ntlm]) is a test dependency")

CLSID = "5A3E0F1C-8B2D-4E6A-9C71-2B4D6F8A0C99"
ALICE = ClientAuth("alice", "Wonder-1", "WORKGROUP", AuthLevel.PKT_PRIVACY)


@contextlib.contextmanager
def resolver_server(*options: str) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """`serve orpc_objects:hub --resolver ... --clsid CLSID OPTIONS`: (process, resolver port)."""
    cmd = [sys.executable, "-m", "idlgen.runtime", "serve", "orpc_objects:hub", "--until-eof"]
    cmd += ["--binding", "ncacn_ip_tcp:127.0.0.1[0]", "--resolver", "ncacn_ip_tcp:127.0.0.1[0]"]
    proc = spawn([*cmd, "--clsid", CLSID, *options])
    try:
        first_line(proc)
        assert proc.stdout is not None
        second = proc.stdout.readline().strip()  # printed right after the first
        assert second.startswith("resolver ncacn_ip_tcp:127.0.0.1[")
        yield proc, int(second.rsplit("[", 1)[1].rstrip("]"))
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def resolver_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    users: Path = tmp_path_factory.mktemp("dcom-client") / "users"
    users.write_text("WORKGROUP:alice:Wonder-1\n")
    with resolver_server("--credentials", str(users), "--level", "integrity") as (_proc, port):
        yield port


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


def test_get_class_object_gives_a_factory_whose_instances_live_in_the_server(
    resolver_port: int,
) -> None:
    """RemoteGetClassObject answers an IClassFactory OBJREF; its RemoteCreateInstance and
    RemoteLockServer cross the wire and make new objects in the server process."""
    factory = dcom_client.get_class_object("127.0.0.1", CLSID, auth=ALICE, port=resolver_port)
    try:
        assert isinstance(factory, rt.IClassFactory)
        calc = factory.CreateInstance(None, ICalc)
        stream = factory.CreateInstance(None, ISimpleStream)
        try:
            assert calc.Add(20, 22) == 42
            assert stream.Write(b"xyz", 3) == 3
            one, other = calc.QueryInterface(rt.IUnknown), stream.QueryInterface(rt.IUnknown)
            assert one is not other  # two objects, not one handed out twice
            one.Release()
            other.Release()
        finally:
            stream.Release()
            calc.Release()
        assert factory.LockServer(True) == rt.S_OK
        assert factory.LockServer(False) == rt.S_OK
        with pytest.raises(COMError) as info:
            factory.CreateInstance(None, rt.IClassFactory)  # the object is no factory
        assert info.value.hresult == rt.E_NOINTERFACE
        with pytest.raises(rt.ClassNoAggregationError):  # refused before anything is sent
            factory.CreateInstance(calc, ICalc)
    finally:
        factory.Release()


def test_get_class_object_of_an_unknown_class_is_regdb_e_classnotreg(resolver_port: int) -> None:
    with pytest.raises(COMError) as info:
        dcom_client.get_class_object(
            "127.0.0.1", "0D8E4C1B-1111-2222-3333-444455556666", auth=ALICE, port=resolver_port
        )
    assert info.value.hresult == 0x80040154


def test_serve_ping_period_releases_an_object_nobody_pings() -> None:
    """`serve --ping-period`: an activated object whose client never pings is released
    after three missed periods, in the server process, and calls then find it gone."""
    import time
    import uuid

    from idlgen.runtime.apartments.marshal import unmarshal_interface
    from idlgen.runtime.rpc.dcom import activation_idl as A
    from idlgen.runtime.rpc.orpc.endpoint import _install

    with resolver_server("--ping-period", "0.2") as (_proc, port):
        blob = dcom_client._request_blob(rt.GUID(CLSID), [rt.GUID(ICalc._iid_)])
        this = A.ORPCTHIS(A.COMVERSION(5, 7), 0, 0, rt.GUID(uuid.uuid4()), None)
        with A.IRemoteSCMActivator_Client(f"ncacn_ip_tcp:127.0.0.1[{port}]") as scm:
            reply = scm.RemoteCreateInstance(None, this, None, A.MInterfacePointer(len(blob), blob))
        props, _scm = dcom_client._reply_parts(reply.ppActProperties)
        _install()
        calc = unmarshal_interface(bytes(props.ppIntfData[0].abData), ICalc)  # never pinged
        assert calc.Add(1, 1) == 2
        deadline = time.monotonic() + 20.0  # a safety net: the server needs 0.6 s
        with pytest.raises(rt.DisconnectedError):
            while time.monotonic() < deadline:
                calc.Add(1, 1)
                time.sleep(0.05)
        calc.Release()
