"""Apartments: where objects live and which threads may run their methods.

An STA is one thread with a message queue; an MTA is a pool of threads sharing one queue.
Both are a `Port`: requests (frames) are queued and run by the apartment's threads, so a
call into another apartment is always proxy, NDR, channel, stub, object. What an apartment
knows about objects (exports, proxies) lives in its `dispatcher` (see marshal.py); this module
is threads and queues only.

An STA thread that waits for a reply keeps running its queue (`pump_until`): that is what
lets a callback into a waiting STA run instead of deadlocking. Replies to an STA caller are
queued too, so the waiting thread wakes up by taking an item off its own queue.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from queue import Empty, SimpleQueue
from typing import Any, Literal, Protocol, TypeVar

from idlgen.runtime.apartments.channel import (
    CANCEL,
    FAULT,
    HEADER,
    REQUEST,
    RESPONSE,
    Frame,
    Port,
    complete_reply,
    fault_frame,
    parse,
    send,
)
from idlgen.runtime.com.hresult import (
    RPC_E_DISCONNECTED,
    DisconnectedError,
    RpcTimeoutError,
)

__all__ = [
    "Apartment",
    "Dispatcher",
    "current_apartment",
    "find_apartment",
    "is_local_oxid",
    "process_mta",
    "this_thread",
    "unentered",
]

log = logging.getLogger("idlgen.runtime.apartments.apartment")

Kind = Literal["sta", "mta"]
_T = TypeVar("_T")
_Item = tuple[Callable[[Any, Any], None], Any, Any]


def _next_oxid() -> int:
    """OXIDs must differ between processes too (an importer tells "lives here" from
    "elsewhere" by OXID) and be unguessable like IPIDs: 64 random bits, never used here."""
    while True:
        oxid = secrets.randbits(64)
        if oxid and oxid not in _local_oxids:
            _local_oxids.add(oxid)
            return oxid


_local_oxids: set[int] = set()  # every OXID this process gave out (is_local_oxid)


DEFAULT_MAX_WORKERS = 64  # an MTA grows to this many threads while all are busy
DEFAULT_MAX_QUEUED = 256  # then this many requests may wait before it is `saturated`


class _ThreadApartment(threading.local):
    """The calling thread's apartment; None (a class default, so reading it never raises
    and formats an AttributeError) until the thread enters one."""

    apartment: Apartment | None = None


_local = _ThreadApartment()
# `this_thread.apartment or unentered` is, without a Python call, the apartment a thread's
# synchronous calls wait in (how: an STA pumps; how long: its `call_timeout`), which every
# synchronous proxy call asks: the apartment the thread entered, else the process MTA
# while it is open (`unentered`: not per thread, set by `process_mta()`, cleared when that
# MTA shuts down). None only before the process MTA exists or after it shut down, when
# `current_apartment()` (which makes a new one) must answer. Nothing is cached per thread,
# so entering or leaving an apartment and a change of `call_timeout` need no invalidation.
this_thread = _local
unentered: Apartment | None = None
_apartments: dict[int, Apartment] = {}
_registry_lock = threading.Lock()


class Dispatcher(Protocol):
    """What an apartment hands incoming requests to (marshal.ObjectExporter)."""

    def on_request(self, frame: Frame, reply_to: Port) -> None: ...

    def on_queued(self, call_id: int, reply_to: Port | None) -> None: ...

    def on_cancel(self, frame: Frame, reply_to: Port | None) -> None: ...

    def close(self) -> None: ...


def _stop(a: Any, b: Any) -> None:
    """Queue marker: the thread that takes it leaves its loop."""


def _wake(a: Any, b: Any) -> None:
    """Queue marker: wakes an STA blocked in pump_until so it re-checks its condition."""


class _Box:
    """The result of `Apartment.run`, with a lock for MTA waiters or a queue wake for STAs."""

    __slots__ = ("done", "error", "lock", "value", "waker")

    def __init__(self, waker: Apartment | None) -> None:
        self.done = False
        self.value: Any = None
        self.error: BaseException | None = None
        self.waker = waker
        self.lock = threading.Lock()
        self.lock.acquire()

    def settle(self) -> None:
        self.done = True
        self.lock.release()
        if self.waker is not None:
            self.waker._queue.put((_wake, None, None))


class Apartment:
    """An STA (`Apartment.sta()`, `Apartment.enter_sta()`) or an MTA (`Apartment.mta()`)."""

    def __init__(self, kind: Kind, name: str = "") -> None:
        self.kind: Kind = kind
        self.oxid = _next_oxid()
        self.name = name or f"{kind}-{self.oxid:x}"
        self.call_timeout: float | None = None  # bound on synchronous calls made from here
        self.dispatcher: Dispatcher | None = None
        self.imports: Any = None  # the proxy table, owned by marshal.py
        self._queue: SimpleQueue[_Item] = SimpleQueue()
        self._lock = threading.Lock()
        # Shut down (set once, under `_lock`): a plain attribute, as servers check it per call.
        self.closed = False
        self._threads: list[threading.Thread] = []
        self._stop_seen = False
        self.max_workers = DEFAULT_MAX_WORKERS  # MTA: the pool grows up to this
        self.max_queued = DEFAULT_MAX_QUEUED  # MTA: requests waiting at that size
        self._busy = 0  # MTA threads running an item (and other threads in `enter`)
        self._reserved = 0  # calls another thread will serve (`reserve`): queued, in effect
        with _registry_lock:
            _apartments[self.oxid] = self

    def __repr__(self) -> str:
        return f"<Apartment {self.name} {self.kind} oxid=0x{self.oxid:x}>"

    # -- creation ------------------------------------------------------------------------

    @classmethod
    def sta(cls, name: str = "") -> Apartment:
        """Start a thread that is an STA and runs its queue until `shutdown()`."""
        apt = cls("sta", name)
        started = threading.Event()
        thread = threading.Thread(target=apt._sta_main, args=(started,), name=apt.name)
        thread.daemon = True
        apt._threads.append(thread)
        thread.start()
        started.wait()
        return apt

    @classmethod
    @contextlib.contextmanager
    def enter_sta(cls, name: str = "") -> Iterator[Apartment]:
        """Make the calling thread an STA for the block; it runs its queue while it waits
        for outgoing calls or in `pump_until`, and shuts the apartment down on exit."""
        if _local.apartment is not None:
            raise RuntimeError("this thread is already in an apartment")
        apt = cls("sta", name)
        apt._threads.append(threading.current_thread())
        _local.apartment = apt
        try:
            yield apt
        finally:
            apt._close()
            apt._drain()
            _local.apartment = None
            apt._release_objects()

    @classmethod
    def mta(cls, workers: int = 4, name: str = "", max_workers: int | None = None) -> Apartment:
        """A multithreaded apartment whose `workers` threads share one queue. When every
        thread is busy and more requests wait, it grows, up to `max_workers` threads: slow
        calls cannot keep every other caller waiting (see `saturated`)."""
        apt = cls("mta", name)
        apt.max_workers = max(max_workers or DEFAULT_MAX_WORKERS, workers, 1)
        for _ in range(max(1, workers)):
            apt._add_worker()
        return apt

    def _add_worker(self) -> bool:
        index = len(self._threads)
        thread = threading.Thread(target=self._mta_main, name=f"{self.name}-{index}")
        thread.daemon = True
        try:
            thread.start()
        except RuntimeError:  # can't start new thread: serve with the threads there are
            log.warning("%s: cannot start another worker thread", self)
            return False
        self._threads.append(thread)
        return True

    def _grow_locked(self) -> None:
        """MTA, under `_lock`, an item just queued: add a thread if none is free for it."""
        threads = len(self._threads)
        if 0 < threads < self.max_workers and self._busy + self._queue.qsize() > threads:
            self._add_worker()

    @property
    def saturated(self) -> bool:
        """An MTA at `max_workers` threads, all taken, with `max_queued` more requests
        waiting: a new request would wait without bound (servers answer
        RPC_S_SERVER_TOO_BUSY instead)."""
        return self.kind == "mta" and len(self._threads) >= self.max_workers and self._room() <= 0

    def _room(self) -> int:
        """At `max_workers` threads: how many more requests may wait (queued or reserved)
        before `max_queued` more than the threads wait?"""
        return (
            len(self._threads)
            + self.max_queued
            - (self._busy + self._queue.qsize() + self._reserved)
        )

    def reserve(self, calls: int = 1, entered: bool = False) -> int:
        """Book calls that another thread (a server's reactor thread) will serve here with
        `enter`/`leave`, if this is an MTA with a thread that has nothing to do (so the
        calls keep nobody from a thread) and it is not `saturated` (reservations count as
        queued requests: a long burst of them can reach the limit). Until one is entered
        (or `unreserve`d) it counts as a queued request. Returns how many of `calls` it
        booked: as many as `reserve()` once per call would at this moment, in one lock
        turn (a run of requests read at once). Refused, a call must ask `saturated` (the
        lean path asks only then: one call less per call served here).

        `entered`: the one call booked is entered at once, in the same lock turn (it
        counts as the calling thread busy here from now on, not as a queued request): the
        thread serves it next, `serve_reserved(self, 0, fn)`, or gives it back,
        `unreserve(1, entered=True)`. A lone request's (orpc/fastserve.py)."""
        lock = self._lock
        lock.acquire()  # not `with`: see `enter`
        try:
            threads = len(self._threads)
            if self.kind != "mta" or self.closed or self._busy + self._queue.qsize() >= threads:
                return 0
            if threads >= self.max_workers:
                calls = max(0, min(calls, self._room()))
            if entered:
                self._busy += calls
            else:
                self._reserved += calls
            return calls
        finally:
            lock.release()

    def unreserve(self, calls: int = 1, entered: bool = False) -> None:
        """Reserved calls (`entered`: entered at once) will be queued (or refused) after all."""
        with self._lock:
            if entered:
                self._busy -= calls
            else:
                self._reserved -= calls

    @contextlib.contextmanager
    def join(self) -> Iterator[Apartment]:
        """Let the calling thread act inside this MTA for the block (CoInitializeEx MTA)."""
        if self.kind != "mta":
            raise RuntimeError("only an MTA can be joined by other threads")
        previous = _local.apartment
        _local.apartment = self
        try:
            yield self
        finally:
            _local.apartment = previous

    # -- properties ------------------------------------------------------------------------

    @property
    def is_sta(self) -> bool:
        return self.kind == "sta"

    def is_current(self) -> bool:
        return current_apartment() is self

    # -- the Port side: frames arriving -------------------------------------------------------

    def deliver(self, frame: bytes, reply_to: Port | None) -> None:
        kind = frame[0] if frame else -1
        if kind == REQUEST:
            # Once per request: the lock by acquire/try/finally, not `with` (see `enter`),
            # and `expect` inline.
            lock = self._lock
            lock.acquire()
            try:
                if not self.closed:
                    dispatcher = self.dispatcher
                    if dispatcher is not None and len(frame) >= HEADER.size:
                        dispatcher.on_queued(HEADER.unpack_from(frame)[1], reply_to)
                    self._queue.put((self._on_request, frame, reply_to))
                    if self.kind == "mta":
                        self._grow_locked()
                    return
            finally:
                lock.release()
            self._refuse(frame, reply_to)
        elif kind in (RESPONSE, FAULT):
            if self.kind == "sta":
                # Queued even after shutdown: the thread may be pumping for this reply.
                self._queue.put((complete_reply, frame, None))
            else:
                complete_reply(frame)
        elif kind == CANCEL:
            # Cancels bypass the queue: the thread the call runs on may be busy with it.
            parsed = parse(frame)
            dispatcher = self.dispatcher
            if parsed is not None and dispatcher is not None:
                dispatcher.on_cancel(parsed, reply_to)
        else:
            log.warning("%s: dropped a frame that is not a frame (%d bytes)", self, len(frame))

    def expect(self, call_id: int, reply_to: Port | None) -> None:
        """A request is about to be queued here: from now on its cancel finds it (a cancel
        that arrives before the request is dequeued means it is never run)."""
        dispatcher = self.dispatcher
        if dispatcher is not None:
            dispatcher.on_queued(call_id, reply_to)

    def _refuse(self, frame: bytes, reply_to: Port | None) -> None:
        parsed = parse(frame)
        if parsed is not None and reply_to is not None:
            send(reply_to, fault_frame(parsed.call_id, RPC_E_DISCONNECTED), None)

    def _on_request(self, frame: bytes, reply_to: Port | None) -> None:
        parsed = parse(frame)
        if parsed is None or reply_to is None:
            log.warning("%s: dropped a malformed request (%d bytes)", self, len(frame))
            return
        dispatcher = self.dispatcher
        if dispatcher is None:
            send(reply_to, fault_frame(parsed.call_id, RPC_E_DISCONNECTED), None)
            return
        dispatcher.on_request(parsed, reply_to)

    # -- running the queue -------------------------------------------------------------------

    def _sta_main(self, started: threading.Event) -> None:
        _local.apartment = self
        started.set()
        try:
            while not self._stop_seen:
                self._run_one(self._queue.get())
        finally:
            self._drain()
            self._release_objects()
            _local.apartment = None

    def _mta_main(self) -> None:
        _local.apartment = self
        queue = self._queue
        while True:
            item = queue.get()
            if item[0] is _stop:
                return
            with self._lock:
                self._busy += 1
            try:
                self._run_one(item)
            finally:
                with self._lock:
                    self._busy -= 1

    def _run_one(self, item: _Item) -> None:
        fn, a, b = item
        if fn is _stop:
            self._stop_seen = True
            return
        if self.closed:  # shut down: whatever is still queued is refused, not served
            self._reject(item)
            return
        try:
            fn(a, b)
        except Exception:  # one bad message must not take the apartment down
            log.exception("%s: unhandled error while dispatching", self)

    def pump_until(self, waitable: Any, timeout: float | None = None) -> bool:
        """Run this STA's queue until `waitable.done` is true; False on time-out.

        Only the apartment's own thread may pump. Incoming calls (callbacks) are dispatched
        while waiting, which is COM's STA reentrancy.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        queue = self._queue
        while not waitable.done:
            if deadline is None:
                item = queue.get()
            else:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                try:
                    item = queue.get(timeout=remaining)
                except Empty:
                    return bool(waitable.done)
            self._run_one(item)
        return True

    def pump(self, timeout: float = 0.0) -> int:
        """Run whatever is queued now (waiting up to `timeout` for the first item)."""
        count = 0
        try:
            item = self._queue.get(timeout=timeout) if timeout > 0 else self._queue.get_nowait()
            while True:
                self._run_one(item)
                count += 1
                item = self._queue.get_nowait()
        except Empty:
            return count

    # -- running code inside the apartment -----------------------------------------------

    def run(self, fn: Callable[..., Any], *args: Any, timeout: float | None = None) -> Any:
        """Run `fn(*args)` on the apartment's thread(s) and return its result (or raise).

        From inside the apartment it is a plain call; from an STA the caller keeps pumping.
        """
        caller = current_apartment()
        if caller is self:
            return fn(*args)
        box = _Box(caller if caller.kind == "sta" else None)
        with self._lock:
            if self.closed:
                raise DisconnectedError(message=f"{self} is shut down")
            self._queue.put((_run_task, (fn, args), box))
        if not _wait(caller, box, timeout):
            raise RpcTimeoutError(message=f"{self} did not run the task in time")
        if box.error is not None:
            raise box.error
        return box.value

    def post(self, fn: Callable[..., Any], *args: Any) -> None:
        """Queue `fn(*args)` for the apartment without waiting (fire and forget)."""
        with self._lock:
            if self.closed:
                raise DisconnectedError(message=f"{self} is shut down")
            self._queue.put((_post_task, fn, args))
            if self.kind == "mta":
                self._grow_locked()

    # -- shutdown -------------------------------------------------------------------------

    def shutdown(self, timeout: float | None = 10.0) -> None:
        """Stop the apartment: queued and later calls get RPC_E_DISCONNECTED, exported
        objects are disconnected and released, proxies held here are released."""
        if not self._close():
            return
        me = threading.current_thread()
        if self.kind == "sta":
            thread = self._threads[0] if self._threads else None
            self._queue.put((_stop, None, None))
            if thread is not None and thread is not me and thread.is_alive():
                thread.join(timeout)
            return
        with self._lock:
            threads = list(self._threads)
        for _ in threads:
            self._queue.put((_stop, None, None))
        for thread in threads:
            if thread is not me:
                thread.join(timeout)
        self._drain()
        self._release_objects()

    def _close(self) -> bool:
        with self._lock:
            if self.closed:
                return False
            self.closed = True
        global unentered
        if unentered is self:  # the process MTA: its successor answers
            unentered = None
        with _registry_lock:
            _apartments.pop(self.oxid, None)
        return True

    def _drain(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except Empty:
                return
            self._reject(item)

    def _reject(self, item: _Item) -> None:
        fn, a, b = item
        if fn == self._on_request:
            self._refuse(a, b)
        elif fn is complete_reply:
            complete_reply(a)
        elif fn is _run_task:
            b.error = DisconnectedError(message=f"{self} shut down")
            b.settle()

    def _release_objects(self) -> None:
        dispatcher = self.dispatcher
        if dispatcher is not None:
            try:
                dispatcher.close()
            except Exception:
                log.exception("%s: error while releasing objects at shutdown", self)


def _run_task(call: tuple[Callable[..., Any], tuple[Any, ...]], box: _Box) -> None:
    fn, args = call
    try:
        box.value = fn(*args)
    except BaseException as exc:  # handed to the caller of run()
        box.error = exc
    box.settle()


def _post_task(fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    fn(*args)


def _wait(caller: Apartment, waitable: Any, timeout: float | None) -> bool:
    """Wait for `waitable.done`: pumping when the caller is an STA, blocking otherwise."""
    if caller.kind == "sta":
        return caller.pump_until(waitable, timeout)
    return bool(waitable.lock.acquire(timeout=-1 if timeout is None else timeout))


def wait_for(waitable: Any, timeout: float | None) -> bool:
    """Wait in the current apartment's way for an object with `.done` and `.lock`."""
    return _wait(current_apartment(), waitable, timeout)


def enter(apartment: Apartment) -> Apartment | None:
    """Serve one reserved call of `apartment` (`Apartment.reserve`) on this thread, which
    is not one of its own, until `leave`: the thread acts inside the apartment and counts
    as one of its busy threads meanwhile. Returns the apartment the thread was in.

    A server takes `reserve`, `enter` and `leave` for every call it serves on its own
    thread: their lock is taken with acquire/try/finally, not `with`, which in CPython 3.11
    looks up `__enter__` and `__exit__` and makes a bound method of each (about 1,000
    instructions more per turn, 1 % of such a call)."""
    lock = apartment._lock
    lock.acquire()
    try:
        apartment._reserved -= 1
        apartment._busy += 1
    finally:
        lock.release()
    previous: Apartment | None = _local.apartment
    _local.apartment = apartment
    return previous


def leave(apartment: Apartment, previous: Apartment | None) -> None:
    _local.apartment = previous
    lock = apartment._lock
    lock.acquire()  # not `with`: see `enter`
    try:
        apartment._busy -= 1
    finally:
        lock.release()


def serve_reserved(apartment: Apartment, calls: int, fn: Callable[[], _T]) -> _T:
    """`fn()` serves `calls` reserved calls of `apartment` (`Apartment.reserve`) one
    after the other on this thread, which is not one of its own: `enter` and `leave` in
    one Python call, for them all. The thread counts as one busy thread of the apartment
    meanwhile, however many calls it serves (they wait for it as queued calls wait for
    the apartment's threads). No arguments for `fn` (a bound method): `fn(*args)` is a
    call through C, which costs a lean call about 1 % more than a plain one. `calls` 0:
    the one call `fn` serves was entered when it was reserved (`reserve(entered=True)`),
    one lock turn fewer."""
    lock = apartment._lock
    if calls:
        lock.acquire()  # not `with`: see `enter`
        try:
            apartment._reserved -= calls
            apartment._busy += 1
        finally:
            lock.release()
    # The calling thread's own dict of `_local`, where `_local.apartment = x` stores: one
    # per-thread lookup, then plain dict operations, where reading the attribute and
    # setting it twice are three (about 1 % of a synchronous lean call). No key: the
    # class default, None.
    mine = _local.__dict__
    previous = mine.get("apartment")
    mine["apartment"] = apartment
    try:
        return fn()
    finally:
        mine["apartment"] = previous
        lock.acquire()
        try:
            apartment._busy -= 1
        finally:
            lock.release()


_process_mta: Apartment | None = None
_process_mta_lock = threading.Lock()


def process_mta() -> Apartment:
    """The implicit MTA: threads that never entered an apartment act inside it."""
    global _process_mta, unentered
    if _process_mta is None or _process_mta.closed:
        with _process_mta_lock:
            if _process_mta is None or _process_mta.closed:
                _process_mta = Apartment.mta(min(8, (os.cpu_count() or 1) + 2), "process-mta")
                unentered = _process_mta
    return _process_mta


def current_apartment() -> Apartment:
    """The calling thread's apartment; the process MTA for threads that entered none."""
    return _local.apartment or unentered or process_mta()


def is_local_oxid(oxid: int) -> bool:
    """True if an apartment of this process has (or had) this OXID."""
    return oxid in _local_oxids


def find_apartment(oxid: int) -> Apartment | None:
    """The in-process OXID resolver: the live apartment with this id, if any."""
    return _apartments.get(oxid)
