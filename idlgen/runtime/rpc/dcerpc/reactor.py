"""Connection I/O for a server: one selector thread for every listener and connection.

The reactor accepts, reads bytes, cuts them into PDUs and hands each to its connection's
protocol object (`handle`), which answers by `send`. No thread per connection: a thousand
idle sockets cost a thousand descriptors and buffers, nothing more. Sends that cannot go
out at once wait in the connection's unsent buffer, flushed when the socket is writable.

Bounds enforced here (all from `ServerLimits`): connections in total and per peer (over the
cap: bind_nak "temporary congestion" and close), the peer uid of Unix-socket clients
(SO_PEERCRED against the allow list), the time a started PDU may take, the idle time, the
unsent bytes a peer may leave unread. `accept` failing for lack of descriptors or memory
pauses that listener with a growing back-off and a log line; it never ends the loop.
"""

from __future__ import annotations

import contextlib
import errno
import heapq
import logging
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from idlgen.runtime.rpc.dcerpc import pdu as P
from idlgen.runtime.rpc.dcerpc import trace
from idlgen.runtime.rpc.dcerpc.limits import ServerLimits
from idlgen.runtime.rpc.dcerpc.poller import READ, WRITE, Poller, readable, writable

__all__ = ["Protocol_", "Reactor", "Transport"]

log = logging.getLogger(__name__)

_RESOURCE_ERRORS = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}
_UCRED = struct.Struct("3i")  # pid, uid, gid
_READ_CHUNK = 65536
# The common header as framing needs it (DCE 12.6.3.1); `parse_header` has the full checks.
# The data representation's first two bytes (integer and character, floating point) as one
# little-endian number: no bytes object per PDU for it.
_PEEK = struct.Struct("<BBBBH2xHHI")
# The same and what follows it in an object request (alloc_hint, p_cont_id, opnum, object
# UUID: DCE 12.6.4.9), read in the same `struct` call when the buffer holds that much: the
# lean path's offer (`fast_request`) reads no header of its own.
_PEEK_REQUEST = struct.Struct(_PEEK.format + "4xHH16s")
_REQUEST_AT = _PEEK_REQUEST.size
# What `_PEEK_REQUEST` adds, for a PDU shorter than that (context id, opnum, object UUID).
_NO_OBJECT = (0, 0, b"")
_LE = int.from_bytes(P.DREP_LE_ASCII_IEEE[:2], "little")
# What `_frame` compares per PDU, as module names: one lookup each, not two.
_RPC_VERS, _HEADER_SIZE, _REQUEST = P.RPC_VERS, P.HEADER_SIZE, P.REQUEST
# What the poller holds for the wake-up socket and for listeners (a `Transport` for the rest).
_WAKE = "wake"
_LISTENER = "listener"
# The spare thread checks on inline calls every `inline_call_bound` seconds while calls come,
# and sleeps until the next call once none came for this long.
_PARK_AFTER = 1.0
# A long batch of inline calls (one read of a burst) sends its replies this many calls at a
# time rather than all at its end: the client works on the first replies meanwhile.
FLUSH_EVERY = 32


class Protocol_(Protocol):
    """What the reactor drives for each connection (the DCE/RPC server's `_Connection`)."""

    max_recv: int

    def handle(self, pdu: P.Pdu | P.ProtocolError) -> bool: ...

    def fast_request(self, buf: bytes | bytearray, pos: int, stop: int, end: int, head: Any) -> int:
        """A request without auth data, `buf[pos:stop]`, and what `_PEEK_REQUEST` read of
        its header (`head`: flags, call id, context id, opnum and the object UUID's bytes,
        as if it were an object request of 40 bytes or more: meaningless if it is not; 0,
        0 and b"" in a shorter buffer). Returns where framing goes on: past the requests
        the protocol took (this one, and maybe like ones after it, up to `end`), or 0 when
        it takes none and this one is decoded. `buf` may be the reactor's read buffer,
        which the next read overwrites: what the protocol keeps of it, it copies out (as
        `bytes`, where it becomes a value)."""

    def on_closed(self) -> None: ...

    def busy(self) -> bool: ...

    def sweep(self, now: float) -> None: ...


class InlineCall(Protocol):
    """A call the protocol asks the reactor to run on its own thread (`run_inline`)."""

    def run(self) -> None: ...

    def post(self) -> None:
        """Run it elsewhere after all (the loop was taken over before it started)."""


class InlineBatch(InlineCall, Protocol):
    """An inline call that serves several (orpc/fastserve.py): when the loop is taken
    over while it runs, the ones it has not started go elsewhere (`post_rest`, from the
    thread that takes over), so a slow one holds up none of them."""

    def post_rest(self) -> None: ...


