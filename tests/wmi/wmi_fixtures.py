"""One world per test, in-process ("local") or across apartments ("remote").

`World.call(fn, *args)` runs client code: directly for "local", inside the client STA for
"remote" (where the services object is a proxy and the sink is called back across the
boundary). Every wait is bounded (WAIT) as a safety net against hangs, never as a timing
assertion; `settle()` flushes one-way releases by a round trip through both apartments.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "samples"))

import wmi_server as ws

from idlgen import runtime as _rt
from idlgen.runtime import wmi
from idlgen.runtime.apartments.apartment import Apartment, process_mta
from idlgen.runtime.apartments.marshal import marshal_interface, unmarshal_interface

WAIT = 10.0
lite = ws.lite


class Recorder(wmi.sink_class(lite.ILiteObjectSink)):  # type: ignore[misc]
    """A sink that logs every call in order; can fail on demand."""

    def __init__(self, fail_indicate: bool = False, fail_progress: bool = False) -> None:
        super().__init__()
        self.log: list[tuple[Any, ...]] = []
        self.fail_indicate = fail_indicate
        self.fail_progress = fail_progress
        self._log_lock = threading.Lock()
        self.changed = threading.Condition()

    def Indicate(self, lObjectCount: int, apObjArray: Any) -> int:
        with self._log_lock:
            self.log.append(("Indicate", lObjectCount))
        if self.fail_indicate:
            raise _rt.COMError(_rt.E_FAIL)
        hr = super().Indicate(lObjectCount, apObjArray)
        self._notify()
        return hr

    def _notify(self) -> None:
        with self.changed:
            self.changed.notify_all()

    def SetStatus(self, lFlags: int, hResult: int, strParam: Any, pObjParam: Any) -> int:
        with self._log_lock:
            kind = "progress" if lFlags & wmi.WBEM_STATUS_PROGRESS else "final"
            self.log.append((kind, hResult & 0xFFFFFFFF))
        if kind == "progress" and self.fail_progress:
            raise _rt.COMError(_rt.E_FAIL)
        hr = super().SetStatus(lFlags, hResult, strParam, pObjParam)
        self._notify()
        return hr

    def finals(self) -> list[int]:
        return [hr for kind, hr in self.log if kind == "final"]

    def indicated(self) -> int:
        return sum(entry[1] for entry in self.log if entry[0] == "Indicate")


@dataclass
class World:
    where: str
    server: Any  # the LiteServices object
    services: Any  # what the client calls: the object, or a proxy to it
    jobs_done: list[threading.Event] = field(default_factory=list)
    server_sta: Apartment | None = None
    client_sta: Apartment | None = None

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        if self.client_sta is None:
            return fn(*args)
        return self.client_sta.run(fn, *args, timeout=WAIT)

    def settle(self) -> None:
        """Let one-way RemRelease messages arrive (FIFO queues: a round trip flushes them)."""
        for apt in (self.server_sta, self.client_sta):
            if apt is not None:
                apt.run(lambda: None, timeout=WAIT)

    def wait_jobs(self) -> None:
        for done in list(self.jobs_done):
            assert done.wait(WAIT), "an operation's worker did not finish"


def _runner(world_jobs: list[threading.Event]) -> wmi.Runner:
    """The thread runner, plus an event per job so tests can wait for workers to end."""

    def run(job: Callable[[], None]) -> None:
        done = threading.Event()
        world_jobs.append(done)

        def body() -> None:
            try:
                job()
            finally:
                done.set()

        threading.Thread(target=body, daemon=True).start()

    return run


@pytest.fixture(autouse=True)
def _bounded_process_mta() -> Iterator[None]:
    mta = process_mta()
    previous = mta.call_timeout
    mta.call_timeout = WAIT
    yield
    mta.call_timeout = previous


@pytest.fixture
def gates() -> Iterator[list[threading.Event]]:
    events = [threading.Event() for _ in range(len(ws.PLANETS))]
    yield events
    for event in events:  # never leave a worker parked
        event.set()


def make_world(where: str, gates: list[threading.Event] | None) -> Iterator[World]:
    jobs: list[threading.Event] = []
    runner = _runner(jobs)
    if where == "local":
        server = ws.LiteServices(gates=gates, runner=runner)
        yield World(where, server, server, jobs)
        return
    server_sta, client_sta = Apartment.sta("wmi-server"), Apartment.sta("wmi-client")
    server_sta.call_timeout = client_sta.call_timeout = WAIT

    def create() -> tuple[Any, bytes]:
        obj = ws.LiteServices(gates=gates, runner=runner)
        objref = marshal_interface(obj, lite.ILiteServices)
        obj.Release()
        return obj, objref

    server, objref = server_sta.run(create, timeout=WAIT)
    proxy = client_sta.run(unmarshal_interface, objref, timeout=WAIT)
    try:
        yield World(where, server, proxy, jobs, server_sta, client_sta)
    finally:
        for gate in gates or ():
            gate.set()
        client_sta.shutdown()
        server_sta.shutdown()


@pytest.fixture(params=["local", "remote"])
def world(request: pytest.FixtureRequest, gates: list[threading.Event]) -> Iterator[World]:
    """Ungated: rows flow freely."""
    yield from make_world(request.param, None)


@pytest.fixture(params=["local", "remote"])
def gated(request: pytest.FixtureRequest, gates: list[threading.Event]) -> Iterator[World]:
    """Row i waits for gates[i]: the test decides when each row may go out."""
    yield from make_world(request.param, gates)
