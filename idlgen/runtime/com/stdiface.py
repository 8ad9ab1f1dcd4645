"""Declarations of the COM interfaces the runtime itself implements (objidl.idl subset).

These mirror the bundled base IDL so that generated proxies for them and the runtime's
local implementations share one method table and one calling convention.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, overload

from idlgen.runtime.com.guid import GUID
from idlgen.runtime.com.interface import AsyncInterface, IUnknown, Method, methods

_I = TypeVar("_I", bound=IUnknown)
_A = TypeVar("_A", bound=AsyncInterface)

# The method declarations below are for type checkers only (as IUnknown's are): at run
# time the implementing class's own methods must be the ones found, never a stub.

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

    if TYPE_CHECKING:

        def CreateInstance(self, pUnkOuter: IUnknown | None, riid: GUID | str | type) -> Any: ...
        def LockServer(self, fLock: bool) -> int: ...


class ICallFactory(IUnknown):
    __slots__ = ()
    _iid_ = IID_ICallFactory
    _methods_ = methods(
        Method("CreateCall", ins=("riid", "pCtrlUnk", "riid2"), outs=("ppv",)),
    )

    if TYPE_CHECKING:

        @overload
        def CreateCall(self, riid: type[_A], pCtrlUnk: None = None, riid2: None = None) -> _A: ...
        @overload
        def CreateCall(
            self, riid: type[AsyncInterface] | GUID | str, pCtrlUnk: object, riid2: type[_I]
        ) -> _I: ...
        @overload
        def CreateCall(
            self,
            riid: type[AsyncInterface] | GUID | str,
            pCtrlUnk: object = None,
            riid2: GUID | str | None = None,
        ) -> Any: ...
        def CreateCall(self, riid: Any, pCtrlUnk: Any = None, riid2: Any = None) -> Any: ...


class ISynchronize(IUnknown):
    __slots__ = ()
    _iid_ = IID_ISynchronize
    _methods_ = methods(
        Method("Wait", ins=("dwFlags", "dwMilliseconds")),
        Method("Signal"),
        Method("Reset"),
    )

    if TYPE_CHECKING:

        def Wait(self, dwFlags: int, dwMilliseconds: int) -> int: ...
        def Signal(self) -> int: ...
        def Reset(self) -> int: ...


class ISynchronizeHandle(IUnknown):
    __slots__ = ()
    _iid_ = IID_ISynchronizeHandle
    _methods_ = methods(
        Method("GetHandle", outs=("ph",)),
    )

    if TYPE_CHECKING:

        def GetHandle(self) -> Any: ...


class ISynchronizeEvent(ISynchronizeHandle):
    __slots__ = ()
    _iid_ = IID_ISynchronizeEvent
    _methods_ = methods(
        Method("SetEventHandle", ins=("ph",)),
    )

    if TYPE_CHECKING:

        def SetEventHandle(self, ph: Any) -> int: ...


class ISynchronizeContainer(IUnknown):
    __slots__ = ()
    _iid_ = IID_ISynchronizeContainer
    _methods_ = methods(
        Method("AddSynchronize", ins=("pSync",)),
        Method("WaitMultiple", ins=("dwFlags", "dwTimeOut"), outs=("ppSync",)),
    )

    if TYPE_CHECKING:

        def AddSynchronize(self, pSync: ISynchronize) -> int: ...
        def WaitMultiple(self, dwFlags: int, dwTimeOut: int) -> ISynchronize: ...


class ICancelMethodCalls(IUnknown):
    __slots__ = ()
    _iid_ = IID_ICancelMethodCalls
    _methods_ = methods(Method("Cancel", ins=("ulSeconds",)), Method("TestCancel"))

    if TYPE_CHECKING:

        def Cancel(self, ulSeconds: int) -> int: ...
        def TestCancel(self) -> int: ...
