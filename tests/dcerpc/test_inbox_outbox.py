"""Batched connection I/O (issue 13): every complete PDU a recv brought is handed out at
once, before the next recv, with read_pdu's framing checks; frames queued while a write is
in progress leave together in the next write, in order; one sender's fragments still leave
one by one."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from idlgen.runtime.rpc.dcerpc import pdu as P
from idlgen.runtime.rpc.dcerpc.inbox import Inbox
from idlgen.runtime.rpc.dcerpc.outbox import BURST, Outbox
from idlgen.runtime.rpc.dcerpc.wire import Closed

WAIT = 20.0  # safety net only


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    yield a, b
    a.close()
    b.close()


def response(call_id: int, stub: bytes = b"\0" * 8) -> bytes:
    return P.encode(P.Response(call_id, 0, stub, len(stub)))


class CountingSocket:
    """Wraps a socket and counts recv calls."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.recvs = 0

    def fileno(self) -> int:
        return self.sock.fileno()

    def settimeout(self, t: float | None) -> None:
        self.sock.settimeout(t)

    def setsockopt(self, level: int, option: int, value: bytes) -> None:
        self.sock.setsockopt(level, option, value)

    def recv_into(self, buf: memoryview) -> int:
        self.recvs += 1
        return self.sock.recv_into(buf)


