"""ISimpleStream served to other processes over ORPC (DCE/RPC), for samples/stream_client.py.

Run: python samples/stream_server.py --binding 'ncacn_ip_tcp:127.0.0.1[0]'

It prints the published string ("IPID@ncacn_ip_tcp:127.0.0.1[PORT]") as its first line --
pass that to stream_client.py in another terminal -- and serves until Ctrl-C (or until its
standard input closes, with --until-eof: how tests and scripts stop it). The bindings come
from samples/simple_stream.idl through `idlgen.load`, so nothing needs generating first.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import idlgen  # noqa: E402
from idlgen import runtime as _rt  # noqa: E402

# samples/simple_stream.idl, compiled when first loaded (and cached beside it) and registered
# as `simple_stream_idl`: the other samples importing `bindings` share its classes.
bindings = idlgen.load(HERE / "simple_stream.idl")
ISimpleStream: Any = bindings.ISimpleStream


class PipeStream(_rt.CallFactory, ISimpleStream):  # type: ignore[misc]
    """A pipe: Read waits until there is data (or the caller cancels), Write adds data.

    Read holds its thread while it waits, so another client's (or the same client's) Write
    can still come in on another thread of the process MTA and wake it.
    """

    def __init__(self, outer: Any = None) -> None:
        super().__init__(outer)
        self.data = bytearray()
        self.cond = threading.Condition()
        # For a caller in the same process (the demo): a Read is waiting for data, and
        # a Read saw its cancel. A cancel that arrives before its call starts means the
        # call never runs, so a demo of the server seeing one must wait for the first.
        self.waiting = threading.Event()
        self.saw_cancel = threading.Event()

    def Read(self, cb: int) -> Any:
        with self.cond:
            while True:
                # Cancel first: a canceled Read must not take data meant for the next one.
                if _rt.call_canceled():
                    print("server: a client canceled its Read", flush=True)
                    self.saw_cancel.set()
                    raise _rt.CallCanceledError()
                if self.data:
                    break
                self.waiting.set()
                self.cond.wait(0.05)  # wake now and then to look for a cancel
            chunk = bytes(self.data[:cb])
            del self.data[:cb]
        return chunk, len(chunk)

    def Write(self, pv: bytes, cb: int) -> int:
        with self.cond:
            self.data += pv[:cb]
            self.cond.notify_all()
        return cb


def wait_forever(until_eof: bool) -> None:
    """Serve until Ctrl-C, or until stdin closes when asked (a parent process's handle)."""
    with contextlib.suppress(KeyboardInterrupt):
        if until_eof:
            sys.stdin.read()
        else:
            while True:
                time.sleep(3600)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binding", default="ncacn_ip_tcp:127.0.0.1[0]")
    parser.add_argument("--until-eof", action="store_true", help="stop when stdin closes")
    args = parser.parse_args(argv)
    from idlgen.runtime.rpc import orpc

    stream = PipeStream()
    try:
        text = orpc.publish(stream, ISimpleStream, args.binding)
    except (ValueError, OSError) as exc:
        print(f"stream_server: cannot publish on {args.binding}: {exc}", file=sys.stderr)
        return 2
    stream.Release()  # the publication holds the object now
    print(text, flush=True)
    print("serving ISimpleStream; Ctrl-C stops", file=sys.stderr, flush=True)
    wait_forever(args.until_eof)
    return 0


if __name__ == "__main__":
    sys.exit(main())
