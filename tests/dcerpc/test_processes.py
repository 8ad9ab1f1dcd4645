"""Two processes: calls across them, the server killed mid-call (the caller fails promptly
with RPC_E_DISCONNECTED), the client killed mid-call (the server cancels its call and drops
the connection)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from rpc_calc import calc_Client
from rpc_calc_server import Calc
from rpc_helpers import WAIT

from idlgen import runtime as _rt
from idlgen.runtime.rpc.dcerpc import RpcServer

HERE = Path(__file__).parent


@pytest.fixture(params=["tcp", "unix"])
def child_server(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    binding = (
        "ncacn_ip_tcp:127.0.0.1[0]"
        if request.param == "tcp"
        else f"ncacn_unix_stream:[{tmp_path / 's.sock'}]"
    )
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "rpc_serve.py"), binding],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        yield proc, proc.stdout.readline().strip()
    finally:
        proc.kill()
        proc.wait(WAIT)


def test_calls_across_processes(child_server: tuple[subprocess.Popen[str], str]) -> None:
    _, binding = child_server
    with calc_Client(binding) as c:
        assert c.Add(40, 2) == 42
        assert c.Write(3, b"abc") == 3
        assert c.Read(10) == (b"abc", 3)
        pending = [c.Begin_Add(i, i) for i in range(32)]
        assert [p.result(WAIT) for p in pending] == [2 * i for i in range(32)]


def test_server_killed_mid_call_fails_the_caller(
    child_server: tuple[subprocess.Popen[str], str],
) -> None:
    proc, binding = child_server
    with calc_Client(binding) as c:
        assert c.Add(1, 1) == 2  # the server is up and bound
        pending = c.Begin_WaitCancel(600_000)
        proc.kill()
        with pytest.raises(_rt.DisconnectedError):
            pending.result(WAIT)


def test_client_killed_mid_call_releases_the_servers_call(tmp_path: Path) -> None:
    impl = Calc()
    server = RpcServer()
    server.register(impl)
    binding = server.listen("ncacn_ip_tcp:127.0.0.1[0]")
    try:
        proc = subprocess.Popen(
            [sys.executable, str(HERE / "rpc_call.py"), str(binding)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "calling"
        assert impl.entered.wait(WAIT)
        proc.kill()
        proc.wait(WAIT)
        assert impl.cancel_seen.wait(WAIT)  # the running call was canceled
        assert server.wait_connections(0, WAIT)
    finally:
        server.close()
