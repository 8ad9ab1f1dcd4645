"""A batch of calls run on the reactor thread (one read of a burst) sends its replies
`FLUSH_EVERY` calls at a time, not all at its end: the client works on the first replies
while the server runs the rest (issue 13, 256 outstanding calls)."""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from rpc_helpers import WAIT
from waiting import until

from idlgen.runtime.rpc.dcerpc import pdu as P
from idlgen.runtime.rpc.dcerpc import reactor as reactor_module
from idlgen.runtime.rpc.dcerpc.limits import ServerLimits
from idlgen.runtime.rpc.dcerpc.reactor import FLUSH_EVERY, Reactor, Transport, _unfinished
from idlgen.runtime.rpc.dcerpc.wire import read_pdu


class Job:
    """One inline call: replies with its call id; the one numbered `peek_at` first looks
    whether earlier replies have reached the client's socket."""

    def __init__(self, proto: Answering, call_id: int) -> None:
        self.proto = proto
        self.call_id = call_id

    def run(self) -> None:
        proto = self.proto
        proto.threads.append(threading.current_thread().name)
        if self.call_id == proto.peek_at and proto.client is not None:
            proto.replies_waiting.append(bool(select.select([proto.client], [], [], 0)[0]))
            proto.peeked.set()
        if self.call_id == proto.abort_at:
            proto.t.abort()
            proto.closed_at_once.append(proto.t.closed)
        proto.t.send([P.encode(P.Response(self.call_id, 0, b"", 0))])

    def post(self) -> None:
        self.run()


class Answering:
    """A protocol that answers every request, inline when the reactor allows it."""

    max_recv = P.MIN_FRAG

    def __init__(self, t: Transport, shared: dict[str, Answering]) -> None:
        self.t = t
        self.threads: list[str] = []
        self.replies_waiting: list[bool] = []
        self.peek_at = -1
        # Set once the peek is made: the client reads no reply before, or it could take
        # the replies the batch sent early and leave the peek nothing to see.
        self.peeked = threading.Event()
        self.abort_at = -1  # the call that closes its connection
        self.closed_at_once: list[bool] = []
        self.client: socket.socket | None = None
        shared["proto"] = self

    def fast_request(self, buf: bytes, pos: int, stop: int, end: int, head: Any) -> int:
        call_id = head[7]
        job = Job(self, call_id)
        if self.t.reactor.inline_ready():
            self.t.reactor.run_inline(self.t, job)
        else:
            job.run()
        return stop

    def handle(self, pdu: P.Pdu | P.ProtocolError) -> bool:
        return True

    def on_closed(self) -> None:
        pass

    def busy(self) -> bool:
        return False

    def sweep(self, now: float) -> None:
        pass


def _request(call_id: int) -> bytes:
    return P.encode(P.Request(call_id, 0, 0, b"\0" * 8))


@contextlib.contextmanager
def answering() -> Iterator[tuple[Reactor, socket.socket, dict[str, Answering]]]:
    """A reactor whose connections answer every request, and a client connected to it.

    Inline calls are never taken over here (a bound of WAIT): on a loaded machine one
    call of a batch can outlast the default 20 ms, and the spare thread would then run the
    rest, which is the bound's behaviour (tests/dcerpc/test_inline_calls.py), not this one."""
    shared: dict[str, Answering] = {}
    limits = ServerLimits(inline_call_bound=WAIT)
    reactor = Reactor(limits, lambda t: Answering(t, shared))
    lsock = socket.create_server(("127.0.0.1", 0))
    reactor.add_listener(lsock)
    reactor.start()
    client = socket.create_connection(lsock.getsockname(), timeout=WAIT)
    try:
        yield reactor, client, shared
    finally:
        client.close()
        reactor.stop()
        lsock.close()


def test_a_long_batch_of_inline_calls_sends_replies_before_its_end() -> None:
    with answering() as (reactor, client, shared):
        client.sendall(_request(1))  # the first call starts the spare thread
        read_pdu(client, 0xFFFF, WAIT)
        until(lambda: reactor._spares == 1, WAIT)
        proto = shared["proto"]
        n = FLUSH_EVERY * 2 + 3
        proto.threads, proto.client, proto.peek_at = [], client, n + 1
        client.sendall(b"".join(_request(i + 2) for i in range(n)))  # one read, one batch
        assert proto.peeked.wait(WAIT)
        got = [read_pdu(client, 0xFFFF, WAIT) for _ in range(n)]
        assert proto.threads == ["rpc-reactor"] * n  # the batch ran on the reactor thread
        assert proto.replies_waiting == [True]  # its first replies had left by its last call
        assert [p.call_id for p in got if isinstance(p, P.Response)] == list(range(2, n + 2))


