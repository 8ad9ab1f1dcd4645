"""Interface pointers as parameters, callbacks and STA reentrancy."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from apartment_fixtures import WAIT
from helpers import connect, serve
from servers import Calc, EventSource, Recorder
from stream_handwritten import ICalc, ICallback, IEventSource

from idlgen import runtime as _rt
from idlgen.runtime.apartments.apartment import Apartment
from idlgen.runtime.apartments.marshal import marshal_interface, unmarshal_interface
from idlgen.runtime.apartments.proxy import InterfaceProxy


def test_callback_into_a_waiting_sta_runs_on_its_thread(
    server_sta: Apartment, client_sta: Apartment
) -> None:
    source, objref = serve(server_sta, EventSource, IEventSource)

    def client() -> tuple[int, list[int], list[int], int]:
        proxy = unmarshal_interface(objref)
        recorder = Recorder()
        proxy.Advise(recorder)  # the interface pointer is marshaled as an OBJREF
        delivered = proxy.Fire(7)  # the server calls Notify while we wait for Fire
        return delivered, recorder.values, recorder.threads, threading.get_ident()

    delivered, values, threads, client_thread = client_sta.run(client)
    assert delivered == 1
    assert values == [7]
    assert threads == [client_thread]
    assert isinstance(source.sinks[0], InterfaceProxy)


def test_nested_reentrancy_both_ways(server_sta: Apartment, client_sta: Apartment) -> None:
    """Client waits on Fire; server waits on Notify; Notify calls the server again."""
    source, objref = serve(server_sta, EventSource, IEventSource)

    def client() -> tuple[Any, Any]:
        proxy = unmarshal_interface(objref)
        recorder = Recorder(source=proxy)
        proxy.Advise(recorder)
        proxy.Fire(1)
        return recorder, recorder.sink_seen

    recorder, seen = client_sta.run(client)
    # GetSink returned the client's own callback: back home it is the object, not a proxy.
    assert seen is recorder
    server_thread = server_sta.run(threading.get_ident)
    assert set(source.threads) == {server_thread}


def test_callback_from_an_mta_server(client_sta: Apartment) -> None:
    mta = Apartment.mta(2, "event-mta")
    try:
        _, objref = serve(mta, EventSource, IEventSource)

        def client() -> list[int]:
            proxy = unmarshal_interface(objref)
            recorder = Recorder()
            proxy.Advise(recorder)
            proxy.Fire(3)
            proxy.Fire(4)
            return recorder.values

        assert client_sta.run(client) == [3, 4]
    finally:
        mta.shutdown()


def test_interface_pointer_out_parameter(server_sta: Apartment) -> None:
    source, objref = serve(server_sta, EventSource, IEventSource)
    proxy = unmarshal_interface(objref)
    recorder_home = Apartment.sta("recorder")
    try:
        recorder = Recorder()
        sink_ref = recorder_home.run(lambda: marshal_interface(recorder, ICallback))
        proxy.Advise(unmarshal_interface(sink_ref))  # hand a proxy on to a third apartment
        sink: Any = proxy.GetSink()
        assert isinstance(sink, InterfaceProxy) and isinstance(sink, ICallback)
        sink.Notify(11)
        assert recorder.values == [11]
        assert proxy.Fire(12) == 1
        assert recorder.values == [11, 12]
        assert source.sinks[0].QueryInterface(_rt.IUnknown) is not None
    finally:
        recorder_home.shutdown()


def test_sta_pumps_incoming_calls_while_waiting(server_sta: Apartment) -> None:
    """An STA blocked in an outgoing call still serves a call from a third party."""
    other = Apartment.sta("other")
    try:
        _, calc_ref = serve(server_sta, Calc, ICalc)
        _, source_ref = serve(other, EventSource, IEventSource)
        gate = threading.Event()

        class SlowSink(_rt.ComObject, ICallback):
            def Notify(self, v: int) -> int:
                # Runs on `other`'s STA thread, while `other` is inside Fire's call to us.
                gate.set()
                return _rt.S_OK

        def client() -> int:
            proxy = unmarshal_interface(source_ref)
            proxy.Advise(SlowSink())
            return proxy.Fire(5)  # type: ignore[no-any-return]

        assert server_sta.run(client) == 1
        assert gate.wait(WAIT)
        assert unmarshal_interface(calc_ref).Add(1, 1) == 2
    finally:
        other.shutdown()


def test_entered_sta_pumps_while_waiting(server_sta: Apartment) -> None:
    source, objref = serve(server_sta, EventSource, IEventSource)
    with Apartment.enter_sta("entered") as apt:
        apt.call_timeout = WAIT
        proxy = unmarshal_interface(objref)
        recorder = Recorder()
        proxy.Advise(recorder)
        assert proxy.Fire(9) == 1
        assert recorder.threads == [threading.get_ident()]
    with pytest.raises(_rt.COMError):
        source.sinks[0].Notify(1)  # the entered apartment is gone


def test_fresh_object_returned_as_out_pointer_dies_with_its_last_proxy(
    server_sta: Apartment,
) -> None:
    """The creator's reference travels with the [out] pointer: the stub releases it."""
    created: list[Recorder] = []

    class Factory(EventSource):
        def GetSink(self) -> Any:
            sink = Recorder()  # one reference: the creator's, handed to the caller
            sink.released = threading.Event()  # type: ignore[attr-defined]
            sink._final_release_ = sink.released.set  # type: ignore[attr-defined, method-assign]
            created.append(sink)
            return sink

    _, proxy = connect(server_sta, Factory, IEventSource)
    sink = proxy.GetSink()
    sink.Notify(1)
    assert created[0].values == [1]
    assert sink.Release() == 0
    assert created[0].released.wait(WAIT)  # type: ignore[attr-defined]


