"""A DCOM client's ping set follows what it holds ([MS-DCOM] 3.2.6.1): releasing the last
proxy to an object sends its OID in DelFromSet, and the server then reclaims the OID after
the ping period while objects still pinged (by this client or by impacket) stay. Objects a
client gets as [out] pointers of calls are pinged too, and reclaimed when pings stop.

The server (resolver and objects) runs here with a fake clock, so expiry is decided by the
test, not by timing; the idlgen client is a child process (dcom_ping_client.py) that pings
every 0.1 s of real time, and impacket runs in this process."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from orpc_helpers import HERE, WAIT, ask, first_line, server_process, spawn, stop
from stream_handwritten import ICalc, ICallback, IEventSource
from test_resolver import Adder, Clock
from waiting import until

from idlgen import runtime as rt
from idlgen.runtime.rpc import orpc
from idlgen.runtime.rpc.dcom.resolver import PingSets
from idlgen.runtime.rpc.dcom.service import DcomService

FRESH = "7B6D1A10-0000-4000-8000-00000000F001"  # a new object per activation
SHARED = "7B6D1A10-0000-4000-8000-00000000F002"  # the same object for every activation
MAKER = "7B6D1A10-0000-4000-8000-00000000F003"  # hands out new objects as [out] pointers


class Sink(rt.ComObject, ICallback):
    def __init__(self) -> None:
        super().__init__()
        self.gone = threading.Event()

    def Notify(self, v: int) -> int:
        return v

    def _final_release_(self) -> None:
        self.gone.set()


class Maker(rt.ComObject, ICalc, IEventSource):
    """GetSink gives a new Sink each time; `made` keeps them for the test to watch."""

    made: ClassVar[list[Sink]] = []

    def Add(self, a: int, b: int) -> int:
        return a + b

    def GetSink(self) -> Sink:
        sink = Sink()
        Maker.made.append(sink)
        return sink


@pytest.fixture
def server() -> Iterator[tuple[DcomService, Clock, int, Adder]]:
    orpc.serve("ncacn_ip_tcp:127.0.0.1[0]")
    clock = Clock()
    svc = DcomService(ping_period=10, missed_pings=3, clock=clock)
    shared = Adder()

    def the_shared_one() -> Adder:
        shared.AddRef()
        return shared

    svc.classes.register(FRESH, Adder)
    svc.classes.register(SHARED, the_shared_one)
    svc.classes.register(MAKER, Maker)
    Maker.made.clear()
    binding = svc.server.listen("ncacn_ip_tcp:127.0.0.1[0]")
    try:
        yield svc, clock, int(binding.endpoint), shared
    finally:
        svc.close()


@contextlib.contextmanager
def _client(port: int, *clsids: str) -> Iterator[tuple[subprocess.Popen[str], list[int]]]:
    proc = spawn([sys.executable, str(HERE / "dcom_ping_client.py"), str(port), *clsids])
    try:
        yield proc, [int(oid) for oid in first_line(proc).split()]
    finally:
        stop(proc)


def _release(proc: subprocess.Popen[str], index: int) -> None:
    assert ask(proc, f"release {index}") == f"released {index}"


def _sets_with(pings: PingSets, oid: int) -> int:
    return sum(oid in oids for oids, _ in pings.snapshot().values())


def _pinged_since(pings: PingSets, oid: int, when: float) -> bool:
    return any(oid in oids and last >= when for oids, last in pings.snapshot().values())


def test_a_released_proxy_leaves_the_ping_set_and_the_server_reclaims_its_oid(
    server: tuple[DcomService, Clock, int, Adder],
) -> None:
    svc, clock, port, _shared = server
    with _client(port, FRESH, FRESH) as (proc, (gone, kept)):
        until(lambda: _sets_with(svc.pings, gone) and _sets_with(svc.pings, kept), WAIT, "pinged")
        _release(proc, 0)
        until(lambda: not _sets_with(svc.pings, gone), WAIT, "DelFromSet of the released OID")
        assert _sets_with(svc.pings, kept) == 1  # the set lives on with the other object
        clock.now += 31  # the released OID's grace is over
        until(lambda: _pinged_since(svc.pings, kept, clock.now), WAIT, "a ping after the grace")
        assert svc.pings.sweep() == 1
        assert gone not in svc.pings.held() and kept in svc.pings.held()


def test_an_out_pointer_is_pinged_left_with_delfromset_and_reclaimed_when_pings_stop(
    server: tuple[DcomService, Clock, int, Adder],
) -> None:
    """An object that reaches the client as an [out] pointer of a call on an activated
    object joins the client's ping set; releasing it sends DelFromSet; a client that stops
    pinging (its connection still open, its proxy still held) loses it after the period."""
    svc, clock, port, _shared = server
    with _client(port, MAKER) as (proc, (maker,)):
        first = int(ask(proc, "sink 0").split()[1])
        assert first != maker
        until(lambda: _sets_with(svc.pings, first) == 1, WAIT, "the [out] object's OID pinged")
        assert ask(proc, "unsink 0") == "unsunk 0"
        until(lambda: not _sets_with(svc.pings, first), WAIT, "DelFromSet of the released object")
        assert Maker.made[0].gone.wait(WAIT)  # its RemRelease gave it back at once
        second = int(ask(proc, "sink 0").split()[1])
        until(lambda: _sets_with(svc.pings, second) == 1, WAIT, "the second [out] object pinged")
        assert ask(proc, "stop") == "stopped"
        kept = Maker.made[1]
        assert svc.pings.sweep() == 0 and not kept.gone.is_set()  # the set still protects it
        clock.now += 31  # three missed periods: the set expires
        svc.pings.sweep()
        assert kept.gone.wait(WAIT), "the server never reclaimed the unpinged [out] object"
        assert proc.poll() is None  # reclaimed by pings, not by the client going away


def test_objects_of_a_server_no_activation_named_are_not_pinged(
    server: tuple[DcomService, Clock, int, Adder],
) -> None:
    """orpc.connect to another process's published object (no resolver behind it): its
    references stay tied to the connection and the pinger leaves it out."""
    _svc, _clock, port, _shared = server
    with (
        server_process("ncacn_ip_tcp:127.0.0.1[0]") as (_other, published),
        _client(port, FRESH) as (proc, (activated,)),
    ):
        connected = int(ask(proc, "connect " + published).split()[1])
        held = {int(oid) for oid in ask(proc, "held").split()[1:]}
        assert activated in held and connected not in held


def test_pinging_made_up_oids_leaves_nothing_for_the_resolver_to_keep(
    server: tuple[DcomService, Clock, int, Adder],
) -> None:
    svc, _clock, _port, _shared = server
    result = svc.resolver.ComplexPing(None, 0, 1, 2, 0, [0x1234, 0x5678], [])
    assert result.return_ == 0
    assert svc.pings.held() == frozenset()  # no release kept for objects nobody holds


def test_an_object_of_this_process_activated_by_itself_is_not_pinged(
    server: tuple[DcomService, Clock, int, Adder],
) -> None:
    svc, _clock, port, _shared = server
    from idlgen.runtime.rpc.dcom import client as dcom_client

    (calc,) = dcom_client.create_instance("127.0.0.1", FRESH, [ICalc], port=port)
    try:
        assert calc.Add(2, 3) == 5
        pinger = dcom_client._pingers[f"ncacn_ip_tcp:127.0.0.1[{port}]"]
        assert pinger.held() == set() and svc.pings.snapshot() == {}
    finally:
        calc.Release()


def test_impacket_keeps_an_object_another_client_dropped_from_its_set(
    server: tuple[DcomService, Clock, int, Adder],
) -> None:
    """One object activated by impacket and by idlgen's client: the same OID in two sets.
    idlgen's DelFromSet leaves impacket's set alone; the OID goes only when impacket stops."""
    dcomrt = pytest.importorskip("impacket.dcerpc.v5.dcomrt")
    rpcrt = pytest.importorskip("impacket.dcerpc.v5.rpcrt")
    from impacket.uuid import string_to_bin

    svc, clock, port, _shared = server
    target = f"127.0.0.1[{port}]"
    dcom = dcomrt.DCOMConnection(target, authLevel=rpcrt.RPC_C_AUTHN_LEVEL_NONE)
    # impacket files its OIDs under the host name but its connections under the target
    dcomrt.DCOMConnection.PORTMAPS["127.0.0.1"] = dcom.get_dce_rpc()
    try:
        iface = dcom.CoCreateInstanceEx(
            string_to_bin(SHARED), string_to_bin(str(ICalc._iid_).strip("{}"))
        )
        oid = iface.get_oid()
        _impacket_ping(dcomrt)  # ComplexPing: impacket's set holds the OID
        with _client(port, SHARED) as (proc, (same,)):
            assert same == oid
            until(lambda: _sets_with(svc.pings, oid) == 2, WAIT, "both clients pinging the OID")
            _release(proc, 0)
            until(lambda: _sets_with(svc.pings, oid) == 1, WAIT, "idlgen's DelFromSet")
        clock.now += 31
        _impacket_ping(dcomrt)  # SimplePing: impacket still holds it
        assert svc.pings.sweep() == 0 and oid in svc.pings.held()
        clock.now += 31  # impacket stops pinging: its set and the OID go
        assert svc.pings.sweep() == 1 and oid not in svc.pings.held()
    finally:
        dcomrt.DCOMConnection.PORTMAPS.pop("127.0.0.1", None)
        dcomrt.DCOMConnection.OID_SET.pop("127.0.0.1", None)
        dcomrt.DCOMConnection.OID_ADD.pop("127.0.0.1", None)
        with contextlib.suppress(KeyError):
            dcom.disconnect()


def _impacket_ping(dcomrt: Any) -> None:
    """One impacket ping round, now. pingServer re-arms a 120 s `threading.Timer` that is
    not a daemon when started from the main thread (it would keep pytest from exiting, and
    ping on its own): cancel it, the test pings by hand."""
    dcomrt.DCOMConnection.pingServer()
    timer = dcomrt.DCOMConnection.PINGTIMER
    if timer is not None:
        timer.cancel()
        dcomrt.DCOMConnection.PINGTIMER = None


def test_an_oid_exported_twice_keeps_both_releases() -> None:
    """The same object activated twice: both exports' references go back when it expires."""
    clock, released = Clock(), []
    pings = PingSets(period=10, missed=3, clock=clock)
    pings.hold(9, lambda: released.append("first"))
    pings.hold(9, lambda: released.append("second"))
    clock.now += 31
    assert pings.sweep() == 1 and released == ["first", "second"]


def test_an_oid_deleted_from_one_set_stays_while_another_set_pings_it() -> None:
    clock, released = Clock(), []
    pings = PingSets(period=10, missed=3, clock=clock)
    pings.hold(4, lambda: released.append(4))
    one, other = pings.complex_ping(0, 1, [4], []), pings.complex_ping(0, 1, [4], [])
    pings.complex_ping(one, 2, [], [4])
    for _ in range(5):
        clock.now += 10
        pings.simple_ping(other)
        pings.simple_ping(one)
        assert pings.sweep() == 0
    clock.now += 31
    assert pings.sweep() == 1 and released == [4]
