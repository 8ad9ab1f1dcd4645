"""Stubs: one exported interface of one object, turning request bytes into a call.

The server side of the calling convention, decided here:
- a method's HRESULT (success or failure) travels in a *response*: a server raising
  `COMError` is an HRESULT reply, its [out] values marshaled as zeros/NULLs (if the outs
  cannot be zeroed, e.g. a conformant array whose size names an input, the reply falls back
  to a fault carrying that same HRESULT, which the caller sees identically);
- any other Python exception is a *fault* RPC_E_SERVERFAULT (logged here);
- a request that does not decode is a fault with the NdrFault's code
  (RPC_X_BAD_STUB_DATA, RPC_S_INVALID_BOUND, ...), and an out value the server returned
  that cannot be marshaled is a fault with the NdrMarshalError's code;
- an interface pointer returned in an [out] parameter is Release()d once marshaled (COM's
  ownership rule: a server returns it AddRef'd, e.g. a fresh object with its creator's
  reference); the [in] interface pointers the request unmarshaled (nested ones too) are
  released when the call returns, before the reply is sent, as COM's stubs do: a server that
  keeps one AddRefs it; [in, out] pointers follow the [out] rule;
- an opnum outside the vtable, an IUnknown slot (0-2: QI/AddRef/Release go to IRemUnknown)
  or a [local] method is a fault RPC_E_INVALIDMETHOD.

A server that implements ICallFactory for the interface's async partner gets every call
through its call objects (Begin_X on the apartment's thread, the reply sent when the call
object signals); otherwise the synchronous method runs on the apartment's thread, with a
call context so that `CoTestCancel()` sees a cancel sent by the client. A request whose
cancel arrived while it was queued is not run at all (incoming.py).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping
from typing import Any

from idlgen.runtime import ndr as _ndr
from idlgen.runtime.apartments import channel as _channel
from idlgen.runtime.apartments.channel import Frame, Port, fault_frame, response_frame, send
from idlgen.runtime.apartments.incoming import IncomingCalls, cancel_call
from idlgen.runtime.apartments.proxy import InterfaceProxy
from idlgen.runtime.apartments.registry import wire_table
from idlgen.runtime.com.hresult import (
    RPC_E_CALL_CANCELED,
    RPC_E_INVALIDMETHOD,
    RPC_E_SERVERFAULT,
    S_OK,
    COMError,
)
from idlgen.runtime.com.interface import IUnknown, Method
from idlgen.runtime.com.servercall import _CALL_CONTEXT
from idlgen.runtime.com.status import _LAST, WithHResult
from idlgen.runtime.com.waitable import Waiter
from idlgen.runtime.ndr.method import wire_type

__all__ = ["IncomingCall", "QueuedCall", "Stub", "dispatch", "zero_value"]

log = logging.getLogger("idlgen.runtime.apartments.stub")


class Stub:
    """An IPID: the object (as the interface), its wire table and its call factory."""

    __slots__ = ("async_iid", "export", "factory", "iface", "ipid", "target", "vtable", "wire")

    def __init__(self, iface: type[IUnknown], ipid: bytes, target: Any, export: Any) -> None:
        self.iface = iface
        self.ipid = ipid
        self.target = target
        self.export = export  # the exporter's record of the object (refcounts)
        self.vtable = iface._vtable_
        self.wire = wire_table(iface)
        self.factory: Any = None
        self.async_iid: Any = None
        if iface._async_ is not None:
            self.async_iid = iface._async_._iid_
            self.factory = _call_factory_of(target)


def _call_factory_of(target: Any) -> Any:
    from idlgen.runtime.com.stdiface import IID_ICallFactory

    try:
        factory = target.QueryInterface(IID_ICallFactory)
    except (COMError, AttributeError):
        return None
    factory.Release()  # the stub's reference on the object keeps it alive
    return factory


class IncomingCall:
    """What `CoGetCallContext` sees while a synchronous method serves a remote call.

    Shaped like the (call, ticket) pair server.py keeps: ticket 1, canceled when the
    client's cancel arrives. The fields are its subclasses': `QueuedCall` here, and the
    lean path's call, which is also the call's DCE/RPC state (orpc/fastserve.py).
    """

    __slots__ = ()

    def Cancel(self, ulSeconds: int) -> int:
        self.request_cancel()
        return S_OK

    def request_cancel(self) -> int:
        raise NotImplementedError

    def _watch_cancel_(self, on_cancel: Callable[[], object]) -> None:
        """An `async def` method's task: cancelled with the call (at once if it already is)."""
        raise NotImplementedError


