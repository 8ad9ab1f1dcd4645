"""ISimpleStream from another process: the client half of samples/stream_server.py.

Run: python samples/stream_client.py 'IPID@ncacn_ip_tcp:127.0.0.1[PORT]'
     (the string the server printed)

Synchronous Write and Read, then asynchronous calls through the proxy's ICallFactory: a
Read that completes, a Read with no data that is canceled (co_cancel on the wire; the
server's Read sees it and the call ends RPC_E_CALL_CANCELED), and a Read that a later Write
completes. Every line it prints is one step, so the output reads as a transcript.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stream_server import bindings  # the interface classes the server uses

from idlgen import runtime as _rt
from idlgen.runtime.rpc import orpc

ISimpleStream: Any = bindings.ISimpleStream
IID_AsyncISimpleStream: Any = bindings.IID_AsyncISimpleStream
WAIT = 10.0  # how long a step may take before the client gives up on it


def synchronous(stream: Any) -> None:
    print("synchronous:")
    print("  Write(b'hello, processes', 16) ->", stream.Write(b"hello, processes", 16))
    print("  Read(5) ->", tuple(stream.Read(5)))


def asynchronous(stream: Any) -> None:
    print("asynchronous:")
    factory = stream.QueryInterface(_rt.ICallFactory)
    call = factory.CreateCall(IID_AsyncISimpleStream, None, IID_AsyncISimpleStream)
    try:
        call.Begin_Read(11)
        print("  Begin_Read(11) sent; Finish_Read ->", tuple(call.Finish_Read()))
        cancel_a_read(call)
        call.Begin_Read(4)
        print("  Begin_Read(4) pending; a synchronous Write completes it")
        stream.Write(b"more", 4)
        if call.wait(WAIT):
            print("  Finish_Read ->", tuple(call.Finish_Read()))
        else:
            print("  Read still pending after the Write")
    finally:
        call.Release()
        factory.Release()


def cancel_a_read(call: Any) -> None:
    """Nothing is left to read, so the server's Read waits -- until we cancel it."""
    call.Begin_Read(8)
    if call.wait(0.2):
        print("  unexpected: Read(8) completed with", tuple(call.Finish_Read()))
        return
    print(f"  Read(8) still waiting after 0.2 s: Cancel -> 0x{call.Cancel(0) & 0xFFFFFFFF:08X}")
    call.wait(WAIT)
    try:
        call.Finish_Read()
    except _rt.COMError as exc:
        hr = exc.hresult & 0xFFFFFFFF
        name = " (RPC_E_CALL_CANCELED)" if hr == _rt.RPC_E_CALL_CANCELED else ""
        print(f"  Finish_Read raised {type(exc).__name__} 0x{hr:08X}{name}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("published", help="what stream_server.py printed (IPID@binding)")
    args = parser.parse_args(argv)
    try:
        stream = orpc.connect(args.published, ISimpleStream)
    except (ValueError, OSError, _rt.COMError) as exc:
        print(f"stream_client: cannot connect to {args.published}: {exc}", file=sys.stderr)
        return 2
    print(f"connected: {stream!r}")
    try:
        synchronous(stream)
        asynchronous(stream)
    except _rt.COMError as exc:
        print(f"stream_client: call failed: {exc}", file=sys.stderr)
        return 1
    finally:
        stream.Release()
    print("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