class Transport:
    """One accepted socket: its unread and unsent bytes, and when it last did anything."""

    def __init__(self, reactor: Reactor, sock: socket.socket, peer: Any) -> None:
        self.reactor = reactor
        self.sock = sock
        self.peer = peer  # the cap key: an address, or ("uid", n) for a Unix socket
        self.fileno = sock.fileno()
        self.inbuf = bytearray()
        self.outbuf = bytearray()
        self.out_lock = threading.Lock()
        self.pdu_started: float | None = None
        self.last_activity = time.monotonic()
        self.protocol: Protocol_ | None = None
        self.closing = False  # flush what is unsent, then close
        self.closed = False
        self.watching_writes = False
        self.corked = False  # replies wait in outbuf until the reactor's batch of calls ends
        # Replies of a batch of inline calls made while the transport is corked, queued
        # without `out_lock` (a deque's append and popleft are atomic): `flush` moves them
        # to `outbuf` under the lock. One lock turn per flush, not per reply.
        self.held: deque[bytes] = deque()

    def send(self, frames: list[bytes] | bytes) -> bool:
        """Queue frames in order (from any thread); False if the connection is gone. One
        frame may come as itself (the lean path's reply): no list made, no `len` per call."""
        if isinstance(frames, bytes):
            frames_: list[bytes] | None = None
            data = frames
        else:
            frames_ = frames
            data = frames[0] if len(frames) == 1 else b"".join(frames)
        lock = self.out_lock
        lock.acquire()  # not `with`: see `Reactor._run_inline`
        try:
            if self.closed:
                return False
            if trace.on:
                for frame in frames_ or (data,):
                    trace.sent(self.sock, frame)
            corked = self.corked
            if not self.outbuf and not corked:
                try:
                    sent = self.sock.send(data)
                except (BlockingIOError, InterruptedError):
                    sent = 0
                except OSError:
                    self.reactor.call_soon(self.abort)
                    return False
                data = data[sent:]
            if not data:
                return True
            if len(self.outbuf) + len(data) > self.reactor.limits.max_unsent_per_connection:
                log.warning("DCE/RPC peer %s leaves replies unread: closing", self.peer)
                self.reactor.call_soon(self.abort)
                return False
            self.outbuf += data
        finally:
            lock.release()
        if not corked:  # a corked transport is flushed by the reactor at the batch's end
            self.reactor.want_write(self)
        return True

    def flush(self) -> bool:
        """On the reactor thread, when the socket is writable: send what waits; True if
        some of it is still unsent (bytes queued later come with a `want_write`)."""
        with self.out_lock:
            held = self.held
            while held:
                self.outbuf += held.popleft()
            if self.outbuf:
                try:
                    sent = self.sock.send(self.outbuf)
                except (BlockingIOError, InterruptedError):
                    sent = 0
                except OSError:
                    sent = -1
                if sent < 0:
                    self.outbuf.clear()
                    self.closing = True
                else:
                    del self.outbuf[:sent]
            empty = not self.outbuf
        if empty and self.closing:
            self.abort()
        return not empty

    def close_after_flush(self) -> None:
        self.closing = True
        with self.out_lock:
            empty = not self.outbuf
        if empty:
            self.reactor.call_soon(self.abort)

    def abort(self) -> None:
        """Close now (reactor thread, or through `call_soon`)."""
        self.reactor.drop(self)


