"""Demo: WMI-style calls against samples/wmi_server.py, in one apartment and across two.

Shows an asynchronous query with a progress bar (WBEM_FLAG_SEND_STATUS), a cancelled query
(CancelAsyncCall), and a semisynchronous enumeration (WBEM_FLAG_RETURN_IMMEDIATELY, then
Next). Run: `python samples/wmi_client.py`. Across processes, start
`python samples/wmi_server.py --binding 'ncacn_ip_tcp:127.0.0.1[0]'` and pass what it prints
to `python samples/wmi_client.py --connect 'IPID@ncacn_ip_tcp:127.0.0.1[PORT]'`: the query
there cancelled is an endless one (`SELECT * FROM Tick`).
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import wmi_server as ws

from idlgen.runtime import wmi
from idlgen.runtime.apartments.apartment import Apartment
from idlgen.runtime.apartments.marshal import marshal_interface, unmarshal_interface
from idlgen.runtime.com.hresult import COMError

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


def cancelled_ticker(services: Any, rows: int = 3) -> None:
    """`SELECT * FROM Tick` never ends by itself: take a few rows, then CancelAsyncCall."""
    enough = threading.Event()
    sink = Sink(on_object=lambda obj: _collect(sink, obj, rows, enough))
    services.ExecQueryAsync("WQL", f"SELECT * FROM {ws.TICKER}", 0, sink)
    if not enough.wait(WAIT):
        print(f"  only {len(sink.objects)} ticks came in {WAIT} s")
    services.CancelAsyncCall(sink)
    sink.wait(WAIT)
    names = ", ".join(obj.Get("Name") for obj in sink.objects[:rows])
    cancelled = " (WBEM_E_CALL_CANCELLED)" if sink.status == wmi.WBEM_E_CALL_CANCELLED else ""
    print(f"  got {names}; CancelAsyncCall -> status 0x{sink.status or 0:08X}{cancelled}")


def _collect(sink: Any, obj: Any, rows: int, enough: threading.Event) -> None:
    obj.AddRef()  # kept after Indicate returns: COM's rule is to AddRef what you keep
    sink.objects.append(obj)  # runs in this process, called by the server across processes
    if len(sink.objects) >= rows:
        enough.set()


def across_processes(published: str) -> None:
    """Against `wmi_server.py --binding ...` in another process; the sinks live here."""
    from idlgen.runtime.rpc import orpc

    print("across processes (the server calls this process's sinks back over ORPC):")
    services = orpc.connect(published, ws.lite.ILiteServices)
    try:
        async_query(services)
        cancelled_ticker(services)
        semisync_query(services)
    finally:
        services.Release()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="WMI-style calls against wmi_server.py.")
    parser.add_argument("--connect", metavar="PUBLISHED", help="what wmi_server.py printed")
    args = parser.parse_args(argv)
    if args.connect is None:
        in_one_apartment()
        across_apartments()
        return 0
    try:
        across_processes(args.connect)
    except (ValueError, OSError, COMError) as exc:
        print(f"wmi_client: {exc}", file=sys.stderr)
        return 1
    print("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
