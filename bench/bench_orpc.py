"""ORPC across processes on loopback, against its floor, a raw socket, gRPC Python and Pyro5.

    python bench/bench_orpc.py [--quick] [--calls N] [--batches B] [--skip-others]

Each server is a child process of this script; the client is this process. Two placements:
client on CPU 0 and server on CPU 1 (os.sched_setaffinity), then both on CPU 0 (what a
single-core machine sees). Rows, per placement:

- a synchronous Add(int, int) and a 4 KiB Write through an `orpc.connect` proxy (ORPC over
  ncacn_ip_tcp, the hand-written ICalc/ISimpleStream of tests/apartments);
- the floor (bench/floor.py): a minimal client and server with the same ORPC framing, one
  thread each side, struct-packed PDUs; synchronous Add, and 256 outstanding (one write of
  256 requests, the server answering every PDU of a recv in one write);
- a raw TCP ping-pong moving the same bytes each way as the Add and Write PDUs;
- the same two calls through gRPC Python (generic handlers, raw bytes, no code generation)
  and Pyro5 (its default serializer), when they are installed (bench-only dependencies:
  `pip install grpcio Pyro5`);
- throughput of Add with 16 and 256 outstanding call objects (Begin_Add on all, then
  Finish_Add on all);
- CPU per synchronous Add on each side (client: process time; server: the sum of its
  threads' run time from /proc/PID/task/*/schedstat), Python function calls per round trip
  on each side (sys.setprofile, 'call' and 'c_call' events apart; bench/callcount.py; a
  separate server child counts while hooked), and the memory one outstanding call object
  holds (tracemalloc over 256 Begin_Add).

Latencies are medians over batches of the mean per call; throughputs medians over batches.
Prints a markdown table per placement and issue 13's goals with the measured ratios.
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
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from callcount import CallCounter  # bench/ is the script's folder
from floor import FloorClient, floor_server
from raw_socket import echo_server

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "apartments"))
sys.path.insert(0, str(ROOT))

PAYLOAD = bytes(4096)
CO_REQUEST, CO_RESPONSE, OBJECT_UUID = 24, 24, 16  # DCE/RPC CO headers, PFC_OBJECT_UUID
GOAL_PYRO, GOAL_GRPC, GOAL_FLOOR = 3.0, 6.0, 2.5  # issue 13, synchronous, one CPU
GOAL_TPUT_ONE, GOAL_TPUT_TWO = 100_000, 50_000  # issue 13, 256 outstanding
GOAL_PENDING = 1024  # bytes per outstanding call object


# -- the servers (child processes) -------------------------------------------------------------


def orpc_server(count: bool = False) -> None:
    """Serve ICalc/ISimpleStream; with `count`, every server thread is hooked and stdin
    lines "start"/"stop" bracket the calls to count ("stop" prints "calls c_calls")."""
    from stream_handwritten import ICalc, ISimpleStream

    from idlgen import runtime as rt
    from idlgen.runtime.rpc import orpc

    class Bench(rt.ComObject, ICalc, ISimpleStream):  # type: ignore[misc]
        def Add(self, a: int, b: int) -> int:
            return a + b

        def Write(self, pv: bytes, cb: int) -> int:  # do not keep the data
            return cb

    counter = CallCounter()
    if count:
        counter.install(this_thread=False)  # the server's threads, not this stdin loop
    print(orpc.publish(Bench(), ICalc, "ncacn_ip_tcp:127.0.0.1[0]"), flush=True)
    for line in sys.stdin:
        if line.strip() == "start":
            counter.start()
        elif line.strip() == "stop":
            print(*counter.stop(), flush=True)


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


SERVERS: dict[str, Callable[[], None]] = {
    "orpc": orpc_server,
    "orpc-count": lambda: orpc_server(count=True),
    "grpc": grpc_server,
    "pyro": pyro_server,
    "floor": floor_server,
}


# -- measuring --------------------------------------------------------------------------------


@contextlib.contextmanager
def child(cpu: int, *args: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """This script in server mode pinned to `cpu`; yields its first stdout line and itself."""
    proc = subprocess.Popen(
        [sys.executable, __file__, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: os.sched_setaffinity(0, {cpu}),
    )
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip(), proc
    finally:
        proc.kill()
        proc.wait()


def run_ns(pid: int) -> int:
    """Nanoseconds a process's threads have run so far (/proc/PID/task/*/schedstat)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            total += int((task / "schedstat").read_text().split()[0])
    return total


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


