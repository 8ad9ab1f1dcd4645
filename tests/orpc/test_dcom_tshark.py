"""Wireshark's dissectors (tshark) read an authenticated DCOM session between impacket's
client and our server: the activation (IRemoteSCMActivator::RemoteCreateInstance on port
135), binds and alter_contexts carrying NTLMSSP, and ORPC requests with verifiers at
integrity and privacy (sealed stubs shown as encrypted), with no malformed packets or
expert errors. The server and dumpcap run in a network namespace of their own (port 135
there is ours), impacket on a thread inside it (tests/netns.py), as in
test_dcom_impacket.py; needs root, tshark and impacket (skip, or fail under CI=true)."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from netns import namespace, run_in
from orpc_helpers import WAIT, first_line, spawn, stop
from shared_fixtures import skip_or_fail
from test_dcom_impacket import CLSID, DOMAIN, LEVELS, PASSWORD, USER, _session

# the activator's and IRemUnknown's UUIDs, as tshark prints them in dcerpc.cn_bind_to_uuid
SYSTEM_ACTIVATOR = "000001a0-0000-0000-c000-000000000046"
REM_UNKNOWN2 = "00000143-0000-0000-c000-000000000046"
ICALC = "6c1e0e53-4d2b-4f3a-9c71-0a1b2c3d4e53"
NTLMSSP = 10  # auth_type RPC_C_AUTHN_WINNT
INTEGRITY, PRIVACY = LEVELS["integrity"], LEVELS["privacy"]


def _tools() -> tuple[str, str]:
    tshark, dumpcap = shutil.which("tshark"), shutil.which("dumpcap")
    if tshark is None or dumpcap is None:
        skip_or_fail("tshark/dumpcap not installed (Debian package tshark)")
    return tshark, dumpcap


class Capture:
    """One capture file and the tshark queries the test asks of it."""

    def __init__(self, tshark: str, path: Path) -> None:
        self.tshark, self.path = tshark, path

    def _run(self, *args: str) -> str:
        # Every TCP port of the namespace is DCE/RPC: 135 and the object exporter's port.
        heuristics = ["--enable-heuristic", "dcerpc_tcp"]
        done = subprocess.run(
            [self.tshark, "-r", str(self.path), *heuristics, *args],
            capture_output=True,
            text=True,
            timeout=WAIT * 3,
        )
        # a filter tshark rejects prints nothing: that must not pass for "no such packet"
        assert done.returncode == 0 or "appears to have been cut short" in done.stderr, done.stderr
        return done.stdout

    def count(self, display_filter: str) -> int:
        return len(self._run("-Y", display_filter).splitlines())

    def fields(self, display_filter: str, *names: str) -> list[list[str]]:
        args = ["-Y", display_filter, "-T", "fields", "-E", "separator=|"]
        for name in names:
            args += ["-e", name]
        return [line.split("|") for line in self._run(*args).splitlines()]

    def verbose(self) -> str:
        return self._run("-V")


def _until(predicate: Callable[[], bool], what: str) -> None:
    """dumpcap writes asynchronously, so there is no event to wait on: poll, bounded."""
    stop_ = threading.Event()
    for _ in range(150):
        if predicate():
            return
        stop_.wait(0.1)
    pytest.fail(f"capture never showed {what}")


def _serve(ns: str, users: Path, level: str) -> subprocess.Popen[str]:
    """The hub as CLSID, activatable on 127.0.0.1[135]; `level` is the lowest accepted and
    the authnHint of activation replies, the level impacket then uses for ORPC calls."""
    cmd = ["ip", "netns", "exec", ns, sys.executable, "-m", "idlgen.runtime", "serve"]
    cmd += ["orpc_objects:hub", "--binding", "ncacn_ip_tcp:127.0.0.1[0]"]
    cmd += ["--resolver", "ncacn_ip_tcp:127.0.0.1[135]", "--clsid", CLSID]
    cmd += ["--credentials", str(users), "--level", level]
    return spawn(cmd)


@contextlib.contextmanager
def _captured_server(tmp: Path, level: str) -> Iterator[tuple[str, Capture]]:
    """A namespace with the NTLM-only DCOM server and dumpcap on its loopback."""
    tshark, dumpcap = _tools()
    users = tmp / "users"
    users.write_text(f"{DOMAIN}:{USER}:{PASSWORD}\n")
    cap = Capture(tshark, tmp / "dcom.pcapng")
    with namespace("idlgen-dcomcap") as ns:
        server = _serve(ns, users, level)
        dump = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                ns,
                dumpcap,
                "-q",
                "-i",
                "lo",
                "-f",
                "tcp",
                "-w",
                str(cap.path),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            first_line(server)

            def probed() -> bool:  # the filter is live once a probe's SYN is in the file
                if dump.poll() is not None:
                    return True
                run_in(ns, lambda: socket.create_connection(("127.0.0.1", 135), WAIT).close())
                return cap.path.exists() and cap.count("tcp.flags.syn == 1") > 0

            _until(probed, "the probe connection")
            if dump.poll() is not None:
                err = dump.stderr.read() if dump.stderr else ""
                skip_or_fail(f"dumpcap cannot capture in a namespace: {err.strip()[:200]}")
            yield ns, cap
        finally:
            stop(server)
            dump.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                dump.communicate(timeout=WAIT)


@pytest.fixture(scope="module", params=["integrity", "privacy"])
def session(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Capture, str, int]]:
    """One impacket session (activate, Add, QueryInterface, AddRef, Release, Add, pings)
    with NTLM at the level; the capture, its full text and the level's number."""
    level: str = request.param
    auth = LEVELS[level]
    with _captured_server(tmp_path_factory.mktemp("dcomcap"), level) as (ns, cap):
        first, second, _ = run_in(ns, lambda: _session(level))
        assert (first, second) == (42, 3)
        # The session ends with two pings on 135: wait until dumpcap has written the last.
        last = "tcp.port == 135 && dcerpc.pkt_type == 2 && dcerpc.opnum == 1"
        last += f" && dcerpc.auth_level == {auth}"
        _until(lambda: cap.count(last) > 0, "the SimplePing response")
        yield cap, cap.verbose(), auth


