"""Activation ([MS-DCOM] 3.1.2.5.2.3): IRemoteSCMActivator on the resolver endpoint.

A client (CoCreateInstanceEx, impacket's DCOMConnection) sends RemoteCreateInstance with an
activation properties BLOB (2.2.22): a CustomHeader and property structures, each in NDR
type serialization version 1 ([MS-RPCE] 2.2.6), wrapped in an OBJREF_CUSTOM. We read the
InstantiationInfoData (CLSID, IIDs), create the object with the factory the class registry
has for that CLSID, export it for pinging, and answer with PropsOutInfo (one OBJREF per IID)
and ScmReplyInfoData (the OXID's bindings, its IRemUnknown IPID, the authentication hint).
The NDR of every structure is idlgen's output for idlgen/protocol_idl/activation.idl.
"""

from __future__ import annotations

import contextlib
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from idlgen.runtime import ndr as _ndr
from idlgen.runtime.apartments.classfactory import class_object
from idlgen.runtime.com.guid import GUID, as_guid
from idlgen.runtime.com.hresult import (
    E_INVALIDARG,
    E_NOINTERFACE,
    S_OK,
    COMError,
)
from idlgen.runtime.com.status import with_hresult
from idlgen.runtime.ndr.engine import decode as ndr_decode
from idlgen.runtime.ndr.engine import encode as ndr_encode
from idlgen.runtime.ndr.objref import OBJREF_SIGNATURE, OBJREF_STANDARD, ObjRef, StdObjRef
from idlgen.runtime.rpc.dcom import activation_idl as A
from idlgen.runtime.rpc.dcom.resolver import COM_VERSION, dualstringarray_wire

__all__ = ["Activator", "ClassRegistry", "deserialize", "serialize"]

CLSID_ActivationPropertiesOut = GUID("00000339-0000-0000-C000-000000000046")
IID_IActivationPropertiesOut = GUID("000001A3-0000-0000-C000-000000000046")
CLSID_InstantiationInfo = GUID("000001AB-0000-0000-C000-000000000046")
CLSID_PropsOutInfo = GUID("00000339-0000-0000-C000-000000000046")
CLSID_ScmReplyInfo = GUID("000001B6-0000-0000-C000-000000000046")
REGDB_E_CLASSNOTREG = 0x80040154
CO_E_CLASS_CREATE_FAILED = 0x80080001
PUBLIC_REFS = 5  # what Windows hands out per activated interface
OBJREF_CUSTOM = 0x4
_COMMON = bytes([1, 0x10, 8, 0]) + b"\xcc" * 4  # version 1, little-endian, header length 8


class ActivationError(ValueError):
    """An activation BLOB we cannot read; answered with E_INVALIDARG."""


# ------------------------------------------------------------------ type serialization


def serialize(t: _ndr.NdrType, value: Any) -> bytes:
    """One value in NDR type serialization version 1: common header, private header with
    the (8-aligned) length, the NDR data, padding to 8."""
    data = ndr_encode(t, value)
    data += b"\0" * (-len(data) % 8)
    return _COMMON + struct.pack("<II", len(data), 0) + data


def deserialize(t: _ndr.NdrType, blob: bytes) -> Any:
    if len(blob) < 16 or blob[0] != 1 or blob[1] != 0x10:
        raise ActivationError("not NDR type serialization version 1 (little-endian)")
    (length,) = struct.unpack_from("<I", blob, 8)
    data = blob[16 : 16 + length]
    if len(data) != length:
        raise ActivationError("serialized type shorter than its header says")
    for pad in range(8):  # the data was padded to 8 bytes
        try:
            return ndr_decode(t, data[: len(data) - pad])
        except _ndr.NdrFault:
            continue
    raise ActivationError("serialized type does not decode")


# ------------------------------------------------------------------ the BLOB


@dataclass(frozen=True)
class ActivationRequest:
    clsid: GUID
    iids: list[GUID]


def read_request(interface_pointer: A.MInterfacePointer | None) -> ActivationRequest:
    """The CLSID and IIDs an activation properties BLOB asks for."""
    if interface_pointer is None:
        raise ActivationError("no activation properties")
    data = bytes(interface_pointer.abData)
    if len(data) < 48 or struct.unpack_from("<II", data) != (OBJREF_SIGNATURE, OBJREF_CUSTOM):
        raise ActivationError("activation properties are not an OBJREF_CUSTOM")
    blob = data[48:]  # signature, flags, iid, clsid, cbExtension, size
    if len(blob) < 8:
        raise ActivationError("activation BLOB truncated")
    header = deserialize(A._ndr_CustomHeader, blob[8:])
    offset = 8 + int(header.headerSize)
    for clsid, size in zip(header.pclsid or [], header.pSizes or [], strict=False):
        if clsid == CLSID_InstantiationInfo:
            info = deserialize(A._ndr_InstantiationInfoData, blob[offset : offset + size])
            return ActivationRequest(info.classId, list(info.pIID or []))
        offset += int(size)
    raise ActivationError("no InstantiationInfoData in the activation properties")


