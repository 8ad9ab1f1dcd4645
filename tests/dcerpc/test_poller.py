"""The reactor's poller (dcerpc/poller.py): epoll asked directly where there is one, and
`selectors` elsewhere, with the same answers; a server works on either."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from rpc_calc import calc_Client
from rpc_calc_server import Calc

from idlgen.runtime.rpc.dcerpc import Limits, RpcServer, reactor
from idlgen.runtime.rpc.dcerpc import pdu as P
from idlgen.runtime.rpc.dcerpc.poller import READ, WRITE, Poller, readable, writable


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    try:
        yield a, b
    finally:
        a.close()
        b.close()


def _seen(poller: Poller, asked: int = READ) -> list[tuple[str, bool, bool]]:
    """What one poll reports, by registered data: readable, and writable if it was asked
    (a hang-up may come with any bits, as the reactor knows)."""
    return sorted(
        (poller.data[fd], readable(ev), writable(ev) and bool(asked & WRITE))
        for fd, ev in poller.poll(0)
    )


def _story(poller: Poller, a: socket.socket, b: socket.socket) -> list[object]:
    """Registration, readiness, changes and closing, as the reactor goes through them."""
    seen: list[object] = []
    poller.register(a, READ, "a")
    seen.append(_seen(poller))  # nothing to read yet
    b.send(b"x")
    seen.append(_seen(poller))
    poller.modify(a, READ | WRITE)
    seen.append(_seen(poller, READ | WRITE))
    a.recv(1)
    poller.modify(a, READ)
    seen.append(_seen(poller))
    with pytest.raises(KeyError):
        poller.register(a, READ, "again")
    b.close()
    seen.append(_seen(poller))  # the peer hung up: readable (the read says EOF)
    a.close()
    poller.unregister(a)  # closed already: still forgotten
    seen.append((_seen(poller), dict(poller.data), dict(poller.files)))
    with pytest.raises(KeyError):
        poller.unregister(a)
    poller.close()
    return seen


def test_epoll_and_selectors_give_the_same_answers() -> None:
    stories = []
    for epoll in (True, False):
        a, b = socket.socketpair()
        stories.append(_story(Poller(epoll=epoll), a, b))
    assert stories[0] == stories[1]
    assert stories[0][:3] == [
        [],
        [("a", True, False)],
        [("a", True, True)],
    ]


@pytest.mark.parametrize("epoll", [True, False], ids=["epoll", "selectors"])
def test_a_server_works_on_either_poller(epoll: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Calls, a reply larger than the socket buffer takes at once (the reactor watches
    for writability) and a client that goes away, with the reactor on each poller."""
    monkeypatch.setattr(reactor, "Poller", lambda: Poller(epoll=epoll))
    impl = Calc()
    small = Limits(max_recv_frag=P.MIN_FRAG, max_xmit_frag=P.MIN_FRAG)
    server = RpcServer(limits=small)
    server.register(impl)
    binding = str(server.listen("ncacn_ip_tcp:127.0.0.1[0]"))
    try:
        assert isinstance(server.reactor.poller._selector, type(None) if epoll else object)
        data = bytes(range(256)) * 4000
        with calc_Client(binding, limits=small) as c:
            assert c.Add(2, 40) == 42
            assert c.Write(len(data), data) == len(data)
            got = c.Read(len(data))
            assert bytes(got.pv) == data
        with calc_Client(binding) as c:  # the server dropped the first client's connection
            assert c.Add(1, 1) == 2
    finally:
        server.close()
