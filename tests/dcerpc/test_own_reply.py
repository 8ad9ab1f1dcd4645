"""Synchronous callers read their own reply when the connection is otherwise idle (issue 13):
no hand-off to the reader thread; a caller that reads hands every other call's reply to its
owner, and the reading role passes on when it leaves."""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from rpc_calc import calc_Client
from rpc_calc_server import Calc
from waiting import until

from idlgen import runtime as _rt
from idlgen.runtime.rpc.dcerpc import RpcServer, trace
from idlgen.runtime.rpc.dcerpc import client as client_module
from idlgen.runtime.rpc.dcerpc import pdu as P
from idlgen.runtime.rpc.dcerpc.client import Association, RpcUnavailableError
from idlgen.runtime.rpc.dcerpc.fragments import request_fragments
from idlgen.runtime.rpc.dcerpc.rpcif import interface_of, syntax_of

WAIT = 20.0  # safety net only


@pytest.fixture
def impl() -> Calc:
    return Calc()


@pytest.fixture
def binding(impl: Calc) -> Iterator[str]:
    server = RpcServer()
    server.register(impl)
    actual = server.listen("ncacn_ip_tcp:127.0.0.1[0]")
    try:
        yield str(actual)
    finally:
        server.close()


def association(client: Any) -> Association:
    (assoc,) = client.connection._assocs
    return assoc  # type: ignore[no-any-return]


def test_a_lone_synchronous_caller_reads_its_own_replies(binding: str) -> None:
    with calc_Client(binding) as c:
        assert c.Add(1, 1) == 2
        assoc = association(c)
        own = assoc.own_reads
        assert [c.Add(i, 2) for i in range(10)] == [i + 2 for i in range(10)]
        assert assoc.own_reads - own == 10


def test_the_reading_caller_routes_other_replies(binding: str, impl: Calc) -> None:
    with calc_Client(binding) as c:
        assert c.Add(1, 1) == 2
        assoc = association(c)
        own = assoc.own_reads
        outcome: list[Any] = []

        def wait_for_cancel() -> None:
            try:
                outcome.append(c.WaitCancel(int(WAIT * 1000)))
            except _rt.COMError as exc:
                outcome.append(exc)

        waiter = threading.Thread(target=wait_for_cancel)
        waiter.start()  # nothing else in flight: it reads the connection itself
        assert impl.entered.wait(WAIT)
        # the WaitCancel's caller holds the reading role (its call, written in place by
        # `call_alone`, is in no table)
        until(lambda: assoc._reading, WAIT)
        assert [c.Add(i, 10) for i in range(8)] == [i + 10 for i in range(8)]  # read by it
        assert c.Upper("abc") == "ABC"
        (call,) = assoc.calls.values()
        call.cancel()  # WaitCancel ends with a fault, read by its own caller
        waiter.join(WAIT)
        assert isinstance(outcome[0], _rt.COMError)
        assert assoc.own_reads - own == 1  # only the WaitCancel read for itself
        assert c.Add(2, 2) == 4  # idle again: the next caller reads its own reply
        assert assoc.own_reads - own == 2


def test_many_threads_get_their_own_results(binding: str) -> None:
    with calc_Client(binding) as c:
        results: dict[int, list[int]] = {}

        def work(k: int) -> None:
            results[k] = [c.Add(k, i) for i in range(50)]

        threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(WAIT)
        assert results == {k: [k + i for i in range(50)] for k in range(8)}
        assert not association(c).calls


def test_a_closed_idle_connection_is_noticed_before_sending(impl: Calc) -> None:
    server = RpcServer()
    server.register(impl)
    actual = str(server.listen("ncacn_ip_tcp:127.0.0.1[0]"))
    with calc_Client(actual) as c:
        assert c.Add(1, 1) == 2
        assoc = association(c)
        server.close()  # nobody reads the idle connection; the next call looks first and
        with pytest.raises(RpcUnavailableError):  # connects anew (refused), sends nothing
            c.Add(1, 2)
        assert not assoc.alive


def test_a_completion_that_raises_does_not_stop_reading(binding: str) -> None:
    with calc_Client(binding, timeout=WAIT) as c:
        _, _, _, stub = c._prepare_(0, (1, 2))  # Add
        raised = threading.Event()

        def boom(call: Any) -> None:
            raised.set()
            raise RuntimeError("a broken completion callback")

        c.connection.begin(syntax_of(interface_of(c)), 0, stub, on_done=boom)
        assert raised.wait(WAIT)
        assert [c.Add(i, 1) for i in range(3)] == [1, 2, 3]


