"""IRemUnknown ([MS-DCOM] 3.1.1.5.6): QueryInterface, AddRef and Release across apartments.

A proxy never sends opnums 0-2: its QueryInterface/AddRef/Release go to the object's
apartment as calls on that apartment's IRemUnknown, marshaled with NDR like any other call,
so the cross-process transport carries them unchanged. Declared here the way a generated
module would declare it (`_methods_`, `_wire_`); the server side is in marshal.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from idlgen.runtime import ndr as _ndr
from idlgen.runtime.com.guid import GUID
from idlgen.runtime.com.interface import IUnknown, Method, methods

__all__ = [
    "IID_IRemUnknown",
    "IRemUnknown",
    "RemInterfaceRef",
    "RemQIResult",
    "StdObjRefValue",
]

IID_IRemUnknown = GUID("{00000131-0000-0000-C000-000000000046}")


@dataclass
class StdObjRefValue:
    """STDOBJREF as a NDR struct value (ndr_objref.StdObjRef is the OBJREF byte layout)."""

    flags: int
    cPublicRefs: int
    oxid: int
    oid: int
    ipid: Any


@dataclass
class RemQIResult:
    hResult: int
    std: StdObjRefValue


@dataclass
class RemInterfaceRef:
    ipid: Any
    cPublicRefs: int
    cPrivateRefs: int


_STDOBJREF = _ndr.Struct(
    "STDOBJREF",
    (
        _ndr.Field("flags", _ndr.ULONG),
        _ndr.Field("cPublicRefs", _ndr.ULONG),
        _ndr.Field("oxid", _ndr.UHYPER),
        _ndr.Field("oid", _ndr.UHYPER),
        _ndr.Field("ipid", _ndr.GUID),
    ),
    factory=StdObjRefValue,
)
_REMQIRESULT = _ndr.Struct(
    "REMQIRESULT",
    (_ndr.Field("hResult", _ndr.HRESULT), _ndr.Field("std", _STDOBJREF)),
    factory=RemQIResult,
)
_REMINTERFACEREF = _ndr.Struct(
    "REMINTERFACEREF",
    (
        _ndr.Field("ipid", _ndr.GUID),
        _ndr.Field("cPublicRefs", _ndr.ULONG),
        _ndr.Field("cPrivateRefs", _ndr.ULONG),
    ),
    factory=RemInterfaceRef,
)


REM_QUERY_INTERFACE = _ndr.MethodMarshaler(
    _ndr.Method(
        "RemQueryInterface",
        (
            _ndr.Param("ripid", _ndr.Pointer("ref", _ndr.GUID)),
            _ndr.Param("cRefs", _ndr.ULONG),
            _ndr.Param("cIids", _ndr.USHORT),
            _ndr.Param(
                "iids",
                _ndr.Pointer("ref", _ndr.ConformantArray(_ndr.GUID, size_is=_ndr.Name("cIids"))),
            ),
            _ndr.Param(
                "ppQIResults",
                _ndr.Pointer(
                    "ref",
                    _ndr.Pointer(
                        "unique",
                        _ndr.ConformantArray(_REMQIRESULT, size_is=_ndr.Name("cIids")),
                    ),
                ),
                "out",
            ),
        ),
        opnum=3,
    )
)

REM_ADD_REF = _ndr.MethodMarshaler(
    _ndr.Method(
        "RemAddRef",
        (
            _ndr.Param("cInterfaceRefs", _ndr.USHORT),
            _ndr.Param(
                "InterfaceRefs",
                _ndr.ConformantArray(_REMINTERFACEREF, size_is=_ndr.Name("cInterfaceRefs")),
            ),
            _ndr.Param(
                "pResults",
                _ndr.Pointer(
                    "ref",
                    _ndr.ConformantArray(_ndr.HRESULT, size_is=_ndr.Name("cInterfaceRefs")),
                ),
                "out",
            ),
        ),
        opnum=4,
    )
)

REM_RELEASE = _ndr.MethodMarshaler(
    _ndr.Method(
        "RemRelease",
        (
            _ndr.Param("cInterfaceRefs", _ndr.USHORT),
            _ndr.Param(
                "InterfaceRefs",
                _ndr.ConformantArray(_REMINTERFACEREF, size_is=_ndr.Name("cInterfaceRefs")),
            ),
        ),
        opnum=5,
    )
)


class IRemUnknown(IUnknown):
    __slots__ = ()
    _iid_ = IID_IRemUnknown
    _methods_: ClassVar[tuple[Method, ...]] = methods(
        Method("RemQueryInterface", ins=("ripid", "cRefs", "cIids", "iids"), outs=("ppQIResults",)),
        Method("RemAddRef", ins=("cInterfaceRefs", "InterfaceRefs"), outs=("pResults",)),
        Method("RemRelease", ins=("cInterfaceRefs", "InterfaceRefs")),
    )
    _wire_: ClassVar[tuple[_ndr.MethodMarshaler | None, ...]] = (
        REM_QUERY_INTERFACE,
        REM_ADD_REF,
        REM_RELEASE,
    )

    def RemQueryInterface(self, ripid: Any, cRefs: int, cIids: int, iids: list[Any]) -> Any:
        from idlgen.runtime.com.hresult import NotImplError

        raise NotImplError()

    def RemAddRef(self, cInterfaceRefs: int, InterfaceRefs: list[RemInterfaceRef]) -> Any:
        from idlgen.runtime.com.hresult import NotImplError

        raise NotImplError()

    def RemRelease(self, cInterfaceRefs: int, InterfaceRefs: list[RemInterfaceRef]) -> int:
        from idlgen.runtime.com.hresult import NotImplError

        raise NotImplError()
