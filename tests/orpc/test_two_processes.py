"""ORPC between two processes: the server is `python -m idlgen.runtime serve` in a child,
the client is this test process (its process MTA)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from orpc_helpers import WAIT, child_env, first_line, server_process, stop
from stream_handwritten import (
    ICalc,
    ICallback,
    IEventSource,
    IID_AsyncICalc,
    IID_AsyncISimpleStream,
    ISimpleStream,
)

from idlgen import runtime as rt
from idlgen.runtime.com.stdiface import ICallFactory
from idlgen.runtime.rpc import orpc


class Sink(rt.ComObject, ICallback):
    """The client's own object, which the server calls back."""

    def __init__(self, outer: Any = None) -> None:
        super().__init__(outer)
        self.values: list[int] = []

    def Notify(self, v: int) -> int:
        self.values.append(v)
        return rt.S_OK


@pytest.fixture(params=["tcp", "unix"])
def served(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[tuple[Any, str]]:
    if request.param == "tcp":
        binding = "ncacn_ip_tcp:127.0.0.1[0]"
    else:
        binding = f"ncacn_unix_stream:[{tmp_path / 'hub.sock'}]"
    with server_process(binding) as (proc, text):
        yield proc, text


def census(hub: Any) -> int:
    """Public references the server's export of the hub holds (Write(b"", 0) reports them)."""
    stream = hub.QueryInterface(ISimpleStream)
    try:
        return int(stream.Write(b"", 0))
    finally:
        stream.Release()


def test_published_string_names_an_ipid_and_the_endpoint(served: tuple[Any, str]) -> None:
    _, text = served
    ipid, _, binding = text.partition("@")
    assert len(ipid) == 36
    assert binding.startswith(("ncacn_ip_tcp:127.0.0.1[", "ncacn_unix_stream:["))


def test_sync_calls_and_query_interface(served: tuple[Any, str]) -> None:
    _, text = served
    calc = orpc.connect(text, ICalc)
    assert calc.Add(2, 40) == 42
    stream = calc.QueryInterface(ISimpleStream)  # RemQueryInterface in the server
    assert stream.Write(b"abc", 3) == 3
    assert stream.QueryInterface(rt.IUnknown) is calc.QueryInterface(rt.IUnknown)
    stream.Release()
    calc.Release()


def test_callback_to_the_clients_own_object(served: tuple[Any, str]) -> None:
    _, text = served
    source = orpc.connect(text, IEventSource)
    sink = Sink()
    source.Advise(sink)  # the server now holds a proxy to an object of this process
    assert source.Fire(7) == 1  # the server calls Notify over a connection to our endpoint
    assert sink.values == [7]
    back = source.GetSink()  # our own object, handed back: unmarshals to the object itself
    assert back is sink.QueryInterface(ICallback) or back.Notify(8) == rt.S_OK
    source.Release()


def test_many_outstanding_call_objects(served: tuple[Any, str]) -> None:
    _, text = served
    calc = orpc.connect(text, ICalc)
    factory = calc.QueryInterface(ICallFactory)
    calls = [factory.CreateCall(IID_AsyncICalc, None, IID_AsyncICalc) for _ in range(200)]
    for i, call in enumerate(calls):
        call.Begin_Add(i, 1000)  # all sent before any reply is read
    for call in calls:
        assert call.wait(WAIT)
    assert [call.Finish_Add() for call in calls] == [i + 1000 for i in range(200)]


def test_cancel_reaches_cotestcancel(served: tuple[Any, str]) -> None:
    _, text = served
    stream = orpc.connect(text, ISimpleStream)
    factory = stream.QueryInterface(ICallFactory)
    call = factory.CreateCall(IID_AsyncISimpleStream, None, IID_AsyncISimpleStream)
    call.Begin_Read(5)  # blocks in the server until it sees the cancel
    assert call.Cancel(0) == rt.S_OK
    assert call.wait(WAIT)
    with pytest.raises(rt.CallCanceledError) as info:
        call.Finish_Read()
    assert info.value.hresult == rt.RPC_E_CALL_CANCELED
    assert stream.Write(b"x", 1) == 1  # the server still serves


def test_server_killed_mid_call_fails_promptly(served: tuple[Any, str]) -> None:
    proc, text = served
    stream = orpc.connect(text, ISimpleStream)
    factory = stream.QueryInterface(ICallFactory)
    call = factory.CreateCall(IID_AsyncISimpleStream, None, IID_AsyncISimpleStream)
    call.Begin_Read(5)
    proc.kill()
    assert call.wait(WAIT), "the call never completed after the server died"
    with pytest.raises(rt.DisconnectedError):
        call.Finish_Read()


CLIENT = """
import sys
from idlgen.runtime.rpc import orpc
from stream_handwritten import IID_AsyncISimpleStream, ISimpleStream
from idlgen.runtime.com.stdiface import ICallFactory
stream = orpc.connect(sys.argv[1], ISimpleStream)
extra = stream.QueryInterface(ISimpleStream)  # a second public reference
call = stream.QueryInterface(ICallFactory).CreateCall(
    IID_AsyncISimpleStream, None, IID_AsyncISimpleStream)
call.Begin_Read(5)
print("ready", flush=True)
sys.stdin.read()
"""


def test_client_killed_mid_call_releases_its_references(served: tuple[Any, str]) -> None:
    _, text = served
    hub = orpc.connect(text, ICalc)
    before = census(hub)
    client = subprocess.Popen(
        [sys.executable, "-c", CLIENT, text],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    try:
        assert first_line(client) == "ready"
        assert census(hub) > before  # the client holds references now
        client.kill()
        client.wait(WAIT)
    finally:
        stop(client)
    deadline = time.monotonic() + WAIT  # the server notices the closed connection
    while census(hub) != before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert census(hub) == before