def test_a_truncated_response_fails_the_connection_cleanly() -> None:
    """A response PDU too short for its own header is a protocol error on the quick path too:
    the call fails with RPC_E_DISCONNECTED, nothing raises on the reading thread."""

    def answer(conn: socket.socket, request: P.Request) -> None:
        short = bytearray(P.encode(P.Response(request.call_id, 0, b"")))[:20]
        short[8:10] = (20).to_bytes(2, "little")  # frag_length: header + 4 bytes
        conn.sendall(bytes(short))

    with (
        scripted(answer) as binding,
        calc_Client(binding, timeout=WAIT) as c,
        pytest.raises(_rt.DisconnectedError),
    ):
        c.Add(1, 2)


@contextlib.contextmanager
def scripted(
    answer: Callable[[socket.socket, P.Request], None], max_frag: int = 5840
) -> Iterator[str]:
    """A server thread for one connection, which accepts the client's bind (fragments
    up to `max_frag` each way), reads its first request and has `answer` reply, then
    waits for the client to close; yields its binding."""
    lsock = socket.create_server(("127.0.0.1", 0))
    port = lsock.getsockname()[1]

    def serve() -> None:
        conn, _ = lsock.accept()
        with conn:
            answer(conn, bound_request(conn, max_frag))
            conn.recv(1)  # until the client closes

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    try:
        yield f"ncacn_ip_tcp:127.0.0.1[{port}]"
    finally:
        server.join(WAIT)
        lsock.close()


def bound_request(conn: socket.socket, max_frag: int = 5840) -> P.Request:
    """A scripted server's side: accept the client's bind, then read its first request."""
    bind = P.decode(read_exactly(conn))
    assert isinstance(bind, P.Bind)
    ctx = P.ContextResult(P.ACCEPTANCE, transfer=P.NDR20)
    conn.sendall(P.encode(P.BindAck(bind.call_id, max_frag, max_frag, 1, "", (ctx,))))
    request = P.decode(read_exactly(conn))
    assert isinstance(request, P.Request)
    return request


def read_exactly(conn: socket.socket) -> bytes:
    head = conn.recv(16, socket.MSG_WAITALL)
    length = int.from_bytes(head[8:10], "little")
    return head + conn.recv(length - 16, socket.MSG_WAITALL)


def test_fragmented_requests_and_replies_read_by_their_caller(binding: str) -> None:
    """Many-fragment requests and responses take the general framing; the caller still reads
    its own reply (reassembled) off the idle connection."""
    data = bytes(range(256)) * 200  # 51,200 bytes: many fragments each way
    with calc_Client(binding) as c:
        assert c.Add(0, 0) == 0
        assoc = association(c)
        own = assoc.own_reads
        assert c.Write(len(data), data) == len(data)
        assert c.Read(len(data)) == (data, len(data))
        assert assoc.own_reads - own == 2


def test_a_shutdown_on_an_idle_connection_sends_the_next_call_on_a_new_one() -> None:
    """A shutdown PDU that arrived while nobody read is found before the next call is sent
    (by the caller about to read its own reply, as lanes call): nothing is sent on that
    connection and it keeps no trace of the call; the call goes out on a new one."""
    lsock = socket.create_server(("127.0.0.1", 0))
    port = lsock.getsockname()[1]
    served: list[int] = []  # requests answered, per connection in order
    answered = threading.Event()

    def answer(conn: socket.socket, shutdown_after: bool) -> None:
        request = bound_request(conn)
        a, b = struct.unpack("<ii", request.stub[:8])
        conn.sendall(P.encode(P.Response(request.call_id, 0, struct.pack("<i", a + b))))
        served.append(request.call_id)
        if shutdown_after:
            conn.sendall(P.encode(P.Shutdown()))
            answered.set()

    def serve() -> None:
        first, _ = lsock.accept()
        second = None
        try:
            answer(first, shutdown_after=True)
            second, _ = lsock.accept()
            answer(second, shutdown_after=False)
            second.recv(1)  # until the client closes
        finally:
            first.close()
            if second is not None:
                second.close()

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    try:
        with calc_Client(f"ncacn_ip_tcp:127.0.0.1[{port}]", timeout=WAIT) as c:
            assert c.Add(1, 2) == 3
            first = association(c)
            assert answered.wait(WAIT)
            until(first.inbox.readable, WAIT)  # the shutdown PDU is there, unread
            stub = (2).to_bytes(4, "little") + (3).to_bytes(4, "little")
            assert first.call(0, 0, stub, None, WAIT) is None  # looked first, sent nothing
            assert first.closing and not first.calls
            assert c.Add(2, 3) == 5
            assert c.connection._assocs[-1] is not first
            assert first.closing and not first.calls
    finally:
        server.join(WAIT)
        lsock.close()
    assert len(served) == 2


