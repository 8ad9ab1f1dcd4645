"""Finding 9 of issue 11: a stopped server (SIGSTOP) never makes a synchronous call wait
forever. Calls have a default timeout, changeable per call and per proxy, and every wait
inside a call (here: the alter_context a new interface needs) ends at the call's deadline."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from security_helpers import WAIT, serve_child
from stream_handwritten import ICalc, ISimpleStream

from idlgen import runtime as rt
from idlgen.runtime.com import deadline
from idlgen.runtime.rpc import orpc
from idlgen.runtime.rpc.orpc import client as orpc_client

SHORT = 0.3  # the timeouts under test; WAIT is only the safety net against a hang


@pytest.fixture
def stopped(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any]]:
    """(calc, stream) proxies to a server process that is then stopped with SIGSTOP. The
    connection's own bind timeout is made huge: only the call's deadline can end a wait."""
    monkeypatch.setattr(orpc_client, "_outbound", replace(orpc_client._outbound, bind_timeout=600))
    with serve_child() as (proc, text):
        calc = orpc.connect(text, ICalc)
        assert calc.Add(1, 2) == 3
        stream = calc.QueryInterface(ISimpleStream)  # no call on ISimpleStream yet
        os.kill(proc.pid, signal.SIGSTOP)
        # kill() only queues the stop: on a busy machine the server could still answer
        # the next call. Waiting for the child's stop report makes it really stopped.
        _, status = os.waitpid(proc.pid, os.WUNTRACED)
        assert os.WIFSTOPPED(status)
        try:
            yield calc, stream
        finally:
            os.kill(proc.pid, signal.SIGCONT)


def outcome(call: Callable[[], Any]) -> BaseException | None:
    """Run `call` on a thread; what it raised. Fails if it is still waiting after WAIT."""
    box: list[BaseException | None] = [None]

    def run() -> None:
        try:
            call()
        except BaseException as exc:  # handed to the test
            box[0] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(WAIT)
    assert not thread.is_alive(), "the call is still waiting on a stopped server"
    return box[0]


def test_sync_call_to_stopped_server_ends_at_the_default_timeout(
    stopped: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    calc, _ = stopped
    assert deadline.DEFAULT_CALL_TIMEOUT is not None
    monkeypatch.setattr(deadline, "DEFAULT_CALL_TIMEOUT", SHORT)
    assert isinstance(outcome(lambda: calc.Add(1, 2)), rt.RpcTimeoutError)


def test_call_timeout_per_call_and_per_proxy(stopped: tuple[Any, Any]) -> None:
    calc, _ = stopped

    def per_call() -> None:
        with rt.call_timeout(SHORT):
            calc.Add(1, 2)

    assert isinstance(outcome(per_call), rt.RpcTimeoutError)
    rt.set_call_timeout(calc, SHORT)
    assert isinstance(outcome(lambda: calc.Add(1, 2)), rt.RpcTimeoutError)


def test_alter_context_for_a_new_interface_obeys_the_call_timeout(
    stopped: tuple[Any, Any],
) -> None:
    _, stream = stopped

    def first_call_on_a_new_interface() -> None:
        with rt.call_timeout(SHORT):
            stream.Write(b"x", 1)

    assert isinstance(outcome(first_call_on_a_new_interface), rt.RpcTimeoutError)
