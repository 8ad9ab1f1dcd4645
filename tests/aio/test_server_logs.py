"""What a server process says about its calls: the `idlgen` logger tree (connections,
binds, cancellations, faults) and `IDLGEN_TRACE=pdu`, one line per PDU in the words of
Wireshark's DCE/RPC dissector. A fault reply logs the server-side traceback once, with
the call's identity (interface, method, caller)."""

from __future__ import annotations

import logging
import os
import re
import select
import subprocess
import sys
from pathlib import Path

import pytest
from servants import stream_idl

from idlgen import runtime as rt
from idlgen.runtime.rpc import orpc

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
WAIT = 20.0

SERVER = (
    "import logging, sys\n"
    "logging.basicConfig(level=logging.INFO, format='%(name)s %(levelname)s %(message)s')\n"
    "from idlgen.runtime.__main__ import main\n"
    "sys.exit(main(['serve', 'servants:AsyncStream', '--until-eof']))\n"
)
TRACE = re.compile(
    r"^idlgen\.trace\.pdu: (send|recv) (\S+) -> (\S+) (\w+): call_id: (\d+), "
    r"Fragment: (Single|1st|Mid|Last)(?:, opnum: \d+)?(?:, Ctx: \d+)?"
    r"(?:, status: 0x[0-9a-f]{8})?, len: \d+$"
)


def serve_and_call(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Run the server with tracing on; write, read, crash a call, cancel one. Its stderr."""
    env = dict(os.environ, IDLGEN_TRACE="pdu")
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), str(REPO), env.get("PYTHONPATH", "")])
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], WAIT)
        text = proc.stdout.readline().strip() if ready else ""
        assert text, "the server printed nothing"
        with caplog.at_level(logging.INFO, logger="idlgen"):
            stream = orpc.connect(text, stream_idl.ISimpleStream)
            assert stream.Write(b"abc", 3) == 3
            assert tuple(stream.Read(3)) == (b"abc", 3)
            with pytest.raises(rt.ServerFaultError):
                stream.Write(b"crash", 5)
            call = stream.QueryInterface(rt.ICallFactory).CreateCall(stream_idl.AsyncISimpleStream)
            call.Begin_Read(1)
            call.Cancel(0)
            with pytest.raises(rt.CallCanceledError):
                call.Finish_Read()
            assert stream.Write(b"", 0) in (0, 1)  # one more round trip after the cancel
    finally:
        _, err = proc.communicate(input="", timeout=WAIT)  # stdin closes: the server ends
    return err.splitlines()


def test_server_logs_and_pdu_trace(caplog: pytest.LogCaptureFixture) -> None:
    lines = serve_and_call(caplog)
    text = "\n".join(lines)

    # The fault: one traceback, named by interface, method and caller.
    assert text.count("Traceback (most recent call last)") == 1, text
    assert re.search(
        r"fault RPC_E_SERVERFAULT: ISimpleStream\.Write raised, called by ORPC client "
        r"127\.0\.0\.1:\d+",
        text,
    ), text
    assert "ValueError: a bug in the server" in text

    # The logger tree: connection, bind, the client's cancel.
    server_logger = r"idlgen\.runtime\.rpc\.dcerpc\.server"
    assert re.search(server_logger + r" INFO connection from 127\.0\.0\.1:\d+", text)
    assert re.search(r"INFO bind from 127\.0\.0\.1:\d+: interface \S+ v0\.0 accepted", text)
    assert re.search(r"INFO call \d+ from 127\.0\.0\.1:\d+ canceled by the client", text)
    client_says = [r.getMessage() for r in caplog.records if r.name.startswith("idlgen")]
    assert any(m.startswith("connected to ncacn_ip_tcp:127.0.0.1") for m in client_says)
    assert any("canceled: sending co_cancel" in m for m in client_says)

    # The trace: every line parses; every request received is answered, and the kinds the
    # session used all appear, each direction from the server's side.
    traced = [TRACE.match(line) for line in lines if line.startswith("idlgen.trace.pdu")]
    assert traced and all(traced), [line for line in lines if "trace" in line]
    seen = {(m.group(1), m.group(4)) for m in traced if m}
    assert {
        ("recv", "Bind"),
        ("send", "Bind_ack"),
        ("recv", "Request"),
        ("send", "Response"),
        ("send", "Fault"),
        ("recv", "Co_cancel"),
    } <= seen

    def calls(direction: str, *kinds: str) -> set[tuple[str, str]]:
        peer = 2 if direction == "recv" else 3
        return {
            (m.group(peer), m.group(5))
            for m in traced
            if m and m.group(1) == direction and m.group(4) in kinds
        }

    # Every request gets its answer; the canceled one is not held to it here (a cancel racing
    # its request into the apartment is the business of the cancellation tests).
    requests, canceled = calls("recv", "Request"), calls("recv", "Co_cancel")
    answers = calls("send", "Response", "Fault")
    assert requests - canceled <= answers <= requests
