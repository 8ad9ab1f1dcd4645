"""`RpcClient`: the base of generated `<svc>_Client` classes, and `connect(binding, svc)`.

A generated client method is one line, `return self._call_(opnum, (args...))`; this class
marshals with the interface's `_wire_[opnum]`, sends the request on a `Connection`, and shapes
the reply with the calling convention (rpcif.client_result). `_begin_call_` is the
asynchronous half: it returns a `PendingRpc` whose `result()` gives what `_call_` would.
"""

from __future__ import annotations

import sys
from typing import Any, TypeVar

from idlgen.runtime.com.hresult import RPC_E_INVALIDMETHOD, COMError
from idlgen.runtime.com.interface import Method
from idlgen.runtime.ndr.method import MethodMarshaler
from idlgen.runtime.rpc.dcerpc import binding as B
from idlgen.runtime.rpc.dcerpc.auth import ClientAuth
from idlgen.runtime.rpc.dcerpc.client import ClientCall, Connection
from idlgen.runtime.rpc.dcerpc.rpcif import RpcInterface, client_result, interface_of, syntax_of
from idlgen.runtime.rpc.dcerpc.wire import Limits

__all__ = ["PendingRpc", "RpcClient", "connect"]

T = TypeVar("T", bound=RpcInterface)


class PendingRpc:
    """A call sent and not yet finished; `result()` blocks and returns the call's value."""

    __slots__ = ("_call", "_ins", "_method", "_wire")

    def __init__(
        self, call: ClientCall, method: Method, wire: MethodMarshaler, ins: dict[str, Any]
    ) -> None:
        self._call, self._method, self._wire, self._ins = call, method, wire, ins

    def done(self) -> bool:
        return self._call.done()

    def cancel(self) -> None:
        self._call.cancel()

    def result(self, timeout: float | None = None) -> Any:
        return _decoded(self._method, self._wire, self._ins, self._call.result(timeout))


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

    def _begin_call_(self, opnum: int, args: tuple[Any, ...]) -> PendingRpc:
        method, wire, ins, stub = self._prepare_(opnum, args)
        call = self._conn.begin(syntax_of(interface_of(self)), opnum, stub)
        return PendingRpc(call, method, wire, ins)

    def _call_(self, opnum: int, args: tuple[Any, ...]) -> Any:
        """Synchronous: the caller reads its own reply when the connection is otherwise idle."""
        method, wire, ins, stub = self._prepare_(opnum, args)
        timeout = self.timeout or self._conn.limits.call_timeout
        reply = self._conn.call(syntax_of(interface_of(self)), opnum, stub, timeout=timeout)
        return _decoded(method, wire, ins, reply)

    def close(self) -> None:
        if self._owned:
            self._conn.close()

    def __enter__(self) -> Any:
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
