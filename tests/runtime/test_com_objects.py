"""ComObject: QueryInterface, identity, reference counts, aggregation, calling convention."""

from __future__ import annotations

from typing import Any

import pytest
from simple_stream_handwritten import AsyncISimpleStream, ISimpleStream, ReadResult
from stream_servers import MemoryStream, SyncOnlyStream

from idlgen import runtime as _rt


def test_query_interface_answers_implemented_interfaces_only() -> None:
    server = MemoryStream()
    assert server.QueryInterface(ISimpleStream) is server
    assert server.QueryInterface(_rt.IID_ICallFactory) is server
    with pytest.raises(_rt.NoInterfaceError):
        server.QueryInterface(AsyncISimpleStream)  # async interfaces live on call objects
    with pytest.raises(_rt.NoInterfaceError):
        server.QueryInterface(_rt.IID_ISynchronize)


def test_query_interface_for_iunknown_gives_same_object() -> None:
    server = MemoryStream()
    via_stream = server.QueryInterface(ISimpleStream).QueryInterface(_rt.IID_IUnknown)
    via_factory = server.QueryInterface(_rt.ICallFactory).QueryInterface(_rt.IID_IUnknown)
    assert via_stream is via_factory is server


def test_final_release_hook_runs_once_at_zero() -> None:
    released: list[str] = []

    class Tracked(_rt.ComObject, ISimpleStream):
        def _final_release_(self) -> None:
            released.append("gone")

    obj = Tracked()
    other = obj.QueryInterface(ISimpleStream)
    assert obj.AddRef() == 3
    assert [obj.Release(), other.Release(), released] == [2, 1, []]
    assert obj.Release() == 0
    assert obj.Release() == 0  # an extra Release does not fire the hook twice
    assert released == ["gone"]


def test_non_aggregatable_class_is_class_e_noaggregation() -> None:
    class Lonely(_rt.ComObject, ISimpleStream):
        _aggregatable_ = False

    with pytest.raises(_rt.ClassNoAggregationError) as info:
        Lonely.create(outer=MemoryStream())
    assert info.value.hresult == _rt.CLASS_E_NOAGGREGATION == 0x80040110


def test_aggregated_object_delegates_to_controlling_unknown() -> None:
    class Outer(_rt.ComObject, _rt.ISynchronize):
        def __init__(self) -> None:
            super().__init__()
            self.inner = MemoryStream.create(outer=self)

        def _query_extra_(self, iid: _rt.GUID) -> Any:
            return self.inner.QueryInterface(iid)

    outer = Outer()
    assert isinstance(outer.inner, _rt.InnerUnknown)
    stream = outer.QueryInterface(ISimpleStream)
    assert stream is outer.inner.object
    assert stream.QueryInterface(_rt.IID_IUnknown) is outer  # identity is the outer's
    assert stream.QueryInterface(_rt.IID_ISynchronize) is outer  # QI reaches the outer's own
    refs = outer.AddRef()
    assert stream.AddRef() == refs + 1  # AddRef on the inner counts on the outer
    with pytest.raises(_rt.InvalidArgError):
        MemoryStream.create(outer=outer, iid=ISimpleStream)


class _Forwarding(_rt.ComObject):
    """A controlling unknown that exposes its aggregated object's interfaces as its own."""

    def __init__(self, inner_class: type[_rt.ComObject]) -> None:
        super().__init__()
        self.inner = inner_class.create(outer=self)

    def _query_extra_(self, iid: _rt.GUID) -> Any:
        return self.inner.QueryInterface(iid)


@pytest.mark.parametrize("inner_class", [MemoryStream, SyncOnlyStream])
def test_a_reference_taken_through_an_aggregated_interface_counts_where_its_release_goes(
    inner_class: type[_rt.ComObject],
) -> None:
    """COM's aggregation rule, for every interface the inner object has: QueryInterface
    through the outer object adds its reference to the outer's count, which is where the
    returned interface's Release takes it off; the inner object's own count (its inner
    unknown's) does not move."""
    outer = _Forwarding(inner_class)
    inner = outer.inner.object
    iids = sorted(type(inner)._iids_ - {_rt.IID_IUnknown}, key=str)
    assert iids
    for iid in iids:
        got = outer.QueryInterface(iid)
        assert got is inner
        assert (outer._refs, inner._refs) == (2, 1)
        assert got.Release() == 1
        assert (outer._refs, inner._refs) == (1, 1)
        again = got.QueryInterface(iid)  # asked of the inner: delegated, the same rule
        assert (outer._refs, inner._refs) == (2, 1)
        again.Release()
    assert outer.inner.Release() == 0  # the inner unknown's count was the object's own