class QueuedCall(IncomingCall):
    """A request the apartment's queue brought (`dispatch`)."""

    __slots__ = ("_cancel_ticket", "_on_cancel", "_ticket")

    def __init__(self) -> None:
        self._ticket = 1
        self._cancel_ticket = 0
        self._on_cancel: Callable[[], object] | None = None

    def request_cancel(self) -> int:
        self._cancel_ticket = 1
        if self._on_cancel is not None:
            self._on_cancel()
        return 1

    def _watch_cancel_(self, on_cancel: Callable[[], object]) -> None:
        self._on_cancel = on_cancel
        if self._cancel_ticket:
            on_cancel()


def dispatch(
    stub: Stub, frame: Frame, reply_to: Port, marshaler: Any, calls: IncomingCalls
) -> None:
    """Serve one request frame for `stub`; the reply (or fault) goes to `reply_to`."""
    opnum = frame.code
    call_id = frame.call_id
    key = (reply_to, call_id)
    wire = stub.wire[opnum] if opnum < len(stub.wire) else None
    if wire is None:
        calls.done(key)
        send(reply_to, fault_frame(call_id, RPC_E_INVALIDMETHOD), None)
        return
    method: Method = stub.vtable[opnum]
    received = _InParameters(marshaler)
    try:
        args = wire.decode_request(frame.body, marshaler=received)
        ins = tuple(map(args.__getitem__, method.ins))
    except _ndr.NdrFault as fault:
        calls.done(key)
        received.release()
        send(reply_to, fault_frame(call_id, fault.hresult), None)
        return
    except KeyError:  # the interface's Method and its wire disagree: our bug, not the peer's
        calls.done(key)
        received.release()
        log.exception("%s.%s: wire and method tables disagree", stub.iface.__name__, method.name)
        send(reply_to, fault_frame(call_id, RPC_E_SERVERFAULT), None)
        return
    if received.pointers:
        received.keep_in_out(wire, args)
    reply = _Reply(reply_to, call_id, wire, method, args, marshaler, received)
    if stub.factory is not None:
        if calls.canceled_before_start(key):  # decoded all the same: its [in] pointers go back
            reply.fault(RPC_E_CALL_CANCELED)
            return
        _through_call_object(stub, method, ins, reply, calls)
        return
    incoming = QueuedCall()
    if not calls.start(key, incoming):
        reply.fault(RPC_E_CALL_CANCELED)  # canceled while queued: never runs
        return
    token = _CALL_CONTEXT.set((incoming, 1))  # type: ignore[arg-type]
    try:
        if _LAST.get() != S_OK:  # set only when it changes (a set costs ~3 gets): most
            _LAST.set(S_OK)  # calls leave S_OK as they found it
        value = getattr(stub.target, method.name)(*ins)
        hr = _LAST.get()
    except COMError as exc:
        reply.failure(exc.hresult)
        return
    except Exception:
        _log_fault(stub, method.name, reply_to)
        reply.fault(RPC_E_SERVERFAULT)
        return
    finally:
        _CALL_CONTEXT.reset(token)
        calls.done(key)
    reply.success(value, hr)


def _through_call_object(
    stub: Stub, method: Method, ins: tuple[Any, ...], reply: _Reply, calls: IncomingCalls
) -> None:
    key = (reply.port, reply.call_id)
    try:
        call = stub.factory.CreateCall(stub.async_iid, None, stub.async_iid)
    except COMError as exc:
        calls.done(key)
        reply.failure(exc.hresult)
        return
    name = method.name

    def finished(source: Any) -> None:
        calls.done(key)
        try:
            value = getattr(call, "Finish_" + name)()
            hr = _LAST.get()
        except COMError as exc:
            reply.failure(exc.hresult)
            return
        except Exception:
            _log_fault(stub, name, reply.port)
            reply.fault(RPC_E_SERVERFAULT)
            return
        finally:
            call.Release()
        reply.success(value, hr)

    try:
        getattr(call, "Begin_" + name)(*ins)
    except COMError as exc:
        calls.done(key)
        call.Release()
        reply.failure(exc.hresult)
        return
    except Exception:
        calls.done(key)
        call.Release()
        _log_fault(stub, "Begin_" + name, reply.port)
        reply.fault(RPC_E_SERVERFAULT)
        return
    if calls.running(key, call):
        cancel_call(call)  # the cancel came while Begin_ ran: the call starts canceled
    call._subscribe(Waiter(finished))


