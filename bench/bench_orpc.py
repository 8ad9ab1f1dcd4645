"""ORPC across processes on loopback, against a raw-socket ping-pong, gRPC Python and Pyro5.

    python bench/bench_orpc.py [--calls N] [--batches B] [--skip-others]

Each server is a child process of this script; the client is this process. Two placements:
client on CPU 0 and server on CPU 1 (os.sched_setaffinity), then both on CPU 0 (what a
single-core machine sees). Rows, per placement:

- a synchronous Add(int, int) and a 4 KiB Write through an `orpc.connect` proxy (ORPC over
  ncacn_ip_tcp, the hand-written ICalc/ISimpleStream of tests/apartments);
- a raw TCP ping-pong moving the same bytes each way as those PDUs (the floor for any RPC);
- the same two calls through gRPC Python (generic handlers, raw bytes, no code generation)
  and Pyro5 (its default serializer), when they are installed (bench-only dependencies:
  `pip install grpcio Pyro5`);
- throughput of Add with 16 and 256 outstanding call objects (Begin_Add on all, then
  Finish_Add on all).

Latencies are medians over batches of the mean per call; throughputs medians over batches.
Prints a markdown table per placement and the issue's goals with the measured ratios.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import statistics
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from raw_socket import echo_server  # bench/ is the script's folder

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "apartments"))
sys.path.insert(0, str(ROOT))

PAYLOAD = bytes(4096)
CO_REQUEST, CO_RESPONSE, OBJECT_UUID = 24, 24, 16  # DCE/RPC CO headers, PFC_OBJECT_UUID


# -- the servers (child processes) -------------------------------------------------------------


def orpc_server() -> None:
    from stream_handwritten import ICalc, ISimpleStream

    from idlgen import runtime as rt
    from idlgen.runtime.rpc import orpc

    class Bench(rt.ComObject, ICalc, ISimpleStream):  # type: ignore[misc]
        def Add(self, a: int, b: int) -> int:
            return a + b

        def Write(self, pv: bytes, cb: int) -> int:  # do not keep the data
            return cb

    print(orpc.publish(Bench(), ICalc, "ncacn_ip_tcp:127.0.0.1[0]"), flush=True)
    sys.stdin.read()


def grpc_server() -> None:
    from concurrent import futures

    import grpc  # type: ignore[import-untyped]

    def add(request: bytes, context: Any) -> bytes:
        a, b = struct.unpack("<ii", request)
        return struct.pack("<i", a + b)

    def write(request: bytes, context: Any) -> bytes:
        return struct.pack("<I", len(request))

    handlers = {
        "Add": grpc.unary_unary_rpc_method_handler(add),
        "Write": grpc.unary_unary_rpc_method_handler(write),
    }
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("bench", handlers),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)
    sys.stdin.read()
    server.stop(0)


def pyro_server() -> None:
    import threading

    import Pyro5.api  # type: ignore[import-untyped]

    @Pyro5.api.expose
    class Bench:
        def Add(self, a: int, b: int) -> int:
            return a + b

        def Write(self, pv: Any, cb: int) -> int:
            return cb

    daemon = Pyro5.api.Daemon(host="127.0.0.1")
    print(daemon.register(Bench()), flush=True)
    threading.Thread(target=daemon.requestLoop, daemon=True).start()
    sys.stdin.read()


SERVERS: dict[str, Callable[..., None]] = {
    "orpc": orpc_server,
    "grpc": grpc_server,
    "pyro": pyro_server,
}


# -- measuring --------------------------------------------------------------------------------


@contextlib.contextmanager
def child(cpu: int, *args: str) -> Iterator[str]:
    """This script in server mode pinned to `cpu`; yields its first stdout line."""
    proc = subprocess.Popen(
        [sys.executable, __file__, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: os.sched_setaffinity(0, {cpu}),
    )
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip()
    finally:
        proc.kill()
        proc.wait()


def latency(fn: Callable[[], Any], calls: int, batches: int) -> float:
    """Median over batches of the mean seconds per call (after a warm-up)."""
    for _ in range(max(calls // 10, 20)):
        fn()
    results = []
    for _ in range(batches):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        results.append((time.perf_counter() - t0) / calls)
    return statistics.median(results)


def throughput(calc: Any, depth: int, calls: int, batches: int) -> float:
    """Calls per second with `depth` call objects outstanding: Begin_ all, then Finish_ all."""
    from stream_handwritten import IID_AsyncICalc

    from idlgen.runtime.com.stdiface import ICallFactory

    factory = calc.QueryInterface(ICallFactory)
    rounds = max(1, calls // depth)

    def one_round() -> None:
        calls_ = [factory.CreateCall(IID_AsyncICalc, None, IID_AsyncICalc) for _ in range(depth)]
        for i, call in enumerate(calls_):
            call.Begin_Add(i, 1)
        for i, call in enumerate(calls_):
            if call.Finish_Add() != i + 1:
                raise AssertionError("wrong sum from a call object")
            call.Release()

    one_round()  # warm-up
    results = []
    for _ in range(batches):
        t0 = time.perf_counter()
        for _ in range(rounds):
            one_round()
        results.append(rounds * depth / (time.perf_counter() - t0))
    factory.Release()
    return statistics.median(results)


def pdu_sizes() -> tuple[tuple[int, int], tuple[int, int]]:
    """(request, response) PDU bytes for Add and for the 4 KiB Write, from the marshalers."""
    from stream_handwritten import ICalc, ISimpleStream

    from idlgen.runtime.rpc.orpc.wire import orpcthat, orpcthis

    head = CO_REQUEST + OBJECT_UUID + len(orpcthis())
    tail = CO_RESPONSE + len(orpcthat())
    add, write = ICalc._wire_[0], ISimpleStream._wire_[1]
    assert add is not None and write is not None
    return (
        (
            head + len(add.encode_request({"a": 1, "b": 2})),
            tail + len(add.encode_response({"sum": 3}, 0)),
        ),
        (
            head + len(write.encode_request({"pv": PAYLOAD, "cb": len(PAYLOAD)})),
            tail + len(write.encode_response({"pcbWritten": len(PAYLOAD)}, 0)),
        ),
    )


def raw(cpu: int, sizes: tuple[int, int], calls: int, batches: int) -> float:
    with child(cpu, "--echo", f"{sizes[0]},{sizes[1]}") as port:
        sock = socket.create_connection(("127.0.0.1", int(port)))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        request, view = bytes(sizes[0]), memoryview(bytearray(sizes[1]))

        def ping() -> None:
            sock.sendall(request)
            got = 0
            while got < sizes[1]:
                got += sock.recv_into(view[got:])

        try:
            return latency(ping, calls, batches)
        finally:
            sock.close()


@dataclass
class Placement:
    """Every figure for one placement of client and server (seconds, or calls/s)."""

    client_cpu: int
    server_cpu: int
    add: float = 0.0
    write: float = 0.0
    raw_add: float = 0.0
    raw_write: float = 0.0
    grpc_add: float | None = None
    grpc_write: float | None = None
    pyro_add: float | None = None
    pyro_write: float | None = None
    tput16: float = 0.0
    tput256: float = 0.0


def measure_orpc(p: Placement, calls: int, batches: int) -> None:
    from stream_handwritten import ICalc, ISimpleStream

    from idlgen.runtime.rpc import orpc

    with child(p.server_cpu, "--server", "orpc") as published:
        calc = orpc.connect(published, ICalc)
        stream = calc.QueryInterface(ISimpleStream)
        p.add = latency(lambda: calc.Add(1, 2), calls, batches)
        p.write = latency(lambda: stream.Write(PAYLOAD, len(PAYLOAD)), calls, batches)
        p.tput16 = throughput(calc, 16, calls * 2, batches)
        p.tput256 = throughput(calc, 256, calls * 2, batches)
        stream.Release()
        calc.Release()


def measure_grpc(p: Placement, calls: int, batches: int) -> None:
    try:
        import grpc  # type: ignore[import-untyped]
    except ImportError:
        return
    with child(p.server_cpu, "--server", "grpc") as port:
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        add, write = channel.unary_unary("/bench/Add"), channel.unary_unary("/bench/Write")
        two = struct.pack("<ii", 1, 2)
        p.grpc_add = latency(lambda: add(two), calls, batches)
        p.grpc_write = latency(lambda: write(PAYLOAD), calls, batches)
        channel.close()


def measure_pyro(p: Placement, calls: int, batches: int) -> None:
    try:
        import Pyro5.api  # type: ignore[import-untyped]
    except ImportError:
        return
    with child(p.server_cpu, "--server", "pyro") as uri:
        proxy = Pyro5.api.Proxy(uri)
        proxy._pyroBind()
        p.pyro_add = latency(lambda: proxy.Add(1, 2), calls, batches)
        p.pyro_write = latency(lambda: proxy.Write(PAYLOAD, len(PAYLOAD)), calls, batches)
        proxy._pyroRelease()


def measure(p: Placement, calls: int, batches: int, others: bool) -> Placement:
    measure_orpc(p, calls, batches)
    (add_sizes, write_sizes) = pdu_sizes()
    p.raw_add = raw(p.server_cpu, add_sizes, calls, batches)
    p.raw_write = raw(p.server_cpu, write_sizes, calls, batches)
    if others:
        measure_grpc(p, calls, batches)
        measure_pyro(p, calls, batches)
    return p


# -- reporting --------------------------------------------------------------------------------


def us(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds * 1e6:.1f}"


def times(slow: float | None, fast: float) -> str:
    return "n/a" if slow is None else f"{slow / fast:.1f}x"


def table(p: Placement) -> list[str]:
    lines = [
        f"client on CPU {p.client_cpu}, server on CPU {p.server_cpu}",
        "",
        "| call | idlgen ORPC (us) | raw socket (us) | ORPC / raw | gRPC (us) | Pyro5 (us) "
        "| gRPC / ORPC | Pyro5 / ORPC |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, ours, base, grpc_t, pyro_t in (
        ("Add(int, int)", p.add, p.raw_add, p.grpc_add, p.pyro_add),
        ("Write 4 KiB", p.write, p.raw_write, p.grpc_write, p.pyro_write),
    ):
        lines.append(
            f"| {name} | {us(ours)} | {us(base)} | {ours / base:.1f}x | {us(grpc_t)} "
            f"| {us(pyro_t)} | {times(grpc_t, ours)} | {times(pyro_t, ours)} |"
        )
    lines += [
        "",
        "| Add throughput | calls/s |",
        "|---|---:|",
        f"| synchronous, one at a time | {1 / p.add:,.0f} |",
        f"| 16 outstanding call objects | {p.tput16:,.0f} |",
        f"| 256 outstanding call objects | {p.tput256:,.0f} |",
        "",
    ]
    return lines


def goals(p: Placement) -> list[str]:
    """The issue's goals against the pinned placement's figures."""
    worst_raw = max(p.add / p.raw_add, p.write / p.raw_write)
    out = [f"goals (client CPU {p.client_cpu}, server CPU {p.server_cpu}):"]
    out.append(f"- sync call within 5x of raw socket: {worst_raw:.1f}x (worst of Add, Write)")
    if p.pyro_add is not None and p.pyro_write is not None:
        best = min(p.pyro_add / p.add, p.pyro_write / p.write)
        out.append(f"- >= 3x faster than Pyro5: {best:.1f}x (least of Add, Write)")
    if p.grpc_add is not None and p.grpc_write is not None:
        best = min(p.grpc_add / p.add, p.grpc_write / p.write)
        out.append(f"- >= 10x faster than gRPC: {best:.1f}x (least of Add, Write)")
    out.append(f"- >= 50,000 calls/s with 256 outstanding: {p.tput256:,.0f}")
    return out


def placements() -> list[tuple[int, int]]:
    available = sorted(os.sched_getaffinity(0))
    first = available[0]
    pinned = (first, available[1]) if len(available) > 1 else (first, first)
    return [pinned] if pinned[1] == first else [pinned, (first, first)]


def main() -> None:
    parser = argparse.ArgumentParser(description="ORPC vs raw sockets, gRPC and Pyro5.")
    parser.add_argument("--calls", type=int, default=1000, help="calls per batch")
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--skip-others", action="store_true", help="no gRPC / Pyro5 rows")
    parser.add_argument("--echo", help=argparse.SUPPRESS)
    parser.add_argument("--server", choices=sorted(SERVERS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.echo:
        return echo_server(args.echo)
    if args.server:
        return SERVERS[args.server]()
    wanted = placements()
    os.sched_setaffinity(0, {wanted[0][0]})  # before any thread exists: they inherit it
    results = [
        measure(Placement(c, s), args.calls, args.batches, not args.skip_others) for c, s in wanted
    ]
    print(f"{args.calls} calls x {args.batches} batches per figure; medians of the batches")
    print()
    for p in results:
        print("\n".join(table(p)))
    print("\n".join(goals(results[0])))


if __name__ == "__main__":
    main()
