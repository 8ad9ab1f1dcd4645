"""Server side of asynchronous calls in one apartment: ICallFactory and server call objects.

A server opts in to asynchronous calls by deriving from `CallFactory` instead of
`ComObject`. CreateCall then hands out, for each `Async<Iface>` partner of an interface
the server implements, a `ServerCall` that runs the server's synchronous method on a
worker and completes itself with its result. A server that wants to run the call its own
way lists its own `ServerCall` subclasses (each also deriving from the async interface it
serves) in `_call_objects_` and overrides `_start_` there. The call being served is
reachable from server code through `CoGetCallContext` (a context variable), which is how
`CoTestCancel` finds it.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, overload

from idlgen.runtime.com.aioservant import StartedCall, start_call
from idlgen.runtime.com.callcontext import _CALL_CONTEXT as _CALL_CONTEXT
from idlgen.runtime.com.callobj import CallObject
from idlgen.runtime.com.comobject import ComObject, InnerUnknown, returned_value
from idlgen.runtime.com.guid import GUID, as_guid
from idlgen.runtime.com.hresult import (
    S_OK,
    CallCanceledError,
    CallCompleteError,
    CallPendingError,
    InvalidArgError,
    NoInterfaceError,
)
from idlgen.runtime.com.interface import (
    AsyncInterface,
    IID_IUnknown,
    IUnknown,
    Method,
    interfaces_of,
)
from idlgen.runtime.com.status import _LAST
from idlgen.runtime.com.stdiface import ICallFactory, ICancelMethodCalls
from idlgen.runtime.com.workers import WorkerPool, default_pool

__all__ = [
    "CallFactory",
    "CoGetCallContext",
    "CoTestCancel",
    "ServerCall",
    "ServerCallContext",
    "call_canceled",
]

if TYPE_CHECKING:
    import asyncio

_I = TypeVar("_I", bound=IUnknown)
_A = TypeVar("_A", bound=AsyncInterface)


class ServerCall(CallObject):
    """A call object that serves Begin_X by running the server's synchronous X.

    `_inline_ = True` runs X inside Begin_ (the call is complete when Begin_ returns);
    the default hands X to a worker pool so Begin_ returns at once.
    """

    __slots__ = ("_server", "_task")
    _raw_methods_ = True
    _inline_: ClassVar[bool] = False
    _pool_: ClassVar[WorkerPool | None] = None

    def __init__(self, server: Any, outer: Any = None) -> None:
        super().__init__(outer)
        self._server = server
        self._task: tuple[int, StartedCall] | None = None

    @property
    def server(self) -> Any:
        return self._server

    def _start_(self, ticket: int, method: Method, ins: tuple[Any, ...]) -> None:
        coroutine_fn = getattr(
            getattr(type(self._server), method.name, None), "_idlgen_coroutine_", None
        )
        if coroutine_fn is not None:
            self._start_coroutine(ticket, method, coroutine_fn(self._server, *ins))
        elif self._inline_:
            self._run_(ticket, method, ins)
        else:
            (self._pool_ or default_pool()).submit(self._run_, ticket, method, ins)

    def _run_(self, ticket: int, method: Method, ins: tuple[Any, ...]) -> None:
        if self._cancel_ticket == ticket:  # canceled before a worker got to it: never runs
            self._fail_(ticket, CallCanceledError())
            return
        token = _CALL_CONTEXT.set((self, ticket))
        try:
            _LAST.set(S_OK)
            value = getattr(self._server, method.name)(*ins)
            hr = _LAST.get()
        except BaseException as exc:  # delivered to Finish_, as a direct call would raise it
            self._fail_(ticket, exc)
            return
        finally:
            _CALL_CONTEXT.reset(token)
        self._complete_(ticket, value, hr)

    # -- async def server methods: a task on the servant loop, no worker waits ---------

    def _start_coroutine(self, ticket: int, method: Method, coroutine: Any) -> None:
        def done(task: asyncio.Task[Any]) -> None:
            self._coroutine_done(ticket, method, task)

        token = _CALL_CONTEXT.set((self, ticket))
        try:
            self._task = (ticket, start_call(coroutine, done))
        finally:
            _CALL_CONTEXT.reset(token)

    def _coroutine_done(self, ticket: int, method: Method, future: asyncio.Task[Any]) -> None:
        if self._task is not None and self._task[0] == ticket:
            self._task = None
        if future.cancelled():  # by a cancel of the call, or by the method itself: the call
            self._fail_(ticket, CallCanceledError())  # ends canceled (a no-op if Cancel
            return  # already settled it)
        try:
            value, hr = returned_value(method, future.result())
        except BaseException as exc:  # delivered to Finish_, as a direct call would raise it
            self._fail_(ticket, exc)
            return
        self._complete_(ticket, value, hr)

    def _cancel_task(self, ticket: int) -> None:
        task = self._task
        if task is not None and task[0] == ticket:
            task[1].cancel()

    def _on_cancel_(self, ticket: int) -> None:
        self._cancel_task(ticket)

    def _on_abandon_(self, ticket: int) -> None:
        self._cancel_task(ticket)


class CallFactory(ComObject, ICallFactory):
    """ComObject that also answers ICallFactory for its interfaces' async partners."""

    __slots__ = ()
    _raw_methods_ = True
    _call_objects_: ClassVar[tuple[type[ServerCall], ...]] = ()

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
    def CreateCall(self, riid: Any, pCtrlUnk: Any = None, riid2: Any = None) -> Any:
        """`riid2` defaults to `riid` (IUnknown when aggregated, as COM requires)."""
        async_iface = _async_partners(type(self)).get(as_guid(riid))
        if async_iface is None:
            raise NoInterfaceError(message=f"{as_guid(riid)} is not an async interface here")
        cls = _call_class(self._call_objects_, async_iface)
        if pCtrlUnk is not None:
            if riid2 is not None and as_guid(riid2) != IID_IUnknown:
                raise InvalidArgError(message="an aggregated call object is asked for IUnknown")
            return InnerUnknown(cls(self, outer=pCtrlUnk))
        call = cls(self)
        try:
            return call.QueryInterface(riid if riid2 is None else riid2)
        finally:
            call.Release()


