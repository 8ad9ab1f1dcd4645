"""asyncio and concurrent.futures over the same call object (B34-B37)."""

from __future__ import annotations

import asyncio
import threading

import pytest
from simple_stream_handwritten import ReadResult
from stream_servers import WAIT, GatedStream, MemoryStream, new_call

from idlgen import runtime as _rt


def test_await_call_returns_finish_result_without_blocking_loop() -> None:
    server = GatedStream(b"hello")
    call = new_call(server)

    async def main() -> tuple[ReadResult, int]:
        call.Begin_Read(5)
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while not server.started.is_set() or ticks < 3:
                ticks += 1
                await asyncio.sleep(0)
            server.gate.set()  # opened by the loop itself: only possible if it was not blocked

        task = asyncio.create_task(ticker())
        result = await asyncio.wait_for(call, WAIT)
        await task
        return result, ticks

    result, ticks = asyncio.run(main())
    assert result == ReadResult(b"hello", 5)
    assert ticks >= 3


def test_await_call_raises_what_finish_raises() -> None:
    call = new_call(MemoryStream(b"abc"))

    async def main() -> None:
        call.Begin_Write(b"x", 5)  # cb > len(pv): the server raises E_INVALIDARG
        await call

    with pytest.raises(_rt.InvalidArgError):
        asyncio.run(main())


def test_cancelling_task_cancels_call() -> None:
    server = GatedStream(b"hello")
    call = new_call(server)

    async def main() -> None:
        call.Begin_Read(5)
        assert server.started.wait(WAIT)  # running: a cancel before it starts means it never runs
        task = asyncio.ensure_future(call)
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    server.gate.set()
    assert server.finished.wait(WAIT)
    assert server.saw_cancel is True  # the server saw ICancelMethodCalls.Cancel
    with pytest.raises(_rt.CallCompleteError):
        call.Finish_Read()  # the adapter already cleaned up with Finish_
    call.Begin_Swap(3)  # and the object is reusable
    call.Wait(0, _rt.INFINITE)
    assert call.Finish_Swap() == (3, 0)


def test_future_resolves_with_finish_result() -> None:
    call = new_call(MemoryStream(b"abc"))
    call.Begin_Read(2)
    future = call.as_future()
    assert future.result(WAIT) == ReadResult(b"ab", 2)
    call.Begin_Write(b"x", 9)
    with pytest.raises(_rt.InvalidArgError):
        call.as_future().result(WAIT)


def test_future_cancel_cancels_call() -> None:
    server = GatedStream(b"abc")
    call = new_call(server)
    call.Begin_Read(1)
    assert server.started.wait(WAIT)  # running: a cancel before it starts means it never runs
    future = call.as_future()
    assert future.cancel()
    server.gate.set()
    assert server.finished.wait(WAIT)
    assert server.saw_cancel is True
    with pytest.raises(_rt.CallCompleteError):
        call.Finish_Read()


def test_thread_wait_and_await_share_one_call() -> None:
    server = GatedStream(b"abc")
    call = new_call(server)
    call.Begin_Read(3)
    waited: list[int] = []
    thread = threading.Thread(target=lambda: waited.append(call.Wait(0, _rt.INFINITE)))
    thread.start()

    async def main() -> ReadResult:
        server.gate.set()
        return await call  # type: ignore[no-any-return]

    assert asyncio.run(main()) == ReadResult(b"abc", 3)
    thread.join(WAIT)
    assert waited == [_rt.S_OK]