@pytest.mark.parametrize("how", ["minor-1", "did-not-execute-flag", "two-fragments"])
def test_a_response_the_in_place_read_does_not_take_is_read_the_general_way(how: str) -> None:
    """`call_alone` takes in place only a whole response headed exactly as idlgen and
    Windows write one; a valid response headed otherwise (minor version 1, another flag)
    or cut in fragments (the first one alone in the first read) is read by the general
    framing, reassembly and dispatch, and the call gets its value all the same."""

    def answer(conn: socket.socket, request: P.Request) -> None:
        a, b = struct.unpack("<ii", request.stub[:8])
        stub = struct.pack("<i", a + b)
        if how == "two-fragments":
            first = P.Response(request.call_id, 0, stub[:2], 4, flags=P.PFC_FIRST_FRAG)
            conn.sendall(P.encode(first))
            time.sleep(0.05)  # the first read brings the first fragment alone
            last = P.Response(request.call_id, 0, stub[2:], 2, flags=P.PFC_LAST_FRAG)
            conn.sendall(P.encode(last))
        else:
            reply = bytearray(P.encode(P.Response(request.call_id, 0, stub)))
            if how == "minor-1":
                reply[1] = 1
            else:
                reply[3] |= P.PFC_DID_NOT_EXECUTE
            conn.sendall(bytes(reply))

    with scripted(answer) as binding, calc_Client(binding, timeout=WAIT) as c:
        assert c.Add(20, 22) == 42
        assoc = association(c)
        assert assoc.own_reads == 1 and not assoc.calls and not assoc._reading


def test_a_whole_response_past_the_negotiated_fragment_size_is_refused_in_place_too() -> None:
    """The bind negotiates the fragment size the client receives, below its own limit:
    `call_alone` holds a response to that size, as the general framing does (which
    refuses it: a protocol error, the connection fails), not to the limit it started with."""

    def answer(conn: socket.socket, request: P.Request) -> None:
        stub = struct.pack("<i", 42) + bytes(P.MIN_FRAG)  # whole, one PDU, too large
        conn.sendall(P.encode(P.Response(request.call_id, 0, stub)))

    with (
        scripted(answer, max_frag=P.MIN_FRAG) as binding,
        calc_Client(binding, timeout=WAIT) as c,
        pytest.raises(_rt.DisconnectedError),
    ):
        c.Add(20, 22)