class _Toucher(_rt.ComObject, IEventSource):
    """Uses the [in] sink during the call and keeps nothing (no AddRef)."""

    def Advise(self, sink: Any) -> int:
        sink.Notify(1)
        return _rt.S_OK

    def Fire(self, v: int) -> int:
        return 0

    def GetSink(self) -> Any:
        raise _rt.NotImplError()


@pytest.mark.parametrize("keeper", [_Toucher, EventSource], ids=["not-kept", "kept"])
def test_in_interface_pointers_are_released_when_the_call_returns_unless_kept(
    server_sta: Apartment, client_sta: Apartment, keeper: Any
) -> None:
    """COM's stub rule: [in] pointers go when the call returns; AddRef keeps them."""
    server, objref = serve(server_sta, keeper, IEventSource)

    def client() -> tuple[int, int, list[int]]:
        proxy = unmarshal_interface(objref)
        recorder = Recorder()
        before = recorder._refs
        proxy.Advise(recorder)
        after = recorder._refs  # as the call returned: every release already counted
        proxy.Release()
        return before, after, recorder.values

    before, after, values = client_sta.run(client)
    if keeper is _Toucher:
        assert values == [1]
        assert after == before == 1
    else:
        assert after > before  # the server AddRef'd it: its proxy keeps the export alive
        assert isinstance(server.sinks[0], InterfaceProxy)


def test_call_canceled_while_queued_never_runs_and_gives_its_in_pointers_back(
    server_sta: Apartment, client_sta: Apartment
) -> None:
    """A synchronous call that times out sends a cancel; the server STA is held, so the
    cancel finds the request queued: it never runs, and the OBJREF's reference comes back."""
    source, objref = serve(server_sta, EventSource, IEventSource)
    holding, unhold = threading.Event(), threading.Event()
    server_sta.post(lambda: (holding.set(), unhold.wait(WAIT)))
    assert holding.wait(WAIT)

    def client() -> tuple[int, int]:
        proxy = unmarshal_interface(objref)
        recorder = Recorder()
        client_sta.call_timeout = 0.2  # the client gives up while the server is held
        with pytest.raises(_rt.RpcTimeoutError):
            proxy.Advise(recorder)
        client_sta.call_timeout = WAIT
        raised = recorder._refs  # the request (and the OBJREF's references) still queued
        unhold.set()
        assert proxy.Fire(1) == 0  # dispatched after the canceled Advise, which never ran
        proxy.Release()
        return raised, recorder._refs

    raised, after = client_sta.run(client)
    assert raised > 1
    assert after == 1  # everything the server was handed went back
    assert source.sinks == []


def test_releasing_in_pointers_after_a_call_runs_none_of_the_apartments_queued_work(
    server_sta: Apartment, client_sta: Apartment
) -> None:
    """A stub's clean-up (RemRelease of the [in] pointers it unmarshaled) is not a place
    where the apartment runs other queued work: work queued during the call runs after
    the reply has left. Running it inside the clean-up nests it under the reply, so work
    that waits for something the reply unblocks (a WMI sink waiting for its final status)
    deadlocks until it times out."""
    from idlgen.runtime.apartments import channel

    events: list[str] = []

    class Poster(_Toucher):
        def Advise(self, sink: Any) -> int:
            sink.Notify(1)
            server_sta.post(lambda: events.append("queued work ran"))
            return _rt.S_OK

    _, objref = serve(server_sta, Poster, IEventSource)

    def tap(frame: bytes) -> None:
        parsed = channel.parse(frame)
        if parsed is not None and parsed.kind == channel.RESPONSE:
            events.append("response")

    def client() -> None:
        proxy = unmarshal_interface(objref)
        recorder = Recorder()
        with channel.observe(tap):
            proxy.Advise(recorder)
        proxy.Release()

    client_sta.run(client)
    server_sta.run(lambda: None)  # the queued work has run by the time this returns
    # Notify's reply, RemRelease's reply, then Advise's reply; the queued work after all.
    assert events == ["response", "response", "response", "queued work ran"]