def activation_reply(props_out: A.PropsOutInfo, scm_reply: A.ScmReplyInfoData) -> bytes:
    """The ActivationPropertiesOut OBJREF_CUSTOM carrying PropsOutInfo and ScmReplyInfo."""
    props = [
        serialize(A._ndr_PropsOutInfo, props_out),
        serialize(A._ndr_ScmReplyInfoData, scm_reply),
    ]
    header = A.CustomHeader(
        0,
        0,
        0,
        2,  # destCtx: MSHCTX_DIFFERENTMACHINE
        2,
        GUID(0),
        [CLSID_PropsOutInfo, CLSID_ScmReplyInfo],
        [len(p) for p in props],
        None,  # type: ignore[arg-type]  # pdwReserved: NULL
    )
    size = len(serialize(A._ndr_CustomHeader, header))
    header.headerSize, header.totalSize = size, size + sum(len(p) for p in props)
    blob = struct.pack("<II", header.totalSize, 0) + serialize(A._ndr_CustomHeader, header)
    blob += b"".join(props)
    head = (
        struct.pack("<II", OBJREF_SIGNATURE, OBJREF_CUSTOM) + IID_IActivationPropertiesOut.bytes_le
    )
    head += CLSID_ActivationPropertiesOut.bytes_le + struct.pack("<II", 0, len(blob) + 8)
    return head + blob


# ------------------------------------------------------------------ classes and activator


class ClassRegistry:
    """CLSID -> factory, filled from the IDL's coclasses (`register(coclass, factory)`)."""

    def __init__(self) -> None:
        self._factories: dict[GUID, Callable[[], Any]] = {}
        self._lock = threading.Lock()

    def register(self, clsid: Any, factory: Callable[[], Any]) -> None:
        """`clsid`: a generated coclass class (its `_clsid_`), a GUID or its text."""
        key = getattr(clsid, "_clsid_", None) or as_guid(clsid)
        with self._lock:
            self._factories[key] = factory

    def factory(self, clsid: GUID) -> Callable[[], Any] | None:
        with self._lock:
            return self._factories.get(clsid)


class Activator(A.IRemoteSCMActivator):
    """IRemoteSCMActivator for the resolver endpoint (`DcomService`)."""

    def __init__(self, service: Any, classes: ClassRegistry) -> None:
        self.service = service
        self.classes = classes

    def RemoteCreateInstance(
        self,
        rpc: object,
        orpcthis: A.ORPCTHIS,
        pUnkOuter: A.MInterfacePointer | None,
        pActProperties: A.MInterfacePointer | None,
    ) -> Any:
        """(ORPCTHAT, the ActivationPropertiesOut pointer); failures keep the shape with the
        HRESULT in the reply, as Windows answers them (not as faults)."""
        if pUnkOuter is not None:  # no aggregation across machines ([MS-DCOM] 3.1.2.5.2.3.3)
            return _fail(0x80040110)  # CLASS_E_NOAGGREGATION
        return self._activate(pActProperties, lambda factory: factory())

    def RemoteGetClassObject(
        self, rpc: object, orpcthis: A.ORPCTHIS, pActProperties: A.MInterfacePointer | None
    ) -> Any:
        """The class object ([MS-DCOM] 3.1.2.5.2.3.2): an OBJREF per IID asked for (usually
        IClassFactory), pinged like an instance; the registered factory behind it."""
        return self._activate(pActProperties, class_object)

    def _activate(self, props: A.MInterfacePointer | None, make: Callable[[Any], Any]) -> Any:
        """Read the request, `make(factory)` the object, answer with its OBJREFs."""
        try:
            request = read_request(props)
        except (ActivationError, _ndr.NdrFault):
            return _fail(E_INVALIDARG)
        factory = self.classes.factory(request.clsid)
        if factory is None:
            return _fail(REGDB_E_CLASSNOTREG)
        try:
            obj = make(factory)
        except COMError as exc:
            return _fail(exc.hresult)
        except Exception:
            return _fail(CO_E_CLASS_CREATE_FAILED)
        try:
            return (_ORPCTHAT, self._reply(obj, request.iids))
        finally:
            _release(obj)

    def _reply(self, obj: Any, iids: list[GUID]) -> A.MInterfacePointer:
        results: list[int] = []
        pointers: list[A.MInterfacePointer | None] = []
        oxid = 0
        for iid in iids:
            try:
                export = self.service.export_pinged(obj, iid, PUBLIC_REFS)
            except COMError as exc:
                results.append(exc.hresult if exc.hresult & 0x80000000 else E_NOINTERFACE)
                pointers.append(None)
                continue
            oxid = export.oxid
            ref = ObjRef(
                OBJREF_STANDARD,
                iid.uuid,
                StdObjRef(0, PUBLIC_REFS, export.oxid, export.oid, export.ipid_guid.uuid),
                self.service.objref_dsa(),
            )
            data = _ndr.encode_objref(ref)
            results.append(S_OK)
            pointers.append(A.MInterfacePointer(len(data), data))
        props_out = A.PropsOutInfo(len(iids), list(iids), results, pointers)  # type: ignore[arg-type]
        rem_unknown = self.service.rem_unknown_ipid(oxid) if oxid else GUID(0)
        scm = A.customREMOTE_REPLY_SCM_INFO(
            oxid,
            _dsa(self.service.object_bindings()),
            rem_unknown,
            self.service.authn_hint(),
            A.COMVERSION(COM_VERSION.MajorVersion, COM_VERSION.MinorVersion),
        )
        data = activation_reply(props_out, A.ScmReplyInfoData(None, scm))  # type: ignore[arg-type]
        return A.MInterfacePointer(len(data), data)


def _dsa(dsa: Any) -> A.DUALSTRINGARRAY:
    wire = dualstringarray_wire(dsa)
    return A.DUALSTRINGARRAY(wire.wNumEntries, wire.wSecurityOffset, wire.aStringArray)


_ORPCTHAT = A.ORPCTHAT(0, None)


def _fail(hresult: int) -> Any:
    return with_hresult(hresult, (_ORPCTHAT, None))


def _release(obj: Any) -> None:
    release = getattr(obj, "Release", None)
    if callable(release):
        with contextlib.suppress(COMError):
            release()
