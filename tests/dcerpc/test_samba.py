"""Samba as the real server: clients idlgen builds from IDL we wrote from [MS-RPCE], [MS-WKST]
and [MS-SRVS] find endpoints with ept_map and call wkssvc/srvsvc with NTLM.

Samba runs in a network namespace of its own (port 135 there is free whatever the host runs),
started as `samba-dcerpcd -F --libexec-rpcds` with a generated smb.conf and a private passdb
holding one user; the clients run on a thread inside that namespace (tests/netns.py)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from netns import namespace, run_in
from shared_fixtures import skip_or_fail

import idlgen
from idlgen.runtime.com.guid import GUID
from idlgen.runtime.com.hresult import COMError
from idlgen.runtime.rpc.dcerpc import PendingRpc, epm
from idlgen.runtime.rpc.dcerpc import pdu as P
from idlgen.runtime.rpc.dcerpc.auth import AuthLevel, ClientAuth
from idlgen.runtime.rpc.dcerpc.rpcif import syntax_of

pytest.importorskip("spnego", reason="pyspnego (idlgen[ntlm]) is a test dependency")

REPO = Path(__file__).resolve().parents[2]
SAMBA_DCERPCD = "/usr/libexec/samba/samba-dcerpcd"
USER, PASSWORD, DOMAIN = "daemon", "Sm6a-test-pass", "IDLGENTEST"
ACCESS_DENIED = 0x80070005
RPC_S_PROTOCOL_ERROR = 0x800706C0
WAIT = 30.0

SMB_CONF = """[global]
    workgroup = {domain}
    netbios name = IDLGENSAMBA
    server role = standalone server
    interfaces = 127.0.0.1
    bind interfaces only = yes
    rpc start on demand helpers = no
    private dir = {d}/private
    state directory = {d}/state
    lock directory = {d}/lock
    cache directory = {d}/cache
    ncalrpc dir = {d}/ncalrpc
    pid directory = {d}/pid
    log file = {d}/log.%m
    passdb backend = tdbsam:{d}/private/passdb.tdb
    load printers = no
    printcap name = /dev/null
    disable spoolss = yes
[idlgenshare]
    path = {d}
    comment = idlgen test share