def rate(round_: Callable[[], None], per_round: int, calls: int, batches: int) -> float:
    """Median over batches of calls per second, `per_round` calls per `round_()`."""
    rounds = max(1, calls // per_round)
    round_()  # warm-up
    results = []
    for _ in range(batches):
        t0 = time.perf_counter()
        for _ in range(rounds):
            round_()
        results.append(rounds * per_round / (time.perf_counter() - t0))
    return statistics.median(results)


def add_calls(
    calc: Any, depth: int, reuse: bool = False
) -> tuple[Callable[[], None], Callable[[], None]]:
    """A round of `depth` outstanding Add call objects (Begin_ all, then Finish_ all), and
    what releases everything afterwards. New call objects every round (CreateCall and
    Release counted), or with `reuse` the same `depth` objects every round (as
    bench_apartments does)."""
    from stream_handwritten import IID_AsyncICalc

    from idlgen.runtime.com.stdiface import ICallFactory

    factory = calc.QueryInterface(ICallFactory)
    make = [factory.CreateCall] * depth if reuse else []
    kept = [create(IID_AsyncICalc, None, IID_AsyncICalc) for create in make]

    def one_round() -> None:
        if reuse:
            calls_ = kept
        else:
            calls_ = [
                factory.CreateCall(IID_AsyncICalc, None, IID_AsyncICalc) for _ in range(depth)
            ]
        for i, call in enumerate(calls_):
            call.Begin_Add(i, 1)
        for i, call in enumerate(calls_):
            if call.Finish_Add() != i + 1:
                raise AssertionError("wrong sum from a call object")
            if not reuse:
                call.Release()

    def release() -> None:
        for call in kept:
            call.Release()
        factory.Release()

    return one_round, release


def pending_bytes(calc: Any, depth: int = 256) -> float:
    """Bytes one outstanding Add call object holds (tracemalloc: CreateCall and Begin_Add)."""
    from stream_handwritten import IID_AsyncICalc

    from idlgen.runtime.com.stdiface import ICallFactory

    factory = calc.QueryInterface(ICallFactory)
    calls = [factory.CreateCall(IID_AsyncICalc, None, IID_AsyncICalc)]  # warm every cache
    calls[0].Begin_Add(1, 1)
    calls[0].Finish_Add()
    tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    calls = [factory.CreateCall(IID_AsyncICalc, None, IID_AsyncICalc) for _ in range(depth)]
    for i, call in enumerate(calls):
        call.Begin_Add(i, 1)
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    for call in calls:
        call.Finish_Add()
        call.Release()
    factory.Release()
    return (held - base) / depth


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
    with child(cpu, "--echo", f"{sizes[0]},{sizes[1]}") as (port, _):
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
    floor_add: float = 0.0
    floor_tput256: float = 0.0
    raw_add: float = 0.0
    raw_write: float = 0.0
    grpc_add: float | None = None
    grpc_write: float | None = None
    pyro_add: float | None = None
    pyro_write: float | None = None
    tput16: float = 0.0
    tput256: float = 0.0
    tput256_reused: float = 0.0
    cpu_client: float = 0.0  # seconds of CPU per synchronous Add
    cpu_server: float = 0.0

    @property
    def one_cpu(self) -> bool:
        return self.client_cpu == self.server_cpu


def measure_orpc(p: Placement, calls: int, batches: int) -> None:
    from stream_handwritten import ICalc, ISimpleStream

    from idlgen.runtime.rpc import orpc

    with child(p.server_cpu, "--server", "orpc") as (published, proc):
        calc = orpc.connect(published, ICalc)
        stream = calc.QueryInterface(ISimpleStream)
        p.add = latency(lambda: calc.Add(1, 2), calls, batches)
        cpu0, srv0 = time.process_time(), run_ns(proc.pid)
        for _ in range(calls):
            calc.Add(1, 2)
        p.cpu_client = (time.process_time() - cpu0) / calls
        p.cpu_server = (run_ns(proc.pid) - srv0) / 1e9 / calls
        p.write = latency(lambda: stream.Write(PAYLOAD, len(PAYLOAD)), calls, batches)
        for depth, reuse in ((16, False), (256, False), (256, True)):
            round_, release = add_calls(calc, depth, reuse)
            tput = rate(round_, depth, calls * 2, batches)
            release()
            if depth == 16:
                p.tput16 = tput
            elif reuse:
                p.tput256_reused = tput
            else:
                p.tput256 = tput
        stream.Release()
        calc.Release()


def measure_floor(p: Placement, calls: int, batches: int) -> None:
    with child(p.server_cpu, "--server", "floor") as (port, _):
        client = FloorClient(int(port))
        p.floor_add = latency(lambda: client.add(1, 2), calls, batches)
        p.floor_tput256 = rate(lambda: client.burst(256), 256, calls * 20, batches)
        client.close()


def measure_grpc(p: Placement, calls: int, batches: int) -> None:
    try:
        import grpc  # type: ignore[import-untyped]
    except ImportError:
        return
    with child(p.server_cpu, "--server", "grpc") as (port, _):
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
    with child(p.server_cpu, "--server", "pyro") as (uri, _):
        proxy = Pyro5.api.Proxy(uri)
        proxy._pyroBind()
        p.pyro_add = latency(lambda: proxy.Add(1, 2), calls, batches)
        p.pyro_write = latency(lambda: proxy.Write(PAYLOAD, len(PAYLOAD)), calls, batches)
        proxy._pyroRelease()


def measure(p: Placement, calls: int, batches: int, others: bool) -> Placement:
    measure_orpc(p, calls, batches)
    measure_floor(p, calls, batches)
    (add_sizes, write_sizes) = pdu_sizes()
    p.raw_add = raw(p.server_cpu, add_sizes, calls, batches)
    p.raw_write = raw(p.server_cpu, write_sizes, calls, batches)
    if others:
        measure_grpc(p, calls, batches)
        measure_pyro(p, calls, batches)
    return p


@dataclass
class PerCall:
    """What one round trip costs apart from time: function calls per side, memory held."""

    client: tuple[float, float] = (0.0, 0.0)  # Python calls, C calls
    server: tuple[float, float] = (0.0, 0.0)
    floor_client: tuple[float, float] = (0.0, 0.0)
    pending: float = 0.0  # bytes per outstanding call object


def measure_counts(cpu: int, calls: int) -> PerCall:
    """Counted with the profile hook on both sides (a separate server child: hooks slow it)."""
    from stream_handwritten import ICalc

    from idlgen.runtime.rpc import orpc

    per = PerCall()
    counter = CallCounter()
    with child(cpu, "--server", "orpc-count") as (published, proc):
        assert proc.stdin is not None and proc.stdout is not None
        counter.install()  # before connect: the connection's reader threads are hooked too
        try:
            calc = orpc.connect(published, ICalc)
            for _ in range(100):
                calc.Add(1, 2)
            proc.stdin.write("start\n")
            proc.stdin.flush()
            time.sleep(0.2)  # the server sees "start" before the first call
            counter.start()
            for _ in range(calls):
                calc.Add(1, 2)
            here = counter.stop()
            time.sleep(0.2)  # the server has finished the last call's clean-up
            proc.stdin.write("stop\n")
            proc.stdin.flush()
            there = [int(x) for x in proc.stdout.readline().split()]
        finally:
            counter.uninstall()
        per.client = (here[0] / calls, here[1] / calls)
        per.server = (there[0] / calls, there[1] / calls)
        per.pending = pending_bytes(calc)
        calc.Release()
    with child(cpu, "--server", "floor") as (port, _):
        floor = FloorClient(int(port))
        counter.install()
        counter.start()
        for _ in range(calls):
            floor.add(1, 2)
        fc = counter.stop()
        counter.uninstall()
        per.floor_client = (fc[0] / calls, fc[1] / calls)
        floor.close()
    return per


def profile_client(client_cpu: int, server_cpu: int, rounds: int) -> None:
    """The 256-outstanding round: each side's CPU per call (client: process time; server:
    its threads' run time), then a cProfile of the client's calling thread over `rounds`."""
    import cProfile
    import pstats

    from stream_handwritten import ICalc

    from idlgen.runtime.rpc import orpc

    os.sched_setaffinity(0, {client_cpu})
    with child(server_cpu, "--server", "orpc") as (published, proc):
        calc = orpc.connect(published, ICalc)
        round_, release = add_calls(calc, 256)
        for _ in range(5):
            round_()
        cpu0, srv0, t0 = time.process_time(), run_ns(proc.pid), time.perf_counter()
        for _ in range(rounds):
            round_()
        n = rounds * 256
        print(
            f"client CPU {client_cpu}, server CPU {server_cpu}: "
            f"{n / (time.perf_counter() - t0):,.0f} calls/s; CPU per call: client "
            f"{(time.process_time() - cpu0) / n * 1e6:.1f} us, server "
            f"{(run_ns(proc.pid) - srv0) / 1e9 / n * 1e6:.1f} us"
        )
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(rounds):
            round_()
        profile.disable()
        pstats.Stats(profile).sort_stats("tottime").print_stats(30)
        release()
        calc.Release()


# -- reporting --------------------------------------------------------------------------------


def us(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds * 1e6:.1f}"


def times(slow: float | None, fast: float) -> str:
    return "n/a" if slow is None else f"{slow / fast:.1f}x"


def where(p: Placement) -> str:
    if p.one_cpu:
        return f"client and server on CPU {p.client_cpu}"
    return f"client on CPU {p.client_cpu}, server on CPU {p.server_cpu}"


def table(p: Placement) -> list[str]:
    lines = [
        where(p),
        "",
        "| call | idlgen ORPC (us) | floor (us) | ORPC / floor | raw socket (us) "
        "| gRPC (us) | Pyro5 (us) | gRPC / ORPC | Pyro5 / ORPC |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| Add(int, int) | {us(p.add)} | {us(p.floor_add)} | {p.add / p.floor_add:.1f}x "
        f"| {us(p.raw_add)} | {us(p.grpc_add)} | {us(p.pyro_add)} "
        f"| {times(p.grpc_add, p.add)} | {times(p.pyro_add, p.add)} |",
        f"| Write 4 KiB | {us(p.write)} | | | {us(p.raw_write)} | {us(p.grpc_write)} "
        f"| {us(p.pyro_write)} | {times(p.grpc_write, p.write)} "
        f"| {times(p.pyro_write, p.write)} |",
        "",
        "| Add | idlgen ORPC | floor |",
        "|---|---:|---:|",
        f"| synchronous, calls/s | {1 / p.add:,.0f} | {1 / p.floor_add:,.0f} |",
        f"| 16 outstanding call objects, calls/s | {p.tput16:,.0f} | |",
        f"| 256 outstanding call objects, calls/s | {p.tput256:,.0f} | {p.floor_tput256:,.0f} |",
        f"| 256 outstanding, the same call objects every round, calls/s "
        f"| {p.tput256_reused:,.0f} | |",
        f"| CPU per synchronous call, client / server (us) | {us(p.cpu_client)} / "
        f"{us(p.cpu_server)} | |",
        "",
    ]
    return lines


def per_call_table(per: PerCall) -> list[str]:
    return [
        "per synchronous Add round trip (sys.setprofile; 'call' = Python functions, "
        "'c_call' = built-ins):",
        "",
        "| side | Python calls | C calls |",
        "|---|---:|---:|",
        f"| idlgen client | {per.client[0]:.1f} | {per.client[1]:.1f} |",
        f"| idlgen server | {per.server[0]:.1f} | {per.server[1]:.1f} |",
        f"| floor client | {per.floor_client[0]:.1f} | {per.floor_client[1]:.1f} |",
        "",
        f"one outstanding Add call object holds {per.pending:.0f} B (tracemalloc, "
        "CreateCall + Begin_Add over 256)",
        "",
    ]


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def goals(results: list[Placement], per: PerCall | None) -> list[str]:
    """Issue 13's goals: synchronous ones on one CPU, throughput on one and on two."""
    out = ["goals (issue 13):"]
    for p in results:
        if p.one_cpu:
            if p.pyro_add is not None and p.pyro_write is not None:
                least = min(p.pyro_add / p.add, p.pyro_write / p.write)
                out.append(
                    f"- one CPU: >= {GOAL_PYRO:.0f}x faster than Pyro5: {least:.1f}x "
                    f"(least of Add, Write): {verdict(least >= GOAL_PYRO)}"
                )
            if p.grpc_add is not None and p.grpc_write is not None:
                least = min(p.grpc_add / p.add, p.grpc_write / p.write)
                out.append(
                    f"- one CPU: >= {GOAL_GRPC:.0f}x faster than gRPC: {least:.1f}x "
                    f"(least of Add, Write): {verdict(least >= GOAL_GRPC)}"
                )
            ratio = p.add / p.floor_add
            out.append(
                f"- one CPU: Add within {GOAL_FLOOR}x of the floor: {ratio:.1f}x: "
                f"{verdict(ratio <= GOAL_FLOOR)}"
            )
        goal = GOAL_TPUT_ONE if p.one_cpu else GOAL_TPUT_TWO
        out.append(
            f"- {'one CPU' if p.one_cpu else 'two CPUs'}: >= {goal:,} calls/s with 256 "
            f"outstanding: {p.tput256:,.0f}: {verdict(p.tput256 >= goal)}"
        )
    if per is not None:
        out.append(
            f"- a pending call object under {GOAL_PENDING} B: {per.pending:.0f} B: "
            f"{verdict(per.pending < GOAL_PENDING)}"
        )
    return out


def revision() -> str:
    """The measured tree's commit (so pasted figures say what they measured)."""
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), "log", "-1", "--format=%h %cd", "--date=short"],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "(no git)"
    return out.stdout.strip()


