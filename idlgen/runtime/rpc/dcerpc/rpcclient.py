"""`RpcClient`: the base of generated `<svc>_Client` classes, and `connect(binding, svc)`.

A generated client method is one line, `return self._call_(opnum, (args...))`; this class
marshals with the interface's `_wire_[opnum]`, sends the request on a `Connection`, and shapes
the reply with the calling convention (rpcif.client_result). The asynchronous form,
`Begin_X(args...)`, is `_begin_call_`: it returns a `PendingRpc` whose `result()` gives what
`X` would (docs/dcerpc.md, "Asynchronous calls").
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Generator
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar

from idlgen.runtime.com.hresult import (
    RPC_E_INVALIDMETHOD,
    S_OK,
    CallCanceledError,
    COMError,
    RpcTimeoutError,
)
from idlgen.runtime.com.interface import Method
from idlgen.runtime.com.waitable import SignalState, Waiter
from idlgen.runtime.ndr.method import MethodMarshaler
from idlgen.runtime.rpc.dcerpc import binding as B
from idlgen.runtime.rpc.dcerpc.auth import ClientAuth
from idlgen.runtime.rpc.dcerpc.client import ClientCall, Connection
from idlgen.runtime.rpc.dcerpc.rpcif import RpcInterface, client_result, interface_of, syntax_of
from idlgen.runtime.rpc.dcerpc.wire import Limits

if TYPE_CHECKING:
    from concurrent.futures import Future

__all__ = ["PendingRpc", "RpcClient", "connect"]

T = TypeVar("T", bound=RpcInterface)
R = TypeVar("R")


class PendingRpc(SignalState, Generic[R]):
    """A call sent and not finished: what `Begin_X` returns; `result()` gives what `X` gives.

    One object is the blocking, asyncio and concurrent.futures view of the call, as a call
    object is for `[object]` interfaces: `await pending` and `as_future()` run on the same
    adapters (com/aio.py, com/futures.py), through the few members they need of a call
    object (`_pending_name`, `_subscribe`, `_finish_`, `Cancel`). No thread is used: the
    connection's reader settles the call and signals it here.
    """

    __slots__ = ("_call", "_ins", "_lock", "_manual", "_method", "_signaled", "_waiters", "_wire")

    def __init__(self, method: Method, wire: MethodMarshaler, ins: dict[str, Any]) -> None:
        self._method, self._wire, self._ins = method, wire, ins
        self._call: ClientCall | None = None
        self._lock = threading.Lock()
        self._manual = True
        self._signaled = False
        self._waiters: list[Waiter] | None = None

    def _started(self, call: ClientCall) -> None:
        self._call = call

    def _settled(self, call: ClientCall) -> None:
        """`on_done` of the call: may run before `Connection.begin` has even returned."""
        self._call = call
        self._signal()

    @property
    def method(self) -> str:
        """The name of the method called (as `X` in `Begin_X`)."""
        return self._method.name

    def done(self) -> bool:
        """True once the reply, a fault or a failure has arrived: `result()` will not block."""
        return self._signaled

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the call settles; False after `timeout` seconds (the call goes on)."""
        return self._wait(timeout)

    def cancel(self) -> bool:
        """Ask the server to cancel (co_cancel); False when the call had already settled.

        The server decides the outcome, as on Windows: a method that notices the cancel
        fails and `result()` raises `CallCanceledError` (RPC_E_CALL_CANCELED); one that
        finishes anyway gives its normal result. Use `Cancel(seconds)` not to wait for it.
        """
        call = self._call
        if call is None or self._signaled:
            return False
        call.cancel()
        return True  # the answer to co_cancel may already have settled the call: still sent

    def Cancel(self, ulSeconds: int) -> int:
        """ICancelMethodCalls.Cancel: co_cancel, then give the server `ulSeconds` to answer;
        a call still running after that is abandoned (orphaned, so the server drops its
        reply) and `result()` raises `CallCanceledError`. What asyncio task cancellation and
        `Future.cancel()` use, with 0 seconds, so neither ever blocks on the server."""
        call = self._call
        if call is None or self._signaled:
            return S_OK
        call.cancel()
        if not self.wait(ulSeconds):
            call.assoc.orphan(call)
            call.finish(None, CallCanceledError(message=f"{self.method} canceled"))
        return S_OK

    def result(self, timeout: float | None = None) -> R:
        """What `X` returns, or the COMError its fault or failure maps to. After `timeout`
        seconds the call is orphaned (the server cancels it and drops the reply) and
        RpcTimeoutError (RPC_E_TIMEOUT) is raised, as for the synchronous `X`."""
        call = self._call
        assert call is not None, "PendingRpc before its call was sent"
        if not self._wait(timeout):
            call.assoc.orphan(call)
            call.finish(None, RpcTimeoutError(message=f"no reply to {self.method} in {timeout} s"))
        stub = call.result(0)
        value: R = _decoded(self._method, self._wire, self._ins, stub)
        return value

    def __await__(self) -> Generator[Any, None, R]:
        """`await pending` gives `result()` without blocking the loop; cancelling the
        awaiting task (`asyncio.timeout` too) cancels the call as `Cancel(0)` does."""
        from idlgen.runtime.com.aio import finish_when_done

        value: R = yield from finish_when_done(self).__await__()
        return value

    def as_future(self) -> Future[R]:
        """A concurrent.futures.Future of `result()`; `Future.cancel()` is `Cancel(0)`."""
        from idlgen.runtime.com.futures import future_for

        return future_for(self)

    # What com/aio.py and com/futures.py need of a call object (com/pendingcall.py).

    def _pending_name(self) -> str:
        return self._method.name

    def _finish_(self, name: str) -> R:
        return self.result(0)

    def __repr__(self) -> str:
        state = "done" if self._signaled else "pending"
        call_id = self._call.call_id if self._call is not None else None
        return f"<PendingRpc {self._method.name} call {call_id} {state}>"


