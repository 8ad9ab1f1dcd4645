"""WMI's reference rules for sinks, the same in one apartment, across apartments and across
processes (issue 15): the final status, then Release; CancelAsyncCall releases the sink
before it returns; after a failed start the client owns the sink alone. Across apartments and
processes these rest on the stub releasing the [in] interface pointers it unmarshaled."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from wmi_fixtures import WAIT, lite, make_world

from idlgen import runtime as _rt
from idlgen.runtime import wmi
from idlgen.runtime.rpc import orpc

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
SERVER = [sys.executable, str(SAMPLES / "wmi_server.py"), "--until-eof"]
QUERY = "SELECT * FROM Planet"
PARKED = 600.0  # the process server's pace when a test needs its operation parked (stopped
# by the test long before; never waited out)


class CountedSink(wmi.sink_class(lite.ILiteObjectSink)):  # type: ignore[misc]
    """Logs its final status and its own destruction, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[Any] = []
        self.destroyed = threading.Event()

    def SetStatus(self, lFlags: int, hResult: int, strParam: Any, pObjParam: Any) -> int:
        if lFlags == wmi.WBEM_STATUS_COMPLETE:
            self.log.append(("final", hResult & 0xFFFFFFFF))
        return super().SetStatus(lFlags, hResult, strParam, pObjParam)

    def _final_release_(self) -> None:
        self.log.append("destroyed")
        super()._final_release_()
        self.destroyed.set()


@dataclass
class Client:
    """Where the client's code runs (`call`) and the services it talks to."""

    services: Any
    call: Callable[..., Any]
    parked: Callable[[], None]  # returns once the operation waits before its next row


def _in_process(where: str, gated: bool) -> Iterator[Client]:
    gates = [threading.Event() for _ in range(8)] if gated else None
    world_iter = make_world("local" if where == "one-apartment" else "remote", gates)
    world = next(world_iter)
    parked = world.server.parked
    try:
        yield Client(world.services, world.call, lambda: _check(parked[0].wait(WAIT)))
    finally:
        for gate in gates or ():
            gate.set()
        world_iter.close()


def _check(ok: bool) -> None:
    assert ok, "the operation never parked"


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SAMPLES.parent), env.get("PYTHONPATH", "")])
    return env


def _across_processes(gated: bool) -> Iterator[Client]:
    pace = PARKED if gated else 0.0
    proc = subprocess.Popen(
        [*SERVER, "--pace", str(pace), "--binding", "ncacn_ip_tcp:127.0.0.1[0]"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_child_env(),
    )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], WAIT)  # never a hang
        text = proc.stdout.readline().strip() if ready else ""
        assert text, "the WMI server printed no published string"
        services = orpc.connect(text, lite.ILiteServices)
        yield Client(services, lambda fn, *args: fn(*args), lambda: None)
        services.Release()
    finally:
        proc.kill()
        proc.communicate(timeout=WAIT)


SETTINGS = ["one-apartment", "apartments", "processes"]


def _client(setting: str, gated: bool) -> Iterator[Client]:
    if setting == "processes":
        yield from _across_processes(gated)
    else:
        yield from _in_process(setting, gated)


@pytest.fixture(params=SETTINGS)
def client(request: pytest.FixtureRequest) -> Iterator[Client]:
    """Rows flow freely."""
    yield from _client(request.param, gated=False)


@pytest.fixture(params=SETTINGS)
def parked_client(request: pytest.FixtureRequest) -> Iterator[Client]:
    """The operation parks before its first row until the test is done with it."""
    yield from _client(request.param, gated=True)


def test_sink_is_released_after_its_final_status_in_every_setting(client: Client) -> None:
    def run() -> CountedSink:
        sink = CountedSink()  # created with one reference, the client's
        client.services.ExecQueryAsync("WQL", QUERY, 0, sink)
        sink.Release()  # from now on WMI's reference alone keeps it
        return sink

    sink = client.call(run)
    assert sink.destroyed.wait(WAIT), f"the sink was never released: {sink.log}"
    assert sink.log == [("final", _rt.S_OK), "destroyed"]  # the final status, then Release


def test_cancel_async_call_releases_the_sink_before_it_returns_in_every_setting(
    parked_client: Client,
) -> None:
    client = parked_client

    def run() -> tuple[int, list[Any], int]:
        sink = CountedSink()
        before = sink._refs
        client.services.ExecQueryAsync("WQL", QUERY, 0, sink)
        client.parked()  # no callback into the sink is in progress
        client.services.CancelAsyncCall(sink)
        return before, list(sink.log), sink._refs  # as CancelAsyncCall returned

    before, log, after = client.call(run)
    assert log == [("final", wmi.WBEM_E_CALL_CANCELLED)]
    assert after == before == 1  # WMI holds no reference any more


def test_failed_start_leaves_the_sink_to_its_client_in_every_setting(client: Client) -> None:
    def run() -> tuple[int, int, list[Any]]:
        sink = CountedSink()
        before = sink._refs
        with pytest.raises(_rt.COMError):
            client.services.ExecQueryAsync("WQL", "DROP TABLE Planet", 0, sink)
        return before, sink._refs, list(sink.log)

    before, after, log = client.call(run)
    assert log == []
    assert after == before == 1  # as the call returned, the client owns it alone
