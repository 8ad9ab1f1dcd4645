"""Client side: sinks you implement by subclassing, and iteration over enumerators.

`ObjectSink` implements IWbemObjectSink's two methods for any interface of that shape:
combine it with the IDL's sink interface (`class QuerySink(ObjectSink, IWbemObjectSink)`,
or `sink_class(iface)`) and override `on_object`, `on_progress`, `on_complete`, or pass
callbacks. `wait()` blocks until the final status; in an STA it keeps the apartment's queue
running, so a sink called back across apartments can be waited on from its own thread.

`iterate(enum)` is `for obj in ...` over any IEnumWbemClassObject-shaped object (a local
enumerator or a proxy): Next(WBEM_INFINITE, batch) until WBEM_S_FALSE. `aiterate(enum)` is
the `async for` form, driven by NextAsync and a sink that resolves an asyncio future; asyncio
is imported only when it is called.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from idlgen.runtime.com.comobject import ComObject
from idlgen.runtime.com.hresult import S_OK, COMError
from idlgen.runtime.com.status import last_hresult
from idlgen.runtime.wmi.codes import (
    WBEM_INFINITE,
    WBEM_S_FALSE,
    WBEM_STATUS_COMPLETE,
    WBEM_STATUS_PROGRESS,
    as_long,
    unpack_progress,
)
from idlgen.runtime.wmi.speaking import _combine

__all__ = ["ObjectSink", "aiterate", "iterate", "sink_class"]

ProgressCallback = Callable[[int, int], None]


class ObjectSink(ComObject):
    """A ready-made result sink: collects objects, reports progress, signals completion.

    Runs on whatever thread the server calls it on (in another apartment: that apartment's
    thread), so the hooks should be quick; `objects` and `status` are safe to read after
    `wait()` returns.
    """

    def __init__(
        self,
        on_progress: ProgressCallback | None = None,
        on_object: Callable[[Any], None] | None = None,
        outer: Any = None,
    ) -> None:
        super().__init__(outer)
        self.objects: list[Any] = []
        self.progress: list[tuple[int, int]] = []
        self.status: int | None = None  # the final hResult, once it came
        self.text: str | None = None
        self.error_object: Any = None
        self.final_calls = 0  # how many final SetStatus calls arrived (the contract says 1)
        self._progress_cb = on_progress
        self._object_cb = on_object
        self._done = threading.Event()

    # -- IWbemObjectSink --------------------------------------------------------------------

    def Indicate(self, lObjectCount: int, apObjArray: Any) -> int:
        for obj in list(apObjArray or ())[: max(0, lObjectCount)]:
            self.on_object(obj)
        return S_OK

    def SetStatus(self, lFlags: int, hResult: int, strParam: Any, pObjParam: Any) -> int:
        if lFlags & WBEM_STATUS_PROGRESS:
            self.on_progress(*unpack_progress(hResult))
        elif lFlags == WBEM_STATUS_COMPLETE:
            self.final_calls += 1
            self.on_complete(hResult & 0xFFFFFFFF, strParam, pObjParam)
        return S_OK

    # -- hooks ------------------------------------------------------------------------------

    def on_object(self, obj: Any) -> None:
        """Keep `obj` (AddRef'd: COM's stub releases Indicate's [in] objects when it returns;
        a callback that keeps one must AddRef it too). Released with the sink."""
        if self._object_cb is not None:
            self._object_cb(obj)
        else:
            self.objects.append(_kept(obj))

    def on_progress(self, done: int, total: int) -> None:
        self.progress.append((done, total))
        if self._progress_cb is not None:
            self._progress_cb(done, total)

    def on_complete(self, hresult: int, text: str | None, obj: Any) -> None:
        self.status, self.text, self.error_object = hresult, text, _kept(obj)
        self._done.set()

    def _final_release_(self) -> None:
        kept, self.objects = [*self.objects, self.error_object], []
        self.error_object = None
        for obj in kept:
            release = getattr(obj, "Release", None)
            if release is not None:
                with contextlib.suppress(COMError):
                    release()

    # -- waiting ----------------------------------------------------------------------------

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the final status; an STA keeps serving its queue meanwhile."""
        from idlgen.runtime.apartments.apartment import current_apartment

        apartment = current_apartment()
        if apartment.is_sta:
            if self._done.is_set():
                return True
            return apartment.pump_until(_Poll(self._done), timeout)
        return self._done.wait(timeout)


