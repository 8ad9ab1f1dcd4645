"""A DCOM client process for the ping tests: activates each CLSID given at the resolver on
127.0.0.1[PORT], prints the OIDs (one line), then releases proxy N for each stdin line
"release N" (answering "released N") and exits when stdin closes. Pings every 0.1 s."""

from __future__ import annotations

import sys

from stream_handwritten import ICalc

from idlgen.runtime.rpc.dcom.client import create_instance

PERIOD = 0.1


def main(port: int, clsids: list[str]) -> None:
    proxies = [
        create_instance("127.0.0.1", clsid, [ICalc], port=port, ping_period=PERIOD)[0]
        for clsid in clsids
    ]
    print(" ".join(str(p._mgr.oid) for p in proxies), flush=True)
    for line in sys.stdin:
        verb, _, index = line.partition(" ")
        if verb == "release":
            proxies[int(index)].Release()
            print(f"released {int(index)}", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2:])
