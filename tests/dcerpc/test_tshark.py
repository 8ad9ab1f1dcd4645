"""Wireshark's DCE/RPC dissector (tshark) reads a captured session on loopback: bind,
alter_context, single and fragmented requests and responses, a co_cancel and faults, with no
malformed packets or expert errors. Needs tshark/dumpcap and the right to capture (root in CI).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from rpc_calc import calc, calc_Client
from rpc_calc_server import Calc
from rpc_helpers import WAIT, skip_or_fail

from idlgen import runtime as _rt
from idlgen.runtime.rpc.dcerpc import Connection, Limits, RpcInterface, RpcServer, connect
from idlgen.runtime.rpc.dcerpc import pdu as P


class other(RpcInterface):
    _uuid_ = _rt.GUID("{0D8E4C1B-1111-2222-3333-444455556666}")
    _version_ = (1, 0)
    _methods_: ClassVar[tuple[_rt.Method, ...]] = _rt.methods(
        _rt.Method("Add", ins=("a", "b"), hresult=False)
    )
    _wire_ = calc._wire_[:1]


class Other(other):
    def Add(self, a: int, b: int) -> int:
        return a * b


def _tools() -> tuple[str, str]:
    tshark, dumpcap = shutil.which("tshark"), shutil.which("dumpcap")
    if tshark is None or dumpcap is None:
        skip_or_fail("tshark/dumpcap not installed (Debian package tshark)")
    return tshark, dumpcap


def _count(tshark: str, cap: Path, port: int, display_filter: str) -> int:
    out = subprocess.run(
        [tshark, "-r", str(cap), "-d", f"tcp.port=={port},dcerpc", "-Y", display_filter],
        capture_output=True,
        text=True,
        timeout=WAIT,
    )
    return len(out.stdout.splitlines())


def _until(predicate: object, what: str) -> None:
    """Poll a condition on the capture file: dumpcap writes asynchronously, so there is no
    event to wait on. Bounded; never a timing assertion."""
    stop = threading.Event()
    for _ in range(100):
        if predicate():  # type: ignore[operator]
            return
        stop.wait(0.1)
    pytest.fail(f"capture never showed {what}")


@contextlib.contextmanager
def _capturing(server: RpcServer, tmp_path: Path) -> Iterator[tuple[str, Path, str]]:
    """dumpcap on lo for the server's port while the block runs: (binding, file, tshark)."""
    tshark, dumpcap = _tools()
    binding = server.listen("ncacn_ip_tcp:127.0.0.1[0]")
    cap = tmp_path / "session.pcapng"
    proc = subprocess.Popen(
        [dumpcap, "-q", "-i", "lo", "-f", f"tcp port {binding.port}", "-w", str(cap)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # dumpcap says nothing reliable about when the filter is live: probe until a SYN to
        # the server's port shows up in the file.
        def probed() -> bool:
            if proc.poll() is not None:
                return True
            with socket.create_connection(("127.0.0.1", binding.port), timeout=WAIT):
                pass
            return cap.exists() and _count(tshark, cap, binding.port, "tcp.flags.syn==1") > 0

        _until(probed, "the probe connection")
        if proc.poll() is not None:
            err = proc.stderr.read() if proc.stderr else ""
            skip_or_fail(f"dumpcap cannot capture on lo: {err.strip()[:200]}")
        yield str(binding), cap, tshark
    finally:
        server.close()
        proc.terminate()
        proc.communicate(timeout=WAIT)


@pytest.fixture
def capture(tmp_path: Path) -> Iterator[tuple[RpcServer, Calc, str, Path, str]]:
    _tools()
    server = RpcServer()
    impl = Calc()
    server.register(impl)
    server.register(Other())
    with _capturing(server, tmp_path) as (binding, cap, tshark):
        yield server, impl, binding, cap, tshark


def _verbose(tshark: str, cap: Path, port: int) -> str:
    return subprocess.run(
        [tshark, "-r", str(cap), "-d", f"tcp.port=={port},dcerpc", "-V"],
        capture_output=True,
        text=True,
        timeout=WAIT * 3,
    ).stdout


def test_tshark_decodes_a_session_without_malformed_packets(
    capture: tuple[RpcServer, Calc, str, Path, str],
) -> None:
    server, impl, binding, cap, tshark = capture
    port = int(binding.rsplit("[", 1)[1].rstrip("]"))
    small = Limits(max_recv_frag=P.MIN_FRAG, max_xmit_frag=P.MIN_FRAG)
    with Connection(binding, small) as conn:
        c = calc_Client(conn)
        assert c.Add(1, 2) == 3
        assert c.Write(6000, bytes(6000)) == 6000  # fragmented request
        assert len(c.Read(6000).pv) == 6000  # fragmented response
        assert connect(conn, other).Add(6, 7) == 42  # type: ignore[attr-defined]
        pending = c.Begin_WaitCancel(int(WAIT * 1000))
        assert impl.entered.wait(WAIT)
        pending.cancel()  # co_cancel, answered by a cancel fault
        with pytest.raises(_rt.CallCanceledError):
            pending.result(WAIT)
        with pytest.raises(_rt.InvalidArgError):
            c.Divmod(1, 0)
    assert server.wait_connections(0, WAIT)
    # The session's last PDU is the E_INVALIDARG fault; dumpcap writes in order.
    _until(lambda: _count(tshark, cap, port, "dcerpc.cn_status == 0x57") >= 1, "the last fault")

    verbose = subprocess.run(
        [tshark, "-r", str(cap), "-d", f"tcp.port=={port},dcerpc", "-V"],
        capture_output=True,
        text=True,
        timeout=WAIT * 3,
    ).stdout
    assert "Malformed" not in verbose
    assert "[Expert Info (Error" not in verbose
    types = subprocess.run(
        [
            tshark,
            "-r",
            str(cap),
            "-d",
            f"tcp.port=={port},dcerpc",
            "-T",
            "fields",
            "-e",
            "dcerpc.pkt_type",
        ],
        capture_output=True,
        text=True,
        timeout=WAIT,
    ).stdout.split()
    seen = {int(t) for field in types for t in field.split(",")}
    expected = {
        P.BIND,
        P.BIND_ACK,
        P.ALTER_CONTEXT,
        P.ALTER_CONTEXT_RESP,
        P.REQUEST,
        P.RESPONSE,
        P.FAULT,
        P.CO_CANCEL,
    }
    assert expected <= seen, sorted(expected - seen)
    # the dissector reassembled our fragments into whole calls
    last_of_many = "dcerpc.cn_flags.first_frag == 0 && dcerpc.cn_flags.last_frag == 1"
    assert _count(tshark, cap, port, last_of_many) >= 2  # the Write request and Read reply
    assert _count(tshark, cap, port, "dcerpc.fragment") >= 2  # fragments were reassembled


def test_tshark_decodes_authenticated_sessions_without_malformed_packets(tmp_path: Path) -> None:
    """NTLM at connect, integrity and privacy: bind/bind_ack/AUTH3 with NTLMSSP tokens,
    verifiers on every request and response fragment, sealed stubs shown as encrypted."""
    pytest.importorskip("spnego", reason="pyspnego (idlgen[ntlm]) is a test dependency")
    from idlgen.runtime.rpc.dcerpc.auth import AuthLevel, ClientAuth, Credentials, ServerSecurity

    _tools()
    creds = Credentials()
    creds.add("WORKGROUP", "alice", "S3cret-pass")
    server = RpcServer(security=ServerSecurity(creds))
    server.register(Calc())
    small = Limits(max_recv_frag=P.MIN_FRAG, max_xmit_frag=P.MIN_FRAG)
    with _capturing(server, tmp_path) as (binding, cap, tshark):
        port = int(binding.rsplit("[", 1)[1].rstrip("]"))
        levels = (AuthLevel.CONNECT, AuthLevel.PKT_INTEGRITY, AuthLevel.PKT_PRIVACY)
        for level in levels:
            auth = ClientAuth("alice", "S3cret-pass", "WORKGROUP", level)
            with Connection(binding, small, auth=auth) as conn:
                c = calc_Client(conn)
                assert c.Add(1, 2) == 3
                assert c.Write(4000, bytes(4000)) == 4000  # fragmented, each one protected
        assert server.wait_connections(0, WAIT)
        _until(
            lambda: (
                _count(tshark, cap, port, "dcerpc.auth_level == 6 && dcerpc.pkt_type == 2") >= 2
            ),
            "the sealed responses",
        )
        verbose = _verbose(tshark, cap, port)
    assert "Malformed" not in verbose
    assert "[Expert Info (Error" not in verbose
    assert _count(tshark, cap, port, "dcerpc.pkt_type == 16") == 3  # one AUTH3 per session
    assert _count(tshark, cap, port, "ntlmssp.messagetype == 3") == 3
    for level in (5, 6):  # every request and response carries a verifier at its level
        protected = (
            f"dcerpc.auth_level == {level} && (dcerpc.pkt_type == 0 || dcerpc.pkt_type == 2)"
        )
        # Add: request + response; Write: 3 request fragments + response
        assert _count(tshark, cap, port, protected) == 6
    assert verbose.count("Verifier Body:") >= 12  # NTLMSSP signatures, decoded as such
    assert verbose.count("Encrypted stub data:") >= 4  # the privacy session's stubs, sealed
