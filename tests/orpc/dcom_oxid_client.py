"""A DCOM client process for the OXID resolution tests: activates the CLSID given at the
resolver on 127.0.0.1[PORT], prints the activated object's OXID and OID (one line), then
answers stdin lines and exits when stdin closes. Pings every 0.1 s.

- "sink": GetSink on the activated object (an [out] pointer), kept ("sink OXID OID").
- "notify K V": ICallback::Notify on the K-th sink ("notified HRESULT").
- "add K A B": QueryInterface(ICalc) on the K-th sink, then Add ("added SUM").
- "release K": releases the K-th sink ("released K").
- "held": one ping now, then the OIDs the pinger holds ("held OID...").
- "resolved": the OXIDs this process asked a resolver about ("resolved OXID...").
- "unknown OXID [PORT]": an OBJREF of that OXID naming the resolver (or 127.0.0.1[PORT]),
  unmarshaled then called twice ("unknown HRESULT HRESULT"; "unknown ok" if a call worked).
"""

from __future__ import annotations

import secrets
import sys
import uuid

from stream_handwritten import ICalc, ICallback, IEventSource

from idlgen.runtime import ndr
from idlgen.runtime.apartments.marshal import unmarshal_interface
from idlgen.runtime.com.hresult import COMError
from idlgen.runtime.ndr.objref import DualStringArray, StringBinding
from idlgen.runtime.rpc.dcom import client as dcom_client
from idlgen.runtime.rpc.dcom.client import create_instance

PERIOD = 0.1


def _unknown(port: int, oxid: int) -> str:
    std = ndr.StdObjRef(0, 1, oxid, secrets.randbits(63) | 1, uuid.uuid4())
    dsa = DualStringArray((StringBinding(0x07, f"127.0.0.1[{port}]"),))
    data = ndr.encode_objref(ndr.ObjRef(ndr.OBJREF_STANDARD, ICalc._iid_.uuid, std, dsa))
    calc = unmarshal_interface(data, ICalc)  # nothing asked yet: unmarshaling stays local
    codes = []
    for _ in range(2):
        try:
            calc.Add(1, 2)
            return "unknown ok"
        except COMError as exc:
            codes.append(f"0x{exc.hresult & 0xFFFFFFFF:08X}")
    calc.Release()
    return "unknown " + " ".join(codes)


def main(port: int, clsid: str) -> None:
    (source,) = create_instance("127.0.0.1", clsid, [IEventSource], port=port, ping_period=PERIOD)
    pinger = dcom_client._pingers[f"ncacn_ip_tcp:127.0.0.1[{port}]"]
    print(f"{source._mgr.oxid} {source._mgr.oid}", flush=True)
    sinks = []
    for line in sys.stdin:
        verb, *args = line.split()
        if verb == "sink":
            sinks.append(source.GetSink())
            print(f"sink {sinks[-1]._mgr.oxid} {sinks[-1]._mgr.oid}", flush=True)
        elif verb == "notify":
            sink = sinks[int(args[0])].QueryInterface(ICallback)
            print(f"notified {sink.Notify(int(args[1]))}", flush=True)
            sink.Release()
        elif verb == "add":
            calc = sinks[int(args[0])].QueryInterface(ICalc)
            print(f"added {calc.Add(int(args[1]), int(args[2]))}", flush=True)
            calc.Release()
        elif verb == "release":
            sinks[int(args[0])].Release()
            print(f"released {args[0]}", flush=True)
        elif verb == "held":
            pinger.ping()
            print(" ".join(["held", *map(str, sorted(pinger.held()))]), flush=True)
        elif verb == "resolved":
            print(" ".join(["resolved", *map(str, dcom_client._resolved)]), flush=True)
        elif verb == "unknown":
            where = int(args[1]) if len(args) > 1 else port
            print(_unknown(where, int(args[0])), flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