def _kept(obj: Any) -> Any:
    """AddRef an interface pointer the sink keeps beyond the callback (None stays None)."""
    add_ref = getattr(obj, "AddRef", None)
    if add_ref is not None:
        add_ref()
    return obj


class _Poll:
    """`pump_until` needs `.done`; the sink's event answers it."""

    __slots__ = ("_event",)

    def __init__(self, event: threading.Event) -> None:
        self._event = event

    @property
    def done(self) -> bool:
        return self._event.is_set()


def sink_class(iface: type) -> type[ObjectSink]:
    """An `ObjectSink` speaking `iface` (IWbemObjectSink or one of its shape)."""
    return _combine(ObjectSink, iface, "Collector")


def iterate(enum: Any, batch: int = 16, timeout: int = WBEM_INFINITE) -> Iterator[Any]:
    """`for obj in iterate(enum)`: Next until WBEM_S_FALSE; a failure raises its COMError."""
    while True:
        objects, returned = enum.Next(as_long(timeout), batch)
        hr = last_hresult()
        yield from list(objects)[:returned]
        if hr == WBEM_S_FALSE:
            return


async def aiterate(enum: Any, batch: int = 16, iface: type | None = None) -> AsyncIterator[Any]:
    """`async for obj in aiterate(enum)`: one NextAsync per batch, awaited without a thread.

    `iface` is the sink interface to speak (default: the one `enum.NextAsync` expects,
    looked up from the enumerator's interface; IWbemObjectSink when unknown).
    """
    import asyncio

    loop = asyncio.get_running_loop()
    sink_iface = iface or _sink_interface_of(enum)
    while True:
        future: asyncio.Future[tuple[list[Any], int]] = loop.create_future()
        sink = _FutureSink.make(sink_iface, loop, future)
        hr = enum.NextAsync(batch, sink)
        sink.Release()  # the enumerator holds its own reference while it delivers
        if hr == WBEM_S_FALSE:
            return
        objects, status = await future
        for obj in objects:
            yield obj
        if status & 0x80000000:
            raise COMError(status)
        if status == WBEM_S_FALSE:
            return


def _sink_interface_of(enum: Any) -> type:
    from idlgen.runtime.apartments.registry import interface_for
    from idlgen.runtime.com.interface import interfaces_of

    for iface in interfaces_of(type(enum)):
        wire = iface.__dict__.get("_wire_")
        methods = iface.__dict__.get("_methods_", ())
        for method, marshaler in zip(methods, wire or (), strict=False):
            if method.name == "NextAsync" and marshaler is not None:
                for param in marshaler.method.params:
                    iid = getattr(param.type, "iid", None)
                    found = interface_for(iid) if iid is not None else None
                    if found is not None:
                        return found
    from idlgen.runtime.base.wbemcli_idl import IWbemObjectSink

    return IWbemObjectSink


class _FutureSink(ObjectSink):
    """Collects one NextAsync batch and hands it to an asyncio future on its loop."""

    @classmethod
    def make(cls, iface: type, loop: Any, future: Any) -> _FutureSink:
        sink: _FutureSink = _combine(cls, iface, "Future")()
        sink._loop, sink._future = loop, future
        return sink

    _loop: Any
    _future: Any

    def on_complete(self, hresult: int, text: str | None, obj: Any) -> None:
        super().on_complete(hresult, text, obj)
        result = (list(self.objects), hresult)
        self._loop.call_soon_threadsafe(_settle, self._future, result)


def _settle(future: Any, result: Any) -> None:
    if not future.done():
        future.set_result(result)
