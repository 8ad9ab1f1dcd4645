"""Finding 3 of issue 11: an OBJREF a client sends makes the server connect only back to
that client's own host unless the server's configuration allows more, and every outbound
connect and bind has a timeout (a callback endpoint that never answers costs a bounded
wait, never a thread forever, never a hung exit)."""

from __future__ import annotations

import os
import select
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from security_helpers import WAIT, serve_child
from stream_handwritten import ICallback, IEventSource

from idlgen import runtime as rt
from idlgen.runtime.apartments import marshal as _marshal
from idlgen.runtime.rpc import orpc
from idlgen.runtime.rpc.dcerpc import binding as B
from idlgen.runtime.rpc.orpc.client import dualstringarray

RPC_S_SERVER_UNAVAILABLE = 1722
E_ACCESSDENIED = 0x80070005
ELSEWHERE = "127.0.0.2"  # another address: for the server, not the client's host


class Sink(rt.ComObject, ICallback):
    def Notify(self, v: int) -> int:
        return rt.S_OK


@pytest.fixture
def silent_listener() -> Iterator[socket.socket]:
    """A TCP endpoint on another address that completes connects (backlog) and never
    answers a byte."""
    sock = socket.create_server((ELSEWHERE, 0), backlog=16)
    try:
        yield sock
    finally:
        sock.close()


def objrefs_name(monkeypatch: pytest.MonkeyPatch, listener: socket.socket) -> None:
    """Our OBJREFs now tell whoever unmarshals them to call back at `listener`."""
    where = B.Binding(B.NCACN_IP_TCP, ELSEWHERE, str(listener.getsockname()[1]))
    monkeypatch.setattr(_marshal.remote_hooks, "resolver", lambda oxid: dualstringarray([where]))


def connected(listener: socket.socket) -> bool:
    ready, _, _ = select.select([listener], [], [], 0)
    return bool(ready)


def test_callback_objref_naming_another_host_is_refused_by_default(
    monkeypatch: pytest.MonkeyPatch, silent_listener: socket.socket
) -> None:
    with serve_child() as (_, text):
        source = orpc.connect(text, IEventSource)
        objrefs_name(monkeypatch, silent_listener)
        with pytest.raises(rt.COMError) as info:
            source.Advise(Sink())
        assert info.value.hresult == E_ACCESSDENIED
        assert source.Fire(1) == 0
        assert not connected(silent_listener), "the server connected where the client said"
        source.Release()


def test_never_answering_callback_endpoint_costs_a_bounded_wait(
    monkeypatch: pytest.MonkeyPatch, silent_listener: socket.socket
) -> None:
    """Allowed by configuration, the destination is tried; connect and bind_ack waits end
    at their timeouts, the call fails with a fault, and the server still exits at SIGTERM."""
    options = [
        "--allow-callback",
        ELSEWHERE,
        "--limit",
        "outbound_connect_timeout=0.5",
        "--limit",
        "outbound_bind_timeout=0.5",
    ]
    with serve_child(*options) as (proc, text):
        source = orpc.connect(text, IEventSource)
        objrefs_name(monkeypatch, silent_listener)
        assert source.Advise(Sink()) == rt.S_OK
        with rt.call_timeout(WAIT), pytest.raises(rt.COMError) as info:
            source.Fire(1)  # the server's Notify waits for a bind_ack that never comes
        # the server's bind timed out (RPC_S_SERVER_UNAVAILABLE), not this client's wait
        assert info.value.hresult == rt.HRESULT_FROM_WIN32(RPC_S_SERVER_UNAVAILABLE)
        assert connected(silent_listener)
        source.Release()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(WAIT) == 0


def test_callback_objref_naming_a_unix_socket_the_client_does_not_own_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A Unix-socket client may name only sockets its own uid owns: another user's socket
    (here: one handed to uid 65534) is refused, nothing is connected."""
    if os.getuid() != 0:
        pytest.skip("needs root to make a socket another user owns")
    theirs = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    theirs.bind(str(tmp_path / "theirs.sock"))
    theirs.listen(4)
    os.chown(tmp_path / "theirs.sock", 65534, 65534)
    where = B.Binding(B.NCACN_UNIX_STREAM, "", str(tmp_path / "theirs.sock"))
    with serve_child(binding=f"ncacn_unix_stream:[{tmp_path / 'hub.sock'}]") as (_, text):
        source = orpc.connect(text, IEventSource)
        monkeypatch.setattr(
            _marshal.remote_hooks, "resolver", lambda oxid: dualstringarray([where])
        )
        with pytest.raises(rt.COMError) as info:
            source.Advise(Sink())
        assert info.value.hresult == E_ACCESSDENIED
        assert source.Fire(1) == 0
        assert not connected(theirs)
        source.Release()
    theirs.close()
