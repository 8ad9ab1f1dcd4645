"""Finding 8 of issue 11: slow calls from one client cannot starve the others. A connection
runs at most `max_running_per_connection` calls at once (more wait their turn); the pool
grows while every thread is busy, up to `max_call_threads`; past that, calls are refused at
once with RPC_S_SERVER_TOO_BUSY instead of waiting without bound."""

from __future__ import annotations

import contextlib
import time
from typing import Any

import pytest
from security_helpers import WAIT, RawClient, serve_child, split_published
from stream_handwritten import ICalc, IID_AsyncISimpleStream, ISimpleStream

from idlgen import runtime as rt
from idlgen.runtime.com.stdiface import ICallFactory
from idlgen.runtime.rpc import orpc

TOO_BUSY = rt.HRESULT_FROM_WIN32(1723)  # RPC_S_SERVER_TOO_BUSY


def blocking_reads(text: str, count: int) -> list[Any]:
    """`count` Read calls in flight; each blocks in the server until canceled."""
    stream = orpc.connect(text, ISimpleStream)
    factory = stream.QueryInterface(ICallFactory)
    calls = []
    for _ in range(count):
        call = factory.CreateCall(IID_AsyncISimpleStream, None, IID_AsyncISimpleStream)
        call.Begin_Read(5)
        calls.append(call)
    return calls


def eventually_served(call: Any) -> Any:
    """`call()`, retried while the server says it is too busy (its threads are leaving the
    canceled calls just after their replies went out); a safety net, not a timing."""
    deadline = time.monotonic() + WAIT
    while True:
        try:
            return call()
        except rt.COMError as exc:
            if exc.hresult != TOO_BUSY or time.monotonic() > deadline:
                raise
        time.sleep(0.01)


def end(calls: list[Any]) -> None:
    for call in calls:
        with contextlib.suppress(rt.CallCompleteError):  # it may have just finished
            call.Cancel(0)
    for call in calls:
        assert call.wait(WAIT)


def test_one_clients_slow_calls_leave_threads_for_others() -> None:
    options = ["--limit", "max_call_threads=4", "--limit", "max_running_per_connection=2"]
    with serve_child(*options) as (_, text):
        reads = blocking_reads(text, 6)  # more than the whole pool
        published, binding = split_published(text)
        other = RawClient(binding)
        try:
            reply = other.call(ICalc, "Add", published, a=40, b=2)
            assert reply.outs["sum"] == 42
            assert not any(call.done() for call in reads)  # while A's calls still block
        finally:
            other.close()
            end(reads)


def test_full_pool_answers_server_too_busy_at_once() -> None:
    options = ["--limit", "max_call_threads=3", "--limit", "max_running_per_connection=16"]
    options += ["--limit", "max_queued_calls=1"]
    with serve_child(*options) as (_, text):
        calc = orpc.connect(text, ICalc)
        reads = blocking_reads(text, 10)
        try:
            with pytest.raises(rt.COMError) as info:
                calc.Add(1, 2)  # after the reads on the same connection: the pool is full
            assert info.value.hresult == TOO_BUSY
            refused = [call for call in reads if call.done()]
            running = [call for call in reads if not call.done()]
            assert len(running) >= 3 + 1 and len(refused) >= 1  # 3+ threads, 1 queued
            for call in refused:
                with pytest.raises(rt.COMError) as info:
                    call.Finish_Read()
                assert info.value.hresult == TOO_BUSY
        finally:
            end([call for call in reads if not call.done()])
        assert eventually_served(lambda: calc.Add(1, 2)) == 3  # threads are free again
