"""The server end: the DCE/RPC protocol of each connection, and calls on a bounded pool.

A connection is one association: a bind negotiates fragment sizes and presentation contexts
(alter_context adds more), then requests arrive, possibly many at once and interleaved when
the client negotiated PFC_CONC_MPX. Anything malformed gets a bind_nak (before the bind) or a
fault (after it) and the connection closes; other connections never notice. co_cancel marks
the call canceled where server code sees it (`call_canceled()`, and the runtime's
`CoTestCancel`); orphaned also suppresses the reply.

Connection I/O (accepting, framing PDUs, unsent bytes, idle and PDU timeouts, connection
caps) is the reactor's (reactor.py): `_Connection` only sees whole PDUs in `handle` and
answers through its transport, so bind handling can grow (authentication) without touching
I/O. What a peer can make the server hold is bounded by `ServerLimits` (limits.py):
buffered bytes of unfinished calls per connection and in total, the time a call may stay
unfinished, the calls one connection runs at once (more wait their turn, so one client
cannot take every thread), and the pool, which answers RPC_S_SERVER_TOO_BUSY when full.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from idlgen.runtime.com import servercall as _com_server
from idlgen.runtime.com.guid import GUID
from idlgen.runtime.com.hresult import RPC_E_SERVERFAULT, CallCanceledError, COMError
from idlgen.runtime.ndr.fault import NdrFault
from idlgen.runtime.rpc.dcerpc import auth as A
from idlgen.runtime.rpc.dcerpc import binding as B
from idlgen.runtime.rpc.dcerpc import fastpath
from idlgen.runtime.rpc.dcerpc import pdu as P
from idlgen.runtime.rpc.dcerpc.callstate import CallState
from idlgen.runtime.rpc.dcerpc.endpoints import EndpointMap, process_map
from idlgen.runtime.rpc.dcerpc.fragments import Reassembly, response_fragments, start
from idlgen.runtime.rpc.dcerpc.limits import ServerLimits
from idlgen.runtime.rpc.dcerpc.pool import CallPool
from idlgen.runtime.rpc.dcerpc.reactor import Reactor, Transport
from idlgen.runtime.rpc.dcerpc.rpcif import RpcInterface, interface_of, server_reply
from idlgen.runtime.rpc.dcerpc.status import wire_status
from idlgen.runtime.rpc.dcerpc.trace import peer_of
from idlgen.runtime.rpc.dcerpc.wire import Limits

__all__ = ["CallState", "RpcServer", "ServerLimits", "call_canceled", "current_call"]

log = logging.getLogger(__name__)

_CURRENT: ContextVar[CallState | None] = ContextVar("idlgen_rpc_call", default=None)
_assoc_groups = itertools.count(0x1000)


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
    level: A.AuthLevel | None = None  # the lowest level a call may use (None: the server's)
    check: A.AccessCheck | None = None  # runs before each method: False is access denied


class ObjectHandler(Protocol):
    """What serves object (ORPC) calls on an RpcServer: interfaces it accepts at bind time,
    requests on those contexts (handed over on the reactor thread: queue, do not run), the
    end of a connection (to release what its client held), and whether a connection holds
    references (an idle connection that does is not closed: its client still uses them)."""

    def accepts(self, syntax: P.SyntaxId) -> bool: ...

    def request(self, conn: Any, first: P.Request, stub: bytes, state: CallState) -> None: ...

    def closed(self, conn: Any) -> None: ...

    def holds(self, conn: Any) -> bool: ...


_OBJECTS = _Registered(0, None, None)


class RpcServer:
    """Serves registered implementations on any number of endpoints.

    `register(impl)` publishes an object whose class derives from a plain RPC interface; a
    bind for that interface's UUID and major version (minor <= ours) is accepted. `limits`
    is a `ServerLimits` (or, as before, just the per-connection `Limits`); `workers`, when
    given, overrides `ServerLimits.max_call_threads`.
    """

    def __init__(
        self,
        limits: Limits | ServerLimits | None = None,
        workers: int | None = None,
        mpx: bool = True,
        objects: ObjectHandler | None = None,
        security: A.ServerSecurity | None = None,
        endpoint_map: EndpointMap | None = process_map,
    ) -> None:
        if isinstance(limits, ServerLimits):
            self.server_limits = limits
        else:
            self.server_limits = ServerLimits(connection=limits or Limits())
        self.limits = self.server_limits.connection
        self.security = security  # NTLM credentials and the minimum level (docs/dcerpc.md)
        self.endpoint_map = endpoint_map  # where registered interfaces are advertised (epm)
        self.mpx = mpx
        self.objects = objects  # serves contexts no registered RpcInterface claims
        self._registry: dict[tuple[GUID, int], _Registered] = {}
        lim = self.server_limits
        self._pool = CallPool(workers or lim.max_call_threads, lim.max_queued_calls)
        self._listeners: list[socket.socket] = []
        self._conns: set[_Connection] = set()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._closed = False
        self.buffered = 0  # bytes of unfinished calls, all connections together
        self.reactor = Reactor(self.server_limits, self._new_connection)
        self.bindings: list[B.Binding] = []

    def register(
        self,
        impl: RpcInterface,
        level: A.AuthLevel | None = None,
        check: A.AccessCheck | None = None,
    ) -> None:
        """Serve `impl`; `level` is the lowest authentication level its calls may use
        (default: the server's `security.level`, or none without security); `check(caller)`
        runs before each method and False refuses the call with access denied."""
        iface = interface_of(impl)
        major, minor = iface._version_
        self._registry[(iface._uuid_, major)] = _Registered(minor, impl, iface, level, check)
        self._advertise()

    def _advertise(self) -> None:
        """Put every registered interface at every listening binding into the endpoint map."""
        if self.endpoint_map is None:
            return
        with self._lock:
            bindings = list(self.bindings)
        for (uuid, major), reg in list(self._registry.items()):
            if reg.iface is not None:
                syntax = P.SyntaxId(uuid, major, reg.minor)
                self.endpoint_map.register(syntax, bindings, reg.iface.__name__)

    def required_level(self, reg: _Registered | None) -> A.AuthLevel:
        if reg is not None and reg.level is not None:
            return reg.level
        return self.security.level if self.security is not None else A.AuthLevel.NONE

    def listen(self, binding: str | B.Binding) -> B.Binding:
        """Start accepting on `binding`; returns the binding clients use (real TCP port)."""
        sock, actual = B.listen(B.as_binding(binding), mode=self.server_limits.unix_socket_mode)
        with self._lock:
            if self._closed:
                sock.close()
                raise OSError("the server is closed")
            self._listeners.append(sock)
            self.bindings.append(actual)
        self.reactor.start()
        self.reactor.add_listener(sock)
        self._advertise()
        return actual

    def _new_connection(self, transport: Transport) -> _Connection:
        conn = _Connection(self, transport)
        with self._lock:
            self._conns.add(conn)
        log.info("connection from %s", conn.peer_text)
        return conn

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

    def running_calls(self) -> int:
        with self._lock:
            conns = list(self._conns)
        return sum(conn.running + len(conn.batches) for conn in conns)

    def close(self, grace: float | None = 0.0) -> None:
        """Stop listening, ask every client to go away (shutdown PDU), close connections.

        With a `grace` (seconds), calls still running are canceled first and get that long
        to finish (their replies still go out) before the connections close."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            conns, listeners = list(self._conns), list(self._listeners)
        if self.endpoint_map is not None:
            self.endpoint_map.withdraw(self.bindings)
        for lsock in listeners:
            if lsock.family == socket.AF_UNIX:
                _unlink(lsock)
            lsock.close()
        for conn in conns:
            conn.send_pdus([P.encode(P.Shutdown())])
        if grace:
            for conn in conns:
                conn.cancel_running()
            deadline = time.monotonic() + grace
            while self.running_calls() and time.monotonic() < deadline:
                time.sleep(0.02)
        self._pool.shutdown()
        self.reactor.stop()
        for conn in conns:  # the reactor closed them; make sure their state is released
            conn.transport.abort()

    def __enter__(self) -> RpcServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def reserve(self, size: int) -> bool:
        """Book `size` more buffered bytes server-wide; False past the limit."""
        with self._lock:
            if self.buffered + size > self.server_limits.max_buffered_total:
                return False
            self.buffered += size
            return True

    def unreserve(self, size: int) -> None:
        with self._lock:
            self.buffered -= size

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
    """One association's protocol state; its I/O is the reactor's `Transport`."""

    server: RpcServer
    transport: Transport
    bound: bool = False
    max_xmit: int = P.MIN_FRAG
    max_recv: int = 0
    contexts: dict[int, _Registered] = field(default_factory=dict)
    partial: dict[int, tuple[Reassembly, CallState]] = field(default_factory=dict)
    calls: dict[int, CallState] = field(default_factory=dict)
    discard: set[int] = field(default_factory=set)  # calls faulted for size: drop the rest
    lock: threading.Lock = field(default_factory=threading.Lock)
    buffered: int = 0  # bytes of this connection's unfinished calls
    running: int = 0  # calls admitted to run (pool or object handler)
    # The running turns of the lean path's batches on the reactor thread, one per batch
    # (its first call): taken and given back without `lock` (fastpath.py: `join`,
    # `end_batch`), each one `set` operation, atomic under the GIL; they count with
    # `running` against the connection's share.
    batches: set[CallState] = field(default_factory=set)
    waiting: deque[tuple[CallState, Callable[[], None]]] = field(default_factory=deque)
    auth: A.ConnectionAuth | None = None
    sign_lock: threading.Lock = field(default_factory=threading.Lock)
    peer_text: str = ""
    # The object handler's lean path for one-fragment requests (fastpath.py); None with
    # security, whose calls are verified and signed on the general path.
    fast_handler: Callable[..., bool] | None = None
    handler_state: Any = None  # the object handler's own state for this connection
    # What `contexts` holds for a context the object handler serves (fastpath.py checks).
    objects_context: ClassVar[_Registered] = _OBJECTS

    def __post_init__(self) -> None:
        self.max_recv = self.server.limits.max_recv_frag
        self.peer_text = peer_of(self.transport.sock)  # HOST:PORT, for the logs
        if self.server.security is not None:
            self.auth = A.ConnectionAuth(self.server.security)
        else:
            self.fast_handler = getattr(self.server.objects, "fast_call", None)

    # The reactor's offer of a one-fragment request to the lean path: fastpath.offer
    # itself, as a method (no call in between).
    fast_request = fastpath.offer

    @property
    def sock(self) -> socket.socket:
        return self.transport.sock

    @property
    def alive(self) -> bool:
        return not self.transport.closed

    @property
    def peer(self) -> object:
        """Who is on the other end: an IP address, or ("uid", n) for a Unix socket."""
        return self.transport.peer

    # ----------------------------------------------------------- I/O (the reactor's)

    def on_closed(self) -> None:
        """The reactor closed the connection: nobody reads replies any more."""
        log.info("connection from %s closed", self.peer_text)
        with self.lock:
            states = [*self.calls.values(), *(st for _, st in self.partial.values())]
            self.partial.clear()
            self.waiting.clear()
            buffered, self.buffered = self.buffered, 0
        self.server.unreserve(buffered)
        for state in states:
            state.orphaned = True
            state.cancel()
        if self.server.objects is not None:
            self.server.objects.closed(self)
        self.server._forget(self)

    def busy(self) -> bool:
        """Anything in progress, or references held: not idle, whatever the clock says."""
        with self.lock:
            if self.partial or self.calls:
                return True
        objects = self.server.objects
        return objects is not None and objects.holds(self)

    def sweep(self, now: float) -> None:
        """Fault calls whose fragments stopped coming (their buffers are freed)."""
        timeout = self.server.server_limits.incomplete_call_timeout
        with self.lock:
            stale = [
                (call_id, r)
                for call_id, (r, state) in self.partial.items()
                if now - state.started > timeout
            ]
            for call_id, r in stale:
                self._drop_partial_locked(call_id, r)
                self.discard.add(call_id)
        for call_id, r in stale:
            log.info("DCE/RPC call %d unfinished after %.0f s: faulted", call_id, timeout)
            self._fault(call_id, P.NCA_S_FAULT_REMOTE_NO_MEMORY, r.first.cont_id, executed=False)

    def send_pdus(self, frames: list[bytes], security: A.CallSecurity = A.ANONYMOUS) -> None:
        """Queue in order; responses of an authenticated call are signed or sealed here,
        under `sign_lock` with the queueing, because NTLM's sequence numbers follow the
        order on the wire."""
        if self.auth is None or security.level <= A.AuthLevel.CONNECT:
            self.transport.send(frames)
            return
        with self.sign_lock:
            self.transport.send([self.auth.protect_response(f, security) for f in frames])

    def abort(self) -> None:
        self.transport.abort()

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
        if isinstance(p, P.Auth3):
            return self.auth3(p)
        if isinstance(p, P.CoCancel | P.Orphaned):
            what = "orphaned" if isinstance(p, P.Orphaned) else "canceled"
            log.info("call %d from %s %s by the client", p.call_id, self.peer_text, what)
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
        try:
            verifier = self._bind_auth(p.auth)
        except A.AuthError as exc:
            reason = A.NAK_AUTHENTICATION_TYPE_NOT_RECOGNIZED
            return self.reject(P.ProtocolError(str(exc), p.call_id, nak_reason=reason))
        results = []
        for ctx in p.contexts:
            result, reg = self.server.negotiate(ctx)
            results.append(result)
            log.info(
                "%s from %s: interface %s v%d.%d %s",
                "alter_context" if p.alter else "bind",
                self.peer_text,
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
            verifier,
        )
        self.send_pdus([P.encode(ack)])
        return True

    # ----------------------------------------------------------- security (auth.py)

    def _bind_auth(self, v: P.AuthVerifier | None) -> P.AuthVerifier | None:
        if self.auth is None:
            if v is not None:
                raise A.AuthError("this server has no security configured")
            return None
        return self.auth.bind(v)

    def auth3(self, p: P.Auth3) -> bool:
        if self.auth is None:
            return self.reject(P.ProtocolError("AUTH3 without security", p.call_id))
        try:
            self.auth.auth3(p.auth)
        except A.AuthError as exc:
            return self.reject(P.ProtocolError(str(exc), p.call_id))
        return True

    def _authenticate(self, p: P.Request) -> tuple[P.Request, A.CallSecurity] | None:
        """The fragment in clear and its security; None after faulting it (access denied)."""
        if self.auth is None:
            if p.auth is not None:
                self.reject(P.ProtocolError("auth verifier without security", p.call_id))
                return None
            return p, A.ANONYMOUS
        try:
            return self.auth.request(p)
        except A.AuthError as exc:
            log.info("DCE/RPC call refused: %s", exc)
            self._fault(p.call_id, A.ERROR_ACCESS_DENIED, p.cont_id, executed=False)
            return None

    def _allowed(self, state: CallState, cont_id: int) -> bool:
        """Is the call's level at least what its interface requires? Faults it if not."""
        required = self.server.required_level(self.contexts.get(cont_id))
        if state.security.level >= required:
            return True
        with self.lock:
            self.calls.pop(state.call_id, None)
        self._fault(state.call_id, A.ERROR_ACCESS_DENIED, cont_id, executed=False)
        return False

    def _frag_room(self, state: CallState) -> int:
        """Fragment size left for stub data once the verifier is added."""
        if state.security.level > A.AuthLevel.CONNECT:
            return self.max_xmit - A.AUTH_OVERHEAD
        return self.max_xmit

    def _sec_addr(self) -> str:
        try:
            name = self.sock.getsockname()
        except OSError:
            return ""
        text = str(name[1]) if isinstance(name, tuple) else str(name)
        return text if text.isascii() and len(text) < 1024 else ""

    def request(self, p: P.Request) -> bool:
        limits = self.server.limits
        checked = self._authenticate(p)
        if checked is None:  # refused: the security context is unusable, so is the connection
            return False
        p, security = checked
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
                entry = self.partial[p.call_id] = (started, CallState(p.call_id, time.monotonic()))
                entry[1].security = security
            r, state = entry
            before = r.size
            done = r.add(p)
            if isinstance(done, P.ProtocolError):
                if done.status != P.NCA_S_FAULT_REMOTE_NO_MEMORY:
                    return self.reject(done)
                # Too large but well-formed: fault this call, skip its remaining fragments.
                return self._refuse_partial(p, r, before, done.status)
            if not self._book(r.size - before):
                return self._refuse_partial(p, r, before, P.NCA_S_FAULT_REMOTE_NO_MEMORY)
            if not done:
                return True
            self._drop_partial_locked(p.call_id, r)
            if state.orphaned:
                return True
            if r.flags_seen & P.PFC_PENDING_CANCEL:
                state.cancel()
            self.calls[p.call_id] = state
        self.transport.reactor.touch(self.transport)
        first = r.first
        assert isinstance(first, P.Request)
        if not self._allowed(state, first.cont_id):
            return True
        stub = r.stub()
        objects = self.server.objects
        if objects is not None and self.contexts.get(first.cont_id) is _OBJECTS:
            self._admit(state, lambda: objects.request(self, first, stub, state))
        else:
            self._admit(state, lambda: self._submit(first.cont_id, first.opnum, stub, state))
        return True

    def _book(self, size: int) -> bool:
        """Count `size` more unfinished-call bytes against this connection and the server."""
        per_conn = self.server.server_limits.max_buffered_per_connection
        if self.buffered + size > per_conn or not self.server.reserve(size):
            return False
        self.buffered += size
        return True

    def _drop_partial_locked(self, call_id: int, r: Reassembly, booked: int | None = None) -> None:
        size = r.size if booked is None else booked
        self.partial.pop(call_id, None)
        self.buffered -= size
        self.server.unreserve(size)

    def _refuse_partial(self, p: P.Request, r: Reassembly, booked: int, status: int) -> bool:
        """Fault a call that grew past a size or buffer limit; skip its other fragments."""
        self._drop_partial_locked(p.call_id, r, booked)
        if not p.flags & P.PFC_LAST_FRAG:
            self.discard.add(p.call_id)
        self._fault(p.call_id, status, p.cont_id, executed=False)
        return True

    # ----------------------------------------------------------- fairness

    def _admit(self, state: CallState, job: Callable[[], None]) -> None:
        """Run `job` now, or when one of this connection's running calls ends: a client
        gets at most `max_running_per_connection` threads, whatever it sends."""
        cap = self.server.server_limits.max_running_per_connection
        with self.lock:
            if self.running + len(self.batches) >= cap:
                self.waiting.append((state, job))
                # A batch gives its turn back without the lock (`fastpath.end_batch`): it
                # leaves `batches`, then looks at `waiting`. Looking at `batches` again
                # after the append, one of the two sees the other's change: no call waits
                # for a turn that is free.
                first = self.take_waiting_locked()
                if first is None:
                    return
                job = first  # the call that waited longest (maybe this one) runs now
            else:
                self.running += 1
                state.running = True
        job()

    def take_waiting_locked(self) -> Callable[[], None] | None:
        """Under `lock`: the waiting call that may run now, given a running turn (a batch
        gave its own back), for the caller to start once the lock is released."""
        cap = self.server.server_limits.max_running_per_connection
        if not self.waiting or not self.alive or self.running + len(self.batches) >= cap:
            return None
        nxt, job = self.waiting.popleft()
        self.running += 1
        nxt.running = True
        return job

    def release_turn(self, state: CallState) -> None:
        with self.lock:
            job = self.pass_turn_locked(state)
        if job is not None:
            job()

    def pass_turn_locked(self, state: CallState) -> Callable[[], None] | None:
        """Under `lock`: `state` gives its running turn back; the waiting call that takes
        it over, if any, is returned for the caller to start once the lock is released."""
        if not state.running:
            return None
        state.running = False
        self.running -= 1
        if not self.waiting or not self.alive:
            return None
        nxt, job = self.waiting.popleft()
        self.running += 1
        nxt.running = True
        return job

    def _submit(self, cont_id: int, opnum: int, stub: bytes, state: CallState) -> None:
        call = _PoolCall(self, cont_id, opnum, stub, state)
        reactor = self.transport.reactor
        if reactor.inline_ready() and self.server._pool.has_idle_thread:  # no hand-off
            reactor.run_inline(self.transport, call)
        else:
            call.post()

    def cancel_running(self) -> None:
        """Server shutdown: cancel every call of this connection (they may still reply)."""
        with self.lock:
            states = list(self.calls.values())
            self.waiting.clear()
        for state in states:
            state.cancel()

    def reply(self, state: CallState, cont_id: int, body: bytes) -> None:
        """An object handler's response for `state` (dropped if the call was orphaned)."""
        room = self._frag_room(state)
        frames = response_fragments(state.call_id, cont_id, body, room, state.cancel_count)
        self._finish(state, frames)

    def fault_call(
        self, state: CallState, cont_id: int, status: int, executed: bool = True
    ) -> None:
        """An object handler's fault for `state`; `status` is an HRESULT or NCA status."""
        self._finish(state, [self._fault_pdu(state, wire_status(status), cont_id, executed)])

    def _finish(self, state: CallState, frames: list[bytes]) -> None:
        """The call's reply: leave the call table and give the turn back in one lock turn,
        send, then start the call that took the turn over (after the reply: replies keep
        their order)."""
        with self.lock:
            self.calls.pop(state.call_id, None)
            job = self.pass_turn_locked(state)
        if not state.orphaned:
            self.send_pdus(frames, state.security)
        if job is not None:
            job()

    def cancel(self, call_id: int, orphan: bool) -> None:
        with self.lock:
            entry = self.partial.get(call_id)
            state = self.calls.get(call_id)
            if state is None and entry is not None:
                state = entry[1]
                if orphan:
                    self._drop_partial_locked(call_id, entry[0])
        if state is not None:
            state.cancel()
            state.orphaned = state.orphaned or orphan

    # ----------------------------------------------------------- calls

    def execute(self, cont_id: int, opnum: int, stub: bytes, state: CallState) -> None:
        frames: list[bytes] = []
        try:
            frames = self._run(cont_id, opnum, stub, state)
        finally:
            self._finish(state, frames)

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
        if reg.check is not None and not reg.check(state.security):
            return [self._fault_pdu(state, A.ERROR_ACCESS_DENIED, cont_id, executed=False)]
        cur = _CURRENT.set(state)
        who = A.serving(state.security)
        com = _com_server._CALL_CONTEXT.set((state, 1))  # type: ignore[arg-type]
        try:
            args = wire.decode_request(stub)
            # A parameter with no wire form (an explicit binding handle) arrives as None.
            value = getattr(reg.impl, method.name)(*(args.get(n) for n in method.ins))
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
                self.peer_text,
            )
            return [self._fault_pdu(state, wire_status(RPC_E_SERVERFAULT), cont_id)]
        finally:
            _com_server._CALL_CONTEXT.reset(com)
            A.done_serving(who)
            _CURRENT.reset(cur)
        room = self._frag_room(state)
        return response_fragments(state.call_id, cont_id, body, room, state.cancel_count)

    def _fault_pdu(
        self, state: CallState, status: int, cont_id: int, executed: bool = True
    ) -> bytes:
        flags = P.PFC_FIRST_FRAG | P.PFC_LAST_FRAG | (0 if executed else P.PFC_DID_NOT_EXECUTE)
        fault = P.Fault(state.call_id, status, cont_id, min(state.cancel_count, 255), flags=flags)
        return P.encode(fault)

    def _fault(self, call_id: int, status: int, cont_id: int, executed: bool) -> None:
        self.send_pdus([self._fault_pdu(CallState(call_id), status, cont_id, executed)])


class _PoolCall:
    """A plain RPC call for the pool (`post`), or run on the reactor thread that read it
    (`run`; the reactor's spare takes the reading over if it runs long)."""

    __slots__ = ("conn", "cont_id", "opnum", "state", "stub")

    def __init__(
        self, conn: _Connection, cont_id: int, opnum: int, stub: bytes, state: CallState
    ) -> None:
        self.conn = conn
        self.cont_id = cont_id
        self.opnum = opnum
        self.stub = stub
        self.state = state

    def run(self) -> None:
        pool = self.conn.server._pool
        pool.borrow()
        try:
            self.conn.execute(self.cont_id, self.opnum, self.stub, self.state)
        finally:
            pool.give_back()

    def post(self) -> None:
        conn, state = self.conn, self.state
        if not conn.server._pool.submit(conn.execute, self.cont_id, self.opnum, self.stub, state):
            conn.fault_call(state, self.cont_id, P.NCA_S_SERVER_TOO_BUSY, executed=False)
