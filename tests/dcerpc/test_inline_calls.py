"""Plain RPC calls run on the reactor thread that read them (no hand-off to the pool), and a
slow one holds up neither its own connection nor another: the reactor's spare thread takes
the reading over (`ServerLimits.inline_call_bound`, docs/orpc.md "Server threads")."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from rpc_calc import calc_Client
from rpc_calc_server import Calc
from rpc_helpers import WAIT
from waiting import until

from idlgen.runtime.rpc.dcerpc import RpcServer
from idlgen.runtime.rpc.dcerpc import reactor as reactor_module


class Recording(Calc):
    """Calc that says which thread ran Add, and blocks in Add(-1, n) until released."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: list[str] = []
        self.release = threading.Event()

    def Add(self, a: int, b: int) -> int:
        self.threads.append(threading.current_thread().name)
        if a == -1:
            self.release.wait(WAIT)
        return super().Add(a, b)


@pytest.fixture
def served() -> Iterator[tuple[RpcServer, Recording, str]]:
    impl = Recording()
    server = RpcServer()
    server.register(impl)
    actual = server.listen("ncacn_ip_tcp:127.0.0.1[0]")
    try:
        yield server, impl, str(actual)
    finally:
        impl.release.set()
        server.close()


def _inline_possible(server: RpcServer) -> bool:
    """A call read now runs inline: a spare waits to take the loop over, and the pool
    has an idle thread (the one that ran the first call may not be back yet when its reply
    has already reached the client)."""
    return server.reactor._spares == 1 and server._pool.has_idle_thread


def test_plain_rpc_call_runs_on_the_reactor_thread(
    served: tuple[RpcServer, Recording, str],
) -> None:
    server, impl, binding = served
    with calc_Client(binding) as c:
        assert c.Add(1, 2) == 3  # the first call starts the reactor's spare thread
        until(lambda: _inline_possible(server), WAIT)
        impl.threads.clear()
        assert c.Add(2, 3) == 5
    assert impl.threads == ["rpc-reactor"]


def test_slow_plain_rpc_call_holds_up_no_other_call(
    served: tuple[RpcServer, Recording, str],
) -> None:
    server, impl, binding = served
    with calc_Client(binding) as c, calc_Client(binding) as other:
        c.Add(1, 2)
        until(lambda: _inline_possible(server), WAIT)
        slow = threading.Thread(target=c.Add, args=(-1, 0), daemon=True)
        slow.start()
        until(lambda: len(impl.threads) == 2, WAIT)  # the slow call is running
        assert c.Add(2, 3) == 5  # the same connection
        assert other.Add(4, 5) == 9  # another connection
        assert server.reactor.takeovers >= 1
        impl.release.set()
        slow.join(WAIT)
        assert not slow.is_alive()


def test_a_parked_spare_wakes_for_a_batch_and_takes_a_slow_call_over(
    served: tuple[RpcServer, Recording, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once the reactor was idle for a while the spare waits without a timeout (parked);
    the next batch wakes it (it starts without the spare's lock, and notifies under it
    only when the spare is parked), so a slow call of that batch is taken over still."""
    server, impl, binding = served
    monkeypatch.setattr(reactor_module, "_PARK_AFTER", 0.05)
    with calc_Client(binding) as c, calc_Client(binding) as other:
        c.Add(1, 2)
        until(lambda: _inline_possible(server) and server.reactor._parked, WAIT)
        slow = threading.Thread(target=c.Add, args=(-1, 0), daemon=True)
        slow.start()
        until(lambda: len(impl.threads) == 2, WAIT)  # the slow call is running
        assert other.Add(4, 5) == 9
        assert server.reactor.takeovers >= 1
        impl.release.set()
        slow.join(WAIT)
