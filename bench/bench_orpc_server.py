"""What one ORPC call costs the server process: CPU time and Python function calls.

    python bench/bench_orpc_server.py [--calls N] [--depth D] [--profile] [--quick]

The server (the Add of bench_orpc.py's ORPC server) runs in a child process pinned to one
CPU, the client in this process pinned to the same CPU, so the server's CPU time per call
is not blurred by the scheduler moving it around. The client makes N synchronous calls (and
N calls with D call objects outstanding); around each run the child reports its
`time.process_time()` delta and, in a second child started with a `threading.setprofile`
counter installed before any server thread exists, the number of Python function calls
made by all its threads. `--profile` prints the functions with the most calls and the most
own time (one cProfile per server thread, merged).

Each figure is the median of `--batches` runs. CPU per call includes the reactor's select
and the socket system calls, that is everything the server process spends on a call.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "apartments"))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from pinned import spawn  # noqa: E402  (bench/ is the script's folder)

PAYLOAD = bytes(4096)

# -- the server (child process) ----------------------------------------------------------------


class _Counting:
    """A `threading.setprofile` hook counting Python function calls while `on` is set."""

    def __init__(self) -> None:
        self.on = False
        self.calls = 0
        self.by_function: Counter[tuple[str, int, str]] = Counter()

    def __call__(self, frame: Any, event: str, arg: Any) -> None:
        if event == "call" and self.on:
            self.calls += 1
            code = frame.f_code
            self.by_function[(code.co_filename, code.co_firstlineno, code.co_name)] += 1


class _Profiles:
    """One cProfile per thread, started from the thread's first profile event."""

    def __init__(self) -> None:
        self.profiles: list[cProfile.Profile] = []

    def __call__(self, frame: Any, event: str, arg: Any) -> None:
        prof = cProfile.Profile()
        self.profiles.append(prof)
        prof.enable()  # replaces this hook for the calling thread

    def stats(self) -> pstats.Stats:
        merged: pstats.Stats | None = None
        for prof in self.profiles:
            prof.snapshot_stats()
            if not prof.stats:  # type: ignore[attr-defined]
                continue  # a thread that ran no Python code while profiled
            holder = _Holder(prof.stats)  # type: ignore[attr-defined]
            if merged is None:
                merged = pstats.Stats(holder)  # type: ignore[arg-type]
            else:
                merged.add(holder)  # type: ignore[arg-type]
        assert merged is not None
        return merged


class _Holder:
    def __init__(self, stats: Any) -> None:
        self.stats = stats

    def create_stats(self) -> None:
        pass


def server(mode: str) -> None:
    counting = _Counting()
    profiles = _Profiles()
    if mode == "count":
        threading.setprofile(counting)
    elif mode == "profile":
        threading.setprofile(profiles)
        cProfile.Profile().enable()

    from stream_handwritten import ICalc, ISimpleStream

    from idlgen import runtime as rt
    from idlgen.runtime.rpc import orpc

    class Bench(rt.ComObject, ICalc, ISimpleStream):  # type: ignore[misc]
        def Add(self, a: int, b: int) -> int:
            return a + b

        def Write(self, pv: bytes, cb: int) -> int:  # a BufferCodec: the lean path
            return cb

    print(orpc.publish(Bench(), ICalc, "ncacn_ip_tcp:127.0.0.1[0]"), flush=True)
    started = 0.0
    for line in sys.stdin:
        if line.startswith("start"):
            started = time.process_time()
            counting.calls = 0
            counting.by_function.clear()
            counting.on = True
            print("ok", flush=True)
        elif line.startswith("stop"):
            counting.on = False
            cpu = time.process_time() - started
            print(f"{cpu} {counting.calls}", flush=True)
        elif line.startswith("top"):
            for (path, line_no, name), n in counting.by_function.most_common(40):
                print(f"  {n:8d} {Path(path).name}:{line_no}({name})", flush=True)
            print("end", flush=True)
        elif line.startswith("profile"):
            stats = profiles.stats()
            stats.sort_stats("tottime").print_stats(30)
            print("end", flush=True)


# -- the client (this process) ---------------------------------------------------------------------


class Child:
    def __init__(self, cpu: int, mode: str) -> None:
        self.proc, self.binding = spawn(__file__, cpu, "--server", mode)

    def ask(self, command: str) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def dump(self, command: str) -> list[str]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        lines = []
        for line in self.proc.stdout:
            if line.strip() == "end":
                break
            lines.append(line.rstrip())
        return lines

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


def run_write(stream: Any, calls: int) -> None:
    for _ in range(calls):
        stream.Write(PAYLOAD, len(PAYLOAD))


