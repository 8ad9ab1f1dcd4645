"""The client's OXID table and ResolveOxid2 ([MS-DCOM] 3.2.4.4, 3.1.2.5.1.1) against a server
whose OBJREFs name its resolver, as Windows' do (`objref_bindings="resolver"`).

The server (resolver, activation, objects) runs here; the activated object hands out
objects that live in another apartment of the server (an STA: another OXID, whose
IRemUnknown IPID is random in that mode, so only ResolveOxid2 tells it). The idlgen client
is a child process (dcom_oxid_client.py)."""

from __future__ import annotations

import contextlib
import secrets
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from typing import ClassVar

import pytest
from orpc_helpers import HERE, WAIT, ask, first_line, spawn, stop
from stream_handwritten import ICalc, ICallback, IEventSource
from test_resolver import Clock
from waiting import until

from idlgen import runtime as rt
from idlgen.runtime.apartments.apartment import Apartment
from idlgen.runtime.apartments.marshal import marshal_interface, marshaler_for, unmarshal_interface
from idlgen.runtime.rpc import orpc
from idlgen.runtime.rpc.dcom.service import DcomService

SOURCE = "7B6D1A10-0000-4000-8000-00000000F101"
OR_INVALID_OXID_HRESULT = "0x80070776"


class Sink(rt.ComObject, ICallback, ICalc):
    def __init__(self) -> None:
        super().__init__()
        self.gone = threading.Event()
        self.seen: list[int] = []

    def Notify(self, v: int) -> None:
        self.seen.append(v)

    def Add(self, a: int, b: int) -> int:
        return a + b

    def _final_release_(self) -> None:
        self.gone.set()


class Source(rt.ComObject, IEventSource):
    """GetSink gives a new Sink made in `Source.sta` (another OXID than this object's)."""

    sta: ClassVar[Apartment | None] = None
    made: ClassVar[list[Sink]] = []

    def GetSink(self) -> object:
        sta = Source.sta
        assert sta is not None

        def make() -> bytes:
            sink = Sink()
            Source.made.append(sink)
            try:
                return marshal_interface(sink, ICallback)  # exported from the STA
            finally:
                sink.Release()

        return unmarshal_interface(sta.run(make), ICallback)  # a proxy: the [out] names the STA


@pytest.fixture(params=["resolver", "endpoint"])
def server(request: pytest.FixtureRequest) -> Iterator[tuple[DcomService, int, Apartment]]:
    """Both modes: OBJREFs naming the resolver (Windows) and the object endpoint (default)."""
    with _serving(request.param) as served:
        yield served


@pytest.fixture
def windows_server() -> Iterator[tuple[DcomService, int, Apartment]]:
    with _serving("resolver") as served:
        yield served


@contextlib.contextmanager
def _serving(mode: str) -> Iterator[tuple[DcomService, int, Apartment]]:
    orpc.serve("ncacn_ip_tcp:127.0.0.1[0]")
    svc = DcomService(ping_period=10, missed_pings=3, clock=Clock(), objref_bindings=mode)
    svc.classes.register(SOURCE, Source)
    sta = Apartment.sta("oxid-test")
    Source.sta, Source.made = sta, []
    binding = svc.server.listen("ncacn_ip_tcp:127.0.0.1[0]")
    try:
        yield svc, int(binding.endpoint), sta
    finally:
        svc.close()
        sta.shutdown()


@contextlib.contextmanager
def _client(port: int) -> Iterator[tuple[subprocess.Popen[str], int]]:
    proc = spawn([sys.executable, str(HERE / "dcom_oxid_client.py"), str(port), SOURCE])
    try:
        yield proc, int(first_line(proc).split()[0])
    finally:
        stop(proc)


def _pinged(svc: DcomService, oid: int) -> bool:
    return any(oid in oids for oids, _ in svc.pings.snapshot().values())


def test_an_out_pointer_of_another_oxid_is_resolved_once_called_pinged_and_released(
    server: tuple[DcomService, int, Apartment],
) -> None:
    svc, port, sta = server
    windows_mode = svc.objref_bindings == "resolver"
    conventional = uuid.UUID(int=(sta.oxid << 64) | 1).bytes_le
    with _client(port) as (proc, source_oxid):
        first = ask(proc, "sink").split()
        assert int(first[1]) == sta.oxid != source_oxid
        # unmarshaling asked nobody: the OXID is resolved when the proxy is first used
        assert sta.oxid not in svc.resolver.resolutions
        assert ask(proc, "notify 0 7") == "notified 0"
        assert Source.made[0].seen == [7]
        assert ask(proc, "add 0 2 3") == "added 5"  # RemQueryInterface, then the call
        second = ask(proc, "sink").split()
        assert int(second[1]) == sta.oxid
        assert ask(proc, "notify 1 8") == "notified 0"
        resolved = [int(x) for x in ask(proc, "resolved").split()[1:]]
        if windows_mode:
            # the STA's IRemUnknown is not where the OXID convention would put it: the
            # client used the IPID ResolveOxid2 gave, once for the OXID (the table caches)
            assert marshaler_for(sta).exporter.rem_ipid != conventional
            assert svc.resolver.resolutions == {sta.oxid: 1}
            assert resolved == [sta.oxid]
        else:  # OBJREFs name the object endpoint: called there, nothing resolved
            assert svc.resolver.resolutions == {} and resolved == []
        sink_oids = [int(first[2]), int(second[2])]
        until(lambda: all(_pinged(svc, oid) for oid in sink_oids), WAIT, "both sinks pinged")
        assert ask(proc, "release 0") == "released 0"
        assert Source.made[0].gone.wait(WAIT), "RemRelease never reached the STA's IRemUnknown"
        assert not Source.made[1].gone.is_set()
        until(lambda: not _pinged(svc, sink_oids[0]), WAIT, "DelFromSet of the released sink")
        assert _pinged(svc, sink_oids[1])
        assert proc.poll() is None  # released by RemRelease, not by the client going away


def test_an_oxid_the_resolver_does_not_know_is_a_comerror_at_use(
    windows_server: tuple[DcomService, int, Apartment],
) -> None:
    svc, port, _sta = windows_server
    oxid = secrets.randbits(63) | 1
    with _client(port) as (proc, _source_oxid):
        assert ask(proc, f"unknown {oxid}") == (
            f"unknown {OR_INVALID_OXID_HRESULT} {OR_INVALID_OXID_HRESULT}"
        )
        assert svc.resolver.resolutions == {oxid: 1}  # the refusal is final: asked once
        assert proc.poll() is None


def test_an_unreachable_resolver_is_a_comerror_at_use_and_asked_again(
    windows_server: tuple[DcomService, int, Apartment],
) -> None:
    svc, port, _sta = windows_server
    with socket.socket() as probe:  # a port nobody listens on once closed
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    with _client(port) as (proc, _source_oxid):
        unavailable = "0x800706BA"  # RPC_S_SERVER_UNAVAILABLE, at each use (not cached)
        answer = ask(proc, f"unknown {secrets.randbits(63) | 1} {dead}")
        assert answer == f"unknown {unavailable} {unavailable}"
        assert proc.poll() is None and svc.resolver.resolutions == {}
