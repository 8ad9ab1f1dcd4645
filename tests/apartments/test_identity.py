"""Proxy managers: identity, QueryInterface across apartments, references, disconnection."""

from __future__ import annotations

import threading

import pytest
from apartment_fixtures import WAIT
from helpers import Tap, connect, serve
from servers import Calc, Stream
from stream_handwritten import ICalc, ISeekableStream, ISimpleStream

from idlgen import runtime as _rt
from idlgen.runtime import ndr as _ndr
from idlgen.runtime.apartments.apartment import Apartment
from idlgen.runtime.apartments.channel import (
    DIRECT,
    FAULT,
    REQUEST,
    new_pending,
    observe,
    parse,
    request_frame,
    send,
)
from idlgen.runtime.apartments.marshal import (
    disconnect_object,
    get_interface_and_release_stream,
    global_interface_table,
    marshal_inter_thread_interface_in_stream,
    marshal_interface,
    unmarshal_interface,
)
from idlgen.runtime.apartments.proxy import InterfaceProxy


def _drained(apartment: Apartment) -> None:
    """Everything queued to `apartment` so far has run (its queue is FIFO)."""
    apartment.run(lambda: None)


def test_unmarshaling_the_same_object_twice_gives_one_proxy_manager(server_sta: Apartment) -> None:
    calc, first = serve(server_sta, Calc, ICalc)
    second_ref = server_sta.run(lambda: marshal_interface(calc, ICalc))
    a = unmarshal_interface(first)
    b = unmarshal_interface(second_ref)
    assert a is b
    assert a.QueryInterface(_rt.IUnknown) is b.QueryInterface(_rt.IUnknown)


def test_different_objects_have_different_identities(server_sta: Apartment) -> None:
    _, a = connect(server_sta, Calc, ICalc)
    _, b = connect(server_sta, Calc, ICalc)
    assert a.QueryInterface(_rt.IUnknown) is not b.QueryInterface(_rt.IUnknown)


def test_query_interface_goes_to_the_object_apartment(server_sta: Apartment) -> None:
    _, proxy = connect(server_sta, lambda: Stream(b"hello"), ISimpleStream)
    tap = Tap()
    with observe(tap):
        seekable = proxy.QueryInterface(ISeekableStream)
    assert isinstance(seekable, InterfaceProxy) and isinstance(seekable, ISeekableStream)
    assert len(tap.of_kind(REQUEST)) == 1  # one RemQueryInterface
    seekable.Seek(1)
    assert seekable.Read(4) == (b"ello", 4)  # inherited method through the derived proxy
    again = proxy.QueryInterface(ISeekableStream)
    assert again is seekable
    assert seekable.QueryInterface(_rt.IUnknown) is proxy.QueryInterface(_rt.IUnknown)


def test_query_for_an_unsupported_interface_fails(server_sta: Apartment) -> None:
    _, proxy = connect(server_sta, lambda: Stream(b""), ISimpleStream)
    with pytest.raises(_rt.NoInterfaceError):
        proxy.QueryInterface(ICalc)
    with pytest.raises(_rt.NoInterfaceError):
        proxy.QueryInterface("{01234567-89AB-CDEF-0123-456789ABCDEF}")


def test_releasing_the_last_proxy_reference_releases_the_server_object(
    server_sta: Apartment,
) -> None:
    calc, proxy = connect(server_sta, Calc, ICalc)
    unknown = proxy.QueryInterface(_rt.IUnknown)  # a second local reference
    assert proxy.Release() == 1
    _drained(server_sta)
    assert not calc.released.is_set()
    assert unknown.Release() == 0
    assert calc.released.wait(WAIT)
    with pytest.raises(_rt.DisconnectedError):
        proxy.Add(1, 2)


def test_every_unmarshal_hands_its_reference_back(server_sta: Apartment) -> None:
    calc, first = serve(server_sta, Calc, ICalc)
    second = server_sta.run(lambda: marshal_interface(calc, ICalc))
    proxy = unmarshal_interface(first)
    assert unmarshal_interface(second) is proxy
    proxy.Release()
    _drained(server_sta)
    assert not calc.released.is_set()
    proxy.Release()
    assert calc.released.wait(WAIT)