def _async_partners(cls: type) -> dict[GUID, type]:
    cached: dict[GUID, type] | None = cls.__dict__.get("_async_partners_")
    if cached is None:
        cached = {
            iface._async_._iid_: iface._async_
            for iface in interfaces_of(cls)
            if iface._async_ is not None and iface is not IUnknown
        }
        cls._async_partners_ = cached  # type: ignore[attr-defined]
    return cached


def _call_class(custom: tuple[type[ServerCall], ...], async_iface: type) -> type[ServerCall]:
    for cls in custom:
        if issubclass(cls, async_iface):
            return cls
    return _default_call_class(async_iface)


_default_classes: dict[type, type[ServerCall]] = {}
_default_classes_lock = threading.Lock()


def _default_call_class(async_iface: type) -> type[ServerCall]:
    with _default_classes_lock:
        cls = _default_classes.get(async_iface)
        if cls is None:
            name = async_iface.__name__ + "ServerCall"
            namespace = {"__slots__": (), "_raw_methods_": True, "__module__": __name__}
            cls = type(name, (ServerCall, async_iface), namespace)
            _default_classes[async_iface] = cls
        return cls


class ServerCallContext(ComObject, ICancelMethodCalls):
    """The server's view of the call it is serving (what CoGetCallContext returns).

    Bound to one ticket, so a server still running after its client canceled, finished and
    began a new call keeps seeing its own call as canceled.
    """

    __slots__ = ("_call", "_ticket")
    _raw_methods_ = True
    _aggregatable_ = False

    def __init__(self, call: CallObject, ticket: int) -> None:
        super().__init__()
        self._call = call
        self._ticket = ticket

    def is_canceled(self) -> bool:
        return self._call._cancel_ticket == self._ticket

    def Cancel(self, ulSeconds: int) -> int:
        if self._call._ticket != self._ticket:
            raise CallCompleteError()
        return self._call.Cancel(ulSeconds)

    def TestCancel(self) -> int:
        if self.is_canceled():
            raise CallCanceledError()
        raise CallPendingError()


def CoGetCallContext(riid: Any) -> Any:
    """The current call's context object; RPC_E_CALL_COMPLETE outside a served call."""
    current = _CALL_CONTEXT.get()
    if current is None:
        raise CallCompleteError(message="no call is being served on this context")
    context = ServerCallContext(*current)
    try:
        return context.QueryInterface(riid)
    finally:
        context.Release()


def CoTestCancel() -> int:
    """COM's CoTestCancel: raises CallCanceledError or CallPendingError (both failures)."""
    return int(CoGetCallContext(ICancelMethodCalls._iid_).TestCancel())


def call_canceled() -> bool:
    """For server code: has the client canceled the call being served? False outside a call."""
    current = _CALL_CONTEXT.get()
    if current is None:
        return False
    call, ticket = current
    return call._cancel_ticket == ticket