def test_pdus_cut_anywhere_across_reads_are_framed_whole_and_in_order() -> None:
    """A read may end inside a header, inside a PDU or between PDUs: each PDU reaches the
    protocol once, whole, in order (the bytes of an unfinished PDU wait in the
    transport's buffer, framed once the PDU is whole)."""
    with answering() as (_reactor, client, _shared):
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        stream = b"".join(_request(i) for i in range(1, 41))
        pos = 0
        for i, size in enumerate([1, 3, 7, 16, 17, 23, 1, 100, 5, 250] * 40):
            client.sendall(stream[pos : pos + size])
            pos += size
            if i % 3 == 0:
                time.sleep(0.002)  # let the server read what came so far
            if pos >= len(stream):
                break
        client.sendall(stream[pos:])
        got = [read_pdu(client, 0xFFFF, WAIT) for _ in range(40)]
        assert [p.call_id for p in got if isinstance(p, P.Response)] == list(range(1, 41))


def test_an_unfinished_pdu_waits_until_whole_unless_framing_refuses_it() -> None:
    """What `_read` asks before copying the transport's buffer for framing: a PDU still
    coming waits; a whole one, or one framing refuses at once (too large, a bad header),
    is framed now."""
    pdu = _request(7)
    assert _unfinished(bytearray(pdu[:5]), P.MIN_FRAG)  # not even a header yet
    assert _unfinished(bytearray(pdu[:-1]), P.MIN_FRAG)
    assert not _unfinished(bytearray(pdu), P.MIN_FRAG)
    assert not _unfinished(bytearray(pdu + pdu[:3]), P.MIN_FRAG)
    assert not _unfinished(bytearray(pdu[:-1]), len(pdu) - 1)  # over max_recv: refused now
    bad = bytearray(pdu[:-1])
    bad[0] = 4  # not DCE/RPC version 5: a protocol error now
    assert not _unfinished(bad, P.MIN_FRAG)


def test_a_connection_closed_by_an_inline_call_closes_once_the_calls_are_done() -> None:
    """A call run on the reactor thread that closes its connection does not close it under
    the feet of the calls of its batch (or of itself): the close waits for the loop, after
    the batch's replies have been sent."""
    with answering() as (reactor, client, shared):
        client.sendall(_request(1))
        read_pdu(client, 0xFFFF, WAIT)
        until(lambda: reactor._spares == 1, WAIT)
        proto = shared["proto"]
        proto.threads, proto.abort_at = [], 3
        client.sendall(b"".join(_request(i) for i in (2, 3, 4)))  # one read, one batch
        got = [read_pdu(client, 0xFFFF, WAIT) for _ in range(3)]
        assert [p.call_id for p in got if isinstance(p, P.Response)] == [2, 3, 4]
        assert proto.threads == ["rpc-reactor"] * 3 and proto.closed_at_once == [False]
        until(lambda: proto.t.closed, WAIT)
        assert client.recv(1) == b""  # then closed


def test_a_spare_about_to_park_as_a_batch_starts_watches_that_batch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A batch starts without the spare's lock: it sets `_busy_since`, then looks whether
    the spare is parked. A spare that found the reactor idle just before must see that
    batch when it parks, or a slow call of it would never be taken over. Here the batch
    starts (an old `_busy_since`, no notify) right when the spare has read the clock."""
    reactor = Reactor(ServerLimits(inline_call_bound=0.01), lambda t: Answering(t, {}))

    class Clock:
        """`time` for the reactor module: the spare's first reading starts the batch."""

        def __init__(self) -> None:
            self.batch_started = False

        def monotonic(self) -> float:
            now = time.monotonic()
            if not self.batch_started and threading.current_thread() is spare:
                self.batch_started = True
                reactor._claims[reactor._thread] = True  # as `_run_inline` starts one
                reactor._busy_since = now - 10.0
            return now

    monkeypatch.setattr(reactor_module, "time", Clock())
    spare = threading.Thread(target=reactor._run, args=(False,), daemon=True)
    spare.start()
    try:
        until(lambda: reactor.takeovers == 1, WAIT)
    finally:
        reactor.stop()
        spare.join(WAIT)