"""


def _require_samba() -> None:
    if not os.path.exists(SAMBA_DCERPCD) or shutil.which("smbpasswd") is None:
        skip_or_fail("Samba (Debian package `samba`) is not installed")
    if os.geteuid() != 0:
        skip_or_fail("samba-dcerpcd and network namespaces need root")


def _wait_for_port(port: int) -> None:
    deadline = time.monotonic() + WAIT  # a safety net against hangs, not a timing check
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.fixture(scope="module")
def samba(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The name of a namespace where Samba serves epmapper, wkssvc and srvsvc."""
    _require_samba()
    root = tmp_path_factory.mktemp("samba")
    for sub in ("private", "state", "lock", "cache", "ncalrpc", "pid"):
        (root / sub).mkdir()
    conf = root / "smb.conf"
    conf.write_text(SMB_CONF.format(d=root, domain=DOMAIN))
    subprocess.run(
        ["smbpasswd", "-c", str(conf), "-s", "-a", USER],
        input=f"{PASSWORD}\n{PASSWORD}\n",
        text=True,
        check=True,
        capture_output=True,
        timeout=WAIT,
    )
    with namespace("idlgen-samba") as ns:
        cmd = ["ip", "netns", "exec", ns, SAMBA_DCERPCD, "-F", "--libexec-rpcds", "-s", str(conf)]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            run_in(ns, lambda: _wait_for_port(epm.EPM_PORT))
            yield ns
        finally:
            proc.terminate()
            try:
                proc.wait(WAIT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(WAIT)


@pytest.fixture(scope="module")
def wkst() -> ModuleType:
    return idlgen.load(REPO / "samples" / "msrpc" / "ms_wkst.idl")


@pytest.fixture(scope="module")
def srvs() -> ModuleType:
    return idlgen.load(REPO / "samples" / "msrpc" / "ms_srvs.idl")


def _auth(level: AuthLevel, password: str = PASSWORD) -> ClientAuth:
    return ClientAuth(USER, password, DOMAIN, level)


def test_ept_lookup_enumerates_samba_including_its_last_batch(samba: str) -> None:
    """Samba answers the batch that ends the map with EPT_S_NOT_REGISTERED *and* entries;
    those entries count (as Windows clients take them), whatever the batch size."""
    whole = run_in(samba, lambda: epm.lookup("127.0.0.1", batch=500))
    in_tens = run_in(samba, lambda: epm.lookup("127.0.0.1", batch=10))
    wkssvc = P.SyntaxId(GUID("6BFFD098-A112-3610-9833-46C3F87E345A"), 1, 0)
    assert any(e.syntax == wkssvc and e.binding is not None for e in whole)
    assert len(whole) > 10
    assert sorted(map(repr, in_tens)) == sorted(map(repr, whole))


def test_ept_map_finds_wkssvc_and_srvsvc_on_tcp(
    samba: str, wkst: ModuleType, srvs: ModuleType
) -> None:
    for iface in (wkst.wkssvc, srvs.srvsvc):
        found = run_in(samba, lambda i=iface: epm.map_endpoint("127.0.0.1", syntax_of(i)))
        assert found.protseq == "ncacn_ip_tcp" and int(found.endpoint) > 0


def test_ept_map_of_an_unregistered_interface_is_ept_s_not_registered(samba: str) -> None:
    nowhere = P.SyntaxId(GUID("0d8e4c1b-1111-2222-3333-444455556666"), 1, 0)
    with pytest.raises(COMError) as info:
        run_in(samba, lambda: epm.map_endpoint("127.0.0.1", nowhere))
    assert info.value.hresult == 0x800706D9  # EPT_S_NOT_REGISTERED (1753) as an HRESULT


@pytest.mark.parametrize("level", [AuthLevel.PKT_INTEGRITY, AuthLevel.PKT_PRIVACY])
def test_wkssvc_and_srvsvc_calls_at_integrity_and_privacy(
    samba: str, wkst: ModuleType, srvs: ModuleType, level: AuthLevel
) -> None:
    def calls() -> tuple[object, object, list[object], object, object]:
        # No port: the client asks the endpoint mapper (ept_map) first.
        with wkst.wkssvc_Client("ncacn_ip_tcp:127.0.0.1", auth=_auth(level), timeout=WAIT) as c:
            info = c.NetrWkstaGetInfo(None, 100)
            info_later = c.Begin_NetrWkstaGetInfo(None, 100)
            awaited = asyncio.run(_awaited(c.Begin_NetrWkstaGetInfo(None, 100)))
            info_later = info_later.result(WAIT)
        with srvs.srvsvc_Client("ncacn_ip_tcp:127.0.0.1", auth=_auth(level), timeout=WAIT) as s:
            empty = srvs.SHARE_ENUM_STRUCT(1, srvs.SHARE_INFO_1_CONTAINER(0, None))
            shares = s.NetrShareEnum(None, empty, srvs.MAX_PREFERRED_LENGTH, None)
            # The asynchronous form: several calls in flight on one association.
            pending = [
                s.Begin_NetrShareEnum(None, empty, srvs.MAX_PREFERRED_LENGTH, None)
                for _ in range(4)
            ]
            later = [p.result(WAIT) for p in reversed(pending)]
            assert s.connection.association_count == 1
        return info, shares, later, info_later, awaited

    info, shares, later, info_later, awaited = run_in(samba, calls)
    assert info_later == info and awaited == info
    assert info.return_ == 0
    assert info.WkstaInfo.wki100_computername == "IDLGENSAMBA"
    assert info.WkstaInfo.wki100_langroup == DOMAIN
    assert shares.return_ == 0
    names = {e.shi1_netname: e for e in shares.InfoStruct.ShareInfo.Buffer}
    assert names["idlgenshare"].shi1_remark == "idlgen test share"
    assert names["idlgenshare"].shi1_type == srvs.STYPE_DISKTREE
    assert "IPC$" in names and shares.TotalEntries == len(names)
    assert all(r == shares for r in later)


async def _awaited(pending: PendingRpc[object]) -> object:
    return await pending


def test_connect_level_is_refused_by_samba_with_access_denied(samba: str, wkst: ModuleType) -> None:
    """Samba wants at least integrity on wkssvc; a Windows client sees ERROR_ACCESS_DENIED
    from the call, and so does ours (no silent upgrade of the level)."""

    def call() -> object:
        auth = _auth(AuthLevel.CONNECT)
        with wkst.wkssvc_Client("ncacn_ip_tcp:127.0.0.1", auth=auth, timeout=WAIT) as c:
            return c.NetrWkstaGetInfo(None, 100)

    with pytest.raises(COMError) as info:
        run_in(samba, call)
    assert info.value.hresult == ACCESS_DENIED


def test_a_wrong_password_is_refused_by_samba(samba: str, wkst: ModuleType) -> None:
    """Samba 4.17 answers the first request after a failed AUTH3 with fault nca_s_proto_error
    (Windows servers send access denied); either way the call never runs."""

    def call() -> object:
        auth = _auth(AuthLevel.PKT_PRIVACY, "not-the-password")
        with wkst.wkssvc_Client("ncacn_ip_tcp:127.0.0.1", auth=auth, timeout=WAIT) as c:
            return c.NetrWkstaGetInfo(None, 100)

    with pytest.raises(COMError) as info:
        run_in(samba, call)
    assert info.value.hresult == RPC_S_PROTOCOL_ERROR