def test_a_lone_call_is_written_and_read_in_place(
    binding: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On an idle connection a one-fragment call keeps no call record: its caller writes
    it and reads its response in place (`Association.call_alone`)."""
    made: list[Any] = []

    class Counted(client_module.ClientCall):
        __slots__ = ()

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            made.append(args)
            super().__init__(*args, **kwargs)

    with calc_Client(binding, timeout=WAIT) as c:
        assert c.Add(1, 1) == 2
        monkeypatch.setattr(client_module, "ClientCall", Counted)
        assert [c.Add(i, 3) for i in range(5)] == [i + 3 for i in range(5)]
        assert made == []
        assert c.Upper("x" * 20_000) == "X" * 20_000  # many fragments: a call record
        assert len(made) == 1


class Interrupted(BaseException):
    """Stands for KeyboardInterrupt (which pytest would take for the user's)."""


class InterruptedOnce:
    """A socket whose first `recv_into` is interrupted; the rest is the socket's."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.interrupted = False

    def recv_into(self, buf: memoryview) -> int:
        if not self.interrupted:
            self.interrupted = True
            raise Interrupted
        return self.sock.recv_into(buf)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sock, name)


def test_a_caller_interrupted_in_its_in_place_read_gives_the_reading_role_up(
    binding: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exception that is no error (KeyboardInterrupt) while a caller waits for its reply
    in place leaves the association usable: the reading role is given up, the late reply
    dropped, and the next call made as usual."""
    with calc_Client(binding, timeout=WAIT) as c:
        assert c.Add(1, 1) == 2
        assoc = association(c)
        # the socket's receive, whichever way the caller receives (`Inbox.receive`, or a
        # bare `recv_into` when the socket's timeout fits): interrupted once
        monkeypatch.setattr(assoc.inbox, "sock", InterruptedOnce(assoc.inbox.sock))
        with pytest.raises(Interrupted):
            c.Add(2, 2)
        assert not assoc._reading and not assoc.outbox.writing
        assert [c.Add(i, 5) for i in range(3)] == [5, 6, 7]
        assert not assoc.calls


def test_lone_calls_with_one_timeout_receive_with_a_bare_recv(
    binding: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once a receive set the socket's timeout for a call's wait, the next lone calls with
    that wait receive straight from the socket (`Inbox.fits`): no `Inbox.receive` each."""
    with calc_Client(binding, timeout=WAIT) as c:
        assert c.Add(1, 1) == 2
        inbox = association(c).inbox
        assert inbox.fits is not None and inbox.fits == inbox._limit
        receives: list[float | None] = []
        receive = type(inbox).receive

        def counted(self: Any, timeout: float | None) -> int:
            receives.append(timeout)
            return receive(self, timeout)

        monkeypatch.setattr(type(inbox), "receive", counted)
        assert [c.Add(i, 4) for i in range(5)] == [i + 4 for i in range(5)]
        assert receives == []
        inbox.forget_timeout()  # someone else set the socket's timeout: receive sets it
        assert c.Add(2, 4) == 6
        assert len(receives) == 1


def test_a_lone_call_receiving_with_a_bare_recv_still_times_out() -> None:
    """The bare receive waits as `Inbox.receive` would: a reply that does not come within
    the call's timeout is a timeout (the call canceled), and the connection stays usable."""

    def answer(conn: socket.socket, request: P.Request) -> None:
        a, b = struct.unpack("<ii", request.stub[:8])
        conn.sendall(P.encode(P.Response(request.call_id, 0, struct.pack("<i", a + b))))
        read_exactly(conn)  # the second request: left unanswered

    with scripted(answer) as binding, calc_Client(binding, timeout=0.3) as c:
        assert c.Add(1, 2) == 3
        inbox = association(c).inbox
        assert inbox.fits == 0.3  # the next call's wait: received with a bare recv
        with pytest.raises(_rt.RpcTimeoutError):
            c.Add(2, 3)


class SendsOnce:
    """A socket whose first `send` takes only the first `take` bytes, or raises `error`
    before taking any; the rest is the socket's."""

    def __init__(self, sock: socket.socket, take: int = 0, error: OSError | None = None):
        self.sock = sock
        self.take = take
        self.error = error
        self.sends: list[int] = []

    def send(self, data: bytes, flags: int = 0) -> int:
        self.sends.append(len(data))
        if len(self.sends) > 1:
            return self.sock.send(data, flags)
        if self.error is not None:
            raise self.error
        return self.sock.send(data[: self.take], flags)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sock, name)


@pytest.mark.parametrize(
    "take, error", [(7, None), (0, BlockingIOError()), (0, ConnectionResetError())]
)
def test_a_lone_request_the_socket_does_not_take_whole_is_written_after_all(
    binding: str, take: int, error: OSError | None
) -> None:
    """A lone call writes its request in its claim's lock turn without blocking; what the
    socket does not take then (part of it, none of it when full, none when the write
    failed) is written with the writing role once the lock is let go (`write_alone`, which
    blocks, and reports a failure that lasts), and the call goes on as usual."""
    with calc_Client(binding, timeout=WAIT) as c:
        assert c.Add(1, 1) == 2
        assoc = association(c)
        sock = assoc.sock
        assoc.sock = SendsOnce(sock, take, error)  # type: ignore[assignment]
        try:
            assert c.Add(20, 22) == 42
            assert [c.Add(i, 1) for i in range(3)] == [1, 2, 3]
        finally:
            assoc.sock = sock
        assert assoc.own_reads == 5 and not assoc.calls
        assert not assoc.outbox.writing and assoc.outbox.idle


def test_a_lone_request_is_written_in_the_turn_that_claims_the_connection(
    binding: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On an idle connection the socket takes a request of one fragment whole: it is
    written in the lock turn in which its caller takes the reading role, and the writing
    role is never taken (no `write_alone`). Where no write can be made without blocking
    (Windows has no MSG_DONTWAIT), it is written after that turn, with the writing role."""
    with calc_Client(binding, timeout=WAIT) as c:
        assert c.Add(1, 1) == 2
        outbox = association(c).outbox
        written: list[bytes] = []
        write_alone = type(outbox).write_alone

        def counted(self: Any, frame: bytes) -> None:
            written.append(frame)
            write_alone(self, frame)

        monkeypatch.setattr(type(outbox), "write_alone", counted)
        assert [c.Add(i, 2) for i in range(3)] == [2, 3, 4]
        assert written == []
        monkeypatch.setattr(client_module, "_DONTWAIT", 0)
        assert [c.Add(i, 2) for i in range(3)] == [2, 3, 4]
        assert len(written) == 3 and all(isinstance(P.decode(f), P.Request) for f in written)


def test_a_traced_lone_request_is_traced_before_it_is_written(
    binding: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Tracing on, a lone call's request is traced as it is written (`write_alone`), its
    response as the general framing hands it out: one line each."""
    with calc_Client(binding, timeout=WAIT) as c:
        assert c.Add(1, 1) == 2
        monkeypatch.setattr(trace, "on", True)
        with caplog.at_level(logging.DEBUG, logger=trace.log.name):
            assert c.Add(2, 3) == 5
        server = trace.peer_of(association(c).sock).replace("127.0.0.1", "")  # its port
        words = [r.getMessage().split() for r in caplog.records if r.name == trace.log.name]
        # the client's lines (the server in this process traces too): "send us -> them"
        # and "recv them -> us", with `them` the server
        ours = [w for w in words if (w[0] == "send") == w[3].endswith(server)]
        assert [(w[0], w[4]) for w in ours] == [("send", "Request:"), ("recv", "Response:")]


def test_a_lone_calls_response_is_decoded_where_it_was_read(binding: str) -> None:
    """`call_alone`'s `read` decodes the response's stub where the read put it (a view of
    the receive buffer), before the reading role is given up; its result is the call's.
    A response it does not take (None) comes as a copy of the stub."""
    with calc_Client(binding, timeout=WAIT) as c:
        assert c.Add(1, 1) == 2
        assoc = association(c)
        cont_id = assoc.contexts[syntax_of(interface_of(c))]
        seen: list[tuple[bool, bool, bytes]] = []

        def read(stub: memoryview) -> Any:
            seen.append((stub.obj is assoc.inbox.buffer.obj, assoc._reading, bytes(stub)))
            return None if len(seen) > 1 else ("read", struct.unpack("<i", stub)[0])

        for expected in (("read", 5), struct.pack("<i", 7)):
            call_id = assoc.next_id()
            stub = struct.pack("<ii", 2, len(seen) * 2 + 3)
            (frame,) = request_fragments(call_id, cont_id, 0, stub, assoc.max_xmit)
            assert assoc.call_alone(call_id, frame, WAIT, read) == expected
        assert seen == [(True, True, struct.pack("<i", 5)), (True, True, struct.pack("<i", 7))]
        assert not assoc._reading and not assoc.calls


def test_a_call_put_in_flight_while_a_lone_caller_reads_is_read_after_it_leaves() -> None:
    """A call put in flight while a lone caller reads in place finds the reading role
    taken, so nobody is woken for it; the caller, leaving with its own reply, sees it and
    wakes the reader thread, which reads that call's reply when it comes."""
    lsock = socket.create_server(("127.0.0.1", 0))
    port = lsock.getsockname()[1]
    first_read = threading.Event()

    def reply(conn: socket.socket, request: P.Request) -> None:
        a, b = struct.unpack("<ii", request.stub[:8])
        conn.sendall(P.encode(P.Response(request.call_id, 0, struct.pack("<i", a + b))))

    def serve() -> None:
        conn, _ = lsock.accept()
        with conn:
            first = bound_request(conn)
            first_read.set()
            second = P.decode(read_exactly(conn))
            assert isinstance(second, P.Request)
            reply(conn, first)  # alone in the lone caller's read
            time.sleep(0.3)  # it has left by now
            reply(conn, second)
            conn.recv(1)  # until the client closes

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    try:
        with calc_Client(f"ncacn_ip_tcp:127.0.0.1[{port}]", timeout=WAIT) as c:
            got: list[int] = []
            lone = threading.Thread(target=lambda: got.append(c.Add(1, 2)))
            lone.start()
            assert first_read.wait(WAIT)
            assoc = association(c)
            until(lambda: assoc._reading, WAIT)  # the lone caller reads in place
            cont_id = assoc.contexts[syntax_of(interface_of(c))]
            call = assoc.begin(cont_id, 0, struct.pack("<ii", 20, 22))
            lone.join(WAIT)
            assert got == [3] and assoc.own_reads == 1
            assert struct.unpack("<i", call.result(WAIT)) == (42,)
            until(lambda: not assoc._reading, WAIT)  # the reader thread is done
            assert not assoc.calls
    finally:
        server.join(WAIT)
        lsock.close()