def test_a_frame_sent_as_itself_goes_out_and_is_traced_like_a_list_of_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The lean path's reply comes to `Transport.send` as bytes, not a list of one."""
    seen: list[bytes] = []
    monkeypatch.setattr(reactor_module.trace, "on", True)
    monkeypatch.setattr(reactor_module.trace, "sent", lambda sock, data: seen.append(bytes(data)))
    reactor = Reactor(ServerLimits(), lambda t: Answering(t, {}))
    here, there = socket.socketpair()
    try:
        here.setblocking(False)
        t = Transport(reactor, here, None)
        one, two = _request(1), _request(2)
        assert t.send(one)
        assert t.send([two])
        there.settimeout(WAIT)
        got = b""
        while len(got) < len(one) + len(two):
            got += there.recv(4096)
        assert got == one + two
        assert seen == [one, two]
    finally:
        here.close()
        there.close()
        reactor.stop()


def test_an_event_for_a_socket_an_earlier_event_unregistered_is_skipped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """One wake-up may report a socket that an earlier event of the same wake-up closed
    (and unregistered): the loop skips it and goes on."""
    reactor = Reactor(ServerLimits(), lambda t: Answering(t, {}))
    gone = 10_000  # a descriptor the poller does not know
    wake_ups = iter([[(gone, reactor_module.READ)]])

    def poll(timeout: float | None) -> list[tuple[int, int]]:
        ready = next(wake_ups, None)
        if ready is None:
            reactor._stopped = True
            return []
        return ready

    reactor.poller.poll = poll  # type: ignore[method-assign]
    reactor._thread = threading.current_thread()
    with caplog.at_level("ERROR"):
        reactor._lead()
    assert not [r for r in caplog.records if "reactor failed" in r.getMessage()]


def test_a_spare_leaves_a_batch_whose_leader_took_its_claim_back_and_takes_the_next(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A batch ends without the spare's lock: its leader takes its claim back
    (`Reactor._claims`), then clears `_busy_since`. A spare that finds the batch too old
    in between (the claim gone, the clock still set) must not take the loop over; a
    later batch that is too old, with its claim, it takes over."""
    reactor = Reactor(ServerLimits(inline_call_bound=0.01), lambda t: Answering(t, {}))
    reactor._busy_since = time.monotonic() - 10.0  # ended: no claim
    spare = threading.Thread(target=reactor._run, args=(False,), daemon=True)
    spare.start()
    try:
        until(lambda: reactor._spares == 1, WAIT)
        time.sleep(0.1)  # ten bounds
        assert reactor.takeovers == 0 and reactor._thread is None
        with reactor._spare:
            reactor._claims[reactor._thread] = True  # the next batch, too old
            reactor._busy_since = time.monotonic() - 10.0
        until(lambda: reactor.takeovers == 1, WAIT)
        assert reactor._claims == {}
    finally:
        reactor.stop()
        spare.join(WAIT)


def test_a_leader_whose_batch_was_taken_over_takes_no_claim_of_the_next_leader() -> None:
    """A batch's claim is its leader's own (`Reactor._claims`, by thread): a leader
    that was taken over, ending its last call, finds its claim gone and leaves, and the
    claim of a batch the new leader started meanwhile stays."""
    reactor = Reactor(ServerLimits(), lambda t: Answering(t, {}))
    old, new = threading.Thread(target=lambda: None), threading.Thread(target=lambda: None)

    class Call:
        def run(self) -> None:  # meanwhile: taken over, and the new leader's batch starts
            with reactor._spare:
                reactor._claims.pop(old)
                reactor._thread = new
            reactor._claims[new] = True

        def post(self) -> None:
            raise AssertionError("not posted")

    reactor._thread = old
    reactor._run_inline(old, Call(), time.monotonic())
    assert reactor._claims == {new: True}
    assert reactor._busy_since is not None  # the new leader's to clear, not this one's
    reactor._thread = None  # neither ever ran: nothing to wait for
    reactor.stop()
