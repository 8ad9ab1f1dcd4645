"""The server end: listeners, one thread per connection reading PDUs, calls on a worker pool.

A connection is one association: a bind negotiates fragment sizes and presentation contexts
(alter_context adds more), then requests arrive, possibly many at once and interleaved when
the client negotiated PFC_CONC_MPX. Anything malformed gets a bind_nak (before the bind) or a
fault (after it) and the connection closes; other connections never notice. co_cancel marks
the call canceled where server code sees it (`call_canceled()`, and the runtime's
`CoTestCancel`); orphaned also suppresses the reply.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import select
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol

from idlgen.runtime import server as _com_server
from idlgen.runtime.dcerpc import binding as B
from idlgen.runtime.dcerpc import pdu as P
from idlgen.runtime.dcerpc.fragments import Reassembly, response_fragments, start
from idlgen.runtime.dcerpc.rpcif import RpcInterface, interface_of, server_reply
from idlgen.runtime.dcerpc.status import wire_status
from idlgen.runtime.dcerpc.trace import peer_of
from idlgen.runtime.dcerpc.wire import Closed, Limits, read_pdu, send_frames
from idlgen.runtime.guid import GUID
from idlgen.runtime.hresult import RPC_E_SERVERFAULT, S_OK, CallCanceledError, COMError
from idlgen.runtime.ndr_fault import NdrFault

__all__ = ["CallState", "RpcServer", "call_canceled", "current_call"]

log = logging.getLogger(__name__)

_CURRENT: ContextVar[CallState | None] = ContextVar("idlgen_rpc_call", default=None)
_assoc_groups = itertools.count(0x1000)


class CallState:
    """One request being served. Also stands in for a call object in the runtime's call
    context (`_ticket`/`_cancel_ticket`/`Cancel`), so `CoTestCancel()` works in RPC servers."""

    __slots__ = (
        "_cancel_ticket",
        "_canceled",
        "_ticket",
        "call_id",
        "cancel_count",
        "on_cancel",
        "orphaned",
    )

    def __init__(self, call_id: int) -> None:
        self.call_id = call_id
        self.cancel_count = 0
        self.orphaned = False
        self._ticket = 1
        self._cancel_ticket = 0
        self._canceled = threading.Event()
        self.on_cancel: Callable[[], None] | None = None  # an object handler's cancel hook

    @property
    def canceled(self) -> bool:
        return self._cancel_ticket == self._ticket

    def cancel(self) -> None:
        self.cancel_count += 1
        self._cancel_ticket = self._ticket
        self._canceled.set()
        if self.on_cancel is not None:
            self.on_cancel()

    def wait_canceled(self, timeout: float | None = None) -> bool:
        """Block until the client cancels (True) or `timeout` passes (False)."""
        return self._canceled.wait(timeout)

    def Cancel(self, ulSeconds: int) -> int:
        self.cancel()
        return S_OK


def current_call() -> CallState | None:
    return _CURRENT.get()


def call_canceled() -> bool:
    """For server methods: has the client sent co_cancel (or orphaned) for this call?"""
    state = _CURRENT.get()
    return state is not None and state.canceled


@dataclass
class _Registered:
    minor: int
    impl: RpcInterface | None  # None: the context belongs to the object handler
    iface: type[RpcInterface] | None


class ObjectHandler(Protocol):
    """What serves object (ORPC) calls on an RpcServer: interfaces it accepts at bind time,
    requests on those contexts (handed over on the connection's reader thread: queue, do
    not run), and the end of a connection (to release what its client held)."""

    def accepts(self, syntax: P.SyntaxId) -> bool: ...

    def request(self, conn: Any, first: P.Request, stub: bytes, state: CallState) -> None: ...

    def closed(self, conn: Any) -> None: ...


_OBJECTS = _Registered(0, None, None)


class RpcServer:
    """Serves registered implementations on any number of endpoints.

    `register(impl)` publishes an object whose class derives from a plain RPC interface; a
    bind for that interface's UUID and major version (minor <= ours) is accepted.
    """

    def __init__(
        self,
        limits: Limits | None = None,
        workers: int = 16,
        mpx: bool = True,
        objects: ObjectHandler | None = None,
    ) -> None:
        self.limits = limits or Limits()
        self.mpx = mpx
        self.objects = objects  # serves contexts no registered RpcInterface claims
        self._registry: dict[tuple[GUID, int], _Registered] = {}
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="rpc-call")
        self._listeners: list[socket.socket] = []
        self._conns: set[_Connection] = set()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._wake_r, self._wake_w = socket.socketpair()
        self._closed = False
        self.bindings: list[B.Binding] = []

    def register(self, impl: RpcInterface) -> None:
        iface = interface_of(impl)
        major, minor = iface._version_
        self._registry[(iface._uuid_, major)] = _Registered(minor, impl, iface)

    def listen(self, binding: str | B.Binding) -> B.Binding:
        """Start accepting on `binding`; returns the binding clients use (real TCP port)."""
        sock, actual = B.listen(B.as_binding(binding))
        with self._lock:
            self._listeners.append(sock)
            self.bindings.append(actual)
        threading.Thread(target=self._accept_loop, args=(sock,), daemon=True).start()
        return actual

    def _accept_loop(self, lsock: socket.socket) -> None:
        while not self._closed:
            try:
                ready, _, _ = select.select([lsock, self._wake_r], [], [])
                if self._wake_r in ready:
                    return
                sock, _ = lsock.accept()
            except OSError:
                return
            if lsock.family != socket.AF_UNIX:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Connection(self, sock)
            with self._lock:
                if self._closed:
                    sock.close()
                    return
                self._conns.add(conn)
            log.info("connection from %s", conn.peer)
            threading.Thread(target=conn.run, daemon=True, name="rpc-conn").start()

    def _forget(self, conn: _Connection) -> None:
        with self._lock:
            self._conns.discard(conn)
            self._idle.notify_all()

    def wait_connections(self, count: int, timeout: float | None = None) -> bool:
        """Block until at most `count` connections are open (clients gone, state released)."""
        with self._idle:
            return self._idle.wait_for(lambda: len(self._conns) <= count, timeout)

    @property
    def connection_count(self) -> int:
        with self._lock:
            return len(self._conns)

    def close(self) -> None:
        """Stop listening, ask every client to go away (shutdown PDU), close connections."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            conns, listeners = list(self._conns), list(self._listeners)
        self._wake_w.send(b"x")
        for lsock in listeners:
            if lsock.family == socket.AF_UNIX:
                _unlink(lsock)
            lsock.close()
        for conn in conns:
            conn.send_pdus([P.encode(P.Shutdown())])
            conn.abort()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> RpcServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # negotiation, shared by connections
    def negotiate(self, ctx: P.ContextElem) -> tuple[P.ContextResult, _Registered | None]:
        reg = self._registry.get((ctx.abstract.uuid, ctx.abstract.major))
        if reg is None and self.objects is not None and self.objects.accepts(ctx.abstract):
            reg = _OBJECTS
        if reg is None or ctx.abstract.minor > reg.minor:
            reason = P.ABSTRACT_SYNTAX_NOT_SUPPORTED
            return P.ContextResult(P.PROVIDER_REJECTION, reason), None
        if P.NDR20 not in ctx.transfers:
            reason = P.TRANSFER_SYNTAXES_NOT_SUPPORTED
            return P.ContextResult(P.PROVIDER_REJECTION, reason), None
        return P.ContextResult(P.ACCEPTANCE, P.REASON_NOT_SPECIFIED, P.NDR20), reg