class Reactor:
    """The selector loop of one RpcServer."""

    def __init__(self, limits: ServerLimits, make_protocol: Callable[[Transport], Protocol_]):
        self.limits = limits
        self.make_protocol = make_protocol
        self.poller = Poller()
        self.transports: dict[int, Transport] = {}
        self.per_peer: dict[Any, int] = {}
        self._lock = threading.Lock()
        self._soon: list[Callable[[], None]] = []
        self._writers: set[Transport] = set()
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._timer_ids = 0
        self._backoff: dict[int, float] = {}
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self.poller.register(self._wake_r, READ, _WAKE)
        self._stopped = False
        self._thread: threading.Thread | None = None  # the leader: runs the loop now
        self.accept_failures = 0  # accept errors survived (tests, logs)
        self.refused = 0  # connections refused by a cap or the uid check
        # Calls run on the loop thread after a read (see `run_inline`), the transports
        # whose replies wait for the batch's end, and the spare thread that takes the loop
        # over when one of those calls outlasts `limits.inline_call_bound`.
        self.inline_calls: deque[InlineCall] = deque()
        self._running: Any = None  # the inline call run last (an `InlineBatch`'s rest)
        self._corked: list[Transport] = []
        self._lone: Transport | None = None  # the transport of a batch's only call so far
        # The leader while it runs a batch of inline calls (set and cleared under the
        # spare's lock, as a takeover changes the leader): `drop` waits for the loop then.
        self._in_calls: threading.Thread | None = None
        self._framing = 0  # the ident of the loop thread while it frames a read, else 0
        self._leader_ident = 0  # the ident of the thread in `_lead` (only it reads)
        # While the loop thread frames a read with a spare thread ready (set per read):
        # `inline_ready`'s answer for a protocol's `fast_request`, which only framing calls,
        # without a call per request. False: ask `inline_ready`, which starts a spare.
        self.framing_ready = False
        # While the loop thread frames a read that is its wake-up's only event, with a spare
        # ready (set per read): its last PDU, if no call waits to run (`inline_calls`), may
        # be served as soon as the read is framed, without the batch machinery (`lone`).
        self.lone_ready = False
        # The lone call a protocol left for the end of the read being framed (`lone_ready`):
        # `_read` runs it then, which is when the loop would start the batch of one it was.
        self.lone: InlineCall | None = None
        # What `_read` reads into: one buffer for every read, not 64 KiB allocated per read
        # (and shrunk to what came). Only the loop thread frames, one read at a time, and
        # framing copies out what it keeps (`_frame`), so the next read may overwrite it.
        self._rbuf = bytearray(_READ_CHUNK)
        self._spare_lock = threading.Lock()  # the Condition's, taken directly per call
        self._spare = threading.Condition(self._spare_lock)
        self._busy_since: float | None = None  # the leader is in inline calls since then
        # The batch of inline calls each leader runs, by thread, while it may be taken over:
        # set as it starts; taken back by the leader as it ends, or by the spare as it takes
        # over. Each is one dict operation, atomic under the GIL, so exactly one of the two
        # gets it, and the end of a batch takes no lock (`_run_inline`).
        self._claims: dict[threading.Thread | None, bool] = {}
        self._last_batch = 0.0  # when the last batch of inline calls started
        self._spares = 0  # threads waiting to take over (0 or 1)
        self._parked = False  # the spare waits without a timeout: notify it
        self._starting = False  # a spare thread is being started
        self._threads = 0  # threads of this reactor: leader, spare, ones still in calls
        self.takeovers = 0  # times a spare took the loop over from a slow call (tests)
        self._interval = self._sweep_interval()  # the select timeout, and how often to sweep
        self._next_sweep = 0.0

    # -- from other threads ---------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            thread = threading.Thread(target=self._run, daemon=True, name="rpc-reactor")
            self._thread = thread
            thread.start()

    def add_listener(self, lsock: socket.socket) -> None:
        lsock.setblocking(False)
        self.call_soon(lambda: self._register_listener(lsock))

    def call_soon(self, fn: Callable[[], None]) -> None:
        with self._lock:
            self._soon.append(fn)
        self._wake()

    def want_write(self, transport: Transport) -> None:
        with self._lock:
            self._writers.add(transport)
        self._wake()

    def stop(self) -> None:
        self._stopped = True
        thread = self._thread
        if thread is None:  # never started: nothing but our own sockets to close
            self._close_all()
            return
        with self._spare:
            self._spare.notify_all()
        self._wake()
        if thread is not threading.current_thread():
            thread.join(5.0)

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    # -- the loop -------------------------------------------------------------------------

    def _run(self, leader: bool = True) -> None:
        """A reactor thread: the first one leads at once, a spare waits to take over; when
        another thread took the loop over from one of its calls, it becomes the spare
        itself (or leaves, if there is one)."""
        with self._spare:
            if not leader:
                self._starting = False  # the spare `_want_spare` started is here
            self._threads += 1
        try:
            if leader:
                self._lead()
            while self._wait_to_lead():
                self._lead()
        finally:
            with self._spare:
                self._threads -= 1

    def _lead(self) -> None:
        """The loop, for as long as this thread is the leader."""
        me = threading.current_thread()
        self._leader_ident = me.ident or 0
        poll, registered = self.poller.poll, self.poller.data
        try:
            while not self._stopped and self._thread is me:
                timeout = self._next_timeout() if self._timers else self._interval
                ready = poll(timeout)
                # One clock reading per wake-up, for its reads and the sweep: a synchronous
                # client's call is one wake-up, and each reading is a builtin call.
                now = time.monotonic()
                alone = len(ready) == 1  # a lone call may be served as its read ends
                for fd, events in ready:
                    try:  # a subscript, not `dict.get`: no builtin call per event
                        data = registered[fd]
                    except KeyError:  # unregistered by an earlier event
                        data = None
                    if events == READ and type(data) is Transport:
                        if not data.closed:  # the common event, without `_event`'s dispatch
                            self._read(data, now, alone)
                    else:
                        self._event(fd, data, events, now)
                if self._thread is not me:
                    return  # a spare took over while a lone call ran (`_read`): it leads now
                if self.inline_calls:
                    self._run_inline(me, self.inline_calls.popleft(), time.monotonic())
                    if self._thread is not me:
                        return  # a spare took over while a call ran: it leads now
                if self._soon or self._writers:
                    self._run_soon()
                if self._timers:
                    self._run_timers()
                # `now` is the wake-up's, before its calls ran: a sweep (a timeout) may come
                # that much later, never earlier.
                if now >= self._next_sweep:  # timeouts are checked this often, not per PDU
                    self._next_sweep = now + self._interval
                    self._sweep()
        except Exception:  # never expected; logged so a dead loop is never silent
            log.exception("DCE/RPC reactor failed")
            self._stopped = True
        finally:
            if self._stopped and self._thread is me:
                self._close_all()

    # -- calls on the loop thread (issue 13: no hand-off where COM needs none) ---------------

    def inline_ready(self) -> bool:
        """May a call run on this thread? Only on the loop thread while it frames a read
        (not from a call's thread, nor from a call already inline), and only while a spare
        thread is ready to take the loop over should the call outlast
        `limits.inline_call_bound` (none: one is started, and this call goes elsewhere)."""
        if threading.get_ident() != self._framing:
            return False
        if self._spares == 0:
            self._want_spare()
            return False
        return True

    def run_inline(self, t: Transport, call: InlineCall) -> None:
        """After `inline_ready`: run `call` on this thread once the read is framed; its
        reply goes out in one send with the others of the batch. A batch of one call (a
        synchronous client's) corks nothing: its reply, the only one, is sent as it is
        made, without a second turn of the transport's lock to flush it. The first call's
        transport is corked when a second call joins the batch, before either runs. The
        calls waiting to run are `inline_calls`: a protocol may add work to the last one
        while it is still waiting (orpc/fastserve.py's batches), and then `cork`s its
        transport itself."""
        jobs = self.inline_calls
        if not jobs:  # the batch's first call
            jobs.append(call)
            self._lone = t
            return
        jobs.append(call)
        lone = self._lone
        if lone is not None:
            self._lone = None
            self.cork(lone)
        self.cork(t)

    def cork(self, t: Transport) -> None:
        """Hold `t`'s replies until the batch of inline calls ends (or `flush_corked`)."""
        if not t.corked:
            t.corked = True
            self._corked.append(t)

    def flush_corked(self) -> None:
        """From a long inline call that serves many (orpc/fastserve.py): send what the
        batch has replied so far, as `_run_inline` does every `FLUSH_EVERY` calls, and
        start the inline bound's clock again, if the calling thread still leads."""
        lock = self._spare_lock
        lock.acquire()
        try:
            leader = self._thread
            if leader is not None and leader.ident == threading.get_ident():
                self._busy_since = time.monotonic()
                for t in self._corked:
                    self._watch_writes(t)
        finally:
            lock.release()

    def _run_inline(self, me: threading.Thread | None, first: InlineCall, since: float) -> None:
        """Run the read's calls, `first` (taken from `inline_calls`, or a `lone` call)
        and those in `inline_calls`, one by one, each bound by `_busy_since` (the spare's
        clock, from `since` for the first), then send their replies. The batch starts
        without the spare's lock: no takeover can happen while `_busy_since` is None, which
        it is between batches, and only this thread sets it. It ends without the lock too:
        the leader takes its claim back (`_claims`), which a takeover takes first if there
        is one. Between two calls, one turn of the lock starts the next call, as a takeover
        drains `jobs` and changes the leader under it. (A call may serve several requests,
        an `InlineBatch`, which refreshes the clock itself every `FLUSH_EVERY` requests,
        `flush_corked`.)"""
        jobs, lock = self.inline_calls, self._spare_lock
        self._in_calls = me
        job: InlineCall | None = first
        self._running = job
        self._claims[me] = True  # before `_busy_since`: the spare takes it to take over
        self._last_batch = self._busy_since = since
        # Read after `_busy_since` is set: a spare that parks sets `_parked` before it
        # reads `_busy_since` again (`_wait_to_lead`), so one of the two sees the other.
        if self._parked:  # the spare wakes from its park to watch the batch
            lock.acquire()
            try:
                self._spare.notify()
            finally:
                lock.release()
        ran = 0  # calls run since the last flush
        while job is not None:
            ran += 1
            try:
                job.run()
            except Exception:  # a bug of ours must cost one call, never the loop
                log.exception("DCE/RPC: a call run on the reactor thread failed")
            if not jobs:  # the batch's end (or a takeover drained them: the claim says)
                # Without the lock: the claim is this thread's own key, which only this
                # thread and a takeover of this batch take (one `dict.pop` each).
                if self._claims.pop(me, None) is None:
                    return  # taken over: the new leader sends the replies
                self._busy_since = None
                self._in_calls = None
                self._running = None
                break
            # The lock with acquire/try/finally, not `with`, which in CPython 3.11 looks
            # up `__enter__` and `__exit__` and makes a bound method of each: about 1,000
            # instructions more per turn, 1 % of a lean call.
            lock.acquire()
            try:
                job = None  # None: taken over
                if self._thread is not me:
                    return  # taken over: the new leader sends the replies
                # Still leading, so not taken over since `jobs` was found not empty: only
                # a takeover takes jobs away, and only this thread adds them (framing).
                if ran >= FLUSH_EVERY:  # send what the batch has replied so far, keep
                    ran = 0  # the rest corked
                    for t in self._corked:
                        self._watch_writes(t)
                job = self._running = jobs.popleft()
                self._busy_since = time.monotonic()
            finally:
                lock.release()
        if self._corked:
            self._uncork()
        else:  # a lone call's batch (a synchronous client's): nothing waits to be sent
            self._lone = None

    def _uncork(self) -> None:
        self._lone = None
        corked, self._corked = self._corked, []
        for t in corked:
            t.corked = False
            self._watch_writes(t)  # one send for every reply the batch queued

    def _want_spare(self) -> None:
        """Start the spare thread if there is none (and the thread cap allows one)."""
        lim = self.limits
        if lim.inline_call_bound <= 0 or self._stopped:
            return
        with self._spare:
            if self._spares or self._starting or self._threads >= lim.max_call_threads:
                return
            self._starting = True
        try:
            spare = threading.Thread(target=self._run, args=(False,), daemon=True)
            spare.name = "rpc-reactor"
            spare.start()
        except RuntimeError:  # no thread to spare: calls keep going to their apartments
            with self._spare:
                self._starting = False

    def _wait_to_lead(self) -> bool:
        """Be the spare: True once this thread has taken the loop over from a call that
        ran too long; False when it should leave (stopped, or a spare exists already)."""
        me = threading.current_thread()
        bound = self.limits.inline_call_bound
        with self._spare:
            if self._spares:
                return False
            self._spares += 1
            try:
                while not self._stopped:
                    since = self._busy_since
                    if since is None:  # between batches: park once the reactor is idle
                        if time.monotonic() - self._last_batch <= _PARK_AFTER:
                            self._spare.wait(bound)
                            continue
                        # A batch starts without this lock (`_run_inline`): it sets
                        # `_busy_since`, then reads `_parked`. So `_parked` is set before
                        # `_busy_since` is read again: either the batch sees it and
                        # notifies, or this thread sees the batch and does not park.
                        self._parked = True
                        if self._busy_since is None:
                            self._spare.wait()
                        self._parked = False
                        continue
                    left = since + bound - time.monotonic()
                    if left <= 0:
                        if self._claims.pop(self._thread, None) is None:
                            # The batch is ending: its leader took its claim back
                            # (`_run_inline`) and clears `_busy_since` next. Not a busy
                            # loop while it gets there: a slow batch after it is seen
                            # within one more bound.
                            self._spare.wait(bound)
                            continue
                        jobs = self._take_over_locked(me)
                        running = self._running
                        if not hasattr(running, "post_rest"):
                            running = None
                        break
                    self._spare.wait(left)
                else:
                    return False
            finally:
                self._spares -= 1
        for job in jobs:  # the slow call's batch-mates go to their apartments
            job.post()
        if running is not None:  # and those it would have served itself
            running.post_rest()
        self._uncork()
        self._want_spare()
        return True

    def _take_over_locked(self, me: threading.Thread) -> list[InlineCall]:
        log.debug("DCE/RPC: a call held the reactor thread; another thread reads now")
        self.takeovers += 1
        self._thread = me
        self._busy_since = None
        self._in_calls = None  # the old leader still runs a call, but leads no more
        jobs = []
        while True:
            try:
                jobs.append(self.inline_calls.popleft())
            except IndexError:
                return jobs

    def _event(self, fd: int, data: Any, events: int, now: float) -> None:
        if data is _WAKE:
            with contextlib.suppress(OSError):
                while self._wake_r.recv(4096):
                    pass
        elif isinstance(data, Transport):
            if writable(events) and data.watching_writes:
                self._watch_writes(data)  # flushes; stops watching once all is sent
            if readable(events) and not data.closed:
                self._read(data, now, False)
        elif data == _LISTENER:
            self._accept(self.poller.files[fd])

    def _next_timeout(self) -> float:
        timeout = self._interval
        if self._timers:
            timeout = min(timeout, max(0.0, self._timers[0][0] - time.monotonic()))
        return timeout

    def _sweep_interval(self) -> float:
        lim = self.limits
        candidates = [1.0, lim.idle_timeout / 4, lim.incomplete_call_timeout / 4]
        if lim.connection.recv_timeout is not None:
            candidates.append(lim.connection.recv_timeout / 4)
        return max(0.01, min(candidates))

    def _run_soon(self) -> None:
        with self._lock:
            soon, self._soon = self._soon, []
            writers, self._writers = self._writers, set()
        for fn in soon:
            fn()
        for t in writers:
            self._watch_writes(t)

    def _watch_writes(self, t: Transport) -> None:
        """Send what waits, and watch for writability only while something still does."""
        if t.closed:
            return
        want = t.flush()
        if t.closed:
            return
        if want != t.watching_writes:
            self.poller.modify(t.sock, READ | WRITE if want else READ)
            t.watching_writes = want

    def _timer(self, delay: float, fn: Callable[[], None]) -> None:
        self._timer_ids += 1
        heapq.heappush(self._timers, (time.monotonic() + delay, self._timer_ids, fn))

    def _run_timers(self) -> None:
        now = time.monotonic()
        while self._timers and self._timers[0][0] <= now:
            _, _, fn = heapq.heappop(self._timers)
            fn()

    # -- accepting --------------------------------------------------------------------------

    def _register_listener(self, lsock: socket.socket) -> None:
        if lsock.fileno() >= 0 and not self._stopped:
            with contextlib.suppress(KeyError, ValueError):
                self.poller.register(lsock, READ, _LISTENER)

    def _accept(self, lsock: socket.socket) -> None:
        for _ in range(64):  # a burst, then let the other sockets have their turn
            try:
                sock, addr = lsock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in _RESOURCE_ERRORS:
                    self._pause_listener(lsock, exc)
                return  # ECONNABORTED and the like: the next wake-up tries again
            self._backoff.pop(lsock.fileno(), None)
            self._admit(lsock, sock, addr)

    def _pause_listener(self, lsock: socket.socket, exc: OSError) -> None:
        """Out of descriptors or memory: stop watching the listener for a while (else the
        selector reports it ready forever), then try again with a longer pause each time."""
        self.accept_failures += 1
        lim = self.limits
        delay = self._backoff.get(lsock.fileno(), lim.accept_backoff / 2) * 2
        delay = min(max(delay, lim.accept_backoff), lim.accept_backoff_max)
        self._backoff[lsock.fileno()] = delay
        log.warning("DCE/RPC accept failed (%s): retrying in %.2f s", exc, delay)
        with contextlib.suppress(KeyError, ValueError):
            self.poller.unregister(lsock)
        self._timer(delay, lambda: self._register_listener(lsock))

    def _admit(self, lsock: socket.socket, sock: socket.socket, addr: Any) -> None:
        lim = self.limits
        if sock.family == socket.AF_UNIX:
            uid = _peer_uid(sock)
            if uid is None or not lim.uid_allowed(uid):
                log.warning("DCE/RPC: refused a Unix-socket client with uid %s", uid)
                self.refused += 1
                sock.close()
                return
            peer: Any = ("uid", uid)
        else:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            peer = addr[0] if isinstance(addr, tuple) else addr
        if (
            len(self.transports) >= lim.max_connections
            or self.per_peer.get(peer, 0) >= lim.max_connections_per_peer
        ):
            self._refuse(sock, peer)
            return
        sock.setblocking(False)
        t = Transport(self, sock, peer)
        try:
            t.protocol = self.make_protocol(t)
            self.poller.register(sock, READ, t)
        except Exception:
            log.exception("DCE/RPC: could not take a connection")
            sock.close()
            return
        self.transports[t.fileno] = t
        self.per_peer[peer] = self.per_peer.get(peer, 0) + 1

    def _refuse(self, sock: socket.socket, peer: Any) -> None:
        self.refused += 1
        log.warning("DCE/RPC: connection cap reached, refused a connection from %s", peer)
        with contextlib.suppress(OSError):
            sock.setblocking(False)
            sock.send(P.encode(P.BindNak(0, P.NAK_TEMPORARY_CONGESTION)))
            sock.shutdown(socket.SHUT_WR)
        sock.close()

    # -- reading ----------------------------------------------------------------------------

    def _read(self, t: Transport, now: float, alone: bool) -> None:
        """Read what `t` has (its poller said so at `now`, the wake-up's clock, `alone`: its
        only event) and frame it; then serve the `lone` call framing left, if any: the read
        was the wake-up's only one, so that is when the loop would have run it (after the
        read's framing, before anything else), with the wake-up's clock as its start."""
        buf: bytes | bytearray = self._rbuf
        try:
            end = t.sock.recv_into(buf)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            end = 0
        if not end:
            self.drop(t)
            return
        t.last_activity = now
        if t.closing:
            return  # a connection being closed reads nothing more
        if t.inbuf:  # more of a PDU: framed with what the last reads left once it is whole
            t.inbuf += memoryview(buf)[:end]
            assert t.protocol is not None
            if _unfinished(t.inbuf, t.protocol.max_recv):
                return  # its clock (`pdu_started`) runs from its first byte, not this read
            buf = bytes(t.inbuf)
            end = len(buf)
            t.inbuf.clear()
        else:
            t.pdu_started = now
        self._framing = self._leader_ident  # calls may be run inline (`inline_ready`)
        # No takeover while framing (`_busy_since` is None), so a spare ready now stays
        # ready until the read is framed.
        ready = self._spares > 0
        self.framing_ready = ready
        # Traced: every PDU is framed as the only one (`_frame`), so none is the read's last.
        self.lone_ready = ready and alone and not trace.on
        try:
            self._frame(t, buf, end)
        finally:
            self._framing = 0
            self.framing_ready = self.lone_ready = False
        lone = self.lone
        if lone is not None:
            self.lone = None
            self._run_inline(self._thread, lone, now)  # this thread: it leads

    def _frame(self, t: Transport, buf: bytes | bytearray, end: int) -> None:
        """Hand every complete PDU of `buf[:end]` (what the connection read and did not
        frame yet) to the protocol: a whole one-fragment request to its lean path first
        (`fast_request`, which reads it in `buf` and may take a run of like requests after
        it at once), anything else decoded. What is left (a PDU's start) waits in
        `t.inbuf`. `buf` may be the reactor's read buffer, which the next read overwrites:
        a PDU to decode is a slice of it (a copy, which `P.decode` turns into `bytes`),
        and the lean path copies out what it keeps."""
        proto = t.protocol
        assert proto is not None
        tracing = trace.on
        pos = 0
        while end - pos >= _HEADER_SIZE and not t.closing:
            if end - pos >= _REQUEST_AT:
                head: tuple[Any, ...] = _PEEK_REQUEST.unpack_from(buf, pos)
            else:  # a short PDU, or the start of one: no context id, opnum or object
                head = _PEEK.unpack_from(buf, pos) + _NO_OBJECT
            # version, minor version, type, flags, data representation, fragment length,
            # auth length, call id (and for a request: context id, opnum, object UUID)
            length = head[5]
            if head[0] == _RPC_VERS and head[1] <= 1 and head[4] == _LE and length >= _HEADER_SIZE:
                ptype = head[2]
                if length > proto.max_recv:
                    reason = f"fragment of {length} > {proto.max_recv}"
                    error = P.ProtocolError(reason, head[7], ptype)
                    self._cannot_frame(t, buf, pos, end, error)
                    return
                if end - pos < length:
                    break
                stop = pos + length
                if tracing:
                    trace.received(t.sock, buf[pos:stop])
                if ptype == _REQUEST and not head[6]:
                    # Traced, one request at a time (each is traced as it is framed); else
                    # the lean path may take a run of like requests up to `end`.
                    taken = proto.fast_request(buf, pos, stop, stop if tracing else end, head)
                    if taken:
                        pos = taken
                        continue
                frame = buf[pos:stop]
                pos = stop
                if not self._deliver(t, P.decode(frame)):
                    return
                continue
            h = P.parse_header(buf[pos : pos + P.HEADER_SIZE])
            if isinstance(h, P.ProtocolError):
                self._cannot_frame(t, buf, pos, end, h)
                return
            if h.frag_length > proto.max_recv:
                reason = f"fragment of {h.frag_length} > {proto.max_recv}"
                error = P.ProtocolError(reason, h.call_id, h.ptype)
                self._cannot_frame(t, buf, pos, end, error)
                return
            if end - pos < h.frag_length:
                break
            frame = buf[pos : pos + h.frag_length]
            pos += h.frag_length
            if tracing:
                trace.received(t.sock, frame)
            if not self._deliver(t, P.decode(frame)):
                return
        if pos < end:
            t.inbuf += memoryview(buf)[pos:end]
            t.pdu_started = time.monotonic()
        else:
            t.pdu_started = None

    def _cannot_frame(
        self, t: Transport, buf: bytes | bytearray, pos: int, end: int, error: P.ProtocolError
    ) -> None:
        """A PDU framing cannot take: its bytes and the rest stay unread, and the protocol
        answers (it closes the connection, which drops them)."""
        t.inbuf += memoryview(buf)[pos:end]
        self._deliver(t, error)

    def _deliver(self, t: Transport, pdu: P.Pdu | P.ProtocolError) -> bool:
        assert t.protocol is not None
        try:
            keep = t.protocol.handle(pdu)
        except Exception:  # a bug of ours must cost one connection, never the server
            log.exception("DCE/RPC connection handler failed")
            keep = False
        if not keep:
            t.inbuf.clear()
            t.close_after_flush()
        return keep

    # -- timeouts ---------------------------------------------------------------------------

    def _sweep(self) -> None:
        now = time.monotonic()
        for t in list(self.transports.values()):
            if t.closed or t.protocol is None:
                continue
            try:
                self._sweep_one(t, t.protocol, now)
            except Exception:  # a bug of ours must cost one connection, never the server
                log.exception("DCE/RPC: checking a connection's timeouts failed")
                self.drop(t)

    def _sweep_one(self, t: Transport, proto: Protocol_, now: float) -> None:
        lim = self.limits
        pdu_timeout = lim.connection.recv_timeout
        if t.closing and now - t.last_activity > max(1.0, pdu_timeout or 1.0):
            self.drop(t)  # the peer does not read the last words: close anyway
            return
        started = t.pdu_started
        if pdu_timeout is not None and started is not None and now - started > pdu_timeout:
            log.info("DCE/RPC peer %s did not finish a PDU in time: closing", t.peer)
            self.drop(t)
            return
        proto.sweep(now)
        if not t.inbuf and not proto.busy() and now - t.last_activity > lim.idle_timeout:
            log.info("DCE/RPC peer %s idle for %.0f s: closing", t.peer, lim.idle_timeout)
            self.drop(t)

    def touch(self, t: Transport) -> None:
        t.last_activity = time.monotonic()

    # -- closing ----------------------------------------------------------------------------

    def drop(self, t: Transport) -> None:
        """Close a connection and tell its protocol (reactor thread or call_soon)."""
        me = threading.current_thread()
        on_loop = self._thread is None or (me is self._thread and self._in_calls is not me)
        if not on_loop and not self._stopped:
            self.call_soon(lambda: self.drop(t))
            return
        with t.out_lock:
            if t.closed:
                return
            t.closed = True
        with contextlib.suppress(KeyError, ValueError):
            self.poller.unregister(t.sock)
        self.transports.pop(t.fileno, None)
        count = self.per_peer.get(t.peer, 0) - 1
        if count > 0:
            self.per_peer[t.peer] = count
        else:
            self.per_peer.pop(t.peer, None)
        with contextlib.suppress(OSError):
            t.sock.shutdown(socket.SHUT_RDWR)
        t.sock.close()
        if t.protocol is not None:
            try:
                t.protocol.on_closed()
            except Exception:
                log.exception("DCE/RPC: error while releasing a closed connection")

    def _close_all(self) -> None:
        for t in list(self.transports.values()):
            self.drop(t)
        for fd, data in list(self.poller.data.items()):
            if data == _LISTENER:
                with contextlib.suppress(KeyError, ValueError):
                    self.poller.unregister(self.poller.files[fd])
        self.poller.close()
        self._wake_r.close()
        self._wake_w.close()


def _unfinished(buf: bytearray, max_recv: int) -> bool:
    """Does `buf` hold less than the PDU it starts with, which framing would wait for?
    (It is not copied for framing until it is whole: a PDU coming a few bytes per read
    must not be copied once per read. Anything framing refuses is framed at once.)"""
    if len(buf) < P.HEADER_SIZE:
        return True
    vers, minor, _ptype, _flags, drep, length, _auth_len, _call_id = _PEEK.unpack_from(buf)
    if not (vers == P.RPC_VERS and minor <= 1 and drep == _LE and length >= P.HEADER_SIZE):
        h = P.parse_header(bytes(buf[: P.HEADER_SIZE]))
        if isinstance(h, P.ProtocolError):
            return False
        length = h.frag_length
    return bool(length <= max_recv and len(buf) < length)


def _peer_uid(sock: socket.socket) -> int | None:
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
    except (OSError, AttributeError):
        return None
    return int(_UCRED.unpack(raw)[1])
