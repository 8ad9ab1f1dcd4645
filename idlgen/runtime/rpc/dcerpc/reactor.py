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
import selectors
import socket
import struct
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from idlgen.runtime.rpc.dcerpc import pdu as P
from idlgen.runtime.rpc.dcerpc import trace
from idlgen.runtime.rpc.dcerpc.limits import ServerLimits

__all__ = ["Protocol_", "Reactor", "Transport"]

log = logging.getLogger(__name__)

_RESOURCE_ERRORS = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}
_UCRED = struct.Struct("3i")  # pid, uid, gid
_READ_CHUNK = 65536


class Protocol_(Protocol):
    """What the reactor drives for each connection (the DCE/RPC server's `_Connection`)."""

    max_recv: int

    def handle(self, pdu: P.Pdu | P.ProtocolError) -> bool: ...

    def on_closed(self) -> None: ...

    def busy(self) -> bool: ...

    def sweep(self, now: float) -> None: ...


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

    def send(self, frames: list[bytes]) -> bool:
        """Queue frames in order (from any thread); False if the connection is gone."""
        limit = self.reactor.limits.max_unsent_per_connection
        with self.out_lock:
            if self.closed:
                return False
            if trace.enabled():
                for frame in frames:
                    trace.sent(self.sock, frame)
            data = b"".join(frames)
            if not self.outbuf:
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
            if len(self.outbuf) + len(data) > limit:
                log.warning("DCE/RPC peer %s leaves replies unread: closing", self.peer)
                self.reactor.call_soon(self.abort)
                return False
            self.outbuf += data
        self.reactor.want_write(self)
        return True

    def flush(self) -> None:
        """On the reactor thread, when the socket is writable."""
        with self.out_lock:
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
        self.selector = selectors.DefaultSelector()
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
        self.selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._stopped = False
        self._thread: threading.Thread | None = None
        self.accept_failures = 0  # accept errors survived (tests, logs)
        self.refused = 0  # connections refused by a cap or the uid check

    # -- from other threads ---------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, daemon=True, name="rpc-reactor")
            self._thread.start()

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
        self._wake()
        if thread is not threading.current_thread():
            thread.join(5.0)

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    # -- the loop -------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._stopped:
                events = self.selector.select(self._next_timeout())
                for key, mask in events:
                    self._event(key, mask)
                self._run_soon()
                self._run_timers()
                self._sweep()
        except Exception:  # never expected; logged so a dead loop is never silent
            log.exception("DCE/RPC reactor failed")
        finally:
            self._close_all()

    def _event(self, key: selectors.SelectorKey, mask: int) -> None:
        data = key.data
        if data is None:
            with contextlib.suppress(OSError):
                while self._wake_r.recv(4096):
                    pass
        elif isinstance(data, Transport):
            if mask & selectors.EVENT_WRITE:
                data.flush()
            if mask & selectors.EVENT_READ and not data.closed:
                self._read(data)
        else:
            self._accept(key.fileobj)  # type: ignore[arg-type]

    def _next_timeout(self) -> float:
        timeout = self._sweep_interval()
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
        if t.closed:
            return
        with t.out_lock:
            want = bool(t.outbuf)
        if want != t.watching_writes:
            events = selectors.EVENT_READ | (selectors.EVENT_WRITE if want else 0)
            self.selector.modify(t.sock, events, t)
            t.watching_writes = want
        if want:
            t.flush()

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
                self.selector.register(lsock, selectors.EVENT_READ, "listener")

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
            self.selector.unregister(lsock)
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
            self.selector.register(sock, selectors.EVENT_READ, t)
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

    def _read(self, t: Transport) -> None:
        try:
            data = t.sock.recv(_READ_CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self.drop(t)
            return
        now = time.monotonic()
        t.last_activity = now
        if t.closing:
            return  # a connection being closed reads nothing more
        if not t.inbuf:
            t.pdu_started = now
        t.inbuf += data
        self._frame(t)

    def _frame(self, t: Transport) -> None:
        """Hand every complete PDU in the buffer to the protocol."""
        proto = t.protocol
        assert proto is not None
        buf = t.inbuf
        while len(buf) >= P.HEADER_SIZE and not t.closing:
            h = P.parse_header(bytes(buf[: P.HEADER_SIZE]))
            if isinstance(h, P.ProtocolError):
                self._deliver(t, h)
                return
            if h.frag_length > proto.max_recv:
                reason = f"fragment of {h.frag_length} > {proto.max_recv}"
                self._deliver(t, P.ProtocolError(reason, h.call_id, h.ptype))
                return
            if len(buf) < h.frag_length:
                break
            frame = bytes(buf[: h.frag_length])
            del buf[: h.frag_length]
            if trace.enabled():
                trace.received(t.sock, frame)
            if not self._deliver(t, P.decode(frame)):
                return
        t.pdu_started = time.monotonic() if buf else None

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
        on_loop = self._thread is None or threading.current_thread() is self._thread
        if not on_loop and not self._stopped:
            self.call_soon(lambda: self.drop(t))
            return
        with t.out_lock:
            if t.closed:
                return
            t.closed = True
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(t.sock)
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
        for key in list(self.selector.get_map().values()):
            if key.data == "listener":
                with contextlib.suppress(KeyError, ValueError):
                    self.selector.unregister(key.fileobj)
        self.selector.close()
        self._wake_r.close()
        self._wake_w.close()


def _peer_uid(sock: socket.socket) -> int | None:
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
    except (OSError, AttributeError):
        return None
    return int(_UCRED.unpack(raw)[1])
