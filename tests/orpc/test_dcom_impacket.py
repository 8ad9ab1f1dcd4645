"""impacket's DCOM client (`DCOMConnection`: port 135, RemoteCreateInstance, NTLM, pings)
against `python -m idlgen.runtime serve ... --resolver ncacn_ip_tcp:127.0.0.1[135]`.

The server runs with `ip netns exec` in a network namespace of its own (port 135 there is
free whatever the host runs); impacket runs on a thread inside it (tests/netns.py)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from netns import namespace, run_in
from orpc_helpers import WAIT, first_line, spawn, stop

dcomrt = pytest.importorskip("impacket.dcerpc.v5.dcomrt")
rpcrt = pytest.importorskip("impacket.dcerpc.v5.rpcrt")
pytest.importorskip("spnego", reason="pyspnego (idlgen[ntlm]) is a test dependency")
from impacket.dcerpc.v5.dtypes import LONG, ULONG  # noqa: E402
from impacket.uuid import string_to_bin  # noqa: E402

CLSID = "5A3E0F1C-8B2D-4E6A-9C71-2B4D6F8A0C99"
IID_ICALC = "6C1E0E53-4D2B-4F3A-9C71-0A1B2C3D4E53"
IID_ISIMPLESTREAM = "5D0A7C21-31E4-4A55-9B0E-6F2C8A1D3E44"
USER, PASSWORD, DOMAIN = "alice", "Wonder-1", "WORKGROUP"


class Add(dcomrt.DCOMCALL):
    opnum = 3  # ICalc::Add after IUnknown's three
    structure = (("a", LONG), ("b", LONG))


class AddResponse(dcomrt.DCOMANSWER):
    structure = (("sum", LONG), ("ErrorCode", ULONG))


class CreateInstance(dcomrt.DCOMCALL):
    opnum = 3  # IClassFactory::RemoteCreateInstance, [call_as(CreateInstance)]
    structure = (("riid", dcomrt.IID),)


class CreateInstanceResponse(dcomrt.DCOMANSWER):
    structure = (("ppvObject", dcomrt.PMInterfacePointer), ("ErrorCode", ULONG))


def _serve(ns: str, users: Path | None, extra: tuple[str, ...] = ()) -> subprocess.Popen[str]:
    cmd = ["ip", "netns", "exec", ns, sys.executable, "-m", "idlgen.runtime", "serve"]
    cmd += ["orpc_objects:hub", "--binding", "ncacn_ip_tcp:127.0.0.1[0]"]
    cmd += ["--resolver", "ncacn_ip_tcp:127.0.0.1[135]", "--clsid", CLSID, *extra]
    if users is not None:
        cmd += ["--credentials", str(users), "--level", "integrity"]
    return spawn(cmd)


@contextlib.contextmanager
def _server(tmp: Path, authenticated: bool, *extra: str) -> Iterator[str]:
    """The namespace where a hub is activatable as CLSID on 127.0.0.1[135]."""
    users = tmp / "users"
    users.write_text(f"{DOMAIN}:{USER}:{PASSWORD}\n")
    with namespace("idlgen-dcom") as ns:
        proc = _serve(ns, users if authenticated else None, extra)
        try:
            first_line(proc)  # published: both endpoints are listening
            yield ns
        finally:
            stop(proc)


@pytest.fixture(scope="module")
def ntlm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Needs NTLM at integrity or above (`--credentials --level integrity`)."""
    with _server(tmp_path_factory.mktemp("dcom"), True) as ns:
        yield ns


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """No credentials configured: anonymous calls are served."""
    with _server(tmp_path_factory.mktemp("dcom"), False) as ns:
        yield ns


@pytest.fixture(scope="module")
def windows_mode_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """OBJREFs name the resolver (saResAddr as Windows fills it), not the object endpoint."""
    tmp = tmp_path_factory.mktemp("dcom")
    with _server(tmp, False, "--objref-bindings", "resolver") as ns:
        yield ns


def _disconnect(dcom: Any) -> None:
    with contextlib.suppress(KeyError):  # impacket's own bookkeeping after a failed call
        dcom.disconnect()


def _connect(level: int, password: str = PASSWORD, user: str = USER) -> Any:
    return dcomrt.DCOMConnection(
        "127.0.0.1", user, password, DOMAIN, oxidResolver=True, authLevel=level
    )


def _add(iface: Any, a: int, b: int) -> int:
    req = Add()
    req["a"], req["b"] = a, b
    return int(iface.request(req, string_to_bin(IID_ICALC), iface.get_iPid())["sum"])


LEVELS = {
    "privacy": rpcrt.RPC_C_AUTHN_LEVEL_PKT_PRIVACY,
    "integrity": rpcrt.RPC_C_AUTHN_LEVEL_PKT_INTEGRITY,
    "none": rpcrt.RPC_C_AUTHN_LEVEL_NONE,
}


def _session(level: str) -> tuple[int, int, int]:
    """Activate, call, QueryInterface, AddRef, Release, call again, ping twice."""
    dcom = _connect(LEVELS[level])
    try:
        iface = dcom.CoCreateInstanceEx(string_to_bin(CLSID), string_to_bin(IID_ICALC))
        first = _add(iface, 40, 2)
        stream = iface.RemQueryInterface(1, (string_to_bin(IID_ISIMPLESTREAM),))
        assert stream.get_iPid() not in (None, b"\0" * 16, iface.get_iPid())
        iface.RemAddRef()
        iface.RemRelease()
        second = _add(iface, 1, 2)  # still alive after AddRef + Release
        stream.RemRelease()
        dcomrt.DCOMConnection.pingServer()  # ComplexPing with the activated OIDs
        dcomrt.DCOMConnection.pingServer()  # then SimplePing of the set
        setid = dcomrt.DCOMConnection.OID_SET["127.0.0.1"]["setid"]
        return first, second, setid
    finally:
        _disconnect(dcom)


