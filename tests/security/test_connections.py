"""Findings 4, 5 and 6 of issue 11: who may connect over a Unix socket, an accept loop that
survives running out of descriptors or threads, and connections that cost no thread each,
are capped in total and per peer, and are closed when idle."""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from rpc_calc import calc
from rpc_calc_server import Calc
from rpc_helpers import CALC, WAIT
from security_helpers import security_env

from idlgen.runtime.rpc.dcerpc import RpcServer
from idlgen.runtime.rpc.dcerpc import pdu as P
from idlgen.runtime.rpc.dcerpc.limits import ServerLimits
from idlgen.runtime.rpc.dcerpc.wire import Limits, read_pdu


@contextlib.contextmanager
def calc_server(binding: str, limits: ServerLimits | None = None) -> Iterator[RpcServer]:
    server = RpcServer(limits)
    server.register(Calc())
    server.listen(binding)
    try:
        yield server
    finally:
        server.close()


def tcp_port(server: RpcServer) -> int:
    return int(server.bindings[0].endpoint)


def connect_tcp(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    sock.settimeout(WAIT)
    return sock


def connect_unix(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(WAIT)
    sock.connect(str(path))
    return sock


def add_request(call_id: int) -> bytes:
    stub = calc._wire_[0].encode_request({"a": 40, "b": 2})
    flags = P.PFC_FIRST_FRAG | P.PFC_LAST_FRAG
    return P.encode(P.Request(call_id, 0, 0, stub, None, len(stub), flags))


def answered(sock: socket.socket) -> bool:
    """Does the server answer a bind on `sock` with a bind_ack (False: closed or refused)?"""
    bind = P.Bind(1, 5840, 5840, 0, (P.ContextElem(0, CALC, (P.NDR20,)),), 0x03)
    sock.settimeout(WAIT)
    try:
        sock.sendall(P.encode(bind))
        head = sock.recv(P.HEADER_SIZE, socket.MSG_WAITALL)
    except (ConnectionError, TimeoutError):
        return False
    if len(head) < P.HEADER_SIZE or head[2] != P.BIND_ACK:
        return False
    frag_length = int.from_bytes(head[8:10], "little")
    sock.recv(frag_length - P.HEADER_SIZE, socket.MSG_WAITALL)  # the rest of the bind_ack
    return True


def closed_by_server(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except ConnectionError:
        return True


# -- 4: Unix sockets ---------------------------------------------------------------------


def test_unix_socket_is_created_owner_only_whatever_the_umask(tmp_path: Path) -> None:
    path = tmp_path / "calc.sock"
    old = os.umask(0)
    try:
        server = RpcServer()
        server.listen(f"ncacn_unix_stream:[{path}]")
    finally:
        os.umask(old)
    try:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    finally:
        server.close()
    with calc_server(f"ncacn_unix_stream:[{path}]", ServerLimits(unix_socket_mode=0o660)):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o660


def test_unix_client_whose_uid_is_not_allowed_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "calc.sock"
    others = ServerLimits(allowed_uids=frozenset({os.getuid() + 1}))
    with calc_server(f"ncacn_unix_stream:[{path}]", others):
        assert not answered(connect_unix(path))
    with calc_server(f"ncacn_unix_stream:[{path}]"):  # default: the server's own uid
        assert answered(connect_unix(path))


PROBE = """
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
try:
    s.sendall(bytes.fromhex(sys.argv[2]))
    print("answered" if s.recv(16) else "refused")
except OSError as exc:
    print("refused", exc)
"""


def test_unix_client_of_another_user_is_refused_by_default() -> None:
    """Even where the socket's mode lets another user connect, the peer-uid check refuses."""
    if os.getuid() != 0:
        pytest.skip("needs root to run a client as another user")
    python = shutil.which("python3", path="/usr/bin:/bin")
    if python is None:
        pytest.skip("no system python3 another user may run")
    folder = Path(tempfile.mkdtemp(prefix="idlgen-uid-"))  # pytest's tmp is root-only
    folder.chmod(0o755)
    path = folder / "calc.sock"
    bind = P.Bind(1, 5840, 5840, 0, (P.ContextElem(0, CALC, (P.NDR20,)),), 0x03)
    probe = [python, "-I", "-c", PROBE, str(path), P.encode(bind).hex()]
    with calc_server(f"ncacn_unix_stream:[{path}]", ServerLimits(unix_socket_mode=0o666)):
        run = subprocess.run(probe, capture_output=True, text=True, timeout=WAIT, user=65534)
        assert run.stdout.startswith("refused"), run.stdout + run.stderr
    with calc_server(
        f"ncacn_unix_stream:[{path}]",
        ServerLimits(unix_socket_mode=0o666, allowed_uids=frozenset({0, 65534})),
    ):
        run = subprocess.run(probe, capture_output=True, text=True, timeout=WAIT, user=65534)
        assert run.stdout.startswith("answered"), run.stdout + run.stderr
    shutil.rmtree(folder)


# -- 5: the accept loop survives -----------------------------------------------------------

EMFILE_SERVER = """
import os, resource, sys
from rpc_calc_server import Calc
from idlgen.runtime.rpc.dcerpc import RpcServer
server = RpcServer()
server.register(Calc())
binding = server.listen("ncacn_ip_tcp:127.0.0.1[0]")
in_use = len(os.listdir("/proc/self/fd"))
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (in_use + 4, hard))
print(binding.endpoint, flush=True)
sys.stdin.read()
"""


def test_accept_loop_survives_running_out_of_descriptors() -> None:
    """A server at its descriptor limit keeps its backlog waiting, logs, and accepts again
    once descriptors are free."""
    env = security_env()
    env["PYTHONPATH"] = os.pathsep.join(
        [str(Path(__file__).parents[1] / "dcerpc"), env["PYTHONPATH"]]
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", EMFILE_SERVER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        flood = [connect_tcp(port) for _ in range(20)]  # more than the server can take
        for sock in flood:
            sock.close()
        assert answered(connect_tcp(port))
    finally:
        proc.kill()
        _, err = proc.communicate(timeout=WAIT)
    assert "accept failed" in err and "Too many open files" in err, err


def test_accept_loop_survives_threads_that_cannot_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """While no thread can start, a call is refused with RPC_S_SERVER_TOO_BUSY (not a dead
    listener); once threads can start again, calls run."""
    with calc_server("ncacn_ip_tcp:127.0.0.1[0]") as server:
        port = tcp_port(server)

        def cannot_start(self: threading.Thread) -> None:
            raise RuntimeError("can't start new thread")

        monkeypatch.setattr(threading.Thread, "start", cannot_start)
        sock = connect_tcp(port)
        assert answered(sock)
        sock.sendall(add_request(2))
        reply = read_pdu(sock, 0xFFFF, WAIT)
        assert isinstance(reply, P.Fault) and reply.status == P.NCA_S_SERVER_TOO_BUSY
        monkeypatch.undo()
        sock.sendall(add_request(3))
        assert isinstance(read_pdu(sock, 0xFFFF, WAIT), P.Response)
        other = connect_tcp(port)
        assert answered(other)


# -- 6: connections: threads, caps, idle ------------------------------------------------------


def test_a_thousand_idle_connections_take_no_thread_each() -> None:
    limits = ServerLimits(max_connections=2000, max_connections_per_peer=2000)
    with calc_server("ncacn_ip_tcp:127.0.0.1[0]", limits) as server:
        before = threading.active_count()
        socks = [connect_tcp(tcp_port(server)) for _ in range(1000)]
        try:
            assert answered(socks[-1])  # the last one is served: all were accepted
            assert server.connection_count == 1000
            assert threading.active_count() - before < 10
        finally:
            for sock in socks:
                sock.close()


def test_connections_over_the_caps_are_refused() -> None:
    limits = ServerLimits(max_connections=5, max_connections_per_peer=3)
    with calc_server("ncacn_ip_tcp:127.0.0.1[0]", limits) as server:
        port = tcp_port(server)
        first = [connect_tcp(port) for _ in range(3)]
        assert all(answered(sock) for sock in first)
        assert not answered(connect_tcp(port))  # a fourth from the same address
        # other loopback addresses are other peers, up to the total cap
        others = []
        for host in ("127.0.0.2", "127.0.0.3", "127.0.0.4"):
            sock = socket.create_connection(("127.0.0.1", port), WAIT, (host, 0))
            sock.settimeout(WAIT)
            others.append(sock)
        assert [answered(sock) for sock in others] == [True, True, False]
        first[0].close()  # a place is free again
        assert server.wait_connections(4, WAIT)
        assert answered(connect_tcp(port))


def test_idle_connections_are_closed_busy_ones_are_not() -> None:
    limits = ServerLimits(idle_timeout=0.2)
    with calc_server("ncacn_ip_tcp:127.0.0.1[0]", limits) as server:
        idle = connect_tcp(tcp_port(server))
        assert closed_by_server(idle)  # never said a word
        bound = connect_tcp(tcp_port(server))
        assert answered(bound)
        assert closed_by_server(bound)  # bound, then silent
        assert server.wait_connections(0, WAIT)


def test_a_pdu_must_arrive_whole_within_the_receive_timeout_of_its_first_byte() -> None:
    """However its bytes are spread (one byte at a time, each well inside the timeout), a
    PDU that is not whole `recv_timeout` after its first byte costs its connection: a
    peer must not hold a connection forever by trickling a PDU that never ends."""
    limits = ServerLimits(connection=Limits(recv_timeout=0.5), idle_timeout=WAIT)
    bind = P.encode(P.Bind(1, 5840, 5840, 0, (P.ContextElem(0, CALC, (P.NDR20,)),), 0x03))
    with calc_server("ncacn_ip_tcp:127.0.0.1[0]", limits) as server:
        sock = connect_tcp(tcp_port(server))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for byte in bind[:-1]:  # never the last one: the PDU never ends
            try:
                sock.sendall(bytes([byte]))
            except ConnectionError:
                break  # closed by the server
            if select.select([sock], [], [], 0.1)[0] and closed_by_server(sock):
                break
        else:
            pytest.fail("the server kept a connection whose PDU never ended")
        assert server.wait_connections(0, WAIT)