def test_nothing_is_malformed_and_no_expert_errors(session: tuple[Capture, str, int]) -> None:
    cap, verbose, _ = session
    assert cap.count("dcerpc") > 0
    assert cap.count("_ws.malformed") == 0
    assert cap.count("_ws.expert.severity == error") == 0
    assert "Malformed" not in verbose
    assert "[Expert Info (Error" not in verbose


def test_the_activation_is_decoded(session: tuple[Capture, str, int]) -> None:
    """RemoteCreateInstance (opnum 4 of ISystemActivator/IRemoteSCMActivator) on port 135,
    under NTLM at the session's level, and its response."""
    cap, _, auth = session
    on_135 = f"tcp.port == 135 && dcerpc.auth_level == {auth} && dcerpc.auth_type == {NTLMSSP}"
    assert cap.count(on_135 + " && dcerpc.pkt_type == 0 && dcerpc.opnum == 4") == 1
    assert cap.count(on_135 + " && dcerpc.pkt_type == 2 && dcerpc.opnum == 4") == 1
    bound = cap.fields("tcp.port == 135 && dcerpc.pkt_type == 11", "dcerpc.cn_bind_to_uuid")
    assert [SYSTEM_ACTIVATOR] in bound
    if auth == INTEGRITY:  # readable stubs: the activator's dissector reads the call
        assert cap.count("isystemactivator.opnum == 4") == 2  # request and response


def test_binds_carry_ntlmssp(session: tuple[Capture, str, int]) -> None:
    """Every bind and alter_context carries NEGOTIATE, its answer CHALLENGE and an AUTH3
    AUTHENTICATE follows: to the activator and resolver on 135 and to the object
    exporter's port."""
    cap, _, auth = session
    negotiate = cap.fields("ntlmssp.messagetype == 1", "dcerpc.pkt_type", "tcp.dstport")
    binds = cap.count("dcerpc.pkt_type == 11 || dcerpc.pkt_type == 14")
    assert len(negotiate) == binds
    assert {int(kind) for kind, _ in negotiate} == {11, 14}  # bind and alter_context
    assert {port == "135" for _, port in negotiate} == {True, False}
    answers = "(dcerpc.pkt_type == 12 || dcerpc.pkt_type == 15)"
    assert cap.count(f"ntlmssp.messagetype == 2 && {answers}") == binds
    assert cap.count("ntlmssp.messagetype == 3 && dcerpc.pkt_type == 16") == binds
    assert (
        cap.count(
            f"(dcerpc.pkt_type == 11 || dcerpc.pkt_type == 14) && dcerpc.auth_level != {auth}"
        )
        == 0
    )


def test_orpc_requests_carry_verifiers(session: tuple[Capture, str, int]) -> None:
    """ICalc::Add and IRemUnknown calls on the object exporter's port: an object UUID (the
    IPID) and an NTLMSSP verifier on every request and response; at privacy every stub is
    sealed and shown as encrypted, at integrity IRemUnknown's calls are read."""
    cap, verbose, auth = session
    orpc = "!(tcp.port == 135) && (dcerpc.pkt_type == 0 || dcerpc.pkt_type == 2)"
    calls = cap.count(orpc)
    assert calls == 12  # Add, RemQueryInterface, RemAddRef, RemRelease, Add, RemRelease
    assert cap.count(f"{orpc} && dcerpc.auth_level == {auth} && ntlmssp.verf") == calls
    requests = f"{orpc} && dcerpc.pkt_type == 0"
    assert cap.count(f"{requests} && dcerpc.cn_flags.object == 1") == calls // 2
    if auth == PRIVACY:
        assert cap.count(f"{orpc} && dcerpc.encrypted_stub_data") == calls
    else:
        assert cap.count(f"{orpc} && dcerpc.encrypted_stub_data") == 0
        assert cap.count("remunk.opnum == 3") == 2  # RemQueryInterface, request and response
    assert verbose.count("Verifier Body:") >= calls
