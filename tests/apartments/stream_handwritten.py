"""Hand-written equivalent of the generated module, in the shape proxies and stubs rely on.

`ISimpleStream` is samples/simple_stream.idl (same IIDs); the other interfaces exist for the
apartment tests and the benchmark:

    [object, uuid(5D0A7C21-...), async_uuid(5D0A7C22-...)]  (not the sample's IIDs:
    both modules load in one test process)
    interface ISimpleStream : IUnknown {
        HRESULT Read([out, size_is(cb), length_is(*pcbRead)] byte *pv, [in] ULONG cb,
                     [out] ULONG *pcbRead);
        HRESULT Write([in, size_is(cb)] const byte *pv, [in] ULONG cb, [out] ULONG *pcbWritten);
    }
    [object, uuid(6C1E0E52-...)] interface ISeekableStream : ISimpleStream {
        HRESULT Seek([in] ULONG pos);
        [local] HRESULT Peek([out] ULONG *p);
    }
    [object, uuid(6C1E0E53-...), async_uuid(6C1E0E54-...)]
    interface ICalc : IUnknown { HRESULT Add([in] long a, [in] long b, [out, retval] long *sum); }
    [object, uuid(6C1E0E55-...)] interface ICallback : IUnknown { HRESULT Notify([in] long v); }
    [object, uuid(6C1E0E56-...)] interface IEventSource : IUnknown {
        HRESULT Advise([in] ICallback *sink);
        HRESULT Fire([in] long v, [out, retval] long *delivered);
        HRESULT GetSink([out, retval] ICallback **sink);
    }
    [object, local, uuid(6C1E0E57-...)] interface ILocalOnly : IUnknown { HRESULT Poke(); }

Exactly what the lead's code generator emits: `_wire_` (one MethodMarshaler per own method,
opnum = vtable index, None for [local]), an `I<Name>_Proxy` class per remotable interface
deriving from the parent's proxy, `Iface._proxy_ = I<Name>_Proxy`, `_proxy_ = None` for [local].
"""

from __future__ import annotations

import typing as _t

from idlgen import runtime as _rt
from idlgen.runtime import ndr as _ndr
from idlgen.runtime.apartments.proxy import InterfaceProxy

IID_ISimpleStream = _rt.GUID("{5D0A7C21-31E4-4A55-9B0E-6F2C8A1D3E44}")
IID_AsyncISimpleStream = _rt.GUID("{5D0A7C22-31E4-4A55-9B0E-6F2C8A1D3E44}")
IID_ISeekableStream = _rt.GUID("{6C1E0E52-4D2B-4F3A-9C71-0A1B2C3D4E52}")
IID_ICalc = _rt.GUID("{6C1E0E53-4D2B-4F3A-9C71-0A1B2C3D4E53}")
IID_AsyncICalc = _rt.GUID("{6C1E0E54-4D2B-4F3A-9C71-0A1B2C3D4E54}")
IID_ICallback = _rt.GUID("{6C1E0E55-4D2B-4F3A-9C71-0A1B2C3D4E55}")
IID_IEventSource = _rt.GUID("{6C1E0E56-4D2B-4F3A-9C71-0A1B2C3D4E56}")
IID_ILocalOnly = _rt.GUID("{6C1E0E57-4D2B-4F3A-9C71-0A1B2C3D4E57}")


