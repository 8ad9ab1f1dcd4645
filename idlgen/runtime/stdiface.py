"""Declarations of the COM interfaces the runtime itself implements (objidl.idl subset).

These mirror the bundled base IDL so that generated proxies for them and the runtime's
local implementations share one method table and one calling convention.
"""

from __future__ import annotations

from typing import ClassVar

from idlgen.runtime.guid import GUID
from idlgen.runtime.interface import AsyncInterface, IUnknown, Method, methods

__all__ = [
    "AsyncIUnknown",
    "ICallFactory",
    "ICancelMethodCalls",
    "IClassFactory",
    "IID_AsyncIUnknown",
    "IID_ICallFactory",
    "IID_ICancelMethodCalls",
    "IID_IClassFactory",
    "IID_ISynchronize",
    "IID_ISynchronizeContainer",
    "IID_ISynchronizeEvent",
    "IID_ISynchronizeHandle",
    "ISynchronize",
    "ISynchronizeContainer",
    "ISynchronizeEvent",
    "ISynchronizeHandle",
]

IID_AsyncIUnknown = GUID("{000E0000-0000-0000-C000-000000000046}")
IID_IClassFactory = GUID("{00000001-0000-0000-C000-000000000046}")
IID_ICancelMethodCalls = GUID("{00000029-0000-0000-C000-000000000046}")
IID_ISynchronize = GUID("{00000030-0000-0000-C000-000000000046}")
IID_ISynchronizeHandle = GUID("{00000031-0000-0000-C000-000000000046}")
IID_ISynchronizeEvent = GUID("{00000032-0000-0000-C000-000000000046}")
IID_ISynchronizeContainer = GUID("{00000033-0000-0000-C000-000000000046}")
IID_ICallFactory = GUID("{1C733A30-2A1C-11CE-ADE5-00AA0044773D}")


class AsyncIUnknown(AsyncInterface):
    """IUnknown's async partner (`async_uuid` in unknwn.idl); declared for completeness."""

    __slots__ = ()
    _iid_ = IID_AsyncIUnknown
    _sync_: ClassVar[type[IUnknown]] = IUnknown


class IClassFactory(IUnknown):
    __slots__ = ()
    _iid_ = IID_IClassFactory
    _methods_ = methods(
        Method("CreateInstance", ins=("pUnkOuter", "riid"), outs=("ppvObject",)),
        Method("LockServer", ins=("fLock",)),
    )


class ICallFactory(IUnknown):
    __slots__ = ()
    _iid_ = IID_ICallFactory
    _methods_ = methods(
        Method("CreateCall", ins=("riid", "pCtrlUnk", "riid2"), outs=("ppv",)),
    )


class ISynchronize(IUnknown):
    __slots__ = ()
    _iid_ = IID_ISynchronize
    _methods_ = methods(
        Method("Wait", ins=("dwFlags", "dwMilliseconds")),
        Method("Signal"),
        Method("Reset"),
    )


class ISynchronizeHandle(IUnknown):
    __slots__ = ()
    _iid_ = IID_ISynchronizeHandle
    _methods_ = methods(
        Method("GetHandle", outs=("ph",)),
    )


class ISynchronizeEvent(ISynchronizeHandle):
    __slots__ = ()
    _iid_ = IID_ISynchronizeEvent
    _methods_ = methods(
        Method("SetEventHandle", ins=("ph",)),
    )


class ISynchronizeContainer(IUnknown):
    __slots__ = ()
    _iid_ = IID_ISynchronizeContainer
    _methods_ = methods(
        Method("AddSynchronize", ins=("pSync",)),
        Method("WaitMultiple", ins=("dwFlags", "dwTimeOut"), outs=("ppSync",)),
    )


class ICancelMethodCalls(IUnknown):
    __slots__ = ()
    _iid_ = IID_ICancelMethodCalls
    _methods_ = methods(Method("Cancel", ins=("ulSeconds",)), Method("TestCancel"))
