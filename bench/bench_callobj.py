"""Benchmark: cost of a same-apartment asynchronous call and of a pending call object.

Run: python bench/bench_callobj.py [--runs 7] [--calls 20000] [--pending 100000]

The process pins itself to one CPU (os.sched_setaffinity) so thread hand-offs are
measured under the same scheduling every run; every timing is the median of --runs runs,
all measured in the same process, side by side with the anchors (a plain method call and
ThreadPoolExecutor.submit().result()). Prints a markdown table.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "runtime")]

from simple_stream_handwritten import AsyncISimpleStream, ISimpleStream, SwapResult  # noqa: E402

from idlgen import runtime as _rt  # noqa: E402


class Server(_rt.CallFactory, ISimpleStream):
    def Swap(self, pValue: int) -> SwapResult:
        return SwapResult(pValue, 0)


class AsyncServer(_rt.CallFactory, ISimpleStream):
    """The same method as `async def`: call objects run it as a task on the servant loop."""

    async def Swap(self, pValue: int) -> SwapResult:
        return SwapResult(pValue, 0)


class WaitingServer(_rt.CallFactory, ISimpleStream):
    """An `async def` method that waits until released: its calls stay pending."""

    def __init__(self) -> None:
        super().__init__()
        self.release: Any = None  # an asyncio.Event, made on the servant loop

    async def Swap(self, pValue: int) -> SwapResult:
        import asyncio

        if self.release is None:
            self.release = asyncio.Event()
        await self.release.wait()
        return SwapResult(pValue, 0)


class InlineCall(_rt.ServerCall, AsyncISimpleStream):
    """Runs the method inside Begin_: measures the call object alone, no thread."""

    __slots__ = ()
    _inline_ = True


class NeverCompletes(_rt.ServerCall, AsyncISimpleStream):
    """A server whose work is in flight elsewhere: the call stays pending."""

    __slots__ = ()

    def _start_(self, ticket: int, method: Any, ins: tuple[Any, ...]) -> None:
        pass


def make_call(call_class: type | None) -> Any:
    class S(Server):
        _call_objects_ = (call_class,) if call_class else ()

    factory = S().QueryInterface(_rt.IID_ICallFactory)
    return factory.CreateCall(AsyncISimpleStream._iid_, None, AsyncISimpleStream._iid_)


def per_call_ns(loop: Callable[[int], None], calls: int, runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        loop(calls)
        samples.append((time.perf_counter_ns() - start) / calls)
    return statistics.median(samples)


def bench_times(calls: int, runs: int) -> list[tuple[str, float]]:
    server = Server()
    inline = make_call(InlineCall)
    pooled = make_call(None)
    executor = ThreadPoolExecutor(max_workers=1)

    def plain(n: int) -> None:
        for i in range(n):
            server.Swap(i)

    def begin_finish_inline(n: int) -> None:
        for i in range(n):
            inline.Begin_Swap(i)
            inline.Finish_Swap()

    def begin_finish_worker(n: int) -> None:
        for i in range(n):
            pooled.Begin_Swap(i)
            pooled.Finish_Swap()

    def executor_round_trip(n: int) -> None:
        for i in range(n):
            executor.submit(server.Swap, i).result()

    async_server = AsyncServer()
    async_call = async_server.QueryInterface(_rt.ICallFactory).CreateCall(AsyncISimpleStream)

    def begin_finish_async_def(n: int) -> None:
        for i in range(n):
            async_call.Begin_Swap(i)
            async_call.Finish_Swap()

    def awaited(n: int) -> None:
        import asyncio

        async def calls() -> None:
            for i in range(n):
                await _rt.awaitable(server).Swap(i)

        asyncio.run(calls())

    rows = [
        ("plain method call `server.Swap(i)`", per_call_ns(plain, calls, runs)),
        ("Begin_/Finish_, server runs inline", per_call_ns(begin_finish_inline, calls, runs)),
        ("Begin_/Finish_, server on worker thread", per_call_ns(begin_finish_worker, calls, runs)),
        ("ThreadPoolExecutor.submit().result()", per_call_ns(executor_round_trip, calls, runs)),
        (
            "Begin_/Finish_, `async def` server (task on the servant loop)",
            per_call_ns(begin_finish_async_def, calls, runs),
        ),
        (
            "`await rt.awaitable(server).Swap(i)` (sync server on a worker)",
            per_call_ns(awaited, calls, runs),
        ),
    ]
    executor.shutdown()
    return rows


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def pending_calls(count: int) -> list[Any]:
    calls = []
    for i in range(count):
        call = make_call_cached()
        call.Begin_Swap(i)
        calls.append(call)
    return calls


_factory: Any = None


def make_call_cached() -> Any:
    global _factory
    if _factory is None:

        class S(Server):
            _call_objects_ = (NeverCompletes,)

        _factory = S().QueryInterface(_rt.IID_ICallFactory)
    return _factory.CreateCall(AsyncISimpleStream._iid_, None, AsyncISimpleStream._iid_)


def bench_memory(pending: int) -> list[tuple[str, str]]:
    make_call_cached()
    gc.collect()
    tracemalloc.start()
    sample = pending_calls(1000)
    traced, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    per_call = traced / len(sample)
    tracemalloc.start()
    events = [threading.Event() for _ in range(1000)]
    event_bytes, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del sample, events
    gc.collect()
    before = rss_kib()
    many = pending_calls(pending)
    after = rss_kib()
    assert all(not call.done() for call in many[:10])
    waiting = WaitingServer()
    factory = waiting.QueryInterface(_rt.ICallFactory)
    threads_before = threading.active_count()
    held = [factory.CreateCall(AsyncISimpleStream) for _ in range(10_000)]
    for i, call in enumerate(held):
        call.Begin_Swap(i)
    extra_threads = threading.active_count() - threads_before
    from idlgen.runtime.com.aioservant import servant_loop

    servant_loop().call_soon_threadsafe(waiting.release.set)  # let them all finish
    for call in held:
        call.Finish_Swap()
    return [
        ("threads added by 10,000 pending `async def` calls (loop running)", f"{extra_threads}"),
        ("pending call object (tracemalloc, incl. list slot)", f"{per_call:.0f} B"),
        ("threading.Event, for comparison (tracemalloc)", f"{event_bytes / 1000:.0f} B"),
        (f"RSS growth for {pending:,} pending call objects", f"{(after - before) / 1024:.1f} MiB"),
        ("RSS growth per pending call object", f"{(after - before) * 1024 / pending:.0f} B"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--pending", type=int, default=100_000)
    args = parser.parse_args()
    pinned = "not pinned (no sched_setaffinity)"
    if hasattr(os, "sched_setaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        pinned = f"pinned to CPU {cpu}"
    print(f"Python {sys.version.split()[0]}, {pinned}, median of {args.runs} runs")
    print()
    print("| round trip | ns per call |")
    print("|---|---:|")
    for name, ns in bench_times(args.calls, args.runs):
        print(f"| {name} | {ns:,.0f} |")
    print()
    print("| memory | value |")
    print("|---|---:|")
    for name, value in bench_memory(args.pending):
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