@pytest.mark.parametrize("level", ["privacy", "integrity"])
def test_impacket_activates_and_calls_the_coclass_with_ntlm(ntlm_server: str, level: str) -> None:
    first, second, setid = run_in(ntlm_server, lambda: _session(level))
    assert (first, second) == (42, 3)
    assert setid != 0  # our resolver created the ping set


def test_impacket_activates_and_calls_without_authentication(open_server: str) -> None:
    first, second, setid = run_in(open_server, lambda: _session("none"))
    assert (first, second, setid != 0) == (42, 3, True)


def test_impacket_against_a_server_whose_objrefs_name_its_resolver(
    windows_mode_server: str,
) -> None:
    """impacket takes the OXID's bindings and IRemUnknown IPID from the activation reply,
    so OBJREFs naming the resolver change nothing for it (QueryInterface included)."""
    first, second, setid = run_in(windows_mode_server, lambda: _session("none"))
    assert (first, second, setid != 0) == (42, 3, True)


def test_impacket_below_the_servers_level_or_with_a_wrong_password_is_refused(
    ntlm_server: str,
) -> None:
    ns = ntlm_server
    for level, password in (("none", PASSWORD), ("privacy", "wrong")):

        def session(level: str = level, password: str = password) -> None:
            dcom = _connect(LEVELS[level], password)
            try:
                dcom.CoCreateInstanceEx(string_to_bin(CLSID), string_to_bin(IID_ICALC))
            finally:
                _disconnect(dcom)

        with pytest.raises(rpcrt.DCERPCException) as info:
            run_in(ns, session)
        assert "access_denied" in str(info.value).lower() or "0x5" in str(info.value)


def test_activating_an_unknown_class_is_regdb_e_classnotreg(ntlm_server: str) -> None:
    ns = ntlm_server
    unknown = "0D8E4C1B-1111-2222-3333-444455556666"

    def session() -> None:
        dcom = _connect(rpcrt.RPC_C_AUTHN_LEVEL_PKT_PRIVACY)
        try:
            dcom.CoCreateInstanceEx(string_to_bin(unknown), string_to_bin(IID_ICALC))
        finally:
            _disconnect(dcom)

    with pytest.raises(Exception, match=r"(?i)80040154|REGDB_E_CLASSNOTREG"):
        run_in(ns, session, timeout=WAIT * 3)


def _class_object_session() -> tuple[int, int]:
    """RemoteGetClassObject, then IClassFactory::RemoteCreateInstance as raw ORPC calls
    (impacket has no helper for either step), then a call on each new object."""
    dcom = _connect(rpcrt.RPC_C_AUTHN_LEVEL_PKT_PRIVACY)
    try:
        scm = dcomrt.IRemoteSCMActivator(dcom.get_dce_rpc())
        factory = scm.RemoteGetClassObject(string_to_bin(CLSID), dcomrt.IID_IClassFactory)
        sums = []
        for a in (40, 1):
            req = CreateInstance()
            req["riid"] = string_to_bin(IID_ICALC)
            resp = factory.request(req, dcomrt.IID_IClassFactory, factory.get_iPid())
            objref = b"".join(resp["ppvObject"]["abData"])
            calc = dcomrt.IRemUnknown2(
                dcomrt.INTERFACE(
                    factory.get_cinstance(),
                    objref,
                    factory.get_ipidRemUnknown(),
                    target=factory.get_target(),
                )
            )
            sums.append(_add(calc, a, 2))
            calc.RemRelease()
        factory.RemRelease()
        return sums[0], sums[1]
    finally:
        _disconnect(dcom)


def test_impacket_gets_the_class_object_and_creates_instances_through_it(
    ntlm_server: str,
) -> None:
    assert run_in(ntlm_server, _class_object_session) == (42, 3)


def _extensions_session() -> int:
    """An ORPC call whose ORPCTHIS carries an extent we do not know (impacket's encoding of
    ORPC_EXTENT_ARRAY): served, the extent ignored ([MS-DCOM] 2.2.13.1)."""
    dcom = _connect(rpcrt.RPC_C_AUTHN_LEVEL_PKT_INTEGRITY)
    try:
        iface = dcom.CoCreateInstanceEx(string_to_bin(CLSID), string_to_bin(IID_ICALC))
        extent = dcomrt.ORPC_EXTENT()
        extent["id"] = string_to_bin("7B6D1A10-0000-4000-8000-0000000E0001")
        extent["size"] = 5
        extent["data"] = list(b"hello\0\0\0")
        pointer = dcomrt.PORPC_EXTENT()
        pointer["Data"] = extent
        array = dcomrt.ORPC_EXTENT_ARRAY()
        array["size"] = 1
        array["reserved"] = 0
        array["extent"].append(pointer)
        array["extent"].append(dcomrt.NULL)  # the array is rounded up to even
        iface.get_cinstance().get_ORPCthis()["extensions"] = array
        return _add(iface, 40, 2)
    finally:
        _disconnect(dcom)


def test_impacket_calls_with_an_orpc_extension_are_served(ntlm_server: str) -> None:
    assert run_in(ntlm_server, _extensions_session) == 42