def test_one_recv_gives_every_complete_pdu(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    frames = [response(i, bytes(i * 8)) for i in range(1, 6)]
    a.sendall(b"".join(frames))
    counting = CountingSocket(b)
    inbox = Inbox(counting, P.MIN_FRAG)  # type: ignore[arg-type]
    assert inbox.frames(WAIT, WAIT) == frames
    assert counting.recvs == 1


def test_a_pdu_cut_by_the_read_waits_for_the_next_one(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    a, b = pair
    whole, cut = response(1), response(2, bytes(16))
    a.sendall(whole + cut[:30])
    inbox = Inbox(b, P.MIN_FRAG)
    assert inbox.frames(WAIT, WAIT) == [whole]
    assert inbox.pending()  # the cut PDU's bytes stay buffered
    a.sendall(cut[30:])
    assert inbox.frames(WAIT, WAIT) == [cut]
    assert not inbox.pending()


def test_pdus_before_a_framing_error_are_handed_out_and_the_error_ends_the_list(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    a, b = pair
    bad = bytearray(response(3))
    bad[0] = 4
    a.sendall(response(1) + response(2) + bytes(bad) + response(4))
    got = Inbox(b, P.MIN_FRAG).frames(WAIT, WAIT)
    assert got[:2] == [response(1), response(2)]
    assert len(got) == 3 and isinstance(got[2], P.ProtocolError)


def test_a_pdu_split_across_recvs_is_put_together(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    a, b = pair
    frame = response(7, bytes(64))
    inbox = Inbox(b, P.MIN_FRAG)
    a.sendall(frame[:10])
    got: list[bytes | P.ProtocolError] = []
    reader = threading.Thread(target=lambda: got.extend(inbox.frames(WAIT, WAIT)))
    reader.start()
    a.sendall(frame[10:])
    reader.join(WAIT)
    assert got == [frame]


def test_framing_errors_are_protocol_errors(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    too_big = bytearray(response(1, bytes(P.MIN_FRAG)))
    a.sendall(bytes(too_big))
    [got] = Inbox(b, P.MIN_FRAG).frames(WAIT, WAIT)
    assert isinstance(got, P.ProtocolError) and "fragment of" in got.reason


def test_bad_version_is_a_protocol_error(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    frame = bytearray(response(1))
    frame[0] = 4
    a.sendall(bytes(frame))
    [got] = Inbox(b, P.MIN_FRAG).frames(WAIT, WAIT)
    assert isinstance(got, P.ProtocolError)


def test_a_stream_ending_mid_pdu_is_closed(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    a.sendall(response(1)[:20])
    a.shutdown(socket.SHUT_WR)
    with pytest.raises(Closed, match="truncated"):
        Inbox(b, P.MIN_FRAG).frames(WAIT, WAIT)


class LimitCountingSocket(CountingSocket):
    """Counts how often the receive timeout is set."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(sock)
        self.limits_set = 0

    def setsockopt(self, level: int, option: int, value: bytes) -> None:
        self.limits_set += 1
        super().setsockopt(level, option, value)


def timed_out(inbox: Inbox) -> Inbox:
    """The inbox after a 10 ms wait for nothing ran out (that receive timeout stays set)."""
    with pytest.raises(TimeoutError):
        inbox.frames(0.01, WAIT)
    return inbox


def test_a_wait_that_runs_out_is_a_timeout_and_later_frames_still_arrive(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    a, b = pair
    inbox = timed_out(Inbox(b, P.MIN_FRAG))
    with pytest.raises(TimeoutError):
        inbox.frames(0.0, WAIT)  # nothing there: no wait at all
    a.sendall(response(3))
    assert inbox.frames(None, None) == [response(3)]  # waiting forever clears the limit
    a.sendall(response(4))
    assert inbox.frames(0.0, WAIT) == [response(4)]  # bytes there: a zero wait takes them


def test_a_longer_wait_is_not_cut_short_by_an_earlier_shorter_one(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    a, b = pair
    inbox = timed_out(Inbox(b, P.MIN_FRAG))
    later = threading.Timer(0.2, lambda: a.sendall(response(5)))
    later.start()
    try:
        assert inbox.frames(WAIT, WAIT) == [response(5)]
    finally:
        later.cancel()


def test_calls_with_one_timeout_set_the_receive_timeout_once(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    """The steady state of synchronous calls costs no system call for the timeout."""
    a, b = pair
    counting = LimitCountingSocket(b)
    inbox = Inbox(counting, P.MIN_FRAG)  # type: ignore[arg-type]
    for i in range(1, 20):
        a.sendall(response(i))
        assert inbox.frames(WAIT - i * 1e-5, WAIT) == [response(i)]
    assert counting.limits_set == 1
    assert counting.recvs == 19


def test_a_receive_timeout_fits_only_the_wait_it_bounds(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    """`fits`: the wait a bare recv_into waits out as `receive` would. A shorter limit kept
    in place (bytes were there at once) does not fit a longer wait; a timeout set by
    someone else fits none."""
    a, b = pair
    inbox = timed_out(Inbox(b, P.MIN_FRAG))
    assert inbox.fits == 0.01
    with pytest.raises(BlockingIOError):  # a bare recv waits out the same 10 ms
        b.recv_into(inbox.chunk)
    a.sendall(response(6))
    assert inbox.frames(WAIT, WAIT) == [response(6)]  # the 10 ms limit stays in place
    assert inbox.fits != WAIT and inbox.fits == 0.01
    a.sendall(response(7))
    assert inbox.frames(None, None) == [response(7)]
    assert inbox.fits is None  # waiting forever: a bare recv blocks as long
    inbox.forget_timeout()
    assert inbox.fits != inbox.fits and inbox.fits is not None  # NaN: fits no wait


class GatedSocket:
    """A socket whose first sendall blocks until the test opens the gate."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.entered = threading.Event()
        self.gate = threading.Event()

    def sendall(self, data: bytes) -> None:
        if not self.writes and not self.entered.is_set():
            self.entered.set()
            assert self.gate.wait(WAIT)
        self.writes.append(bytes(data))


def test_frames_queued_during_a_write_leave_in_one_write() -> None:
    sock = GatedSocket()
    outbox = Outbox(sock, lambda e: None)  # type: ignore[arg-type]
    first = threading.Thread(target=outbox.send, args=([b"A"],))
    first.start()
    assert sock.entered.wait(WAIT)
    outbox.send([b"B"])  # a write is in progress: queued, returns at once
    outbox.post([b"C"])
    outbox.send([b"D1", b"D2"])
    sock.gate.set()
    first.join(WAIT)
    assert sock.writes == [b"A", b"BCD1D2"]


def test_one_senders_fragments_leave_one_write_each() -> None:
    sock = GatedSocket()
    sock.entered.set()  # no gate
    Outbox(sock, lambda e: None).send([b"F1", b"F2", b"F3"])  # type: ignore[arg-type]
    assert sock.writes == [b"F1", b"F2", b"F3"]


def test_posted_frames_are_written_by_the_writer_thread() -> None:
    a, b = socket.socketpair()
    try:
        outbox = Outbox(a, lambda e: None)
        outbox.post([b"one", b"two"])
        b.settimeout(WAIT)
        got = b""
        while len(got) < 6:
            got += b.recv(16)
        assert got == b"onetwo"
        outbox.close()
    finally:
        a.close()
        b.close()


def test_a_lone_frame_is_written_at_once_or_queued_behind_a_write() -> None:
    """send_one (a synchronous call's request) keeps send's order and batching."""
    sock = GatedSocket()
    outbox = Outbox(sock, lambda e: None)  # type: ignore[arg-type]
    first = threading.Thread(target=outbox.send_one, args=(b"A",))
    first.start()
    assert sock.entered.wait(WAIT)
    outbox.send_one(b"B")  # a write is in progress: queued, returns at once
    outbox.send([b"C"])
    sock.gate.set()
    first.join(WAIT)
    outbox.send_one(b"D")
    assert sock.writes == [b"A", b"BC", b"D"]


@pytest.mark.parametrize("one", [False, True], ids=["send", "send_one"])
def test_a_failed_write_reports_once_and_drops_the_queue(one: bool) -> None:
    errors: list[OSError] = []

    class Broken:
        def sendall(self, data: bytes) -> None:
            raise BrokenPipeError("gone")

    outbox = Outbox(Broken(), errors.append)  # type: ignore[arg-type]
    if one:
        outbox.send_one(b"x")
    else:
        outbox.send([b"x"])
    assert len(errors) == 1 and isinstance(errors[0], BrokenPipeError)
    outbox.send_one(b"y")  # the writing role was given up: a next write is tried
    assert len(errors) == 2


class RecordingSocket:
    """A blocking socket stand-in: records who wrote what; `send` takes at most `room`."""

    def __init__(self, room: int = 1 << 30) -> None:
        self.room = room
        self.writes: list[tuple[str, bytes]] = []

    def gettimeout(self) -> float | None:
        return None

    def send(self, data: bytes, flags: int = 0) -> int:
        taken = bytes(data[: self.room])
        self.room -= len(taken)
        self.writes.append((threading.current_thread().name, taken))
        return len(taken)

    def sendall(self, data: bytes) -> None:
        self.writes.append((threading.current_thread().name, bytes(data)))


needs_dontwait = pytest.mark.skipif(
    not hasattr(socket, "MSG_DONTWAIT"), reason="the writer thread writes every post"
)


@needs_dontwait
def test_a_long_burst_of_posts_is_written_by_the_poster() -> None:
    sock = RecordingSocket()
    outbox = Outbox(sock, lambda e: None)  # type: ignore[arg-type]
    me = threading.current_thread().name
    frames = [b"%03d" % i for i in range(BURST * 2)]
    outbox.post(frames[:BURST])  # no writer thread is woken before the poster writes
    outbox.post(frames[BURST:])
    wrote = [w for w in sock.writes if w[0] == me]
    assert b"".join(data for _, data in wrote) == b"".join(frames)
    assert len(wrote) == 2  # one write per BURST frames
    outbox.close()


@needs_dontwait
def test_what_the_socket_does_not_take_goes_first_through_the_writer_thread() -> None:
    sock = RecordingSocket(room=10)
    outbox = Outbox(sock, lambda e: None)  # type: ignore[arg-type]
    frames = [b"%03d" % i for i in range(BURST + 5)]
    outbox.post(frames[:BURST])
    outbox.post(frames[BURST:])
    deadline = threading.Event()
    for _ in range(2000):
        if b"".join(data for _, data in sock.writes) == b"".join(frames):
            break
        deadline.wait(0.01)
    assert b"".join(data for _, data in sock.writes) == b"".join(frames)
    assert sock.writes[0] == (threading.current_thread().name, b"".join(frames)[:10])
    assert all(who == "rpc-writer" for who, _ in sock.writes[1:])
    outbox.close()


@needs_dontwait
def test_posting_never_blocks_on_a_full_socket_and_keeps_the_order() -> None:
    a, b = socket.socketpair()
    try:
        outbox = Outbox(a, lambda e: None)
        frames = [b"%06d" % i + bytes(1018) for i in range(4000)]  # 4 MB: more than buffers
        poster = threading.Thread(target=lambda: [outbox.post([f]) for f in frames])
        poster.start()
        poster.join(WAIT)
        assert not poster.is_alive()  # nobody reads b yet: the poster did not wait for it
        want = b"".join(frames)
        got = bytearray()
        b.settimeout(WAIT)
        while len(got) < len(want):
            got += b.recv(1 << 16)
        assert bytes(got) == want
        outbox.close()
    finally:
        a.close()
        b.close()


def still_idle_is_not_busy(outbox: Outbox) -> bool:
    """`idle` says what the outbox's state says: nobody writes, nothing queued or left
    unsent, not closed (a caller claiming the writing role reads only `idle`)."""
    busy = outbox.writing or bool(outbox._queue) or bool(outbox._carry) or outbox.closed
    return outbox.idle is not busy


def test_the_idle_flag_follows_a_write_and_what_queues_behind_it() -> None:
    sock = GatedSocket()
    outbox = Outbox(sock, lambda e: None)  # type: ignore[arg-type]
    assert outbox.idle and still_idle_is_not_busy(outbox)
    first = threading.Thread(target=outbox.send_one, args=(b"A",))
    first.start()
    assert sock.entered.wait(WAIT)
    assert not outbox.idle and still_idle_is_not_busy(outbox)
    outbox.send([b"B"])
    assert not outbox.idle and still_idle_is_not_busy(outbox)
    sock.gate.set()
    first.join(WAIT)
    assert outbox.idle and still_idle_is_not_busy(outbox)
    outbox.close()
    assert not outbox.idle and still_idle_is_not_busy(outbox)


@needs_dontwait
def test_the_idle_flag_follows_an_unsent_carry_and_the_writer_thread() -> None:
    sock = RecordingSocket(room=10)
    outbox = Outbox(sock, lambda e: None)  # type: ignore[arg-type]
    frames = [b"%03d" % i for i in range(BURST)]
    outbox.post(frames)  # the poster writes 10 bytes; the rest is the writer thread's
    assert still_idle_is_not_busy(outbox)
    sock.room = 1 << 30
    pause = threading.Event()
    for _ in range(2000):
        if b"".join(data for _, data in sock.writes) == b"".join(frames) and outbox.idle:
            break
        pause.wait(0.01)
    assert outbox.idle and still_idle_is_not_busy(outbox)
    outbox.close()


def test_the_idle_flag_is_set_again_after_a_failed_write() -> None:
    class Broken:
        def sendall(self, data: bytes) -> None:
            raise BrokenPipeError("gone")

    outbox = Outbox(Broken(), lambda e: None)  # type: ignore[arg-type]
    outbox.send([b"x"])
    assert outbox.idle and still_idle_is_not_busy(outbox)  # as before: a next write is tried
    outbox.send_one(b"y")
    assert outbox.idle and still_idle_is_not_busy(outbox)


def test_readable_says_so_while_bytes_are_buffered_and_asks_the_socket_once_they_are_not(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    a, b = pair
    inbox = Inbox(b, P.MIN_FRAG)
    assert not inbox.readable()
    whole, cut = response(1), response(2, bytes(16))
    a.sendall(whole + cut[:30])
    assert inbox.readable()  # on the socket
    assert inbox.frames(WAIT, WAIT) == [whole]
    assert inbox.readable()  # buffered: the socket has nothing more
    a.sendall(cut[30:])
    assert inbox.frames(WAIT, WAIT) == [cut]
    assert not inbox.readable()  # all handed out: the socket's answer again
    a.sendall(whole)
    assert inbox.readable()


def test_readable_says_so_for_bytes_kept_from_someone_elses_receive(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    a, b = pair
    inbox = Inbox(b, P.MIN_FRAG)
    frame = response(3)
    a.sendall(frame)
    n = inbox.receive(WAIT)
    assert n == len(frame) and not inbox.readable()  # the caller holds them, not the inbox
    inbox.keep(n)
    assert inbox.readable()
    assert inbox.frames(WAIT, WAIT) == [frame]
    assert not inbox.readable()


def test_a_large_pdu_cut_after_many_small_ones_is_put_together_in_the_buffer(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    """What a read leaves of a PDU goes to the front of the inbox's buffer, and the next
    read goes after it: a fragment near the 16-bit limit, cut by a full chunk of smaller
    ones before it, comes out whole, as do the ones around it."""
    a, b = pair
    small = [response(i, bytes(8 * (i % 50))) for i in range(1, 400)]
    big = response(9999, bytes(range(256)) * 255)  # 65,304 bytes of stub: 65,328 in all
    sent = [*small, big, response(10000)]
    threading.Thread(target=a.sendall, args=(b"".join(sent),), daemon=True).start()
    inbox = Inbox(b, 0xFFFF)
    got: list[bytes | P.ProtocolError] = []
    while len(got) < len(sent):
        got.extend(inbox.frames(WAIT, WAIT))
    assert got == sent
    assert not inbox.pending()


@needs_dontwait
def test_a_deferred_post_wakes_nobody_until_the_deferring_thread_writes_and_waits() -> None:
    """While `deferred` (the connection's reader thread is woken or running), a post is
    left to that thread: `flush_locked` writes it, and from then on posts wake the
    writer thread (the reader now waits for bytes)."""
    sock = RecordingSocket()
    outbox = Outbox(sock, lambda e: None)  # type: ignore[arg-type]
    outbox.deferred = True
    with outbox._lock:
        assert outbox.post_locked([b"one"]) is None  # nobody woken
        write = outbox.flush_locked()
    assert write is not None and outbox._thread is None
    write()
    assert sock.writes == [(threading.current_thread().name, b"one")]
    with outbox._lock:
        assert outbox.flush_locked() is None  # nothing left to write
        then = outbox.post_locked([b"two"])
    assert then is not None  # the writer thread's wake
    then()
    deadline = time.monotonic() + WAIT
    while len(sock.writes) < 2 and time.monotonic() < deadline:
        time.sleep(0.001)
    assert sock.writes[1] == ("rpc-writer", b"two")
    outbox.close()
