"""Finding 10 of issue 11: `python -m idlgen.runtime serve` serves until SIGINT/SIGTERM,
whatever stdin is (systemd, containers, `&` give it /dev/null), and stops cleanly: running
calls are canceled and answered, clients' references and the publication are released, the
exit status is 0. `--until-eof` keeps the old stop-at-end-of-stdin behaviour."""

from __future__ import annotations

import signal
import subprocess

import pytest
from security_helpers import WAIT, serve_child
from stream_handwritten import ICalc, IID_AsyncISimpleStream, ISimpleStream

from idlgen import runtime as rt
from idlgen.runtime.com.stdiface import ICallFactory
from idlgen.runtime.rpc import orpc


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serve_with_stdin_at_eof_serves_until_a_signal_then_stops_cleanly(
    signum: signal.Signals,
) -> None:
    with serve_child(factory="security_objects:hub", stdin=subprocess.DEVNULL) as (proc, text):
        calc = orpc.connect(text, ICalc)
        assert calc.Add(40, 2) == 42  # still serving with stdin at end of file
        stream = calc.QueryInterface(ISimpleStream)
        call = stream.QueryInterface(ICallFactory).CreateCall(
            IID_AsyncISimpleStream, None, IID_AsyncISimpleStream
        )
        call.Begin_Read(5)  # runs in the server until canceled
        proc.send_signal(signum)
        assert proc.wait(WAIT) == 0
        assert call.wait(WAIT), "the running call was never answered"
        with pytest.raises((rt.CallCanceledError, rt.DisconnectedError)):
            call.Finish_Read()
        _, err = proc.communicate(timeout=WAIT)
        assert "hub released" in err  # every reference, the clients' and the publication's
        assert "Traceback" not in err


def test_serve_until_eof_stops_when_stdin_closes() -> None:
    with serve_child("--until-eof") as (proc, text):
        calc = orpc.connect(text, ICalc)
        assert calc.Add(1, 2) == 3
        proc.communicate(timeout=WAIT)  # closes stdin, waits for the exit
        assert proc.returncode == 0