def _log_fault(stub: Stub, method: str, caller: object) -> None:
    """The one record of a server-side failure sent back as a fault: the traceback, with
    the call's identity (interface, method, caller). Call inside the `except` block."""
    log.exception(
        "fault RPC_E_SERVERFAULT: %s.%s raised, called by %s", stub.iface.__name__, method, caller
    )


class _InParameters:
    """The apartment's marshaler, recording every interface pointer a request unmarshals.

    COM's stubs release the [in] interface pointers they unmarshaled once the call returns;
    a server that keeps one AddRefs it (as it must in COM). [in, out] pointers follow the
    [out] rule instead: the value the server returns is released once marshaled.
    """

    __slots__ = ("marshaler", "pointers")

    def __init__(self, marshaler: Any) -> None:
        self.marshaler = marshaler
        self.pointers: list[Any] = []

    def marshal(self, obj: Any, iid: Any) -> bytes:
        return self.marshaler.marshal(obj, iid)  # type: ignore[no-any-return]

    def unmarshal(self, data: bytes, iid: Any) -> Any:
        obj = self.marshaler.unmarshal(data, iid)
        if obj is not None:
            self.pointers.append(obj)
        return obj

    def keep_in_out(self, wire: Any, args: dict[str, Any]) -> None:
        """Leave [in, out] interface pointers to the [out] rule (one release, after the reply
        is marshaled, of whatever the server returns)."""
        for name in _interface_params(wire, in_out=True):
            value = args.get(name)
            for index, obj in enumerate(self.pointers):
                if obj is value:
                    del self.pointers[index]
                    break

    def release(self) -> None:
        if not self.pointers:
            return
        pointers, self.pointers = self.pointers, []
        for obj in pointers:
            try:
                if isinstance(obj, InterfaceProxy):
                    obj._mgr.release(wait=True)  # counted at home before the reply leaves
                elif hasattr(obj, "Release"):
                    obj.Release()
            except COMError:
                log.debug("releasing an [in] interface pointer failed", exc_info=True)


class _Reply:
    """Builds and sends the one reply a request gets."""

    __slots__ = ("args", "call_id", "marshaler", "method", "port", "received", "wire")

    def __init__(
        self,
        port: Port,
        call_id: int,
        wire: _ndr.MethodMarshaler,
        method: Method,
        args: dict[str, Any],
        marshaler: Any,
        received: _InParameters,
    ) -> None:
        self.port = port
        self.call_id = call_id
        self.wire = wire
        self.method = method
        self.args = args
        self.marshaler = marshaler
        self.received = received

    def _send(self, frame: bytes) -> None:
        """The call has returned: release its [in] interface pointers, then reply (COM's
        stubs free the in parameters before the reply leaves, so a caller that gets the reply
        knows the server kept only what it AddRef'd)."""
        if self.received.pointers:
            self.received.release()
        if _channel._taps:
            send(self.port, frame, None)
        else:  # `send` with nobody observing, inline: one call less per reply
            self.port.deliver(frame, None)

    def fault(self, status: int) -> None:
        self._send(fault_frame(self.call_id, status))

    def success(self, value: Any, hr: int) -> None:
        try:
            outs, result = _outs_of(self.method, value, hr)
            body = self.wire.encode_response(
                outs, result, scope=self.args, marshaler=self.marshaler
            )
        except _ndr.NdrFault as fault:
            log.warning("%s: cannot marshal the server's reply: %s", self.method.name, fault)
            self.fault(fault.hresult)
            return
        except (TypeError, ValueError, IndexError, AttributeError) as exc:
            log.warning("%s: server returned an unusable value: %r", self.method.name, exc)
            self.fault(RPC_E_SERVERFAULT)
            return
        self._send(response_frame(self.call_id, body))
        # `_interface_params`' memo, read inline: most methods return no interface pointer
        names = _iface_params.get((id(self.wire), False))
        if names is None:
            names = _interface_params(self.wire, in_out=False)
        for name in names:
            _release_out(outs.get(name))

    def failure(self, hr: int) -> None:
        """A failure HRESULT: a response with zeroed outs, or a fault if they cannot be."""
        try:
            outs = {
                p.name: zero_value(p.type, self.args) for p in self.wire.method.params if p.is_out
            }
            body = self.wire.encode_response(outs, hr, scope=self.args, marshaler=None)
        except (_ndr.NdrFault, _ndr.ExprError, TypeError, ValueError):
            self.fault(hr)
            return
        self._send(response_frame(self.call_id, body))