def test_success_code_is_observable_through_last_hresult() -> None:
    server = MemoryStream(b"abc")
    assert server.Read(2) == ReadResult(b"ab", 2)
    assert _rt.last_hresult() == _rt.S_OK
    assert server.Read(5) == ReadResult(b"c", 1)
    assert _rt.last_hresult() == _rt.S_FALSE
    assert server.Swap(1) == (1, 0)
    assert _rt.last_hresult() == _rt.S_OK  # every call resets it


def test_method_without_outs_returns_its_hresult() -> None:
    server = MemoryStream(b"abc")
    assert server.Skip(1) == _rt.S_OK
    assert server.Skip(10) == _rt.S_FALSE
    assert _rt.last_hresult() == _rt.S_FALSE


def test_failure_hresult_raises_comerror_subclass() -> None:
    class Failing(_rt.ComObject, ISimpleStream):
        def Skip(self, cb: int) -> Any:
            return _rt.E_INVALIDARG if cb else _rt.with_hresult(_rt.RPC_E_DISCONNECTED)

    with pytest.raises(_rt.InvalidArgError) as info:
        Failing().Skip(1)
    assert info.value.hresult == _rt.E_INVALIDARG
    with pytest.raises(_rt.DisconnectedError):
        Failing().Skip(0)
    assert _rt.last_hresult() == _rt.RPC_E_DISCONNECTED


def test_unimplemented_method_is_e_notimpl() -> None:
    with pytest.raises(_rt.NotImplError):
        SyncOnlyStream().Write(b"x", 1)


def test_vtable_orders_methods_after_iunknown() -> None:
    names = [m.name for m in ISimpleStream._vtable_]
    assert names[:3] == ["QueryInterface", "AddRef", "Release"]
    assert names.index("Read") == 3  # opnum = index in the vtable
    async_names = [m.name for m in AsyncISimpleStream._vtable_][3:7]
    assert async_names == ["Begin_Read", "Finish_Read", "Begin_Write", "Finish_Write"]
    assert ISimpleStream._async_ is AsyncISimpleStream


class IStream2(ISimpleStream):
    __slots__ = ()
    _iid_ = _rt.GUID("{2E7D9B4C-6F35-4C1B-9B67-1D2A5E0C4F11}")
    _methods_ = _rt.methods(_rt.Method("Flush"))

    def Flush(self) -> int:
        raise _rt.NotImplError()


class AsyncIStream2(AsyncISimpleStream):
    __slots__ = ()
    _iid_ = _rt.GUID("{2E7D9B4D-6F35-4C1B-9B67-1D2A5E0C4F11}")
    _sync_ = IStream2

    def Begin_Flush(self) -> int:
        return self._begin_("Flush", ())

    def Finish_Flush(self) -> int:
        return self._finish_("Flush")  # type: ignore[no-any-return]


def test_derived_async_partner_extends_parent_vtable() -> None:
    names = [m.name for m in AsyncIStream2._vtable_]
    assert names[-2:] == ["Begin_Flush", "Finish_Flush"]
    assert names[:-2] == [m.name for m in AsyncISimpleStream._vtable_]

    class Flushing(MemoryStream, IStream2):
        def Flush(self) -> int:
            return _rt.S_FALSE

    factory = Flushing(b"ab").QueryInterface(_rt.ICallFactory)
    call = factory.CreateCall(AsyncIStream2._iid_, None, AsyncIStream2._iid_)
    call.Begin_Flush()
    assert call.Finish_Flush() == _rt.S_FALSE
    call.Begin_Read(2)  # the parent's async methods work on the derived call object
    assert call.Finish_Read() == ReadResult(b"ab", 2)
    parent_call = factory.CreateCall(AsyncISimpleStream._iid_, None, _rt.IID_IUnknown)
    with pytest.raises(_rt.NoInterfaceError):
        parent_call.QueryInterface(AsyncIStream2)
