"""Who writes a posted request (a call object's Begin_): the connection's reader thread
while it is woken or running (it writes what was posted before it next waits for bytes,
so a post wakes no writer thread), the writer thread while anyone waits for bytes (the
reader thread, or a synchronous caller reading its own reply): a post is never left
queued behind a wait for a reply."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from rpc_calc import calc_Client
from test_own_reply import WAIT, read_exactly
from test_replies_in_one_read import bind_multiplexed

from idlgen.runtime.rpc.dcerpc import pdu as P
from idlgen.runtime.rpc.dcerpc.client import Association, ClientCall
from idlgen.runtime.rpc.dcerpc.rpcif import interface_of, syntax_of

Serve = Callable[[socket.socket], None]


def request(call_id: int, value: int) -> bytes:
    return P.encode(P.Request(call_id, 0, 0, struct.pack("<ii", value, 0)))


def answer(conn: socket.socket, req: P.Pdu) -> None:
    assert isinstance(req, P.Request)
    conn.sendall(P.encode(P.Response(req.call_id, 0, req.stub[:4])))


def second_answered_first(first_in: threading.Event) -> Serve:
    """A server that answers the second request before the first, and reads the second
    only after `first_in` is set: a second request left queued behind the wait for the
    first reply is never answered."""

    def serve(conn: socket.socket) -> None:
        first = P.decode(read_exactly(conn))
        first_in.set()
        second = P.decode(read_exactly(conn))
        answer(conn, second)
        answer(conn, first)

    return serve


def post(assoc: Association, value: int) -> ClientCall:
    """A request queued for the connection's writer, as a call object's Begin_ queues it."""
    call_id = assoc.next_id() & 0xFFFFFFFF
    return assoc.enter(ClientCall(assoc, call_id), request(call_id, value))


@pytest.fixture
def served() -> Iterator[Callable[[Serve], Association]]:
    """An association to a server thread running `serve` on the accepted connection."""
    lsock = socket.create_server(("127.0.0.1", 0))
    port = lsock.getsockname()[1]
    threads: list[threading.Thread] = []
    clients: list[Any] = []

    def start(serve: Serve) -> Association:
        def run() -> None:
            conn, _ = lsock.accept()
            with conn:
                bind_multiplexed(conn)
                serve(conn)
                conn.recv(1)  # until the client closes

        server = threading.Thread(target=run, daemon=True)
        server.start()
        threads.append(server)
        client = calc_Client(f"ncacn_ip_tcp:127.0.0.1[{port}]", timeout=WAIT)
        clients.append(client)
        syntax = syntax_of(interface_of(client))
        assoc: Association = client.connection._association(syntax)
        return assoc

    yield start
    for client in clients:
        client.close()
    for server in threads:
        server.join(WAIT)
    lsock.close()


def test_a_request_posted_on_an_idle_connection_is_written_by_the_reader_it_wakes(
    served: Callable[[Serve], Association],
) -> None:
    assoc = served(lambda conn: answer(conn, P.decode(read_exactly(conn))))
    call = post(assoc, 7)
    assert call.result(WAIT) == struct.pack("<i", 7)
    assert assoc.outbox._thread is None  # no writer thread was ever woken


def test_a_request_posted_while_the_reader_waits_for_bytes_is_written_at_once(
    served: Callable[[Serve], Association],
) -> None:
    first_in = threading.Event()
    assoc = served(second_answered_first(first_in))
    first = post(assoc, 1)
    assert first_in.wait(WAIT)  # written by the reader thread, now waiting for its reply
    assert not assoc.outbox.deferred  # (else the next post would wait behind that wait)
    second = post(assoc, 2)
    assert second.result(WAIT) == struct.pack("<i", 2)
    assert first.result(WAIT) == struct.pack("<i", 1)


def test_a_request_posted_while_a_synchronous_caller_reads_is_written_at_once(
    served: Callable[[Serve], Association],
) -> None:
    sync_in = threading.Event()
    assoc = served(second_answered_first(sync_in))
    outcome: list[Any] = []
    caller = threading.Thread(
        target=lambda: outcome.append(assoc.call(0, 0, struct.pack("<ii", 5, 0), None, WAIT))
    )
    caller.start()  # reads its own reply (`call_alone`): it holds the reading role
    assert sync_in.wait(WAIT)
    assert not assoc.outbox.deferred  # (else the post would wait behind the caller's read)
    posted = post(assoc, 6)
    assert posted.result(WAIT) == struct.pack("<i", 6)
    caller.join(WAIT)
    assert outcome == [struct.pack("<i", 5)]


def test_a_synchronous_caller_taking_the_reading_role_has_posts_wake_the_writer(
    served: Callable[[Serve], Association],
) -> None:
    """`register_own` (a synchronous call that reads its own reply on the general way)
    takes the reading role as `call_alone` does: posts meanwhile are not left to the
    reader thread, which does not run until the role is handed over."""
    assoc = served(lambda conn: None)
    assert assoc.outbox.deferred  # the parked reader thread writes what the next post brings
    own = assoc.register_own()
    assert own is not None
    call, reading = own
    assert reading and not assoc.outbox.deferred
    with assoc._lock:
        del assoc.calls[call.call_id]  # never sent
    assoc._hand_over()
    assert assoc.outbox.deferred


def test_a_completion_that_raises_does_not_keep_the_next_replies_of_its_read_from_theirs(
    served: Callable[[Serve], Association],
) -> None:
    """A read's whole responses are signalled together (one `_signal` call): one `on_done`
    raising is logged, and the calls after it in the same read still complete."""

    def serve(conn: socket.socket) -> None:
        requests = [P.decode(read_exactly(conn)) for _ in range(3)]
        conn.sendall(  # one write: one read
            b"".join(P.encode(P.Response(r.call_id, 0, b"OKOK")) for r in requests)  # type: ignore[union-attr]
        )

    def bad(_: Any) -> None:
        raise RuntimeError("a completion's bug")

    assoc = served(serve)
    done: list[int] = []
    last = threading.Event()
    stub = struct.pack("<ii", 1, 2)
    calls = [
        assoc.begin(0, 0, stub, on_done=lambda _: done.append(0)),
        assoc.begin(0, 0, stub, on_done=bad),
        assoc.begin(0, 0, stub, on_done=lambda _: last.set()),
    ]
    assert [call.result(WAIT) for call in calls] == [b"OKOK"] * 3
    assert last.wait(WAIT) and done == [0]
