"""The public asynchronous form of plain RPC clients: `Begin_X(...)` returns a `PendingRpc`
that gives what `X` gives, blocking (`result`), awaited (asyncio) or as a Future, with
several calls in flight on one association and co_cancel for cancellation
(docs/dcerpc.md, "Asynchronous calls")."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
from rpc_calc import calc_Client
from rpc_calc_server import Calc
from rpc_helpers import WAIT

from idlgen import runtime as _rt
from idlgen.runtime.ndr.fault import NdrMarshalError
from idlgen.runtime.rpc.dcerpc import PendingRpc, RpcServer


class GatedCalc(Calc):
    """`Add(a, b)` answers only once the test opens gate `a`: the test, not the scheduler,
    decides the order in which calls complete. Gates ignore cancels, as a server method
    that never checks for them does."""

    def __init__(self) -> None:
        super().__init__()
        self.gates = {a: threading.Event() for a in range(8)}
        self.arrived = threading.Semaphore(0)

    def Add(self, a: int, b: int) -> int:
        if a in self.gates:
            self.arrived.release()
            assert self.gates[a].wait(WAIT)
        return super().Add(a, b)


@pytest.fixture
def impl() -> GatedCalc:
    return GatedCalc()


@pytest.fixture
def binding(impl: GatedCalc) -> Iterator[str]:
    server = RpcServer()
    server.register(impl)
    try:
        yield str(server.listen("ncacn_ip_tcp:127.0.0.1[0]"))
    finally:
        for gate in impl.gates.values():
            gate.set()
        server.close()


def test_calls_in_flight_on_one_association_complete_in_any_order(
    binding: str, impl: GatedCalc
) -> None:
    with calc_Client(binding) as c:
        pending = [c.Begin_Add(a, 100) for a in range(4)]
        for _ in pending:  # all four are running on the server at once
            assert impl.arrived.acquire(timeout=WAIT)
        assert c.connection.association_count == 1
        order = [2, 0, 3, 1]
        for n, a in enumerate(order):
            impl.gates[a].set()
            assert pending[a].wait(WAIT)
            assert pending[a].result() == a + 100
            still_open = set(order[n + 1 :])
            assert {i for i, p in enumerate(pending) if not p.done()} == still_open


def test_results_keep_the_calling_convention(binding: str) -> None:
    """What `Begin_X(...).result()` gives is what `X(...)` gives: NamedTuples, HRESULTs,
    success codes in last_hresult()."""
    with calc_Client(binding) as c:
        divmod_, upper, wait = c.Begin_Divmod(17, 5), c.Begin_Upper("grüße"), c.Begin_WaitCancel(0)
        assert divmod_.result(WAIT) == c.Divmod(17, 5) == (3, 2)
        assert upper.result(WAIT) == "GRÜSSE"
        assert wait.result(WAIT) == _rt.S_FALSE
        assert _rt.last_hresult() == _rt.S_FALSE


def test_a_fault_surfaces_as_the_same_comerror_as_the_synchronous_call(binding: str) -> None:
    with calc_Client(binding) as c:
        pending = c.Begin_Divmod(1, 0)
        with pytest.raises(_rt.InvalidArgError) as info:
            pending.result(WAIT)
        assert info.value.hresult == _rt.E_INVALIDARG
        assert pending.done()
        assert c.Begin_Add(20, 1).result(WAIT) == 21  # the association goes on


def test_wrong_arguments_fail_at_begin_before_anything_is_sent(binding: str) -> None:
    with calc_Client(binding) as c:
        with pytest.raises(TypeError):
            c.Begin_Add(1)  # type: ignore[call-arg]
        with pytest.raises(TypeError):
            c.Begin_Add(1, 2, 3)  # type: ignore[call-arg]
        with pytest.raises(NdrMarshalError) as info:  # as c.Add("one", 2) raises it
            c.Begin_Add("one", 2)  # type: ignore[arg-type]
        assert info.value.hresult == _rt.E_INVALIDARG
        assert c.connection.association_count == 0  # not even a connection was opened
        with pytest.raises(_rt.COMError) as refused:  # [local]: no wire form
            c.Begin_Local(1)
        assert refused.value.hresult == _rt.RPC_E_INVALIDMETHOD


def test_cancel_sends_co_cancel_and_the_server_decides(binding: str, impl: GatedCalc) -> None:
    with calc_Client(binding) as c:
        pending = c.Begin_WaitCancel(int(WAIT * 1000))
        assert impl.entered.wait(WAIT)
        assert pending.cancel() is True
        with pytest.raises(_rt.CallCanceledError) as info:
            pending.result(WAIT)
        assert info.value.hresult == _rt.RPC_E_CALL_CANCELED
        assert impl.cancel_seen.is_set()  # the server saw it and chose to fail the call
        assert pending.cancel() is False  # settled: nothing is sent


def test_a_server_that_ignores_cancel_still_gives_its_result(binding: str, impl: GatedCalc) -> None:
    with calc_Client(binding) as c:
        pending = c.Begin_Add(1, 1)
        assert impl.arrived.acquire(timeout=WAIT)
        assert pending.cancel() is True
        impl.gates[1].set()
        assert pending.result(WAIT) == 2


def test_cancel_with_no_wait_abandons_the_call(binding: str, impl: GatedCalc) -> None:
    """ICancelMethodCalls.Cancel(0): the caller stops waiting at once, whatever the server
    does; its late reply is dropped and the association goes on."""
    with calc_Client(binding) as c:
        pending = c.Begin_Add(3, 1)
        assert impl.arrived.acquire(timeout=WAIT)
        pending.Cancel(0)
        assert pending.done()
        with pytest.raises(_rt.CallCanceledError):
            pending.result(0)
        impl.gates[3].set()  # the server now answers a call nobody waits for
        assert c.Begin_Add(20, 2).result(WAIT) == 22
        assert c.Add(3, 3) == 6


def test_await_gives_the_result_and_runs_calls_concurrently(binding: str, impl: GatedCalc) -> None:
    async def main() -> list[int]:
        with calc_Client(binding) as c:
            tasks = [asyncio.ensure_future(_await(c.Begin_Add(a, 10))) for a in range(3)]
            for _ in tasks:
                assert await asyncio.to_thread(impl.arrived.acquire, timeout=WAIT)
            for a in (1, 2, 0):
                impl.gates[a].set()
            return await asyncio.gather(*tasks)

    assert asyncio.run(main()) == [10, 11, 12]


def test_awaiting_a_fault_raises_it(binding: str) -> None:
    async def main() -> None:
        with calc_Client(binding) as c:
            await c.Begin_Divmod(1, 0)

    with pytest.raises(_rt.InvalidArgError):
        asyncio.run(main())


def test_cancelling_the_awaiting_task_cancels_the_call(binding: str, impl: GatedCalc) -> None:
    async def main() -> PendingRpc[int]:
        with calc_Client(binding) as c:
            pending = c.Begin_WaitCancel(int(WAIT * 1000))
            task = asyncio.ensure_future(_await(pending))
            assert await asyncio.to_thread(impl.entered.wait, WAIT)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return pending

    pending = asyncio.run(main())
    assert impl.cancel_seen.wait(WAIT)  # co_cancel reached the server method
    assert pending.done()
    with pytest.raises(_rt.CallCanceledError):
        pending.result(0)


def test_as_future_resolves_and_its_cancel_cancels_the_call(binding: str, impl: GatedCalc) -> None:
    with calc_Client(binding) as c:
        assert c.Begin_Add(40, 2).as_future().result(WAIT) == 42
        pending = c.Begin_WaitCancel(int(WAIT * 1000))
        future = pending.as_future()
        assert impl.entered.wait(WAIT)
        assert future.cancel()
        assert impl.cancel_seen.wait(WAIT)
        with pytest.raises(_rt.CallCanceledError):
            pending.result(0)


async def _await(pending: PendingRpc[int]) -> int:
    return await pending
