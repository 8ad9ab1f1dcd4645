"""The send side of one connection: frames that queue while a write is in progress go out
together in the next write.

`send` writes on the calling thread unless a write is already in progress, in which case
the writing thread takes the frames along (so 256 calls begun while one write blocks cost
one more system call, not 256). `post` is for callers that need not see their frames leave
before they return (the Begin_ half of a call object): it queues and wakes a writer thread,
which on a busy CPU runs only when the poster blocks, so a burst of Begin_ calls leaves in
one write. A long burst does not wait for the poster to block, though: once `BURST`
frames are queued and nobody writes, the poster writes them itself without blocking
(`MSG_DONTWAIT`; what the socket does not take goes to the writer thread), so the peer
starts on the first requests of a burst while the rest are still being made. Frames are
written in the order they were queued; a failed write reports to `on_error` once and
drops what is queued (the connection is dead).

The writer thread is not the only one that can take posted frames along: while the
connection's reader thread is woken or running and will write what is queued before it
next waits for bytes (`deferred`, kept by client.Association), a post wakes nobody. On one
CPU every thread woken to wait for the interpreter's lock costs a switch each time the
running thread lets go of it; a burst of call objects woke the writer thread for nothing
(its frames left with the poster's own writes) and cost about 7 switches per 256 calls.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable

from idlgen.runtime.rpc.dcerpc import trace

__all__ = ["BURST", "DONTWAIT", "Outbox"]

# Frames a poster lets queue before writing them itself: large enough that a burst costs
# one system call per BURST calls, small enough that the peer is kept busy meanwhile.
BURST = 64
DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0)  # not on Windows: the writer thread writes


class Outbox:
    __slots__ = (
        "_carry",
        "_kicked",
        "_lock",
        "_on_error",
        "_queue",
        "_senders",
        "_thread",
        "_wake",
        "closed",
        "deferred",
        "idle",
        "sock",
        "writing",
    )

    def __init__(
        self,
        sock: socket.socket,
        on_error: Callable[[OSError], None],
        lock: threading.Lock | None = None,
    ) -> None:
        self.sock = sock
        self._on_error = on_error
        # `lock`: the connection's own, shared so that its holder can take the reading and
        # the writing role of an idle connection in one turn (client.Association.call_alone)
        self._lock = lock if lock is not None else threading.Lock()
        self._queue: list[bytes] = []
        self._carry = b""  # what a non-blocking write left unsent: written first, as is
        self._senders = 0  # how many send/post calls the queue holds frames of
        self.writing = False  # a thread is writing (and will write what queues meanwhile)
        self._kicked = False  # the writer thread was woken and has not started yet
        self._wake = threading.Lock()
        self._wake.acquire()
        self._thread: threading.Thread | None = None
        self.closed = False
        # A thread will write what is queued before it next blocks (the connection's reader
        # thread: it sets this while it is woken or running, and clears it in the lock turn
        # in which it writes the queue and goes to wait for bytes, `flush_locked`): a post
        # then wakes no writer.
        self.deferred = False
        # Nobody writes, nothing queues or is left unsent, not closed: a caller may take
        # the writing role (`writing = True`, `idle = False`). Kept up to date under the
        # lock at every change of those four, so that claiming an idle connection's roles
        # in one turn (client.Association.call_alone) reads one attribute.
        self.idle = True

    def send(self, frames: list[bytes], prepare: Callable[[bytes], bytes] | None = None) -> None:
        """Queue and write now, unless another thread's write will take them along.
        `prepare` runs on each frame as it is queued, in wire order (NTLM sequence numbers)."""
        with self._lock:
            self._queue += frames if prepare is None else [prepare(f) for f in frames]
            self._senders += 1
            self.idle = False
            if self.writing:
                return
            self.writing = True
        self._drain()

    def send_one(self, frame: bytes) -> None:
        """`send([frame])`, written straight away when nobody writes and nothing queues
        (a synchronous call's request): a lock turn before the write and one after, and
        nothing else unless frames queued meanwhile."""
        lock = self._lock
        lock.acquire()  # not `with`, which costs two bound methods a turn in CPython 3.11
        try:
            alone = self.idle
            if alone:
                self.writing = True
                self.idle = False
        finally:
            lock.release()
        if alone:
            self.write_alone(frame)
        else:
            self.send([frame])

    def write_alone(self, frame: bytes) -> None:
        """With the writing role, taken under the lock while `idle`: write
        `frame` (b"": nothing), then give the role up, writing first what queued meanwhile."""
        if frame:
            if trace.on:
                trace.sent(self.sock, frame)
            try:
                self.sock.sendall(frame)
            except OSError as e:
                self._fail(e)
                return
        lock = self._lock
        lock.acquire()  # not `with`: see `send_one`
        try:
            alone = not (self._queue or self._carry)
            if alone:
                self.writing = False
                self.idle = not self.closed
        finally:
            lock.release()
        if not alone:
            self._drain()  # what queued meanwhile; gives the writing role up

    def post(self, frames: list[bytes]) -> None:
        """Queue for the writer thread, or write a long burst here without blocking."""
        lock = self._lock
        lock.acquire()  # not `with`: see `send_one`
        try:
            then = self.post_locked(frames)
        finally:
            lock.release()
        if then is not None:
            then()

    def post_locked(self, frames: list[bytes]) -> Callable[[], None] | None:
        """`post`'s queueing, under the lock (the connection's, shared: it posts a call's
        request in the turn that puts the call in flight); returns what to call once the
        lock is released: write a long burst here without blocking, wake the writer
        thread, or nothing (a write in progress, a woken writer thread or the reader thread
        that keeps `deferred` set takes them along)."""
        queue = self._queue
        queue += frames
        self._senders += 1
        self.idle = False
        if self.writing:
            return None
        if len(queue) >= BURST and DONTWAIT and self.sock.gettimeout() is None:
            self.writing = True  # the writer thread, if woken, finds the role taken
            return self._drain_nowait
        if self.deferred or self._kicked or not self._kick_locked():
            return None  # left to the reader thread, or woken already: taken along
        return self._wake.release

    def flush_locked(self) -> Callable[[], None] | None:
        """Under the lock, by a thread about to block reading that kept `deferred` set:
        posts wake the writer from now on, and what they queued meanwhile is written
        (without blocking, the rest by the writer thread) by calling what this returns
        once the lock is released; None: nothing to write, or someone writes it."""
        self.deferred = False
        if self.writing or not (self._queue or self._carry) or self.closed:
            return None
        if DONTWAIT and self.sock.gettimeout() is None:  # (else it could block: the writer's)
            self.writing = True
            return self._drain_nowait
        return self._wake.release if self._kick_locked() else None

    def _kick_locked(self) -> bool:
        """Mark the writer thread woken (started if need be); the caller releases `_wake`."""
        if self._kicked:
            return False
        self._kicked = True
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, daemon=True, name="rpc-writer")
            self._thread.start()
        return True

    def _drain_nowait(self) -> None:
        """With the writing role: write what is queued as far as the socket takes it at
        once; the rest, in front of anything queued meanwhile, goes to the writer thread."""
        while True:
            taken = self._take()
            if taken is None:
                return
            frames, carry, _ = taken
            if trace.on:
                for frame in frames:
                    trace.sent(self.sock, frame)
            data = b"".join(frames)
            if carry:
                data = carry + data
            try:
                sent = self.sock.send(data, DONTWAIT)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError as e:
                self._fail(e)
                return
            if sent < len(data):
                with self._lock:
                    self._carry = data[sent:]  # traced already
                    self.writing = False
                    self.idle = False
                    kick = self._kick_locked()
                if kick:
                    self._wake.release()
                return

    def close(self) -> None:
        with self._lock:
            self.closed = True
            self.idle = False
            self._queue = []
            self._carry = b""
            self._senders = 0
            wake = self._thread is not None and not self._kicked
            self._kicked = True
        if wake:
            self._wake.release()

    def _run(self) -> None:
        while True:
            self._wake.acquire()
            with self._lock:
                self._kicked = False
                if self.closed:
                    return
                if self.writing:
                    continue  # that write takes our frames along
                self.writing = True
                self.idle = False
            self._drain()

    def _drain(self) -> None:
        while True:
            taken = self._take()
            if taken is None:
                return
            frames, carry, together = taken
            try:
                if carry:
                    self.sock.sendall(carry)
                if together:
                    frames = [b"".join(frames)]
                if frames:
                    self._write(frames)
            except OSError as e:
                self._fail(e)
                return

    def _take(self) -> tuple[list[bytes], bytes, bool] | None:
        """With the writing role: what to write next (frames, an unsent carry, whether
        several senders queued them), or None after giving the role up (nothing left)."""
        with self._lock:
            frames, self._queue = self._queue, []
            carry, self._carry = self._carry, b""
            together, self._senders = self._senders > 1, 0
            if not (frames or carry) or self.closed:
                self.writing = False
                self.idle = not self.closed
                return None
        return frames, carry, together

    def _fail(self, error: OSError) -> None:
        """A write failed: the connection is dead, so what is queued is dropped."""
        with self._lock:
            self._queue = []
            self._carry = b""
            self._senders = 0
            self.writing = False
            self.idle = not self.closed
        self._on_error(error)

    def _write(self, frames: list[bytes]) -> None:
        """Frames of several senders went in one write (joined); one sender's fragments
        leave one write each, as they would without batching."""
        if trace.on:
            for frame in frames:
                trace.sent(self.sock, frame)
        for frame in frames:
            self.sock.sendall(frame)