def _unlink(lsock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        os.unlink(lsock.getsockname())


@dataclass(eq=False)
class _Connection:
    server: RpcServer
    sock: socket.socket
    bound: bool = False
    max_xmit: int = P.MIN_FRAG
    max_recv: int = 0
    contexts: dict[int, _Registered] = field(default_factory=dict)
    partial: dict[int, tuple[Reassembly, CallState]] = field(default_factory=dict)
    calls: dict[int, CallState] = field(default_factory=dict)
    discard: set[int] = field(default_factory=set)  # calls faulted for size: drop the rest
    lock: threading.Lock = field(default_factory=threading.Lock)
    send_lock: threading.Lock = field(default_factory=threading.Lock)
    alive: bool = True
    peer: str = ""

    def __post_init__(self) -> None:
        self.max_recv = self.server.limits.max_recv_frag
        self.peer = peer_of(self.sock)

    # ----------------------------------------------------------- I/O

    def run(self) -> None:
        limits = self.server.limits
        try:
            while self.alive:
                p = read_pdu(self.sock, self.max_recv, limits.recv_timeout)
                if not self.handle(p):
                    break
        except (Closed, OSError):
            pass
        except Exception:  # a bug of ours must cost one connection, never the server
            log.exception("DCE/RPC connection handler failed")
        finally:
            self.abort()
            log.info("connection from %s closed", self.peer)
            with self.lock:
                states = list(self.calls.values())
            for state in states:  # the client is gone: nobody reads replies
                state.orphaned = True
                state.cancel()
            if self.server.objects is not None:
                self.server.objects.closed(self)
            self.server._forget(self)

    def send_pdus(self, frames: list[bytes]) -> None:
        with self.send_lock:
            try:
                send_frames(self.sock, frames)
            except OSError:
                self.alive = False

    def abort(self) -> None:
        self.alive = False
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()

    # ----------------------------------------------------------- PDUs

    def handle(self, p: P.Pdu | P.ProtocolError) -> bool:
        """Act on one PDU; False closes the connection."""
        if isinstance(p, P.ProtocolError):
            return self.reject(p)
        if isinstance(p, P.Bind):
            if p.alter != self.bound:  # a second bind, or alter_context before bind
                return self.reject(P.ProtocolError("bind state violated", p.call_id))
            return self.bind(p)
        if not self.bound:
            return self.reject(P.ProtocolError("PDU before bind", p.call_id))
        if isinstance(p, P.Request):
            return self.request(p)
        if isinstance(p, P.CoCancel | P.Orphaned):
            what = "orphaned" if isinstance(p, P.Orphaned) else "canceled"
            log.info("call %d from %s %s by the client", p.call_id, self.peer, what)
            self.cancel(p.call_id, orphan=isinstance(p, P.Orphaned))
            return True
        return self.reject(P.ProtocolError(f"unexpected {type(p).__name__}", p.call_id))

    def reject(self, err: P.ProtocolError) -> bool:
        log.debug("DCE/RPC protocol error: %s", err.reason)
        call_id = err.call_id or 0
        if not self.bound:
            self.send_pdus([P.encode(P.BindNak(call_id, err.nak_reason))])
        else:
            flags = P.PFC_FIRST_FRAG | P.PFC_LAST_FRAG | P.PFC_DID_NOT_EXECUTE
            self.send_pdus([P.encode(P.Fault(call_id, err.status, flags=flags))])
        return False

    def bind(self, p: P.Bind) -> bool:
        if p.max_xmit_frag < P.MIN_FRAG or p.max_recv_frag < P.MIN_FRAG:
            err = P.ProtocolError("fragment sizes below 1432", p.call_id)
            return self.reject(err)
        limits = self.server.limits
        results = []
        for ctx in p.contexts:
            result, reg = self.server.negotiate(ctx)
            results.append(result)
            log.info(
                "%s from %s: interface %s v%d.%d %s",
                "alter_context" if p.alter else "bind",
                self.peer,
                ctx.abstract.uuid,
                ctx.abstract.major,
                ctx.abstract.minor,
                "accepted" if result.result == P.ACCEPTANCE else "rejected",
            )
            if reg is not None:
                self.contexts[ctx.cont_id] = reg
        if not p.alter:
            self.max_xmit = min(p.max_recv_frag, limits.max_xmit_frag)
            self.max_recv = min(p.max_xmit_frag, limits.max_recv_frag)
            self.group = p.assoc_group_id or next(_assoc_groups)
            self.bound = True
        flags = P.PFC_FIRST_FRAG | P.PFC_LAST_FRAG
        if p.flags & P.PFC_CONC_MPX and self.server.mpx:
            flags |= P.PFC_CONC_MPX
        sec_addr = "" if p.alter else self._sec_addr()
        ack = P.BindAck(
            p.call_id,
            self.max_xmit,
            self.max_recv,
            self.group,
            sec_addr,
            tuple(results),
            flags,
            p.alter,
        )
        self.send_pdus([P.encode(ack)])
        return True

    def _sec_addr(self) -> str:
        name = self.sock.getsockname()
        text = str(name[1]) if isinstance(name, tuple) else str(name)
        return text if text.isascii() and len(text) < 1024 else ""

    def request(self, p: P.Request) -> bool:
        limits = self.server.limits
        with self.lock:
            if p.call_id in self.discard:
                if p.flags & P.PFC_LAST_FRAG:
                    self.discard.discard(p.call_id)
                return True
            entry = self.partial.get(p.call_id)
            if entry is None:
                if p.call_id in self.calls:
                    return self.reject(P.ProtocolError("call id in use", p.call_id))
                if len(self.partial) + len(self.calls) >= limits.max_outstanding:
                    self._fault(p.call_id, P.NCA_S_SERVER_TOO_BUSY, p.cont_id, executed=False)
                    return True
                started = start(p, limits.max_request)
                if isinstance(started, P.ProtocolError):
                    return self.reject(started)
                entry = self.partial[p.call_id] = (started, CallState(p.call_id))
            r, state = entry
            done = r.add(p)
            if isinstance(done, P.ProtocolError):
                if done.status != P.NCA_S_FAULT_REMOTE_NO_MEMORY:
                    return self.reject(done)
                # Too large but well-formed: fault this call, skip its remaining fragments.
                del self.partial[p.call_id]
                if not p.flags & P.PFC_LAST_FRAG:
                    self.discard.add(p.call_id)
                self._fault(p.call_id, done.status, p.cont_id, executed=False)
                return True
            if not done:
                return True
            del self.partial[p.call_id]
            if state.orphaned:
                return True
            if r.flags_seen & P.PFC_PENDING_CANCEL:
                state.cancel()
            self.calls[p.call_id] = state
        first = r.first
        assert isinstance(first, P.Request)
        objects = self.server.objects
        if objects is not None and self.contexts.get(first.cont_id) is _OBJECTS:
            objects.request(self, first, r.stub(), state)
            return True
        self.server._pool.submit(self.execute, first.cont_id, first.opnum, r.stub(), state)
        return True

    def reply(self, state: CallState, cont_id: int, body: bytes) -> None:
        """An object handler's response for `state` (dropped if the call was orphaned)."""
        frames = response_fragments(state.call_id, cont_id, body, self.max_xmit, state.cancel_count)
        self._finish(state, frames)

    def fault_call(self, state: CallState, cont_id: int, status: int) -> None:
        """An object handler's fault for `state`; `status` is an HRESULT or NCA status."""
        self._finish(state, [self._fault_pdu(state, wire_status(status), cont_id)])

    def _finish(self, state: CallState, frames: list[bytes]) -> None:
        with self.lock:
            self.calls.pop(state.call_id, None)
        if not state.orphaned:
            self.send_pdus(frames)

    def cancel(self, call_id: int, orphan: bool) -> None:
        with self.lock:
            entry = self.partial.get(call_id)
            state = self.calls.get(call_id)
            if state is None and entry is not None:
                state = entry[1]
                if orphan:
                    del self.partial[call_id]
        if state is not None:
            state.cancel()
            state.orphaned = state.orphaned or orphan

    # ----------------------------------------------------------- calls

    def execute(self, cont_id: int, opnum: int, stub: bytes, state: CallState) -> None:
        try:
            frames = self._run(cont_id, opnum, stub, state)
        finally:
            with self.lock:
                self.calls.pop(state.call_id, None)
        if not state.orphaned and frames:
            self.send_pdus(frames)

    def _run(self, cont_id: int, opnum: int, stub: bytes, state: CallState) -> list[bytes]:
        reg = self.contexts.get(cont_id)
        if reg is None or reg.iface is None:
            return [self._fault_pdu(state, P.NCA_S_UNK_IF, cont_id, executed=False)]
        wires = reg.iface._wire_
        wire = wires[opnum] if opnum < len(wires) else None
        if wire is None:
            return [self._fault_pdu(state, P.NCA_S_OP_RNG_ERROR, cont_id, executed=False)]
        if state.canceled:
            return [self._fault_pdu(state, P.NCA_S_FAULT_CANCEL, cont_id, executed=False)]
        method = reg.iface._methods_[opnum]
        cur = _CURRENT.set(state)
        com = _com_server._CALL_CONTEXT.set((state, 1))  # type: ignore[arg-type]
        try:
            args = wire.decode_request(stub)
            value = getattr(reg.impl, method.name)(*(args[n] for n in method.ins))
            outs, result = server_reply(method, wire, value)
            body = wire.encode_response(outs, result, scope=args)
        except (NdrFault, COMError) as e:
            status = P.NCA_S_FAULT_CANCEL if isinstance(e, CallCanceledError) else e.hresult
            return [self._fault_pdu(state, wire_status(status), cont_id)]
        except Exception:
            log.exception(
                "fault RPC_E_SERVERFAULT: %s.%s raised, call %d from %s",
                reg.iface.__name__,
                method.name,
                state.call_id,
                self.peer,
            )
            return [self._fault_pdu(state, wire_status(RPC_E_SERVERFAULT), cont_id)]
        finally:
            _com_server._CALL_CONTEXT.reset(com)
            _CURRENT.reset(cur)
        return response_fragments(state.call_id, cont_id, body, self.max_xmit, state.cancel_count)

    def _fault_pdu(
        self, state: CallState, status: int, cont_id: int, executed: bool = True
    ) -> bytes:
        flags = P.PFC_FIRST_FRAG | P.PFC_LAST_FRAG | (0 if executed else P.PFC_DID_NOT_EXECUTE)
        fault = P.Fault(state.call_id, status, cont_id, min(state.cancel_count, 255), flags=flags)
        return P.encode(fault)

    def _fault(self, call_id: int, status: int, cont_id: int, executed: bool) -> None:
        self.send_pdus([self._fault_pdu(CallState(call_id), status, cont_id, executed)])
