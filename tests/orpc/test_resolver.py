"""The OXID resolver (IObjectExporter) and ping sets ([MS-DCOM] 3.1.2.5.1, 3.2.6): our
generated client and impacket's against our resolver, and objects released when their
client stops pinging (a fake clock: no timing in tests)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from orpc_helpers import WAIT
from stream_handwritten import ICalc

from idlgen import runtime as rt
from idlgen.runtime.apartments.marshal import marshaler_for
from idlgen.runtime.rpc import orpc
from idlgen.runtime.rpc.dcom.oxid_idl import (
    OR_INVALID_OXID,
    OR_INVALID_SET,
    IObjectExporter_Client,
)
from idlgen.runtime.rpc.dcom.resolver import PingSets
from idlgen.runtime.rpc.dcom.service import DcomService

TOWER_TCP = 0x07


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Adder(rt.ComObject, ICalc):
    def __init__(self) -> None:
        super().__init__()
        self.gone = threading.Event()

    def Add(self, a: int, b: int) -> int:
        return a + b

    def _final_release_(self) -> None:
        self.gone.set()


# ------------------------------------------------------------------ ping sets alone


def test_an_oid_nobody_pings_is_released_after_the_missed_periods() -> None:
    clock, released = Clock(), []
    pings = PingSets(period=10, missed=3, clock=clock)
    pings.hold(7, lambda: released.append(7))
    clock.now += 29
    assert pings.sweep() == 0 and released == []
    clock.now += 2
    assert pings.sweep() == 1 and released == [7]
    clock.now += 100
    assert pings.sweep() == 0 and released == [7]  # released once


def test_simple_pings_keep_a_set_alive_and_silence_expires_it() -> None:
    clock, released = Clock(), []
    pings = PingSets(period=10, missed=3, clock=clock)
    for oid in (1, 2):
        pings.hold(oid, lambda oid=oid: released.append(oid))
    setid = pings.complex_ping(0, 1, [1, 2], [])
    assert setid != 0
    for _ in range(20):  # 200 s of pings every period
        clock.now += 10
        assert pings.simple_ping(setid)
        assert pings.sweep() == 0
    clock.now += 31
    assert pings.sweep() == 2 and sorted(released) == [1, 2]
    assert not pings.simple_ping(setid)  # the set is gone too


def test_an_oid_deleted_from_its_set_gets_a_grace_period_then_goes() -> None:
    clock, released = Clock(), []
    pings = PingSets(period=10, missed=3, clock=clock)
    pings.hold(5, lambda: released.append(5))
    pings.hold(6, lambda: released.append(6))
    setid = pings.complex_ping(0, 1, [5, 6], [])
    clock.now += 25
    pings.complex_ping(setid, 2, [], [5])
    clock.now += 25  # 50 s since hold: 6 is pinged, 5 still in its new grace
    assert pings.sweep() == 0
    clock.now += 10
    pings.simple_ping(setid)
    assert pings.sweep() == 1 and released == [5]


def test_pinging_an_unknown_set_is_refused() -> None:
    pings = PingSets(clock=Clock())
    assert not pings.simple_ping(12345)
    with pytest.raises(KeyError):
        pings.complex_ping(12345, 1, [1], [])


# ------------------------------------------------------------------ over the wire


@pytest.fixture
def service() -> Iterator[tuple[DcomService, Clock, str]]:
    orpc.serve("ncacn_ip_tcp:127.0.0.1[0]")  # the object endpoint ResolveOxid names
    clock = Clock()
    svc = DcomService(ping_period=10, missed_pings=3, clock=clock)
    binding = str(svc.server.listen("ncacn_ip_tcp:127.0.0.1[0]"))
    try:
        yield svc, clock, binding
    finally:
        svc.close()


def test_resolve_oxid_names_the_object_endpoint_and_irem_unknown(
    service: tuple[DcomService, Clock, str],
) -> None:
    svc, _clock, binding = service
    obj = Adder()
    export = svc.export_pinged(obj, ICalc)
    with IObjectExporter_Client(binding, timeout=WAIT) as c:
        r = c.ResolveOxid2(None, export.oxid, 1, [TOWER_TCP])
        assert r.return_ == 0
        assert (r.pComVersion.MajorVersion, r.pComVersion.MinorVersion) == (5, 7)
        home = marshaler_for(rt.current_apartment()).exporter
        assert r.pipidRemUnknown == rt.GUID.from_bytes_le(home.rem_ipid)
        text = "".join(chr(u) for u in r.ppdsaOxidBindings.aStringArray)
        port = orpc.endpoint().bindings[0].port  # type: ignore[union-attr]
        assert f"127.0.0.1[{port}]" in text
        assert c.ResolveOxid(None, 0x1234, 1, [TOWER_TCP]).return_ == OR_INVALID_OXID
        assert c.ServerAlive(None) == 0


def test_an_object_whose_client_stops_pinging_is_released(
    service: tuple[DcomService, Clock, str],
) -> None:
    svc, clock, binding = service
    obj = Adder()
    export = svc.export_pinged(obj, ICalc)
    obj.Release()  # the creator's reference: only the pinged export holds it now
    held = _export_of(export.ipid)
    with IObjectExporter_Client(binding, timeout=WAIT) as c:
        ping = c.ComplexPing(None, 0, 1, 1, 0, [export.oid], None)
        assert ping.return_ == 0 and ping.pSetId != 0
        for _ in range(6):
            clock.now += 10
            assert c.SimplePing(None, ping.pSetId) == 0
            assert svc.pings.sweep() == 0
        clock.now += 31  # three periods without a ping
        assert svc.pings.sweep() == 1
        assert held.gone.wait(WAIT)
        assert c.SimplePing(None, ping.pSetId) == OR_INVALID_SET


def _export_of(ipid: bytes) -> Any:
    stub = marshaler_for(rt.current_apartment()).exporter.lookup(ipid)
    assert stub is not None and stub.export is not None
    return stub.export.identity


def test_impacket_resolves_pings_and_asks_server_alive2(
    service: tuple[DcomService, Clock, str],
) -> None:
    dcomrt = pytest.importorskip("impacket.dcerpc.v5.dcomrt")
    transport = pytest.importorskip("impacket.dcerpc.v5.transport")
    svc, _clock, binding = service
    export = svc.export_pinged(Adder(), ICalc)
    port = binding.split("[")[1].rstrip("]")

    def exporter() -> Any:  # impacket reconnects and binds on every call
        dce = transport.DCERPCTransportFactory(f"ncacn_ip_tcp:127.0.0.1[{port}]").get_dce_rpc()
        return dcomrt.IObjectExporter(dce)

    bindings = exporter().ResolveOxid(export.oxid, [TOWER_TCP])
    object_port = orpc.endpoint().bindings[0].port  # type: ignore[union-attr]
    names = [b["aNetworkAddr"].rstrip("\0") for b in bindings]
    assert f"127.0.0.1[{object_port}]" in names
    alive = exporter().ServerAlive2()
    assert f"127.0.0.1[{port}]" in [b["aNetworkAddr"].rstrip("\0") for b in alive]
    ping = exporter().ComplexPing(0, 0, [export.oid], [])
    assert ping["pSetId"] != 0 and ping["ErrorCode"] == 0
    assert exporter().SimplePing(ping["pSetId"])["ErrorCode"] == 0


@pytest.mark.parametrize("name", ["oxid", "activation"])
def test_dcom_modules_are_generated_from_their_idl(name: str) -> None:
    """The resolver's and the activator's NDR is idlgen's own output for their IDL."""
    from pathlib import Path

    import idlgen

    repo = Path(__file__).resolve().parents[2]
    expected = idlgen.compile(repo / "idlgen" / "protocol_idl" / f"{name}.idl").output
    committed = repo / "idlgen" / "runtime" / "rpc" / "dcom" / f"{name}_idl.py"
    assert committed.read_text(encoding="utf-8") == expected, (
        f"stale: run `python -m idlgen -o idlgen/runtime/rpc/dcom idlgen/protocol_idl/{name}.idl`"
    )