class ISimpleStream(_rt.IUnknown):
    __slots__ = ()
    _iid_ = IID_ISimpleStream

    class ReadResult(_t.NamedTuple):
        pv: bytes
        pcbRead: int

    _methods_: _t.ClassVar[tuple[_rt.Method, ...]] = (
        _rt.Method("Read", ins=("cb",), outs=("pv", "pcbRead"), result=ReadResult),
        _rt.Method("Write", ins=("pv", "cb"), outs=("pcbWritten",)),
    )
    _wire_: _t.ClassVar[tuple[_ndr.MethodMarshaler | None, ...]] = (
        _ndr.MethodMarshaler(
            _ndr.Method(
                "Read",
                (
                    _ndr.Param(
                        "pv",
                        _ndr.Pointer(
                            "ref",
                            _ndr.ConformantVaryingArray(
                                _ndr.BYTE,
                                size_is=_ndr.Name("cb"),
                                length_is=_ndr.Unary("*", _ndr.Name("pcbRead")),
                            ),
                        ),
                        "out",
                    ),
                    _ndr.Param("cb", _ndr.ULONG, "in"),
                    _ndr.Param("pcbRead", _ndr.Pointer("ref", _ndr.ULONG), "out"),
                ),
                returns=_ndr.HRESULT,
                opnum=3,
            )
        ),
        _ndr.MethodMarshaler(
            _ndr.Method(
                "Write",
                (
                    _ndr.Param(
                        "pv",
                        _ndr.Pointer(
                            "ref", _ndr.ConformantArray(_ndr.BYTE, size_is=_ndr.Name("cb"))
                        ),
                        "in",
                    ),
                    _ndr.Param("cb", _ndr.ULONG, "in"),
                    _ndr.Param("pcbWritten", _ndr.Pointer("ref", _ndr.ULONG), "out"),
                ),
                returns=_ndr.HRESULT,
                opnum=4,
            )
        ),
    )

    def Read(self, cb: int) -> ISimpleStream.ReadResult:
        raise _rt.NotImplError()

    def Write(self, pv: bytes, cb: int) -> int:
        raise _rt.NotImplError()


class ISimpleStream_Proxy(InterfaceProxy, ISimpleStream):
    __slots__ = ()

    def Read(self, cb: int) -> ISimpleStream.ReadResult:
        return self._call_(3, (cb,))  # type: ignore[no-any-return]

    def Write(self, pv: bytes, cb: int) -> int:
        return self._call_(4, (pv, cb))  # type: ignore[no-any-return]


ISimpleStream._proxy_ = ISimpleStream_Proxy


class AsyncISimpleStream(_rt.AsyncInterface):
    __slots__ = ()
    _iid_ = IID_AsyncISimpleStream
    _sync_ = ISimpleStream

    def Begin_Read(self, cb: int) -> int:
        return self._begin_("Read", (cb,))

    def Finish_Read(self) -> ISimpleStream.ReadResult:
        return self._finish_("Read")  # type: ignore[no-any-return]

    def Begin_Write(self, pv: bytes, cb: int) -> int:
        return self._begin_("Write", (pv, cb))

    def Finish_Write(self) -> int:
        return self._finish_("Write")  # type: ignore[no-any-return]


class ISeekableStream(ISimpleStream):
    __slots__ = ()
    _iid_ = IID_ISeekableStream
    _methods_: _t.ClassVar[tuple[_rt.Method, ...]] = (
        _rt.Method("Seek", ins=("pos",)),
        _rt.Method("Peek", outs=("p",)),
    )
    _wire_: _t.ClassVar[tuple[_ndr.MethodMarshaler | None, ...]] = (
        _ndr.MethodMarshaler(_ndr.Method("Seek", (_ndr.Param("pos", _ndr.ULONG, "in"),), opnum=5)),
        None,  # [local] Peek
    )

    def Seek(self, pos: int) -> int:
        raise _rt.NotImplError()

    def Peek(self) -> int:
        raise _rt.NotImplError()


class ISeekableStream_Proxy(ISimpleStream_Proxy, ISeekableStream):
    __slots__ = ()

    def Seek(self, pos: int) -> int:
        return self._call_(5, (pos,))  # type: ignore[no-any-return]

    def Peek(self) -> int:
        return self._call_(6, ())  # type: ignore[no-any-return]


ISeekableStream._proxy_ = ISeekableStream_Proxy


class ICalc(_rt.IUnknown):
    __slots__ = ()
    _iid_ = IID_ICalc
    _methods_: _t.ClassVar[tuple[_rt.Method, ...]] = (
        _rt.Method("Add", ins=("a", "b"), outs=("sum",)),
    )
    _wire_: _t.ClassVar[tuple[_ndr.MethodMarshaler | None, ...]] = (
        _ndr.MethodMarshaler(
            _ndr.Method(
                "Add",
                (
                    _ndr.Param("a", _ndr.LONG, "in"),
                    _ndr.Param("b", _ndr.LONG, "in"),
                    _ndr.Param("sum", _ndr.Pointer("ref", _ndr.LONG), "out"),
                ),
                opnum=3,
            )
        ),
    )

    def Add(self, a: int, b: int) -> int:
        raise _rt.NotImplError()


