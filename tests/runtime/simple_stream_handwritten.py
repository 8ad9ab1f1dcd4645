"""Hand-written equivalent of what idlgen generates for this IDL (docs/runtime.md).

    [object, uuid(2E7D9B4A-6F35-4C1B-9B67-1D2A5E0C4F11),
     async_uuid(2E7D9B4B-6F35-4C1B-9B67-1D2A5E0C4F11)]
    interface ISimpleStream : IUnknown
    {
        HRESULT Read([out, size_is(cb), length_is(*pcbRead)] byte *pv,
                     [in] ULONG cb, [out] ULONG *pcbRead);
        HRESULT Write([in, size_is(cb)] const byte *pv, [in] ULONG cb,
                      [out] ULONG *pcbWritten);
        HRESULT Skip([in] ULONG cb);
        HRESULT Swap([in, out] LONG *pValue, [out] LONG *pOld);
    }

The template author reproduces this shape exactly; tests re-point at generated modules.
"""

from __future__ import annotations

from typing import NamedTuple

from idlgen import runtime as _rt

IID_ISimpleStream = _rt.GUID("{2E7D9B4A-6F35-4C1B-9B67-1D2A5E0C4F11}")
IID_AsyncISimpleStream = _rt.GUID("{2E7D9B4B-6F35-4C1B-9B67-1D2A5E0C4F11}")


class ReadResult(NamedTuple):
    pv: bytes
    pcbRead: int


class SwapResult(NamedTuple):
    pValue: int
    pOld: int


class ISimpleStream(_rt.IUnknown):
    __slots__ = ()
    _iid_ = IID_ISimpleStream
    _methods_ = _rt.methods(
        _rt.Method("Read", ins=("cb",), outs=("pv", "pcbRead"), result=ReadResult),
        _rt.Method("Write", ins=("pv", "cb"), outs=("pcbWritten",)),
        _rt.Method("Skip", ins=("cb",)),
        _rt.Method("Swap", ins=("pValue",), outs=("pValue", "pOld"), result=SwapResult),
    )

    def Read(self, cb: int) -> ReadResult:
        raise _rt.NotImplError()

    def Write(self, pv: bytes, cb: int) -> int:
        raise _rt.NotImplError()

    def Skip(self, cb: int) -> int:
        raise _rt.NotImplError()

    def Swap(self, pValue: int) -> SwapResult:
        raise _rt.NotImplError()


class AsyncISimpleStream(_rt.AsyncInterface):
    __slots__ = ()
    _iid_ = IID_AsyncISimpleStream
    _sync_ = ISimpleStream

    def Begin_Read(self, cb: int) -> int:
        return self._begin_("Read", (cb,))

    def Finish_Read(self) -> ReadResult:
        return self._finish_("Read")  # type: ignore[no-any-return]

    def Begin_Write(self, pv: bytes, cb: int) -> int:
        return self._begin_("Write", (pv, cb))

    def Finish_Write(self) -> int:
        return self._finish_("Write")  # type: ignore[no-any-return]

    def Begin_Skip(self, cb: int) -> int:
        return self._begin_("Skip", (cb,))

    def Finish_Skip(self) -> int:
        return self._finish_("Skip")  # type: ignore[no-any-return]

    def Begin_Swap(self, pValue: int) -> int:
        return self._begin_("Swap", (pValue,))

    def Finish_Swap(self) -> SwapResult:
        return self._finish_("Swap")  # type: ignore[no-any-return]


__all__ = [
    "AsyncISimpleStream",
    "IID_AsyncISimpleStream",
    "IID_ISimpleStream",
    "ISimpleStream",
    "ReadResult",
    "SwapResult",
]
