"""The shortcuts a proxy's call objects and synchronous calls take behave like the general
path they replace: CreateCall's remembered classes, the proxy manager's release without
the table's lock, and an in-process call without a deadline context."""

from __future__ import annotations

from typing import Any

import pytest
from apartment_fixtures import WAIT
from helpers import connect
from servers import Calc, GatedSyncStream
from stream_handwritten import (
    AsyncICalc,
    ICalc,
    IID_AsyncICalc,
    IID_AsyncISimpleStream,
    ISimpleStream,
)

from idlgen import runtime as _rt
from idlgen.runtime.apartments.apartment import Apartment


def test_create_call_answers_every_form_of_the_iid_alike_and_each_time_anew(
    server_sta: Apartment,
) -> None:
    _, proxy = connect(server_sta, Calc, ICalc)
    factory = proxy.QueryInterface(_rt.ICallFactory)
    mgr = proxy._mgr
    refs = mgr.refs
    made = []
    for riid in (AsyncICalc, IID_AsyncICalc, str(IID_AsyncICalc)) * 2:  # the second time
        for riid2 in (None, riid):  # from what the first remembered
            call = factory.CreateCall(riid, None, riid2)
            assert all(call is not other for other in made)
            assert isinstance(call, AsyncICalc) and call._ipid == proxy._ipid
            call.Begin_Add(len(made), 1)
            assert call.Finish_Add() == len(made) + 1
            made.append(call)
    assert mgr.refs == refs + len(made)  # each call object holds the proxy
    for call in made:
        assert call.Release() == 0
    assert mgr.refs == refs
    for _ in range(2):  # a failure is not remembered: it fails again, the same way
        for wrong in (ICalc._iid_, ISimpleStream._iid_, "{0BADF00D-0000-0000-0000-000000000000}"):
            with pytest.raises(_rt.NoInterfaceError):
                factory.CreateCall(wrong, None, wrong)
    factory.Release()


def test_call_objects_keep_the_server_object_until_the_last_reference_goes(
    server_sta: Apartment,
) -> None:
    calc, proxy = connect(server_sta, Calc, ICalc)
    factory = proxy.QueryInterface(_rt.ICallFactory)
    calls = [factory.CreateCall(IID_AsyncICalc, None, IID_AsyncICalc) for _ in range(3)]
    factory.Release()
    mgr = proxy._mgr
    assert proxy.Release() == 3  # not the last reference: the manager stays in its table
    assert (mgr.oxid, mgr.oid) in mgr._table.managers and not mgr.released
    for call in calls[:-1]:
        call.Begin_Add(1, 2)
        assert call.Finish_Add() == 3
        assert call.Release() == 0
    assert not calc.released.is_set() and not mgr.released
    calls[-1].Begin_Add(2, 2)
    assert calls[-1].Finish_Add() == 4
    assert calls[-1].Release() == 0  # the last one gives the references back
    assert mgr.released and (mgr.oxid, mgr.oid) not in mgr._table.managers
    assert calc.released.wait(WAIT)


def test_an_in_process_call_still_times_out_by_its_call_timeout(server_sta: Apartment) -> None:
    server, proxy = connect(server_sta, lambda: GatedSyncStream(b"abc"), ISimpleStream)
    with _rt.call_timeout(0.2), pytest.raises(_rt.RpcTimeoutError):
        proxy.Read(1)  # the server holds it: the caller gives up
    assert server.gate.started.wait(WAIT)
    server.gate.open.set()
    assert server.gate.checked.wait(WAIT)
    assert server.gate.saw_cancel  # the caller's cancel followed its request
    assert proxy.Read(3) == (b"abc", 3)  # the canceled call read nothing; the proxy works


def test_a_call_objects_references_hold_the_proxy_until_the_last_goes(
    server_sta: Apartment,
) -> None:
    """AddRef and Release of a call object, and its last Release while a call is pending
    (the call abandoned) or after Finish_, each let go of the proxy exactly once."""
    server, proxy = connect(server_sta, lambda: GatedSyncStream(b"abc"), ISimpleStream)
    factory = proxy.QueryInterface(_rt.ICallFactory)
    mgr = proxy._mgr
    refs = mgr.refs
    idle = factory.CreateCall(IID_AsyncISimpleStream, None, IID_AsyncISimpleStream)
    pending = factory.CreateCall(IID_AsyncISimpleStream, None, IID_AsyncISimpleStream)
    assert idle.AddRef() == 2 and mgr.refs == refs + 2
    assert idle.Release() == 1 and mgr.refs == refs + 2
    pending.Begin_Read(3)
    assert server.gate.started.wait(WAIT)
    assert pending.AddRef() == 2
    assert pending.Release() == 1 and pending.Release() == 0  # abandoned
    assert mgr.refs == refs + 1
    assert idle.Release() == 0 and mgr.refs == refs
    assert idle.Release() == 0 and mgr.refs == refs  # one Release too many changes nothing
    server.gate.open.set()
    assert proxy.Read(3) == (b"abc", 3)
    factory.Release()