def test_mutated_activation_requests_get_hresults_not_crashes(
    service: tuple[DcomService, Clock, str], caplog: pytest.LogCaptureFixture
) -> None:
    """Bit flips and cuts in the activation properties BLOB: E_INVALIDARG (or the class
    error) in the reply, no handler failure, and a good activation still works."""
    import contextlib
    import logging
    import random
    import uuid

    from idlgen.runtime.com.hresult import COMError
    from idlgen.runtime.rpc.dcom import activation_idl as A
    from idlgen.runtime.rpc.dcom.client import _request_blob

    caplog.set_level(logging.ERROR, logger="idlgen.runtime")
    svc, _clock, binding = service
    clsid = rt.GUID("5A3E0F1C-8B2D-4E6A-9C71-2B4D6F8A0C99")
    svc.classes.register(clsid, Adder)
    good = _request_blob(clsid, [rt.GUID(ICalc._iid_)])
    rng = random.Random(99)
    orpcthis = A.ORPCTHIS(A.COMVERSION(5, 7), 0, 0, rt.GUID(uuid.uuid4()), None)
    with A.IRemoteSCMActivator_Client(binding, timeout=WAIT) as scm:
        for _ in range(80):
            blob = bytearray(good)
            if rng.random() < 0.3:
                del blob[rng.randrange(len(blob)) :]
            else:
                for _ in range(rng.randrange(1, 4)):
                    blob[rng.randrange(len(blob))] ^= 1 << rng.randrange(8)
            with contextlib.suppress(COMError):
                scm.RemoteCreateInstance(
                    None, orpcthis, None, A.MInterfacePointer(len(blob), bytes(blob))
                )
        reply = scm.RemoteCreateInstance(None, orpcthis, None, A.MInterfacePointer(len(good), good))
    assert reply.ppActProperties is not None
    assert [r.getMessage() for r in caplog.records] == []
