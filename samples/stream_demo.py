"""ISimpleStream across apartments: a server in one STA, a client in another.

Run: python samples/stream_demo.py   (after `idlgen samples/simple_stream.idl -o samples`,
or let the demo compile the IDL itself)

The client makes synchronous calls, then asynchronous ones through the proxy's ICallFactory:
a read that completes, a read that times out and is canceled (the server sees the cancel),
and a read that a later write completes. Every call crosses as NDR bytes: proxy, channel,
stub, object, and back.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
import types
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from idlgen import runtime as _rt  # noqa: E402
from idlgen.runtime.apartment import Apartment  # noqa: E402
from idlgen.runtime.marshal import marshal_interface, unmarshal_interface  # noqa: E402


def load_bindings() -> types.ModuleType:
    """The generated module when it has proxies; else the hand-written one of the tests."""
    module = _generated()
    if module is not None and hasattr(module, "ISimpleStream_Proxy"):
        return module
    print("note: generated simple_stream_idl has no proxies yet; using the hand-written module")
    return _from_file("stream_handwritten", HERE.parent / "tests/apartments/stream_handwritten.py")


def _generated() -> types.ModuleType | None:
    path = HERE / "simple_stream_idl.py"
    if path.exists():
        return _from_file("simple_stream_idl", path)
    import idlgen

    source = idlgen.compile(HERE / "simple_stream.idl").output
    module = types.ModuleType("simple_stream_idl")
    exec(compile(source or "", "simple_stream_idl.py", "exec"), module.__dict__)
    return module


def _from_file(name: str, path: Path) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


bindings = load_bindings()
ISimpleStream: Any = bindings.ISimpleStream
IID_AsyncISimpleStream: Any = bindings.IID_AsyncISimpleStream


class PipeStream(_rt.CallFactory, ISimpleStream):  # type: ignore[misc]
    """Read waits for data; CallFactory runs it on a worker, so the STA keeps serving Write."""

    def __init__(self, outer: Any = None) -> None:
        super().__init__(outer)
        self.data = bytearray()
        self.cond = threading.Condition()

    def Read(self, cb: int) -> Any:
        with self.cond:
            while True:
                # Cancel first: a canceled Read must not take data meant for the next one.
                if _rt.call_canceled():
                    print("  server: the client canceled this Read")
                    raise _rt.CallCanceledError()
                if self.data:
                    break
                self.cond.wait(0.05)  # re-check for a cancel now and then
            chunk = bytes(self.data[:cb])
            del self.data[:cb]
        return chunk, len(chunk)

    def Write(self, pv: bytes, cb: int) -> int:
        with self.cond:
            self.data += pv[:cb]
            self.cond.notify_all()
        return cb


def main() -> None:
    server = Apartment.sta("server")

    def create() -> bytes:
        stream = PipeStream()
        objref = marshal_interface(stream, ISimpleStream)
        stream.Release()  # the apartment's export owns it now
        return objref

    objref = server.run(create)
    with Apartment.enter_sta("client") as client:
        client.call_timeout = 10.0
        stream = unmarshal_interface(objref)
        print(f"client holds {stream!r}")

        print("synchronous:")
        print("  Write ->", stream.Write(b"hello, apartments", 17))
        print("  Read(5) ->", stream.Read(5))

        factory = stream.QueryInterface(_rt.ICallFactory)
        call = factory.CreateCall(IID_AsyncISimpleStream, None, IID_AsyncISimpleStream)

        print("asynchronous:")
        call.Begin_Read(12)
        print("  Begin_Read(12) returned; Finish_Read ->", call.Finish_Read())

        call.Begin_Read(8)  # nothing left to read: the server waits for data
        if not call.wait(0.2):
            print("  no data after 0.2 s: Cancel ->", hex(call.Cancel(0)))
        try:
            call.Finish_Read()
        except _rt.CallCanceledError as exc:
            print(f"  Finish_Read raised {exc!r}")

        call.Begin_Read(4)
        print("  Begin_Read(4) pending; a synchronous Write completes it")
        stream.Write(b"more", 4)
        if call.wait(10.0):
            print("  Finish_Read ->", call.Finish_Read())

        call.Release()
        factory.Release()
        stream.Release()
    server.shutdown()
    print("done")


if __name__ == "__main__":
    main()
