"""Demo: WMI-style calls against samples/wmi_server.py, in one apartment and across two.

Shows an asynchronous query with a progress bar (WBEM_FLAG_SEND_STATUS), a cancelled query
(CancelAsyncCall), and a semisynchronous enumeration (WBEM_FLAG_RETURN_IMMEDIATELY, then
Next). Run: `python samples/wmi_client.py`.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import wmi_server as ws

from idlgen.runtime import wmi
from idlgen.runtime.apartment import Apartment
from idlgen.runtime.marshal import marshal_interface, unmarshal_interface

WAIT = 10.0
QUERY = "SELECT * FROM Planet"
Sink = wmi.sink_class(ws.lite.ILiteObjectSink)


def progress_bar(done: int, total: int) -> None:
    width = 24
    filled = width * done // max(1, total)
    print(f"\r  [{'#' * filled}{'.' * (width - filled)}] {done}/{total}", end="", flush=True)


def async_query(services: Any) -> None:
    sink = Sink(on_progress=progress_bar)
    services.ExecQueryAsync("WQL", QUERY, wmi.WBEM_FLAG_SEND_STATUS, sink)
    sink.wait(WAIT)
    print(f"\n  status 0x{sink.status:08X}: {', '.join(o.Get('Name') for o in sink.objects)}")


def cancelled_query(services: Any, gates: list[threading.Event]) -> None:
    sink = Sink()
    services.ExecQueryAsync("WQL", QUERY, 0, sink)
    services.CancelAsyncCall(sink)  # the rows are held back by the gates: nothing went out
    for gate in gates:
        gate.set()
    print(f"  cancelled: status 0x{sink.status:08X}, {len(sink.objects)} objects")


def semisync_query(services: Any) -> None:
    flags = wmi.WBEM_FLAG_RETURN_IMMEDIATELY | wmi.WBEM_FLAG_FORWARD_ONLY
    enum = services.ExecQuery("WQL", "SELECT * FROM Planet WHERE Kind = 'giant'", flags)
    for obj in wmi.iterate(enum, batch=2):
        print("  " + obj.GetObjectText(0))
    enum.Release()


def in_one_apartment() -> None:
    print("one apartment:")
    gates = [threading.Event() for _ in ws.PLANETS]
    async_query(ws.LiteServices())
    cancelled_query(ws.LiteServices(gates=gates), gates)
    semisync_query(ws.LiteServices())


def across_apartments() -> None:
    print("across apartments (server STA, client STA; the sink is called back through a proxy):")
    server, client = Apartment.sta("server"), Apartment.sta("client")
    server.call_timeout = client.call_timeout = WAIT
    gates = [threading.Event() for _ in ws.PLANETS]
    try:
        for make, demo in (
            (ws.LiteServices, async_query),
            (lambda: ws.LiteServices(gates=gates), lambda s: cancelled_query(s, gates)),
            (ws.LiteServices, semisync_query),
        ):
            objref = server.run(_serve, make)
            client.run(lambda ref=objref, run=demo: run(unmarshal_interface(ref)), timeout=WAIT)
    finally:
        for gate in gates:
            gate.set()
        client.shutdown()
        server.shutdown()


def _serve(make: Any) -> bytes:
    obj = make()
    objref = marshal_interface(obj, ws.lite.ILiteServices)
    obj.Release()
    return objref


if __name__ == "__main__":
    in_one_apartment()
    across_apartments()