def test_call_objects_that_go_leave_no_hold_behind(server_sta: Apartment) -> None:
    """Each call object holds the proxy with one entry of `mgr.holds`, taken without a
    lock; whichever way it goes (released idle, or abandoned while its call is pending)
    its entry goes with it, so the list stays as long as the call objects alive (it
    would grow by one per abandoned call object if the abandon counted the proxy's own
    references down instead)."""
    server, proxy = connect(server_sta, lambda: GatedSyncStream(b"abc"), ISimpleStream)
    factory = proxy.QueryInterface(_rt.ICallFactory)
    mgr = proxy._mgr
    refs, holds = mgr.refs, len(mgr.holds)
    calls = [
        factory.CreateCall(IID_AsyncISimpleStream, None, IID_AsyncISimpleStream) for _ in range(3)
    ]
    assert len(mgr.holds) == holds + 3 and mgr.refs == refs + 3
    calls[0].Begin_Read(3)
    assert server.gate.started.wait(WAIT)
    assert calls[0].Release() == 0  # abandoned: the slow way, `mgr.release(hold=True)`
    assert calls[1].Release() == 0  # idle: in Release's own lock turn
    assert len(mgr.holds) == holds + 1 and mgr.refs == refs + 1
    assert calls[2].Release() == 0
    assert len(mgr.holds) == holds and mgr.refs == refs
    server.gate.open.set()
    assert proxy.Read(3) == (b"abc", 3)
    factory.Release()


def test_a_proxy_call_object_is_made_only_by_its_proxys_create_call(
    server_sta: Apartment,
) -> None:
    """CreateCall sets a proxy call object's fields itself (its class has no `__init__`
    that would): calling the class raises, rather than make an object without them."""
    _, proxy = connect(server_sta, Calc, ICalc)
    factory = proxy.QueryInterface(_rt.ICallFactory)
    call = factory.CreateCall(IID_AsyncICalc, None, IID_AsyncICalc)
    refs = proxy._mgr.refs
    with pytest.raises(TypeError, match="CreateCall"):
        type(call)(proxy._mgr, proxy._ipid)
    assert proxy._mgr.refs == refs  # nothing made, nothing held
    call.Begin_Add(2, 3)
    assert call.Finish_Add() == 5
    assert call.Release() == 0
    factory.Release()


class _Controlling(_rt.ComObject):
    """A client object aggregating a proxy call object: its references are the object's."""

    def __init__(self) -> None:
        super().__init__()
        self.inner: Any = None

    def _query_extra_(self, iid: _rt.GUID) -> Any:
        return None if self.inner is None else self.inner.QueryInterface(iid)


def test_an_aggregated_call_objects_release_is_its_controlling_unknowns(
    server_sta: Apartment,
) -> None:
    """References taken through the aggregated object (QueryInterface, AddRef) count on
    the outer object, and its Release takes them off there; the inner unknown's count the
    call object's own, and its last lets go of the proxy. A completion asks the outer
    object for ISynchronize (here it reaches the call object's own) and leaves every
    count as it was."""
    _, proxy = connect(server_sta, Calc, ICalc)
    factory = proxy.QueryInterface(_rt.ICallFactory)
    mgr = proxy._mgr
    refs = mgr.refs
    outer = _Controlling()
    outer.inner = factory.CreateCall(IID_AsyncICalc, outer, _rt.IID_IUnknown)
    assert mgr.refs == refs + 1
    call = outer.QueryInterface(AsyncICalc)  # the call object, counted on the outer: 2
    assert outer.AddRef() == 3
    assert call.Release() == 2  # the outer's count, not the call object's
    assert call.AddRef() == 3 and call.Release() == 2
    call.Begin_Add(2, 3)
    assert call.Finish_Add() == 5
    assert outer.AddRef() == 3 and outer.Release() == 2  # the completion's QI was given back
    assert mgr.refs == refs + 1
    assert outer.inner.Release() == 0 and mgr.refs == refs  # its own count: 1, the last
    assert outer.Release() == 1 and outer.Release() == 0
    factory.Release()


def test_a_call_without_a_lane_packs_with_the_precompiled_codec_not_the_marshaler(
    server_sta: Apartment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only a lane packs exact ints with its request header; every other proxy call
    (across apartments in one process, where there is no lane) packs the [in] values of
    a method with a precompiled codec with that codec: the general marshaler is for what
    the codec does not take. Synchronous calls and call objects alike."""
    from idlgen.runtime.apartments.proxy import ProxyManager

    _, proxy = connect(server_sta, Calc, ICalc)
    assert not proxy._mgr.lanes
    marshaled: list[Any] = []
    encode = ProxyManager.encode
    monkeypatch.setattr(
        ProxyManager,
        "encode",
        lambda mgr, route, ins: marshaled.append(ins) or encode(mgr, route, ins),
    )
    assert proxy.Add(2, 3) == 5
    factory = proxy.QueryInterface(_rt.ICallFactory)
    call = factory.CreateCall(IID_AsyncICalc, None, IID_AsyncICalc)
    call.Begin_Add(4, 5)
    assert call.Finish_Add() == 9
    assert marshaled == []
    call.Release()
    factory.Release()


def _fields_set(obj: object) -> set[str]:
    slots = {name for cls in type(obj).__mro__ for name in getattr(cls, "__slots__", ())}
    return {name for name in slots if hasattr(obj, name)}


class _PlainCall(_rt.CallObject, AsyncICalc):
    __slots__ = ()


def test_create_call_sets_every_field_a_call_object_starts_with(server_sta: Apartment) -> None:
    """A proxy call object has no `__init__`: CreateCall sets its fields itself. Every field
    `CallObject.__init__` sets is set there too, and the only ones left unset are those the
    first lean Begin_ sets before they are read (fails when a field is added to either
    class and not to CreateCall)."""
    _, proxy = connect(server_sta, Calc, ICalc)
    factory = proxy.QueryInterface(_rt.ICallFactory)
    call = factory.CreateCall(IID_AsyncICalc, None, IID_AsyncICalc)
    made = _fields_set(call)
    assert _fields_set(_PlainCall()) <= made
    slots = {name for cls in type(call).__mro__ for name in getattr(cls, "__slots__", ())}
    later = {"_route", "_args", "_lane", "call_id", "settled", "reply", "error", "partial"}
    assert slots - made == later
    assert call.Release() == 0
    factory.Release()
