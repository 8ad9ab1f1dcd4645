"""IClassFactory across apartments and machines: its [call_as] wire form, proxy and a class
object for a plain factory callable.

unknwn.idl declares CreateInstance and LockServer [local]; what travels is their [call_as]
partners RemoteCreateInstance(riid, [out, iid_is(riid)] ppvObject) and
RemoteLockServer(fLock), at opnums 3 and 4 ([MS-DCOM] 3.1.2.5.2.3.2 hands a client such a
class object). The outer unknown never crosses: the proxy refuses aggregation with
CLASS_E_NOAGGREGATION before anything is sent, as COM's own proxy does, and the stub calls
the object's CreateInstance with no outer unknown. The local method table stays the one
stdiface.py declares, so a server implements CreateInstance(pUnkOuter, riid) as in-process.
Interfaces derived from IClassFactory (IClassFactory2) inherit both: the wire table takes
`_wire_` from every ancestor, and proxy.py gives their generated proxies this proxy's
methods, since generated code only derives from generated parents' proxies.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from idlgen.runtime import ndr as _ndr
from idlgen.runtime.apartments.proxy import InterfaceProxy
from idlgen.runtime.com.comobject import ComObject
from idlgen.runtime.com.guid import as_guid
from idlgen.runtime.com.hresult import CLASS_E_NOAGGREGATION, S_OK, ClassNoAggregationError
from idlgen.runtime.com.stdiface import IClassFactory

__all__ = ["ClassObject", "IClassFactory_Proxy"]


@dataclass(frozen=True)
class LocalForm(_ndr.MethodMarshaler):
    """The wire form of a [local] method through its [call_as] partner, whose parameters are
    the local ones less `dropped` (name -> the only value the local form may pass for it,
    and the HRESULT a caller passing anything else gets)."""

    dropped: tuple[tuple[str, Any, int], ...] = ()

    def encode_request(
        self,
        values: Mapping[str, Any],
        *,
        scope: Mapping[str, Any] | None = None,
        marshaler: _ndr.InterfaceMarshaler | None = None,
    ) -> bytes:
        for name, only, hresult in self.dropped:
            if values.get(name, only) is not only:
                raise _ndr.NdrMarshalError(f"{name} cannot cross apartments", hresult)
        return super().encode_request(values, scope=scope, marshaler=marshaler)

    def decode_request(
        self,
        data: bytes | bytearray | memoryview,
        *,
        scope: Mapping[str, Any] | None = None,
        marshaler: _ndr.InterfaceMarshaler | None = None,
    ) -> dict[str, Any]:
        values = super().decode_request(data, scope=scope, marshaler=marshaler)
        for name, only, _hresult in self.dropped:
            values[name] = only
        return values


REMOTE_CREATE_INSTANCE = LocalForm(
    _ndr.Method(
        "RemoteCreateInstance",
        (
            _ndr.Param("riid", _ndr.Pointer("ref", _ndr.GUID)),
            _ndr.Param(
                "ppvObject",
                _ndr.Pointer("ref", _ndr.InterfacePointer(iid_is=_ndr.Name("riid"))),
                "out",
            ),
        ),
        opnum=3,
    ),
    dropped=(("pUnkOuter", None, CLASS_E_NOAGGREGATION),),
)
REMOTE_LOCK_SERVER = _ndr.MethodMarshaler(
    _ndr.Method("RemoteLockServer", (_ndr.Param("fLock", _ndr.LONG),), opnum=4)
)


class IClassFactory_Proxy(InterfaceProxy, IClassFactory):
    """Client side of a class object in another apartment, process or machine."""

    __slots__ = ()

    def CreateInstance(self, pUnkOuter: Any, riid: Any) -> Any:
        if pUnkOuter is not None:  # aggregation never crosses apartments
            raise ClassNoAggregationError()
        return self._call_(3, (None, as_guid(getattr(riid, "_iid_", riid))))

    def LockServer(self, fLock: bool) -> int:
        return int(self._call_(4, (int(bool(fLock)),)))


class ClassObject(ComObject, IClassFactory):
    """The class object of a class registered as a plain factory callable: CreateInstance
    calls the factory and answers the interface asked for; LockServer counts locks (the
    server decides what they keep alive)."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        super().__init__()
        self.factory = factory
        self.locks = 0
        self._lock = threading.Lock()

    def CreateInstance(self, pUnkOuter: Any, riid: Any) -> Any:
        if pUnkOuter is not None:
            raise ClassNoAggregationError()
        obj = self.factory()
        try:
            return obj.QueryInterface(as_guid(getattr(riid, "_iid_", riid)))
        finally:
            release = getattr(obj, "Release", None)
            if callable(release):
                release()

    def LockServer(self, fLock: bool) -> int:
        with self._lock:
            self.locks = self.locks + 1 if fLock else max(self.locks - 1, 0)
        return S_OK


def class_object(registered: Any) -> Any:
    """What RemoteGetClassObject hands out for a registered class: the registered object
    itself when it already is a class object, else a ClassObject around the factory."""
    if isinstance(registered, IClassFactory):
        registered.AddRef()
        return registered
    return ClassObject(registered)


def _install() -> None:
    IClassFactory._wire_ = (REMOTE_CREATE_INSTANCE, REMOTE_LOCK_SERVER)  # type: ignore[attr-defined]
    IClassFactory._proxy_ = IClassFactory_Proxy


_install()
