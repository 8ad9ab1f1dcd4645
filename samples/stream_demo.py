"""ISimpleStream across apartments: a server in one STA, a client in another.

Run: python samples/stream_demo.py   (after `idlgen samples/simple_stream.idl -o samples`,
or let the demo compile the IDL itself)

The client makes synchronous calls, then asynchronous ones through the proxy's ICallFactory:
a read that completes, a read that times out and is canceled (the server sees the cancel),
and a read that a later write completes. Every call crosses as NDR bytes: proxy, channel,
stub, object, and back.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from stream_server import PipeStream, bindings  # noqa: E402 (one pipe for both samples)

from idlgen import runtime as _rt  # noqa: E402
from idlgen.runtime.apartments.apartment import Apartment  # noqa: E402
from idlgen.runtime.apartments.marshal import marshal_interface, unmarshal_interface  # noqa: E402

ISimpleStream: Any = bindings.ISimpleStream
IID_AsyncISimpleStream: Any = bindings.IID_AsyncISimpleStream


def main() -> None:
    server = Apartment.sta("server")
    served: list[PipeStream] = []

    def create() -> bytes:
        stream = PipeStream()
        served.append(stream)
        objref = marshal_interface(stream, ISimpleStream)
        stream.Release()  # the apartment's export owns it now
        return objref

    objref = server.run(create)
    with Apartment.enter_sta("client") as client:
        client.call_timeout = 10.0
        stream = unmarshal_interface(objref)
        print(f"client holds {stream!r}")

        # Each line is one string: the server's thread prints too, between our writes.
        print("synchronous:")
        print(f"  Write -> {stream.Write(b'hello, apartments', 17)}")
        print(f"  Read(5) -> {stream.Read(5)}")

        factory = stream.QueryInterface(_rt.ICallFactory)
        call = factory.CreateCall(IID_AsyncISimpleStream, None, IID_AsyncISimpleStream)

        print("asynchronous:")
        call.Begin_Read(12)
        print(f"  Begin_Read(12) returned; Finish_Read -> {call.Finish_Read()}")

        call.Begin_Read(8)  # nothing left to read: the server waits for data
        served[0].waiting.wait(10.0)  # it is in Read (canceled before, it would not run)
        if not call.wait(0.2):
            print(f"  no data after 0.2 s: Cancel -> {call.Cancel(0):#x}")
        try:
            call.Finish_Read()
        except _rt.CallCanceledError as exc:
            print(f"  Finish_Read raised {exc!r}")
        served[0].saw_cancel.wait(10.0)  # the server's Read ends within 50 ms of it

        call.Begin_Read(4)
        print("  Begin_Read(4) pending; a synchronous Write completes it")
        stream.Write(b"more", 4)
        if call.wait(10.0):
            print(f"  Finish_Read -> {call.Finish_Read()}")

        call.Release()
        factory.Release()
        stream.Release()
    server.shutdown()
    print("done")


if __name__ == "__main__":
    main()
