"""Benchmark: calls into another apartment against a bare queue round trip between two threads.

Run: python bench/bench_apartments.py [--quick] [--runs 5] [--calls 5000] [--counts]

Each placement runs in its own child process so thread affinities start clean:
- one-cpu: the whole process is pinned to one CPU (os.sched_setaffinity before any thread
  starts; new threads inherit it), so every hand-off is a GIL switch on one core;
- two-cpu: the client thread is pinned to one CPU and the server thread(s) to another.

Measured side by side in the same process: the anchor (a SimpleQueue ping-pong between two
threads), a synchronous cross-apartment `ICalc.Add(int, int)`, a synchronous 4 KiB
`ISimpleStream.Write`, and `AsyncICalc` throughput with 1, 16 and 256 call objects
outstanding (Begin_ on all, then Finish_ on all). The server lives in an STA and has no call
objects (the proxy's ICallFactory still serves Begin_/Finish_). Figures are medians of --runs.
Prints a markdown table. `--counts` prints instead the Python function calls per call on
each side (client thread, server STA thread; `sys.setprofile`, bench/callcount.py) for a
synchronous `Add`, 16 outstanding calls, and one call object's CreateCall..Release.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from queue import SimpleQueue
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "apartments")]

GOAL_RATIO = 3.0
GOAL_THROUGHPUT_16 = 50_000


def bare_round_trip(calls: int, server_cpu: int | None) -> float:
    """Seconds per put/get round trip between two threads (the anchor)."""
    there: SimpleQueue[int | None] = SimpleQueue()
    back: SimpleQueue[int | None] = SimpleQueue()

    def echo() -> None:
        if server_cpu is not None:
            os.sched_setaffinity(0, {server_cpu})
        while (item := there.get()) is not None:
            back.put(item)

    thread = threading.Thread(target=echo)
    thread.start()
    there.put(0)
    back.get()
    start = time.perf_counter()
    for i in range(calls):
        there.put(i)
        back.get()
    elapsed = time.perf_counter() - start
    there.put(None)
    thread.join()
    return elapsed / calls


def measure(placement: str, runs: int, calls: int) -> dict[str, float]:
    """Runs inside the child process: every figure for one placement."""
    from servers import Calc, SyncStream
    from stream_handwritten import ICalc, IID_AsyncICalc, ISimpleStream

    from idlgen import runtime as _rt
    from idlgen.runtime.apartments.apartment import Apartment
    from idlgen.runtime.apartments.marshal import marshal_interface, unmarshal_interface

    cpus = sorted(os.sched_getaffinity(0))
    client_cpu, server_cpu = (cpus[0], cpus[-1])
    if placement == "one-cpu":
        os.sched_setaffinity(0, {client_cpu})
        server_pin: int | None = None
    else:
        os.sched_setaffinity(0, {client_cpu})
        server_pin = server_cpu

    server = Apartment.sta("bench-server")
    if server_pin is not None:
        server.run(os.sched_setaffinity, 0, {server_pin})

    def export(make: Callable[[], Any], iface: Any) -> Any:
        return unmarshal_interface(server.run(lambda: marshal_interface(make(), iface)))

    calc = export(Calc, ICalc)
    stream = export(SyncStream, ISimpleStream)
    payload = bytes(4096)
    factory = calc.QueryInterface(_rt.ICallFactory)

    def sync_add(n: int) -> float:
        start = time.perf_counter()
        for i in range(n):
            calc.Add(i, 1)
        return (time.perf_counter() - start) / n

    def sync_write(n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            stream.Write(payload, 4096)
        return (time.perf_counter() - start) / n

    def outstanding(k: int) -> Callable[[int], float]:
        objs = [factory.CreateCall(IID_AsyncICalc, None, IID_AsyncICalc) for _ in range(k)]

        def run(n: int) -> float:
            rounds = max(1, n // k)
            start = time.perf_counter()
            for _ in range(rounds):
                for i, call in enumerate(objs):
                    call.Begin_Add(i, 1)
                for call in objs:
                    call.Finish_Add()
            return (rounds * k) / (time.perf_counter() - start)  # calls per second

        return run

    cases: dict[str, Callable[[int], float]] = {
        "bare": lambda n: bare_round_trip(n, server_pin),
        "add": sync_add,
        "write4k": sync_write,
        "async1": outstanding(1),
        "async16": outstanding(16),
        "async256": outstanding(256),
    }
    for case in cases.values():  # warm up caches, threads and the interpreter
        case(max(100, calls // 10))
    results: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, case in cases.items():
            results[name].append(case(calls))
    server.shutdown()
    return {name: statistics.median(values) for name, values in results.items()}


def count_calls(calls: int) -> dict[str, tuple[int, int, int, int]]:
    """Python function calls (and built-in calls) per call on each side, counted with
    `sys.setprofile` per thread: client thread / the server STA's thread."""
    from callcount import ThreadCallCounter
    from servers import Calc
    from stream_handwritten import ICalc, IID_AsyncICalc

    from idlgen import runtime as _rt
    from idlgen.runtime.apartments.apartment import Apartment
    from idlgen.runtime.apartments.marshal import marshal_interface, unmarshal_interface

    counter = ThreadCallCounter()
    server = Apartment.sta("count-server")
    server_id = server.run(threading.get_ident)
    server.run(counter.install)
    counter.install()
    calc = unmarshal_interface(server.run(lambda: marshal_interface(Calc(), ICalc)))
    factory = calc.QueryInterface(_rt.ICallFactory)
    kept = [factory.CreateCall(IID_AsyncICalc, None, IID_AsyncICalc) for _ in range(16)]

    def sync_add(n: int) -> None:
        for i in range(n):
            calc.Add(i, 1)

    def outstanding16(n: int) -> None:
        for _ in range(n // 16):
            for i, call in enumerate(kept):
                call.Begin_Add(i, 1)
            for call in kept:
                call.Finish_Add()

    def one_call_object(n: int) -> None:  # CreateCall, Begin_, Finish_, Release
        for i in range(n):
            call = factory.CreateCall(IID_AsyncICalc, None, IID_AsyncICalc)
            call.Begin_Add(i, 1)
            call.Finish_Add()
            call.Release()

    cases = {"add": sync_add, "async16": outstanding16, "callobj": one_call_object}
    counts = {}
    for name, case in cases.items():
        case(calls // 4)
        counter.start()
        case(calls)
        server.run(lambda: None)  # the server's last completion is counted
        counter.stop()
        client = counter.threads.get(threading.get_ident(), [0, 0])
        served = counter.threads.get(server_id, [0, 0])
        counts[name] = (client[0], client[1], served[0], served[1])
    counter.uninstall()
    server.run(counter.uninstall)
    server.shutdown()
    return {
        name: (c[0] // calls, c[1] // calls, c[2] // calls, c[3] // calls)
        for name, c in counts.items()
    }


def run_child(placement: str, runs: int, calls: int) -> dict[str, float]:
    command = [
        sys.executable,
        __file__,
        "--child",
        placement,
        "--runs",
        str(runs),
        "--calls",
        str(calls),
    ]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def table(figures: dict[str, dict[str, float]]) -> str:
    rows = [
        "| placement | bare queue RTT | Add (sync) | Add / bare | 4 KiB Write (sync) "
        "| 1 outstanding | 16 outstanding | 256 outstanding |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for placement, f in figures.items():
        rows.append(
            f"| {placement} | {f['bare'] * 1e6:.1f} us | {f['add'] * 1e6:.1f} us "
            f"| {f['add'] / f['bare']:.2f}x | {f['write4k'] * 1e6:.1f} us "
            f"| {f['async1']:,.0f} calls/s | {f['async16']:,.0f} calls/s "
            f"| {f['async256']:,.0f} calls/s |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--quick", action="store_true", help="3 runs of 1000 calls")
    parser.add_argument("--child", choices=["one-cpu", "two-cpu"])
    parser.add_argument(
        "--counts", action="store_true", help="only the Python calls per call on each side"
    )
    args = parser.parse_args()
    if args.quick:
        args.runs, args.calls = 3, 1000
    if args.counts:
        print("| per call | client Python / built-in calls | server Python / built-in calls |")
        print("|---|---:|---:|")
        for name, (cp, cb, sp, sb) in count_calls(320).items():
            print(f"| {name} | {cp} / {cb} | {sp} / {sb} |")
        return
    if args.child:
        print(json.dumps(measure(args.child, args.runs, args.calls)))
        return
    placements = ["one-cpu"]
    if len(os.sched_getaffinity(0)) > 1:
        placements.append("two-cpu")
    figures = {p: run_child(p, args.runs, args.calls) for p in placements}
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, medians of {args.runs} runs\n")
    print(table(figures))
    one = figures["one-cpu"]
    print(
        f"\nGoals (one-cpu): Add within {GOAL_RATIO:.0f}x of the bare round trip: "
        f"{'met' if one['add'] / one['bare'] <= GOAL_RATIO else 'NOT met'} "
        f"({one['add'] / one['bare']:.2f}x); {GOAL_THROUGHPUT_16:,} calls/s with 16 "
        f"outstanding: {'met' if one['async16'] >= GOAL_THROUGHPUT_16 else 'NOT met'}."
    )


if __name__ == "__main__":
    main()
