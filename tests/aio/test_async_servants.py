"""`async def` server methods: the runtime runs them on an asyncio loop and completes the
COM call when they finish, wherever the call comes from (a direct call, a call object in
the apartment, another apartment, another process).

The rules, each checked on every path:
- an async servant answers exactly as its synchronous twin (results, HRESULTs, errors);
- cancelling the COM call cancels the task, and the task sees the call canceled;
- a task that ends cancelled completes the COM call with RPC_E_CALL_CANCELED.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from servants import SELF_CANCEL, AsyncPlainStream, AsyncStream, SyncStream, stream_idl

from idlgen import runtime as rt
from idlgen.runtime.apartments.apartment import Apartment
from idlgen.runtime.apartments.marshal import marshal_interface, unmarshal_interface
from idlgen.runtime.rpc import orpc

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
WAIT = 20.0  # a bound against hangs, never a timing assertion
AsyncISimpleStream = stream_idl.AsyncISimpleStream


# -- the paths a call can take -------------------------------------------------------------


class Path_:
    """A served object seen through one path: `stream` to call, `local` the servant itself
    (None in another process), `count()` the server's cancelled Reads."""

    def __init__(self, stream: Any, local: Any, count: Callable[[], int]) -> None:
        self.stream = stream
        self.local = local
        self.count = count

    def call_object(self) -> Any:
        factory = self.stream.QueryInterface(rt.ICallFactory)
        try:
            return factory.CreateCall(AsyncISimpleStream)
        finally:
            factory.Release()


@contextlib.contextmanager
def in_apartment(cls: type) -> Iterator[Path_]:
    servant = cls()
    yield Path_(servant, servant, lambda: servant.cancelled_reads)


@contextlib.contextmanager
def across_apartments(cls: type) -> Iterator[Path_]:
    apartment = Apartment.sta("server")
    apartment.call_timeout = WAIT
    try:

        def create() -> tuple[Any, bytes]:
            servant = cls()
            objref = marshal_interface(servant, stream_idl.ISimpleStream)
            servant.Release()
            return servant, objref

        servant, objref = apartment.run(create)
        proxy = unmarshal_interface(objref)
        yield Path_(proxy, servant, lambda: servant.cancelled_reads)
        proxy.Release()
    finally:
        apartment.shutdown()


@contextlib.contextmanager
def across_processes(cls: type) -> Iterator[Path_]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), str(REPO), env.get("PYTHONPATH", "")])
    proc = subprocess.Popen(
        [sys.executable, "-m", "idlgen.runtime", "serve", f"servants:{cls.__name__}"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], WAIT)
        text = proc.stdout.readline().strip() if ready else ""
        assert text, "the server printed nothing"
        proxy = orpc.connect(text, stream_idl.ISimpleStream)
        yield Path_(proxy, None, lambda: int(proxy.Write(b"", 0)))
    finally:
        proc.kill()
        proc.communicate(timeout=WAIT)


PATHS = {"apartment": in_apartment, "apartments": across_apartments, "processes": across_processes}