def run_sync(calc: Any, calls: int) -> None:
    for i in range(calls):
        if calc.Add(i, 1) != i + 1:
            raise AssertionError("wrong sum")


def run_async(calc: Any, calls: int, depth: int) -> None:
    from stream_handwritten import IID_AsyncICalc

    from idlgen.runtime.com.stdiface import ICallFactory

    factory = calc.QueryInterface(ICallFactory)
    for _ in range(max(1, calls // depth)):
        objs = [factory.CreateCall(IID_AsyncICalc, None, IID_AsyncICalc) for _ in range(depth)]
        for i, call in enumerate(objs):
            call.Begin_Add(i, 1)
        for i, call in enumerate(objs):
            if call.Finish_Add() != i + 1:
                raise AssertionError("wrong sum from a call object")
            call.Release()
    factory.Release()


def measure(child: Child, fn: Any, calls: int, batches: int) -> tuple[float, float]:
    """(median server CPU seconds per call, median server Python calls per call)."""
    fn(max(calls // 10, 20))  # warm-up
    cpu, counts = [], []
    for _ in range(batches):
        child.ask("start")
        fn(calls)
        seconds, count = child.ask("stop").split()
        cpu.append(float(seconds) / calls)
        counts.append(int(count) / calls)
    return statistics.median(cpu), statistics.median(counts)


def client(args: argparse.Namespace) -> None:
    from stream_handwritten import ICalc

    from idlgen.runtime.rpc import orpc

    cpu = sorted(os.sched_getaffinity(0))[0]
    os.sched_setaffinity(0, {cpu})
    rows = [one_server(mode, cpu, args) for mode in ("time", "count")]
    (_, sync_t, deep_t, write_t), (_, sync_c, deep_c, write_c) = rows
    print(f"server on CPU {cpu} with the client; {args.calls} calls x {args.batches} batches")
    print()
    print("| call | server CPU per call (us) | server Python calls per call |")
    print("|---|---:|---:|")
    print(f"| synchronous Add | {sync_t[0] * 1e6:.1f} | {sync_c[1]:.0f} |")
    print(f"| Add, {args.depth} outstanding | {deep_t[0] * 1e6:.1f} | {deep_c[1]:.0f} |")
    print(f"| synchronous Write 4 KiB | {write_t[0] * 1e6:.1f} | {write_c[1]:.0f} |")
    if args.profile:
        child = Child(cpu, "profile")
        calc = orpc.connect(child.binding, ICalc)
        if args.profile == "sync":
            run_sync(calc, args.calls)
        else:
            run_async(calc, args.calls, args.depth)
        print("\n".join(child.dump("profile")))
        calc.Release()
        child.close()


Figures = tuple[float, float]  # CPU seconds, Python calls, per call


def one_server(
    mode: str, cpu: int, args: argparse.Namespace
) -> tuple[str, Figures, Figures, Figures]:
    from stream_handwritten import ICalc, ISimpleStream

    from idlgen.runtime.rpc import orpc

    child = Child(cpu, mode)
    calc = orpc.connect(child.binding, ICalc)
    try:
        sync = measure(child, lambda n: run_sync(calc, n), args.calls, args.batches)
        deep = measure(child, lambda n: run_async(calc, n, args.depth), args.calls, args.batches)
        stream = calc.QueryInterface(ISimpleStream)
        write = measure(child, lambda n: run_write(stream, n), args.calls, args.batches)
        stream.Release()
        if mode == "count" and args.top:
            run_sync_top(child, calc, args.calls)
    finally:
        calc.Release()
        child.close()
    return mode, sync, deep, write


def run_sync_top(child: Child, calc: Any, calls: int) -> None:
    child.ask("start")
    run_sync(calc, calls)
    child.ask("stop")
    print(f"server functions called most during {calls} synchronous calls:")
    print("\n".join(child.dump("top")))


def main() -> None:
    parser = argparse.ArgumentParser(description="Server CPU and Python calls per ORPC call.")
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--depth", type=int, default=256)
    parser.add_argument(
        "--profile",
        choices=("sync", "outstanding"),
        help="print a cProfile of the server for synchronous calls or --depth outstanding ones",
    )
    parser.add_argument("--top", action="store_true", help="print the most called functions")
    parser.add_argument("--quick", action="store_true", help="500 calls x 3 batches")
    parser.add_argument("--server", choices=("time", "count", "profile"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.server:
        return server(args.server)
    if args.quick:
        args.calls, args.batches = 512, 3
    client(args)


if __name__ == "__main__":
    main()