def _decoded(method: Method, wire: MethodMarshaler, ins: dict[str, Any], stub: bytes) -> Any:
    reply = wire.decode_response(stub, scope=ins)
    return client_result(method, wire, reply.outs, reply.result)


class RpcClient:
    """Client side of a plain RPC interface; pair it with the interface class (MRO)."""

    __slots__ = ("_conn", "_owned", "timeout")

    def __init__(
        self,
        binding: str | B.Binding | Connection,
        *,
        limits: Limits | None = None,
        timeout: float | None = None,
        auth: ClientAuth | None = None,
    ) -> None:
        """`auth`: NTLM credentials and level (docs/dcerpc.md, Security); a `Connection`
        passed as `binding` brings its own."""
        interface_of(self)  # fail early on a class without an interface
        if isinstance(binding, Connection):
            self._conn, self._owned = binding, False
        else:
            self._conn, self._owned = Connection(binding, limits, auth=auth), True
        self.timeout = timeout

    @property
    def connection(self) -> Connection:
        return self._conn

    def _prepare_(
        self, opnum: int, args: tuple[Any, ...]
    ) -> tuple[Method, MethodMarshaler, dict[str, Any], bytes]:
        iface = interface_of(self)
        wire = iface._wire_[opnum] if 0 <= opnum < len(iface._wire_) else None
        if wire is None:
            raise COMError(RPC_E_INVALIDMETHOD, f"opnum {opnum} cannot be called remotely")
        method = iface._methods_[opnum]
        ins = dict(zip(method.ins, args, strict=True))
        return method, wire, ins, wire.encode_request(ins)

    def _begin_call_(self, opnum: int, args: tuple[Any, ...]) -> PendingRpc[Any]:
        """What every `Begin_X` runs: arguments are marshaled here, so bad ones raise
        before anything is sent; the call is in flight when this returns."""
        method, wire, ins, stub = self._prepare_(opnum, args)
        pending: PendingRpc[Any] = PendingRpc(method, wire, ins)
        call = self._conn.begin(
            syntax_of(interface_of(self)), opnum, stub, on_done=pending._settled
        )
        pending._started(call)
        return pending

    def _call_(self, opnum: int, args: tuple[Any, ...]) -> Any:
        """Synchronous: the caller reads its own reply when the connection is otherwise idle."""
        method, wire, ins, stub = self._prepare_(opnum, args)
        timeout = self.timeout or self._conn.limits.call_timeout
        reply = self._conn.call(syntax_of(interface_of(self)), opnum, stub, timeout=timeout)
        return _decoded(method, wire, ins, reply)

    def close(self) -> None:
        if self._owned:
            self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def client_class(iface: type[T]) -> type[Any]:
    """`<svc>_Client` from the interface's module, or one built from its method table."""
    module = sys.modules.get(iface.__module__)
    found = getattr(module, iface.__name__ + "_Client", None) if module else None
    if isinstance(found, type) and issubclass(found, RpcClient) and issubclass(found, iface):
        return found
    namespace: dict[str, Any] = {"__slots__": ()}
    for opnum, m in enumerate(iface._methods_):
        namespace[m.name] = _forwarder(opnum, m.name)
    return type(iface.__name__ + "_Client", (RpcClient, iface), namespace)


def _forwarder(opnum: int, name: str) -> Any:
    def method(self: RpcClient, *args: Any) -> Any:
        return self._call_(opnum, args)

    method.__name__ = name
    return method


def connect(binding: str | B.Binding | Connection, iface: type[T], **kwargs: Any) -> T:
    """A client for `iface` at `binding` (e.g. `connect("ncacn_ip_tcp:127.0.0.1[4000]", svc)`)."""
    client: T = client_class(iface)(binding, **kwargs)
    return client