class ICalc_Proxy(InterfaceProxy, ICalc):
    __slots__ = ()

    def Add(self, a: int, b: int) -> int:
        return self._call_(3, (a, b))  # type: ignore[no-any-return]


ICalc._proxy_ = ICalc_Proxy


class AsyncICalc(_rt.AsyncInterface):
    __slots__ = ()
    _iid_ = IID_AsyncICalc
    _sync_ = ICalc

    def Begin_Add(self, a: int, b: int) -> int:
        return self._begin_("Add", (a, b))

    def Finish_Add(self) -> int:
        return self._finish_("Add")  # type: ignore[no-any-return]


class ICallback(_rt.IUnknown):
    __slots__ = ()
    _iid_ = IID_ICallback
    _methods_: _t.ClassVar[tuple[_rt.Method, ...]] = (_rt.Method("Notify", ins=("v",)),)
    _wire_: _t.ClassVar[tuple[_ndr.MethodMarshaler | None, ...]] = (
        _ndr.MethodMarshaler(_ndr.Method("Notify", (_ndr.Param("v", _ndr.LONG, "in"),), opnum=3)),
    )

    def Notify(self, v: int) -> int:
        raise _rt.NotImplError()


class ICallback_Proxy(InterfaceProxy, ICallback):
    __slots__ = ()

    def Notify(self, v: int) -> int:
        return self._call_(3, (v,))  # type: ignore[no-any-return]


ICallback._proxy_ = ICallback_Proxy


class IEventSource(_rt.IUnknown):
    __slots__ = ()
    _iid_ = IID_IEventSource
    _methods_: _t.ClassVar[tuple[_rt.Method, ...]] = (
        _rt.Method("Advise", ins=("sink",)),
        _rt.Method("Fire", ins=("v",), outs=("delivered",)),
        _rt.Method("GetSink", outs=("sink",)),
    )
    _wire_: _t.ClassVar[tuple[_ndr.MethodMarshaler | None, ...]] = (
        _ndr.MethodMarshaler(
            _ndr.Method(
                "Advise",
                (_ndr.Param("sink", _ndr.InterfacePointer(iid=IID_ICallback.uuid), "in"),),
                opnum=3,
            )
        ),
        _ndr.MethodMarshaler(
            _ndr.Method(
                "Fire",
                (
                    _ndr.Param("v", _ndr.LONG, "in"),
                    _ndr.Param("delivered", _ndr.Pointer("ref", _ndr.LONG), "out"),
                ),
                opnum=4,
            )
        ),
        _ndr.MethodMarshaler(
            _ndr.Method(
                "GetSink",
                (
                    _ndr.Param(
                        "sink",
                        _ndr.Pointer("ref", _ndr.InterfacePointer(iid=IID_ICallback.uuid)),
                        "out",
                    ),
                ),
                opnum=5,
            )
        ),
    )

    def Advise(self, sink: ICallback) -> int:
        raise _rt.NotImplError()

    def Fire(self, v: int) -> int:
        raise _rt.NotImplError()

    def GetSink(self) -> ICallback:
        raise _rt.NotImplError()


class IEventSource_Proxy(InterfaceProxy, IEventSource):
    __slots__ = ()

    def Advise(self, sink: ICallback) -> int:
        return self._call_(3, (sink,))  # type: ignore[no-any-return]

    def Fire(self, v: int) -> int:
        return self._call_(4, (v,))  # type: ignore[no-any-return]

    def GetSink(self) -> ICallback:
        return self._call_(5, ())  # type: ignore[no-any-return]


IEventSource._proxy_ = IEventSource_Proxy


class ILocalOnly(_rt.IUnknown):
    __slots__ = ()
    _iid_ = IID_ILocalOnly
    _methods_: _t.ClassVar[tuple[_rt.Method, ...]] = (_rt.Method("Poke"),)
    _wire_: _t.ClassVar[tuple[_ndr.MethodMarshaler | None, ...]] = (None,)

    def Poke(self) -> int:
        raise _rt.NotImplError()


ILocalOnly._proxy_ = None
