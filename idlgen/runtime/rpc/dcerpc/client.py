"""The client end: associations (one connection each) and a pool of them per binding.

An association binds once, adds presentation contexts with alter_context as new interfaces
are used, and keeps any number of calls in flight: a reader thread matches response and fault
PDUs to calls by call id. If the server granted PFC_CONC_MPX in its bind_ack, every call shares
one association; otherwise `Connection` opens one association per concurrent call and reuses
idle ones. A dead connection fails every call in flight at once with RPC_E_DISCONNECTED.

Every wait has a bound: connect (`connect_timeout`), bind and alter_context
(`bind_timeout`), and each of them also ends at the deadline of the call that needed it
(`call_deadline`, set by synchronous proxy calls), so a call with a 3 s timeout never
waits 10 s for an alter_context answer.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any, Protocol, TypeVar

from idlgen.runtime.com.deadline import bounded as _bounded
from idlgen.runtime.com.deadline import call_deadline
from idlgen.runtime.com.guid import GUID
from idlgen.runtime.com.hresult import (
    HRESULT_FROM_WIN32,
    COMError,
    DisconnectedError,
    RpcTimeoutError,
)
from idlgen.runtime.rpc.dcerpc import auth as A
from idlgen.runtime.rpc.dcerpc import binding as B
from idlgen.runtime.rpc.dcerpc import pdu as P
from idlgen.runtime.rpc.dcerpc import trace
from idlgen.runtime.rpc.dcerpc.fragments import Reassembly, chunk_room, request_fragments, start
from idlgen.runtime.rpc.dcerpc.inbox import Inbox
from idlgen.runtime.rpc.dcerpc.outbox import DONTWAIT as _DONTWAIT
from idlgen.runtime.rpc.dcerpc.outbox import Outbox
from idlgen.runtime.rpc.dcerpc.status import (
    RPC_S_PROTOCOL_ERROR,
    RPC_S_SERVER_TOO_BUSY,
    fault_error,
)
from idlgen.runtime.rpc.dcerpc.wire import Closed, Limits, read_pdu, send_frames

__all__ = [
    "Association",
    "ClientCall",
    "Connection",
    "RpcUnavailableError",
    "WireCall",
    "call_deadline",
]

RPC_S_SERVER_UNAVAILABLE = 1722
RPC_S_UNKNOWN_IF = 1717
RPC_S_UNSUPPORTED_TRANS_SYN = 1730
ERROR_ACCESS_DENIED = 5

log = logging.getLogger(__name__)
_C = TypeVar("_C", bound="WireCall")
_WHOLE = P.PFC_FIRST_FRAG | P.PFC_LAST_FRAG
# A PDU's common header in three values: its first 8 bytes (version, minor, ptype, flags,
# drep), frag_length with auth_length above it, the call id. A whole unprotected response,
# headed exactly as idlgen and Windows write one, has `_WHOLE_RESPONSE` first and
# auth_length 0, so its second value is its length; a frag_length within `in_place`
# (at most 65535) so also says auth_length is 0. `call_alone` and `_take_all` take such a
# response in place (anything else goes the general way: same outcome, more work).
_HEAD = struct.Struct("<QII")
_WHOLE_RESPONSE = struct.unpack(
    "<Q", bytes((P.RPC_VERS, 0, P.RESPONSE, _WHOLE)) + P.DREP_LE_ASCII_IEEE
)[0]
_RESPONSE_HEADER = P.RESPONSE_HEADER


class RpcUnavailableError(COMError):
    """Connecting failed or timed out (RPC_S_SERVER_UNAVAILABLE as an HRESULT)."""

    hresult = HRESULT_FROM_WIN32(RPC_S_SERVER_UNAVAILABLE)


def _error(code: int, message: str) -> COMError:
    return COMError(HRESULT_FROM_WIN32(code), message)


class ClientCall:
    """One call in flight. `result()` gives the reply's stub data or raises its fault.

    No Event per call: most calls are waited for by nobody (call objects complete through
    `on_done`) or by the thread reading the connection itself; a lock to block on is made
    only when a thread actually waits.
    """

    __slots__ = ("_waiter", "assoc", "call_id", "error", "on_done", "partial", "reply", "settled")

    def __init__(
        self, assoc: Association, call_id: int, on_done: Callable[[ClientCall], None] | None = None
    ) -> None:
        self.assoc = assoc
        self.call_id = call_id
        self.settled = False
        self._waiter: threading.Lock | None = None
        self.reply: Any = None
        self.error: BaseException | None = None
        self.partial: Reassembly | None = None
        self.on_done = on_done  # runs once on the thread that completes the call (ORPC)

    def finish(self, reply: Any = None, error: BaseException | None = None) -> None:
        self.assoc.finish(self, reply, error)

    def signal(self) -> None:
        """Wake the waiter and run `on_done`, once, after the call settled."""
        _signal((self,))

    def done(self) -> bool:
        return self.settled

    def wait(self, timeout: float | None = None) -> bool:
        with self.assoc._lock:
            if self.settled:
                return True
            waiter = self._waiter
            if waiter is None:
                waiter = self._waiter = threading.Lock()
                waiter.acquire()
        if not waiter.acquire(timeout=-1 if timeout is None else timeout):
            return False
        waiter.release()  # for any other thread waiting on the same call
        return True

    def result(self, timeout: float | None = None) -> Any:
        """The reply; on timeout the call is orphaned (the server drops it) and RPC_E_TIMEOUT."""
        if not self.wait(timeout):
            self.assoc.orphan(self)
            raise RpcTimeoutError(message=f"no reply to call {self.call_id} in {timeout} s")
        if self.error is not None:
            raise self.error
        return self.reply

    def cancel(self) -> None:
        """Send co_cancel. The server decides: a fault (RPC_E_CALL_CANCELED) or a normal reply."""
        self.assoc.cancel(self)


class WireCall(Protocol):
    """What the association keeps of a call in flight (`Association.calls`): a `ClientCall`,
    or an object that is its own wire call (a proxy's call object, orpc.fastcall), so that
    a call object's Begin_ allocates no second record and its reply completes it directly.
    Whoever puts one in flight sets `call_id` and clears the other four first."""

    call_id: int
    settled: bool  # the reply (or failure) is in: set under the association's lock
    # The response's stub data: `bytes` for a `ClientCall`; for any other type possibly a
    # view of the connection's receive buffer, valid only while `on_done` runs (`_take_all`)
    reply: Any
    error: BaseException | None
    partial: Reassembly | None  # a reply in fragments, being put together

    @property
    def _waiter(self) -> threading.Lock | None:
        """A lock released when the call settles (held by a thread waiting for it)."""

    @property
    def on_done(self) -> Callable[[Any], None] | None:
        """Run with the call on the thread that settles it (`_signal`)."""


def _signal(calls: Iterable[WireCall]) -> None:
    """Wake each call's waiter and run its `on_done`, in order, once, after the calls
    settled (under the association's lock: `reply`, `error`, `settled` set). Several at
    once: the reader signals a read's whole responses with one call, not one per reply."""
    for call in calls:
        waiter = call._waiter
        if waiter is not None:
            waiter.release()
        on_done = call.on_done
        if on_done is not None:
            try:
                on_done(call)
            except Exception:  # the reading thread must go on reading for the other calls
                log.exception("completion of call %d raised", call.call_id)


class Association:
    """One connection and its negotiated state."""

    def __init__(
        self, binding: B.Binding, limits: Limits, mpx: bool = True, auth: A.ClientAuth | None = None
    ) -> None:
        self.binding = binding
        self.security = A.ClientSecurity(auth) if auth is not None else None
        self.limits = limits
        self.mpx = False
        self.alive = True
        self.closing = False  # the server sent shutdown: finish what is in flight, take no more
        self.max_xmit = P.MIN_FRAG
        self.max_recv = limits.max_recv_frag
        self.contexts: dict[P.SyntaxId, int] = {}
        self.calls: dict[int, WireCall] = {}
        self._ids = itertools.count(1)
        # The next call id (mask it to 32 bits): C's own `next`, safe from any thread.
        self.next_id = self._ids.__next__
        self._lock = threading.Lock()
        self._ctx_lock = threading.Lock()
        # The reading role: exactly one thread reads the socket at a time, either the
        # reader thread (woken through `_wake`) or a synchronous caller reading its own
        # reply (`read_own`). `_reading` says the role is taken.
        self._reading = False
        self._wake = threading.Lock()
        self._wake.acquire()
        self.own_reads = 0  # calls whose caller read its own reply (tests, benchmarks)
        try:
            self.sock = B.connect(binding, _bounded(limits.connect_timeout))
        except OSError as e:
            raise RpcUnavailableError(message=f"cannot connect to {binding}: {e}") from None
        log.info("connected to %s", binding)
        self._want_mpx = mpx
        self.inbox = Inbox(self.sock, self.max_recv)
        self.outbox = Outbox(self.sock, self._send_failed, self._lock)  # one lock: see call_alone
        # the largest response `call_alone` and `_take_all` take in place (`_fit_in_place`)
        self.in_place = 0
        self._fit_in_place()

    # ----------------------------------------------------------- binding

    def bind(self, syntax: P.SyntaxId) -> int:
        """The first bind, done before the reader thread starts (the reply is read inline)."""
        flags = P.PFC_FIRST_FRAG | P.PFC_LAST_FRAG | (P.PFC_CONC_MPX if self._want_mpx else 0)
        ctx = P.ContextElem(0, syntax, (P.NDR20,))
        lim = self.limits
        first = self.security.first() if self.security is not None else None
        bind = P.Bind(
            next(self._ids), lim.max_xmit_frag, lim.max_recv_frag, 0, (ctx,), flags, auth=first
        )
        wait = _bounded(lim.bind_timeout)
        try:
            self.sock.settimeout(wait)
            send_frames(self.sock, [P.encode(bind)])
            reply = read_pdu(self.sock, self.max_recv, lim.recv_timeout or wait, wait)
        except (OSError, Closed) as e:
            self.close()
            if isinstance(e, TimeoutError) and wait != lim.bind_timeout:  # the call's deadline
                raise RpcTimeoutError(message=f"no bind_ack from {self.binding} in time") from None
            raise RpcUnavailableError(message=f"bind to {self.binding} failed: {e}") from None
        if not isinstance(reply, P.BindAck) or reply.alter or len(reply.results) != 1:
            self.close()
            if isinstance(reply, P.BindNak) and reply.reason == P.NAK_TEMPORARY_CONGESTION:
                raise _error(RPC_S_SERVER_TOO_BUSY, "bind_nak: server too busy")
            if isinstance(reply, P.BindNak) and first is not None:
                raise _error(ERROR_ACCESS_DENIED, f"bind with authentication refused: {reply}")
            raise _error(RPC_S_PROTOCOL_ERROR, f"bind rejected: {reply}")
        if self.security is not None:
            self._auth3(bind.call_id, reply.auth)
        self.max_xmit = min(reply.max_xmit_frag, lim.max_xmit_frag)
        self.max_recv = max(P.MIN_FRAG, min(reply.max_recv_frag, lim.max_recv_frag))
        self.mpx = bool(reply.flags & P.PFC_CONC_MPX)
        self.group = reply.assoc_group_id
        self.inbox.max_frag = self.max_recv
        self._fit_in_place()
        # Blocking again (the inbox bounds its waits itself): a write left to the socket
        # (MSG_DONTWAIT: `Outbox.post_locked`, `flush_locked`) needs no timeout set.
        self.sock.settimeout(None)
        self.inbox.forget_timeout()
        self._accept(syntax, 0, reply.results[0])
        self.outbox.deferred = True  # the reader thread writes posts once the first wakes it
        threading.Thread(target=self._reader, daemon=True, name="rpc-client").start()
        return 0

    def _auth3(self, call_id: int, challenge: P.AuthVerifier | None) -> None:
        """The third leg of NTLM; the server does not answer it."""
        assert self.security is not None
        try:
            self.sock.sendall(P.encode(P.Auth3(call_id, self.security.third(challenge))))
        except A.AuthError as e:
            self.close()
            raise _error(ERROR_ACCESS_DENIED, str(e)) from None
        except OSError as e:
            self.close()
            raise RpcUnavailableError(message=f"bind to {self.binding} failed: {e}") from None

    def _accept(self, syntax: P.SyntaxId, cont_id: int, result: P.ContextResult) -> None:
        if result.result == P.ACCEPTANCE:
            self.contexts[syntax] = cont_id
            return
        if result.reason == P.ABSTRACT_SYNTAX_NOT_SUPPORTED:
            raise _error(RPC_S_UNKNOWN_IF, f"server does not offer {syntax.uuid} v{syntax.major}")
        raise _error(RPC_S_UNSUPPORTED_TRANS_SYN, "server rejected NDR 2.0")

    def context_for(self, syntax: P.SyntaxId) -> int:
        """The presentation context for an interface, added by alter_context when new."""
        with self._ctx_lock:
            cont_id = self.contexts.get(syntax)
            if cont_id is not None:
                return cont_id
            cont_id = len(self.contexts)
            call = self._register()
            ctx = P.ContextElem(cont_id, syntax, (P.NDR20,))
            alter = P.Bind(
                call.call_id, self.max_xmit, self.max_recv, self.group, (ctx,), alter=True
            )
            self.send([P.encode(alter)])
            reply = call.result(_bounded(self.limits.bind_timeout))
            if not isinstance(reply, P.BindAck) or len(reply.results) != 1:
                raise _error(RPC_S_PROTOCOL_ERROR, f"alter_context failed: {reply}")
            self._accept(syntax, cont_id, reply.results[0])
            return cont_id

    # ----------------------------------------------------------- calls

    def _register(self, on_done: Callable[[ClientCall], None] | None = None) -> ClientCall:
        """A new call whose reply the reader thread reads (woken if nobody reads)."""
        return self.enter(ClientCall(self, 0, on_done))

    def enter(self, call: _C, request: bytes | None = None) -> _C:
        """Put `call` in flight: the reader thread reads its reply. A call made with id 0
        (a `ClientCall`, or any `WireCall`) gets the next id. With its
        `request` (numbered by `next_id`, unprotected), the request is queued for the
        connection's writer (`Outbox.post`) in the same turn of the lock."""
        lock = self._lock
        lock.acquire()  # not `with`, which costs two bound methods a turn in CPython 3.11
        try:
            if not self.alive:
                raise DisconnectedError(message=f"connection to {self.binding} is closed")
            call_id = call.call_id
            if not call_id:
                call_id = call.call_id = self.next_id() & 0xFFFFFFFF
            self.calls[call_id] = call
            if not self._reading:
                self._reading = True
                self._wake.release()
            then = self.outbox.post_locked([request]) if request is not None else None
        finally:
            lock.release()
        if then is not None:
            then()
        return call

    def register_own(self) -> tuple[ClientCall, bool] | None:
        """A new call for a synchronous caller that may read its own reply: (call, True)
        when nothing else is in flight and nobody reads (the caller now holds the reading
        role and must call `read_own`), (call, False) otherwise (wait on the call). None
        when the idle connection turned out closed or closing: use another one."""
        lock = self._lock
        lock.acquire()  # not `with`: see `enter`
        try:
            lead = not (self._reading or self.calls or not self.alive)
            if lead:
                self._reading = True
                self.outbox.deferred = False  # posts meanwhile: the writer thread
                call = ClientCall(self, next(self._ids) & 0xFFFFFFFF)
                self.calls[call.call_id] = call
        finally:
            lock.release()
        if not lead:
            return self._register(), False
        if (self.inbox.readable() and not self._check_idle()) or self.closing:
            with self._lock:  # never sent: forget it
                self.calls.pop(call.call_id, None)
            self._hand_over()
            return None
        return call, True

    def _fit_in_place(self) -> None:
        """`in_place`: a response read in place (whole by one receive for `call_alone`,
        from the buffer for `_take_all`), within the fragment size received and the stub
        size accepted, on a connection without security (whose PDUs carry a verifier);
        none otherwise. Kept when `max_frag` is negotiated (`bind`)."""
        most = min(self.inbox.max_frag, self.limits.max_request + _RESPONSE_HEADER)
        self.in_place = most if self.security is None else 0

    def call_alone(
        self,
        call_id: int,
        frame: bytes,
        timeout: float | None,
        read: Callable[[memoryview], Any] | None = None,
    ) -> Any:
        """A synchronous call of one unprotected fragment (`frame`, numbered `call_id` from
        `next_id`) made in place when the connection is idle: nothing in flight, nobody
        reading, nothing being written or queued. In one turn of the connection's lock (the
        outbox shares it) its caller takes the reading role, looks for what arrived while
        nobody read (as `register_own` does) and, if nothing did, writes `frame` without
        blocking: on an idle connection the socket takes it whole, so the writing role is
        never taken. Otherwise (something to look at, a socket that takes only part of it,
        tracing) it takes the writing role in the same turn and writes after looking.

        Returns the reply's stub data when the first read brings exactly the call's whole
        response and nothing else (the usual case: no call record, no framing loop, no
        dispatch): `read(stub)`, a view of it in the receive buffer decoded before the
        reading role is given up (the buffer's rule), unless `read` is None or returns
        None; else a copy (`bytes`). Otherwise the call, registered then and read on with
        `read_own`: settled, or not when `timeout` passed (its caller cancels or orphans
        it). None when the connection is not idle or turned out closed or closing: nothing
        was sent."""
        lock = self._lock
        inbox, out = self.inbox, self.outbox
        reading = writing = False  # the roles this caller has to give up
        try:  # given up even when interrupted (KeyboardInterrupt): see `read_own`
            lock.acquire()  # not `with`: see `enter`
            try:
                if not (out.idle and not (self._reading or self.calls) and self.alive):
                    return None
                self._reading = reading = True
                out.deferred = False  # (posts meanwhile: the writer thread)
                readable = inbox.readable  # (the reading role's holder sets it: read once
                # ours; a callable attribute, called from a local: see `_call_`)
                seen = readable()
                sent = 0
                # written now unless there is something to look at first (then written
                # after looking, as is a traced one: its trace comes first)
                if not (seen or self.closing or trace.on or not _DONTWAIT):
                    try:  # (not blocking: the lock's other users never wait for the socket)
                        sent = self.sock.send(frame, _DONTWAIT)
                    except OSError:  # full (or failed: `write_alone` below reports it)
                        sent = 0
                if sent != len(frame):
                    writing = out.writing = True  # (ours first: see the `finally` below)
                    out.idle = False
            finally:
                lock.release()
            if (seen and not self._check_idle()) or self.closing:
                return None
            end = None if timeout is None else time.monotonic() + timeout
            if writing:
                writing = False  # `write_alone` gives it up
                out.write_alone(frame[sent:] if sent else frame)
            try:
                if timeout == inbox.fits:  # the socket waits as `receive(timeout)` would
                    n = inbox.sock.recv_into(inbox.chunk)
                else:
                    n = inbox.receive(timeout)
            except OSError:  # a timeout, or the connection failed: `read_own` says which
                n = 0
            # exactly one PDU, the call's whole response, as an idlgen or Windows server
            # writes it (see `_HEAD`; anything else: the general way below reads it)
            if (
                _RESPONSE_HEADER <= n <= self.in_place
                and not trace.on
                and _HEAD.unpack_from(inbox.chunk) == (_WHOLE_RESPONSE, n, call_id)
            ):
                self.own_reads += 1
                stub = inbox.chunk[_RESPONSE_HEADER:n]
                if read is not None:
                    got = read(stub)
                    if got is not None:
                        return got
                return stub.tobytes()
            # Anything else (another call's reply, a fault, fragments, a timeout, the end
            # of the stream): the general way, from the bytes this read brought.
            call = ClientCall(self, call_id)
            with lock:
                self.calls[call_id] = call
            if n:
                inbox.keep(n)
            reading = False  # `read_own` gives it up
            self.read_own(call, None if end is None else end - time.monotonic())
            return call
        finally:
            if writing:
                out.write_alone(b"")  # nothing written: what queued meanwhile goes out
            if reading:
                self._hand_over()

    def read_own(self, call: ClientCall, timeout: float | None) -> bool:
        """Read the connection until `call` settles or `timeout` passes (False), dispatching
        other calls' replies to them; then pass the reading role on."""
        end = None if timeout is None else time.monotonic() + timeout
        wait = timeout  # the first wait: all of it (no second clock reading)
        reason = None
        try:
            while not call.settled:
                if wait is not None and wait <= 0:
                    break
                try:
                    self.inbox.fill(wait, self.limits.recv_timeout)
                except TimeoutError:
                    if self.inbox.pending():
                        raise  # a PDU started and stalled: the connection is broken
                    break
                reason = self._take_all()
                if reason is not None or call.settled:
                    break
                wait = None if end is None else end - time.monotonic()
        except (Closed, OSError) as e:
            reason = f"server closed the connection: {e}"
        finally:  # even when interrupted (KeyboardInterrupt): someone else must read now
            if reason is not None:
                self._fail_all(DisconnectedError(message=reason))
            self._hand_over()
        if call.settled:
            self.own_reads += 1
        return call.settled

    def _hand_over(self) -> None:
        """Leave the reading role: to the reader thread if calls remain (or to let it end on a
        dead connection), else to nobody.

        Without a turn of the lock when nobody needs the role next (the synchronous call's
        common case): the role is let go first, then the calls looked at. A thread that
        puts a call in flight (`enter`, under the lock) adds it first, then looks at the
        role; so one of the two sees the other (plain stores and loads, ordered under the
        GIL: docs/orpc.md), and whoever sees the call left unread wakes the reader thread,
        under the lock, once."""
        # First, while the role is still ours: a taker after us clears it again, and its
        # posts must then wake the writer thread (no request waits behind a reply).
        self.outbox.deferred = True  # the reader thread, woken now or by the next call
        self._reading = False
        if self.calls or not self.alive:  # (else: nothing left to read, nobody to wake)
            lock = self._lock
            lock.acquire()  # not `with`: see `enter`
            try:
                # (taken meanwhile: the taker reads; nothing left: nobody needs waking)
                if not self._reading and (self.calls or not self.alive):
                    self._reading = True
                    self._wake.release()
            finally:
                lock.release()

    def _check_idle(self) -> bool:
        """With the reading role and nothing sent in flight: take in what arrived while nobody
        read (the server closing the connection, a shutdown PDU, late replies). False if
        the connection is no longer usable."""
        try:
            while self.alive and self.inbox.readable():
                wait = self.limits.recv_timeout
                self.inbox.fill(wait, wait)
                reason = self._take_all()
                if reason is not None:
                    self._fail_all(DisconnectedError(message=reason))
        except (Closed, OSError) as e:
            self._fail_all(DisconnectedError(message=f"server closed the connection: {e}"))
        return self.usable()

    def check_idle(self) -> None:
        """Notice a closed or closing connection that nobody is reading (before reuse)."""
        with self._lock:
            if self._reading or self.calls or not self.alive:
                return
            self._reading = True
            self.outbox.deferred = False  # posts meanwhile: the writer thread
        self._check_idle()
        self._hand_over()

    def begin(
        self,
        cont_id: int,
        opnum: int,
        stub: bytes,
        obj: GUID | None = None,
        on_done: Callable[[ClientCall], None] | None = None,
    ) -> ClientCall:
        call = self._register(on_done)
        self.send(self._fragments(call, cont_id, opnum, stub, obj), protect=True)
        return call

    def _fragments(
        self, call: ClientCall, cont_id: int, opnum: int, stub: bytes, obj: GUID | None
    ) -> list[bytes]:
        room = self.max_xmit
        if self.security is not None and self.security.level > A.AuthLevel.CONNECT:
            room -= A.AUTH_OVERHEAD
        return request_fragments(call.call_id, cont_id, opnum, stub, room, obj)

    def call(
        self, cont_id: int, opnum: int, stub: bytes, obj: GUID | None, timeout: float | None
    ) -> Any:
        """A synchronous call: its reply's stub data (its fault raised; RpcTimeoutError after
        `timeout`, the call orphaned). Its caller reads the reply itself when nothing else is
        in flight (in place for a one-fragment request: `call_alone`). None when this idle
        association turned out closed or closing (nothing was sent)."""
        header = P.REQUEST_HEADER + (16 if obj is not None else 0)
        if self.security is None and len(stub) <= chunk_room(self.max_xmit, header):
            call_id = self.next_id() & 0xFFFFFFFF
            (frame,) = request_fragments(call_id, cont_id, opnum, stub, self.max_xmit, obj)
            got = self.call_alone(call_id, frame, timeout)
            if type(got) is bytes:
                return got
            if got is not None:
                assert isinstance(got, ClientCall)
                return self._outcome(got, 0, timeout)  # read by this caller: no more waiting
            if not self.usable():
                return None
        own = self.register_own()
        if own is None:
            return None
        call, reading = own
        self.send(self._fragments(call, cont_id, opnum, stub, obj), protect=True)
        if reading:
            self.read_own(call, timeout)
        return self._outcome(call, 0 if reading else timeout, timeout)

    def _outcome(self, call: ClientCall, wait: float | None, timeout: float | None) -> Any:
        """A synchronous call's reply, read by its caller or waited for here for `wait`: its
        stub data, its fault raised, or RpcTimeoutError (the call orphaned) if unsettled."""
        if not call.wait(wait):
            self.orphan(call)
            raise RpcTimeoutError(message=f"no reply to call {call.call_id} in {timeout} s")
        if call.error is not None:
            raise call.error
        return call.reply

    @property
    def outstanding(self) -> int:
        """Calls in flight; a caller reading its own reply in place (`call_alone`) holds
        the reading role with its call in no table, so the reading role counts as one."""
        with self._lock:
            return max(len(self.calls), int(self._reading))

    def usable(self) -> bool:
        return self.alive and not self.closing

    def send(self, frames: list[bytes], protect: bool = False) -> None:
        """Send in order; `protect` signs or seals request fragments under the send lock
        (NTLM sequence numbers follow the order on the wire)."""
        security = self.security if protect else None
        self.outbox.send(frames, security.protect if security is not None else None)

    def _send_failed(self, e: OSError) -> None:
        self._fail_all(DisconnectedError(message=f"send failed: {e}"))

    def cancel(self, call: WireCall) -> None:
        """Send co_cancel for `call` unless settled. The server decides: a fault
        (RPC_E_CALL_CANCELED) or a normal reply."""
        if not call.settled:
            log.info("call %d to %s canceled: sending co_cancel", call.call_id, self.binding)
            self.send([P.encode(P.CoCancel(call.call_id))])

    def finish(self, call: WireCall, reply: Any = None, error: BaseException | None = None) -> None:
        """Settle `call` with its reply or failure, once (a later one is dropped)."""
        with self._lock:
            if call.settled:
                return
            call.reply, call.error = reply, error
            call.settled = True
        _signal((call,))

    def orphan(self, call: WireCall) -> None:
        with self._lock:
            if self.calls.pop(call.call_id, None) is None:
                return
        self.send([P.encode(P.Orphaned(call.call_id))])

    # ----------------------------------------------------------- reading

    def _reader(self) -> None:
        """The reader thread: woken whenever calls are in flight and nobody reads."""
        while True:
            self._wake.acquire()
            if not self.alive:
                return
            reason = self._read_while_needed()
            if reason is not None:
                self._fail_all(DisconnectedError(message=reason))
                return

    def _read_while_needed(self) -> str | None:
        """Read until no call is in flight (None) or the connection fails (why).

        The reader thread also writes what call objects posted while it was woken or
        running (`Outbox.deferred`: they woke no writer thread), in the lock turn before
        each wait for bytes; while it waits, posts wake the writer thread."""
        inbox, outbox, lock = self.inbox, self.outbox, self._lock
        try:
            while True:
                lock.acquire()  # not `with`: see `enter`
                try:
                    # (bytes of a PDU buffered are read first, needed or not)
                    if not (self.calls or inbox.pending()):
                        self._reading = False
                        outbox.deferred = True  # the next call in flight wakes this thread
                        return None if self.alive else "connection closed"
                    write = outbox.flush_locked()
                finally:
                    lock.release()
                if write is not None:
                    write()
                inbox.fill(None, self.limits.recv_timeout)
                # Running again: posts are written in the next turn (an attribute set
                # without the lock: a post that still sees it clear wakes the writer).
                outbox.deferred = True
                reason = self._take_all()
                if reason is not None:
                    return reason
        except (Closed, OSError) as e:
            return f"server closed the connection: {e}"

    def _take_all(self) -> str | None:
        """Hand each complete PDU buffered to its call, in order; why the connection must
        close, if it must (the PDUs after the one that says so are dropped with it).

        A burst's replies come dozens to a read. The whole responses at the head of the
        buffer, headed as `call_alone` takes one in place, are read where they are (one
        header unpack each, no copy) and taken from the call table in one turn of the
        lock, then their calls are signalled in order. From the first other PDU on, the
        inbox copies each out and `_take` decodes it.

        The buffer's rule: a `ClientCall`'s reply is copied (its waiter reads it later,
        when the buffer may hold other bytes); any other `WireCall` (a call object) gets
        a view of its stub in the buffer, valid while its `on_done` runs: the buffer is
        not read into again before every call taken here has been signalled."""
        inbox = self.inbox
        start = inbox.start
        most = self.in_place  # (0 with security: every PDU then goes the general way)
        if most and not trace.on:  # (traced: each PDU as `framed` hands it out)
            buffer, end = inbox.buffer, inbox.end
            unpack = _HEAD.unpack_from
            header = _RESPONSE_HEADER  # (the loop's constants as locals: cheaper to read)
            whole, copied = _WHOLE_RESPONSE, ClientCall
            taken: list[WireCall] = []
            calls = self.calls
            lock = self._lock
            lock.acquire()  # not `with`: see `enter`
            try:
                while end - start >= header:
                    head, frag, call_id = unpack(buffer, start)
                    stop = start + frag  # (past `end`: the rest of it is yet to come)
                    if head != whole or not header <= frag <= most or stop > end:
                        break
                    call = calls.get(call_id)
                    if call is not None:  # (None: a reply to an orphaned call)
                        if call.partial is not None:
                            break  # a whole response after fragments: `_take` says why not
                        del calls[call_id]  # in flight, so not settled yet: settle it here
                        stub = buffer[start + header : stop]
                        call.reply = stub.tobytes() if type(call) is copied else stub
                        call.settled = True
                        taken.append(call)
                    start = stop
            finally:
                lock.release()
            _signal(taken)
        for frame in inbox.framed(start):
            reason = self._take(frame)
            if reason is not None:
                return reason
        return None

    def _take(self, frame: bytes | P.ProtocolError) -> str | None:
        """Hand one PDU to its call, decoded (the general way: `_take_all` takes the whole
        responses at the head of the buffer); why the connection must close, if it must."""
        if isinstance(frame, P.ProtocolError):
            return f"protocol error from server: {frame.reason}"
        p = P.decode(frame)
        if isinstance(p, P.ProtocolError):
            return f"protocol error from server: {p.reason}"
        if not self._dispatch(p):
            return f"unexpected {type(p).__name__} from server"
        return None

    def _dispatch(self, p: P.Pdu) -> bool:
        if isinstance(p, P.Shutdown):
            self.closing = True
            return True
        with self._lock:
            call = self.calls.get(p.call_id)
        if call is None:
            return True  # a reply to an orphaned call
        if isinstance(p, P.BindAck) and p.alter:
            self._complete(call, p)
        elif isinstance(p, P.Fault):
            self._complete(call, None, fault_error(p.status))
        elif isinstance(p, P.Response):
            return self._fragment(call, p)
        else:
            return False
        return True

    def _fragment(self, call: WireCall, p: P.Response) -> bool:
        if self.security is not None:
            try:
                p = replace(p, stub=self.security.response(p), auth=None)
            except A.AuthError:
                return False  # a reply that does not verify: the association is unusable
        if call.partial is None:
            started = start(p, self.limits.max_request)
            if isinstance(started, P.ProtocolError):
                return False
            call.partial = started
        done = call.partial.add(p)
        if isinstance(done, P.ProtocolError):
            return False
        if done:
            self._complete(call, call.partial.stub())
        return True

    def _complete(self, call: WireCall, reply: Any, error: BaseException | None = None) -> None:
        with self._lock:
            self.calls.pop(call.call_id, None)
        self.finish(call, reply, error)

    def _fail_all(self, error: COMError) -> None:
        with self._lock:
            self.alive = False
            calls, self.calls = list(self.calls.values()), {}
        for call in calls:
            self.finish(call, None, error)
        self.outbox.close()
        self._shutdown_socket()
        with self._lock:
            if not self._reading:  # the parked reader thread ends
                self._reading = True
                self._wake.release()

    def _shutdown_socket(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._fail_all(DisconnectedError(message="association closed"))
        self.sock.close()


# The endpoint mapper's client (epm.map_endpoint) is itself built on Connection, so it sits
# above this module; the dcerpc package hands it in when it is imported.
EndpointMapper = Callable[..., B.Binding]
_endpoint_mapper: EndpointMapper | None = None


def use_endpoint_mapper(mapper: EndpointMapper) -> None:
    """Where bindings without a port are looked up: `mapper(host, syntax, timeout=...)`."""
    global _endpoint_mapper
    _endpoint_mapper = mapper


def _dynamic_endpoint(binding: B.Binding, syntax: P.SyntaxId, limits: Limits) -> B.Binding:
    """A binding without a port: ask the host's endpoint mapper (anonymously, as Windows
    clients do) where `syntax` is served."""
    if _endpoint_mapper is None:
        raise RpcUnavailableError(message=f"no endpoint mapper to find a port for {binding}")
    found = _endpoint_mapper(binding.address, syntax, timeout=limits.connect_timeout)
    return B.Binding(found.protseq, binding.address, found.endpoint, binding.object)


class Connection:
    """Calls to one binding: one multiplexed association, or a pool when the server will not
    multiplex. Thread-safe; `begin` returns at once with a `ClientCall`."""

    def __init__(
        self,
        binding: str | B.Binding,
        limits: Limits | None = None,
        mpx: bool = True,
        auth: A.ClientAuth | None = None,
    ):
        self.binding = B.as_binding(binding)
        self.limits = limits or Limits()
        self._mpx = mpx
        self.auth = auth  # credentials and level for every association (None: anonymous)
        self._assocs: list[Association] = []
        self._lock = threading.Lock()

    def _association(self, syntax: P.SyntaxId) -> Association:
        with self._lock:
            if self.binding.protseq == B.NCACN_IP_TCP and not self.binding.endpoint:
                self.binding = _dynamic_endpoint(self.binding, syntax, self.limits)
            for a in self._assocs:
                a.check_idle()
            self._assocs = [a for a in self._assocs if a.alive]
            for a in self._assocs:
                if a.usable() and (
                    a.outstanding < self.limits.max_outstanding if a.mpx else a.outstanding == 0
                ):
                    return a
            a = Association(self.binding, self.limits, self._mpx, self.auth)
            a.bind(syntax)
            self._assocs.append(a)
            return a

    def established(self, syntax: P.SyntaxId) -> tuple[Association, int] | None:
        """A usable association that already has a context for `syntax`, and that context;
        nothing is sent (callers cache both for their fast path)."""
        with self._lock:
            for a in self._assocs:
                cont_id = a.contexts.get(syntax)
                if cont_id is not None and a.usable():
                    return a, cont_id
        return None

    def begin(
        self,
        syntax: P.SyntaxId,
        opnum: int,
        stub: bytes,
        obj: GUID | None = None,
        on_done: Callable[[ClientCall], None] | None = None,
    ) -> ClientCall:
        """Send a call; `on_done(call)` (optional) runs when its reply or failure arrives."""
        assoc = self._association(syntax)
        cont_id = assoc.context_for(syntax)
        return assoc.begin(cont_id, opnum, stub, obj or self.binding.object, on_done)

    def call(
        self,
        syntax: P.SyntaxId,
        opnum: int,
        stub: bytes,
        obj: GUID | None = None,
        timeout: float | None = None,
    ) -> bytes:
        """A synchronous call: the reply's stub data, or its fault raised."""
        wait = timeout if timeout is not None else self.limits.call_timeout
        for _ in range(3):  # an idle association found closed is dropped: try the next
            assoc = self._association(syntax)
            cont_id = assoc.context_for(syntax)
            reply: bytes | None = assoc.call(cont_id, opnum, stub, obj or self.binding.object, wait)
            if reply is not None:
                return reply
        last: bytes = self.begin(syntax, opnum, stub, obj).result(wait)
        return last

    @property
    def association_count(self) -> int:
        with self._lock:
            return sum(1 for a in self._assocs if a.alive)

    def close(self) -> None:
        with self._lock:
            assocs, self._assocs = self._assocs, []
        for a in assocs:
            a.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