def eventually(condition: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def outcome(action: Callable[[], Any]) -> Any:
    try:
        return ("ok", action())
    except rt.COMError as exc:
        return ("hresult", rt.hresult_name(exc.hresult))
    except Exception as exc:
        return ("raised", type(exc).__name__)


def transcript(path: Path_) -> list[Any]:
    """Synchronous and call-object calls, successes and failures, in one list."""
    stream = path.stream
    steps = [
        outcome(lambda: stream.Write(b"hello", 5)),
        outcome(lambda: tuple(stream.Read(3))),
        outcome(lambda: stream.Write(b"fail", 4)),
        outcome(lambda: stream.Write(b"crash", 5)),
    ]
    call = path.call_object()
    for begin, finish in [
        (lambda: call.Begin_Write(b"world", 5), call.Finish_Write),
        (lambda: call.Begin_Read(7), lambda: tuple(call.Finish_Read())),
        (lambda: call.Begin_Write(b"fail", 4), call.Finish_Write),
        (lambda: call.Begin_Write(b"crash", 5), call.Finish_Write),
    ]:
        begin()
        steps.append(outcome(finish))
    call.Release()
    return steps


@pytest.mark.parametrize("where", PATHS)
def test_an_async_servant_answers_as_its_sync_twin(where: str) -> None:
    with PATHS[where](SyncStream) as sync_path:
        expected = transcript(sync_path)
    with PATHS[where](AsyncStream) as async_path:
        assert transcript(async_path) == expected
    assert expected[:2] == [("ok", 5), ("ok", (b"hel", 3))]
    assert expected[2] == ("hresult", "E_INVALIDARG")


# An object without ICallFactory has call objects only through a proxy; there, its stub
# calls the method synchronously and the cancel reaches the waiting task another way.
CANCEL_CASES = [(where, AsyncStream) for where in PATHS] + [
    ("apartments", AsyncPlainStream),
    ("processes", AsyncPlainStream),
]


@pytest.mark.parametrize(("where", "cls"), CANCEL_CASES)
def test_cancelling_the_call_cancels_the_task(where: str, cls: type) -> None:
    with PATHS[where](cls) as path:
        call = path.call_object()
        call.Begin_Read(4)  # no data: the task waits
        assert not call.wait(0.05)
        call.Cancel(0)
        with pytest.raises(rt.CallCanceledError):
            call.Finish_Read()
        assert eventually(lambda: path.count() == 1), "the server's task was not cancelled"
        if path.local is not None:
            assert path.local.saw_call_canceled == [True]
        call.Begin_Write(b"after", 5)  # the object and the call object keep working
        assert call.Finish_Write() == 5
        call.Release()


@pytest.mark.parametrize("where", PATHS)
def test_a_task_that_ends_cancelled_cancels_the_call(where: str) -> None:
    with PATHS[where](AsyncStream) as path:
        call = path.call_object()
        call.Begin_Read(SELF_CANCEL)
        with pytest.raises(rt.CallCanceledError):
            call.Finish_Read()
        call.Release()
        with pytest.raises(rt.CallCanceledError):
            path.stream.Read(SELF_CANCEL)  # a synchronous call, too


def test_pending_async_calls_hold_no_thread() -> None:
    """More pending Reads than the worker pool has threads: all wait on the loop."""
    servant = AsyncStream()
    factory = servant.QueryInterface(rt.ICallFactory)
    calls = [factory.CreateCall(AsyncISimpleStream) for _ in range(64)]
    threads_before = threading.active_count()
    for call in calls:
        call.Begin_Read(1)
    assert threading.active_count() <= threads_before + 1  # at most the loop's own thread
    servant.Write(bytes(64), 64)
    assert all(call.wait(WAIT) for call in calls)
    assert [tuple(call.Finish_Read()) for call in calls] == [(b"\0", 1)] * 64


def test_methods_run_on_the_loop_the_program_gives() -> None:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    rt.set_servant_loop(loop)
    try:
        servant = AsyncStream()
        servant.Write(b"x", 1)
        call = servant.QueryInterface(rt.ICallFactory).CreateCall(AsyncISimpleStream)
        call.Begin_Read(1)
        call.Finish_Read()
        assert servant.loops == [loop]
    finally:
        rt.set_servant_loop(None)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(WAIT)
        loop.close()


def test_a_synchronous_call_from_the_servants_own_loop_is_refused_not_deadlocked() -> None:
    servant = AsyncStream()

    async def inside() -> Any:
        return outcome(lambda: servant.Write(b"x", 1))

    loop = servants_loop()
    result = asyncio.run_coroutine_threadsafe(inside(), loop).result(WAIT)
    assert result == ("hresult", "RPC_E_WRONG_THREAD")


def servants_loop() -> asyncio.AbstractEventLoop:
    from idlgen.runtime.com.aioservant import servant_loop

    return servant_loop()


@pytest.mark.parametrize("where", PATHS)
def test_awaitable_calls_and_asyncio_timeout_cancels_the_com_call(where: str) -> None:
    with PATHS[where](AsyncStream) as path:

        async def client() -> tuple[Any, Any]:
            written = await rt.awaitable(path.stream).Write(b"abc", 3)
            read = await rt.awaitable(path.stream).Read(3)
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.2):
                    await rt.awaitable(path.stream).Read(3)  # nothing left: times out
            return written, tuple(read)

        assert asyncio.run(client()) == (3, (b"abc", 3))
        assert eventually(lambda: path.count() == 1), "the timeout did not reach the server"


def test_defining_and_serving_sync_methods_never_imports_asyncio() -> None:
    code = (
        "import sys, idlgen.runtime as rt\n"
        "class I(rt.IUnknown):\n"
        "    _iid_ = rt.GUID('{6d0c3a10-2b2b-4c4c-8d8d-0000000000a1}')\n"
        "    _methods_ = rt.methods(rt.Method('Get', outs=('v',)),"
        " rt.Method('Sync', outs=('v',)))\n"
        "class S(rt.ComObject, I):\n"
        "    async def Get(self): return 1\n"
        "    def Sync(self): return 2\n"
        "assert S().Sync() == 2\n"
        "assert 'asyncio' not in sys.modules, 'asyncio imported before an async method ran'\n"
        "assert S().Get() == 1\n"
        "assert 'asyncio' in sys.modules\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=WAIT)


def test_code_on_the_servant_loop_may_await_async_servants() -> None:
    """Call objects never wait, so an `async def` method may await another one's calls."""
    servant = AsyncStream()

    async def inside() -> Any:
        written = await rt.awaitable(servant).Write(b"xy", 2)
        return written, tuple(await rt.awaitable(servant).Read(2))

    result = asyncio.run_coroutine_threadsafe(inside(), servants_loop()).result(WAIT)
    assert result == (2, (b"xy", 2))