def placements() -> list[tuple[int, int]]:
    """Both on one CPU first (the synchronous goals' placement), then one CPU each."""
    available = sorted(os.sched_getaffinity(0))
    first = available[0]
    out = [(first, first)]
    if len(available) > 1:
        out.append((first, available[1]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description="ORPC vs its floor, raw sockets, gRPC, Pyro5.")
    parser.add_argument("--calls", type=int, default=1000, help="calls per batch")
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="200 calls x 3 batches")
    parser.add_argument("--skip-others", action="store_true", help="no gRPC / Pyro5 rows")
    parser.add_argument("--no-counts", action="store_true", help="no function-call counts")
    parser.add_argument(
        "--profile-client",
        action="store_true",
        help="256 outstanding, two CPUs: CPU per call per side and a cProfile of the client",
    )
    parser.add_argument("--echo", help=argparse.SUPPRESS)
    parser.add_argument("--server", choices=sorted(SERVERS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.echo:
        return echo_server(args.echo)
    if args.server:
        return SERVERS[args.server]()
    if args.quick:
        args.calls, args.batches = 200, 3
    wanted = placements()
    if args.profile_client:
        return profile_client(*wanted[-1], rounds=max(1, args.calls // 50))
    os.sched_setaffinity(0, {wanted[0][0]})  # before any thread exists: they inherit it
    results = [
        measure(Placement(c, s), args.calls, args.batches, not args.skip_others) for c, s in wanted
    ]
    per = None if args.no_counts else measure_counts(wanted[0][1], args.calls)
    print(
        f"idlgen {revision()}, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs; "
        f"{args.calls} calls x {args.batches} batches per figure; medians of the batches"
    )
    print()
    for p in results:
        print("\n".join(table(p)))
    if per is not None:
        print("\n".join(per_call_table(per)))
    print("\n".join(goals(results, per)))


if __name__ == "__main__":
    main()