def test_released_manager_is_replaced_by_a_fresh_one(server_sta: Apartment) -> None:
    calc, first = serve(server_sta, Calc, ICalc)
    keep = server_sta.run(lambda: marshal_interface(calc, ICalc))
    old = unmarshal_interface(first)
    old.Release()
    new = unmarshal_interface(keep)
    assert new is not old
    assert new.Add(2, 2) == 4


def test_disconnect_object_gives_rpc_e_disconnected(server_sta: Apartment) -> None:
    calc, proxy = connect(server_sta, Calc, ICalc)
    assert proxy.Add(1, 1) == 2
    assert server_sta.run(lambda: disconnect_object(calc))
    assert calc.released.wait(WAIT)
    with pytest.raises(_rt.DisconnectedError) as info:
        proxy.Add(1, 1)
    assert info.value.hresult == _rt.RPC_E_DISCONNECTED


def test_apartment_shutdown_disconnects_and_releases() -> None:
    apt = Apartment.sta("doomed")
    calc, proxy = connect(apt, Calc, ICalc)
    apt.shutdown()
    assert calc.released.wait(WAIT)
    with pytest.raises(_rt.DisconnectedError):
        proxy.Add(1, 1)
    with pytest.raises(_rt.DisconnectedError):
        apt.run(lambda: None)


def test_calls_queued_behind_a_shutdown_are_disconnected() -> None:
    apt = Apartment.sta("busy")
    _, objref = serve(apt, Calc, ICalc)
    running, release = threading.Event(), threading.Event()

    def block() -> None:
        running.set()
        release.wait(WAIT)
        apt.shutdown()  # from inside: whatever is queued is answered at drain time

    apt.post(block)
    assert running.wait(WAIT)
    std = _ndr.decode_objref(objref).std
    assert std is not None
    wire = ICalc._wire_[0]
    assert wire is not None
    body = wire.encode_request({"a": 1, "b": 2})
    pending = new_pending()
    send(apt, request_frame(pending.call_id, 3, std.ipid.bytes_le, body), DIRECT)  # queued
    release.set()
    assert pending.wait(WAIT)
    reply = parse(pending.reply)
    assert reply is not None and (reply.kind, reply.code) == (FAULT, _rt.RPC_E_DISCONNECTED)


def test_unmarshal_after_the_apartment_is_gone() -> None:
    apt = Apartment.sta("gone")
    _, objref = serve(apt, Calc, ICalc)
    apt.shutdown()
    with pytest.raises(_rt.DisconnectedError):
        unmarshal_interface(objref)


def test_global_interface_table(server_sta: Apartment, client_sta: Apartment) -> None:
    git = global_interface_table()
    calc = Calc()
    cookie = server_sta.run(lambda: git.register(calc, ICalc))
    assert server_sta.run(lambda: git.get(cookie)) is calc  # home apartment: the object

    def use() -> tuple[int, bool]:
        proxy = git.get(cookie)
        return proxy.Add(3, 4), isinstance(proxy, InterfaceProxy)

    assert client_sta.run(use) == (7, True)
    git.revoke(cookie)
    with pytest.raises(_rt.InvalidArgError):
        git.get(cookie)


def test_interface_stream_is_one_shot(server_sta: Apartment) -> None:
    calc = Calc()
    stream = server_sta.run(lambda: marshal_inter_thread_interface_in_stream(calc, ICalc))
    proxy = get_interface_and_release_stream(stream)
    assert proxy.Add(5, 5) == 10
    with pytest.raises(_rt.InvalidArgError):
        get_interface_and_release_stream(stream)


def test_proxy_handed_on_points_at_the_object_not_the_middleman(
    server_sta: Apartment, client_sta: Apartment
) -> None:
    calc, objref = serve(server_sta, Calc, ICalc)

    def middleman() -> bytes:
        proxy = unmarshal_interface(objref)
        return marshal_interface(proxy, ICalc)

    handed_on = client_sta.run(middleman)
    client_sta.shutdown()  # the middleman's apartment goes away
    proxy = unmarshal_interface(handed_on)
    assert proxy.Add(1, 2) == 3
    assert calc.threads and len(set(calc.threads)) == 1


def test_mta_object_called_directly_inside_the_mta() -> None:
    mta = Apartment.mta(2, "mta")
    try:
        calc = Calc()
        objref = mta.run(lambda: marshal_interface(calc, ICalc))
        assert mta.run(lambda: unmarshal_interface(objref)) is calc
    finally:
        mta.shutdown()