_iface_params: dict[tuple[int, bool], tuple[str, ...]] = {}


def _interface_params(wire: Any, in_out: bool) -> tuple[str, ...]:
    """Names of top-level interface-pointer parameters: the [out] ones (`in_out=False`:
    [out] and [in, out]) or only the [in, out] ones (`in_out=True`)."""
    key = (id(wire), in_out)
    names = _iface_params.get(key)
    if names is None:
        names = tuple(
            p.name
            for p in wire.method.params
            if p.is_out
            and (p.is_in or not in_out)
            and isinstance(wire_type(p.type), _ndr.InterfacePointer)
        )
        _iface_params[key] = names
    return names


def _release_out(value: Any) -> None:
    """COM's rule: the reference a server returns in an [out] pointer goes with the reply, so
    the stub releases it once marshaled (the export holds its own)."""
    release = getattr(value, "Release", None)
    if release is not None and not isinstance(value, bytes | bytearray):
        with contextlib.suppress(COMError):
            release()


def _outs_of(method: Method, value: Any, hr: int) -> tuple[dict[str, Any], Any]:
    """Server return value to ([out] values by name, the wire result)."""
    if type(value) is WithHResult:  # a server class outside ComObject's wrapping
        hr, value = value.hresult, value.value
    outs = method.outs
    if not method.hresult:
        if not outs:
            return {}, value
        return dict(zip(outs, value[1:], strict=True)), value[0]
    if not outs:
        return {}, S_OK if value is None else int(value) & 0xFFFFFFFF
    if len(outs) == 1:
        return {outs[0]: value}, hr
    return dict(zip(outs, value, strict=True)), hr


def zero_value(t: Any, scope: Mapping[str, Any]) -> Any:
    """The value MIDL stubs send for an [out] of a failed call: zeros, NULLs, empty arrays."""
    if isinstance(t, _ndr.Primitive):
        return 0.0 if t.kind == "float" else (False if t.kind == "bool" else 0)
    if isinstance(t, _ndr.Pointer):
        return zero_value(t.target, scope) if t.kind == "ref" else None
    if isinstance(t, _ndr.Enum):
        return 0
    if isinstance(t, _ndr.Struct):
        return {f.name: zero_value(f.type, {}) for f in t.fields}
    if isinstance(t, _ndr.FixedArray):
        return _array(t.elem, t.count, scope)
    if isinstance(t, _ndr.ConformantArray):
        size = _ndr.evaluate(t.size_is, scope) if t.size_is is not None else 0
        return _array(t.elem, size, scope)
    if isinstance(t, _ndr.ConformantVaryingArray | _ndr.VaryingArray):
        return _array(t.elem, 0, scope)
    if isinstance(t, _ndr.String):
        return ""
    if isinstance(t, _ndr.Guid):
        return bytes(16)
    if isinstance(t, _ndr.InterfacePointer):
        return None
    raise TypeError(f"no zero value for {type(t).__name__}")


def _array(elem: Any, count: int, scope: Mapping[str, Any]) -> Any:
    if isinstance(elem, _ndr.Primitive) and elem.bytes_like:
        return bytes(count)
    return [zero_value(elem, scope) for _ in range(count)]
