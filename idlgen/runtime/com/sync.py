"""Standalone synchronization objects: events (ISynchronize) and the container.

`SyncEvent` is what CLSID_StdEvent (auto reset) and CLSID_ManualResetEvent give in COM;
`SynchronizeContainer` is CLSID_SynchronizeContainer. The "handle" of ISynchronizeHandle
is the runtime's signalling primitive (a `waitable.SignalState`), which call objects also
are, so a container can mix events and call objects.
"""

from __future__ import annotations

import threading
from typing import Any

from idlgen.runtime.com.comobject import ComObject
from idlgen.runtime.com.hresult import (
    RPC_E_NO_SYNC,
    RPC_E_OUT_OF_RESOURCES,
    S_OK,
    CallPendingError,
    COMError,
    InvalidArgError,
    RpcTimeoutError,
)
from idlgen.runtime.com.stdiface import (
    IID_ISynchronizeHandle,
    ISynchronize,
    ISynchronizeContainer,
    ISynchronizeEvent,
)
from idlgen.runtime.com.waitable import Event, SignalState, ms_to_timeout, wait_any

__all__ = [
    "COWAIT_ALERTABLE",
    "COWAIT_DEFAULT",
    "COWAIT_WAITALL",
    "MAX_SYNCHRONIZE_OBJECTS",
    "ManualResetEvent",
    "StdEvent",
    "SyncEvent",
    "SynchronizeContainer",
]

COWAIT_DEFAULT = 0
COWAIT_WAITALL = 1
COWAIT_ALERTABLE = 2
MAX_SYNCHRONIZE_OBJECTS = 63  # WaitForMultipleObjects' 64 handles, one kept by COM


class SyncEvent(ComObject, ISynchronize, ISynchronizeEvent):
    """An event synchronization object; `manual_reset` chooses between the two COM classes."""

    __slots__ = ("_event",)
    _raw_methods_ = True

    def __init__(self, manual_reset: bool = False, outer: Any = None) -> None:
        super().__init__(outer)
        self._event: SignalState = Event(manual_reset)

    def Wait(self, dwFlags: int, dwMilliseconds: int) -> int:
        """S_OK when signalled; time-out raises CallPendingError (RPC_S_CALLPENDING)."""
        if self._event._wait(ms_to_timeout(dwMilliseconds)):
            return S_OK
        raise CallPendingError()

    def Signal(self) -> int:
        self._event._signal()
        return S_OK

    def Reset(self) -> int:
        self._event._reset()
        return S_OK

    def GetHandle(self) -> SignalState:
        return self._event

    def SetEventHandle(self, ph: Any) -> int:
        if not isinstance(ph, SignalState):
            raise InvalidArgError(message="not a runtime event handle")
        self._event = ph
        return S_OK


def StdEvent() -> SyncEvent:
    """Auto-reset event: a successful Wait consumes the signal."""
    return SyncEvent(manual_reset=False)


def ManualResetEvent() -> SyncEvent:
    """Manual-reset event: stays signalled until Reset."""
    return SyncEvent(manual_reset=True)


class SynchronizeContainer(ComObject, ISynchronizeContainer):
    """Wait for any of up to 63 synchronization objects."""

    __slots__ = ("_items", "_lock")
    _raw_methods_ = True

    def __init__(self, outer: Any = None) -> None:
        super().__init__(outer)
        self._lock = threading.Lock()
        self._items: list[tuple[Any, SignalState]] = []

    def AddSynchronize(self, pSync: Any) -> int:
        if pSync is None:
            raise InvalidArgError()
        handle_owner = pSync.QueryInterface(IID_ISynchronizeHandle)
        try:
            handle = handle_owner.GetHandle()
        finally:
            handle_owner.Release()
        if not isinstance(handle, SignalState):
            raise InvalidArgError(message="synchronization object has no runtime handle")
        with self._lock:
            if len(self._items) >= MAX_SYNCHRONIZE_OBJECTS:
                raise COMError(RPC_E_OUT_OF_RESOURCES, "synchronization container is full")
            pSync.AddRef()
            self._items.append((pSync, handle))
        return S_OK

    def WaitMultiple(self, dwFlags: int, dwTimeOut: int) -> Any:
        """The signalled ISynchronize (lowest index wins); RPC_E_TIMEOUT on time-out."""
        if dwFlags & COWAIT_WAITALL:
            raise InvalidArgError(message="COWAIT_WAITALL is not valid for WaitMultiple")
        with self._lock:
            items = list(self._items)
        if not items:
            raise COMError(RPC_E_NO_SYNC)
        index = wait_any([handle for _, handle in items], ms_to_timeout(dwTimeOut))
        if index is None:
            raise RpcTimeoutError()
        sync = items[index][0]
        sync.AddRef()
        return sync

    def _final_release_(self) -> None:
        with self._lock:
            items, self._items = self._items, []
        for sync, _ in items:
            sync.Release()
