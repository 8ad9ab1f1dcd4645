"""A DCOM client process for the ping tests: activates each CLSID given at the resolver on
127.0.0.1[PORT], prints the OIDs (one line), then answers stdin lines and exits when stdin
closes. Pings every 0.1 s.

- "release N": releases proxy N ("released N").
- "sink N": asks proxy N (an IEventSource) for an object with GetSink, an [out] pointer,
  and keeps it ("sink OID").
- "unsink K": releases the K-th object "sink" gave ("unsunk K").
- "connect TEXT": orpc.connect to a published object ("connected OID").
- "held": one ping now, then the OIDs the pinger holds ("held OID...").
- "stop": no more pings ("stopped"); the proxies stay, so do their connections.
"""

from __future__ import annotations

import sys

from stream_handwritten import ICalc, IEventSource

from idlgen.runtime.rpc import orpc
from idlgen.runtime.rpc.dcom import client as dcom_client
from idlgen.runtime.rpc.dcom.client import create_instance

PERIOD = 0.1


def main(port: int, clsids: list[str]) -> None:
    proxies = [
        create_instance("127.0.0.1", clsid, [ICalc], port=port, ping_period=PERIOD)[0]
        for clsid in clsids
    ]
    pinger = dcom_client._pingers[f"ncacn_ip_tcp:127.0.0.1[{port}]"]
    print(" ".join(str(p._mgr.oid) for p in proxies), flush=True)
    sinks = []
    for line in sys.stdin:
        verb, _, arg = line.strip().partition(" ")
        if verb == "release":
            proxies[int(arg)].Release()
            print(f"released {int(arg)}", flush=True)
        elif verb == "sink":
            source = proxies[int(arg)].QueryInterface(IEventSource)
            sinks.append(source.GetSink())
            source.Release()
            print(f"sink {sinks[-1]._mgr.oid}", flush=True)
        elif verb == "unsink":
            sinks[int(arg)].Release()
            print(f"unsunk {int(arg)}", flush=True)
        elif verb == "connect":
            sinks.append(orpc.connect(arg, ICalc))
            print(f"connected {sinks[-1]._mgr.oid}", flush=True)
        elif verb == "held":
            pinger.ping()
            print(" ".join(["held", *map(str, sorted(pinger.held()))]), flush=True)
        elif verb == "stop":
            pinger.stop()
            print("stopped", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2:])
