"""Plain RPC over ncacn_ip_tcp and ncacn_unix_stream: calling convention, binding and context
negotiation, concurrency, cancel, orphan, limits, and what a broken peer gets."""

from __future__ import annotations

import struct
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from rpc_calc import calc, calc_Client
from rpc_calc_server import Calc
from rpc_helpers import CALC, WAIT, raw_bind, raw_connect, read_until_closed

from idlgen import runtime as _rt
from idlgen.runtime.rpc.dcerpc import (
    BindingError,
    Connection,
    Limits,
    RpcInterface,
    RpcServer,
    RpcUnavailableError,
    connect,
    parse_binding,
)
from idlgen.runtime.rpc.dcerpc import pdu as P
from idlgen.runtime.rpc.dcerpc.status import (
    RPC_S_PROCNUM_OUT_OF_RANGE,
    RPC_S_SERVER_OUT_OF_MEMORY,
    RPC_S_SERVER_TOO_BUSY,
    RPC_S_UNKNOWN_IF,
)
from idlgen.runtime.rpc.dcerpc.wire import read_pdu


def hr(win32: int) -> int:
    return _rt.HRESULT_FROM_WIN32(win32)


@pytest.fixture
def impl() -> Calc:
    return Calc()


def _serve(impl: Calc, binding: str, **kw: object) -> Iterator[tuple[RpcServer, str]]:
    server = RpcServer(**kw)  # type: ignore[arg-type]
    server.register(impl)
    actual = server.listen(binding)
    try:
        yield server, str(actual)
    finally:
        server.close()


@pytest.fixture(params=["tcp", "unix"])
def served(request: pytest.FixtureRequest, impl: Calc, tmp_path: Path) -> Iterator[str]:
    binding = (
        "ncacn_ip_tcp:127.0.0.1[0]"
        if request.param == "tcp"
        else f"ncacn_unix_stream:[{tmp_path / 'calc.sock'}]"
    )
    for _, actual in _serve(impl, binding):
        yield actual


@pytest.fixture
def tcp(impl: Calc) -> Iterator[tuple[RpcServer, str]]:
    yield from _serve(impl, "ncacn_ip_tcp:127.0.0.1[0]")


def port_of(binding: str) -> int:
    return parse_binding(binding).port


# ------------------------------------------------------------------ calling convention


def test_calling_convention_over_both_transports(served: str, impl: Calc) -> None:
    with calc_Client(served) as c:
        assert c.Add(2, 40) == 42
        assert c.Add(2**31 - 1, 1) == -(2**31)  # the server's C long wraps; we see its value
        assert c.Write(5, b"hello") == 5
        assert bytes(impl.written) == b"hello"
        q, r = c.Divmod(17, 5)
        assert (q, r) == divmod(17, 5)
        total = c.Sum(4, [1, 2, 3, 4])
        assert total.return_ == 10 and total.items == 4
        assert c.Upper("grüße") == "GRÜSSE"
        assert c.Read(3) == (b"hel", 3)


def test_failure_hresult_raises_and_success_code_is_observable(served: str) -> None:
    with calc_Client(served) as c:
        with pytest.raises(_rt.InvalidArgError):
            c.Divmod(1, 0)
        assert c.WaitCancel(0) == _rt.S_FALSE
        assert _rt.last_hresult() == _rt.S_FALSE


def test_method_without_wire_form_is_refused_locally(served: str) -> None:
    with calc_Client(served) as c:
        with pytest.raises(_rt.COMError) as info:
            c.Local(1)
        assert info.value.hresult == _rt.RPC_E_INVALIDMETHOD
        assert c.connection.association_count == 0  # nothing was sent


def test_connect_builds_the_client_from_the_interface(served: str) -> None:
    c = connect(served, calc)
    try:
        assert isinstance(c, calc_Client)
        assert c.Add(1, 2) == 3
    finally:
        c.close()  # type: ignore[attr-defined]


def test_large_calls_are_fragmented_both_ways(impl: Calc) -> None:
    small = Limits(max_recv_frag=P.MIN_FRAG, max_xmit_frag=P.MIN_FRAG)
    for _, binding in _serve(impl, "ncacn_ip_tcp:127.0.0.1[0]", limits=small):
        data = bytes(range(256)) * 400
        with calc_Client(binding, limits=small) as c:
            assert c.Write(len(data), data) == len(data)
            got = c.Read(len(data))
            assert bytes(got.pv) == data and got.pcbRead == len(data)


# ------------------------------------------------------------------ binding


class other(RpcInterface):
    _uuid_ = _rt.GUID("{0D8E4C1B-1111-2222-3333-444455556666}")
    _version_ = (1, 0)
    _methods_: ClassVar[tuple[_rt.Method, ...]] = _rt.methods(
        _rt.Method("Add", ins=("a", "b"), hresult=False)
    )
    _wire_ = calc._wire_[:1]


class calc_v1_3(RpcInterface):  # a client newer than the server (minor 3 > 2)
    _uuid_ = calc._uuid_
    _version_ = (1, 3)
    _methods_ = calc._methods_
    _wire_ = calc._wire_


class calc_v1_0(RpcInterface):  # an older client of the same major version
    _uuid_ = calc._uuid_
    _version_ = (1, 0)
    _methods_ = calc._methods_
    _wire_ = calc._wire_


def test_unknown_interface_or_newer_minor_is_rejected_as_unknown_if(served: str) -> None:
    for iface in (other, calc_v1_3):
        c: Any = connect(served, iface)
        with pytest.raises(_rt.COMError) as info:
            c.Add(1, 2)
        assert info.value.hresult == hr(RPC_S_UNKNOWN_IF)


def test_older_minor_version_is_served(served: str) -> None:
    assert connect(served, calc_v1_0).Add(3, 4) == 7  # type: ignore[attr-defined]


def test_bind_ack_rejects_contexts_with_reasons(tcp: tuple[RpcServer, str]) -> None:
    ndr64 = P.SyntaxId(_rt.GUID("{71710533-BEBA-4937-8319-B5DBEF9CCC36}"), 1, 0)
    unknown = P.SyntaxId(other._uuid_, 1, 0)
    contexts = (
        P.ContextElem(0, unknown, (P.NDR20,)),
        P.ContextElem(1, CALC, (ndr64,)),
        P.ContextElem(2, CALC, (ndr64, P.NDR20)),
    )
    with raw_connect(port_of(tcp[1])) as sock:
        sock.sendall(P.encode(P.Bind(1, 5840, 5840, 0, contexts)))
        ack = read_pdu(sock, 0xFFFF, WAIT)
    assert isinstance(ack, P.BindAck) and not ack.alter
    assert [(r.result, r.reason) for r in ack.results] == [
        (P.PROVIDER_REJECTION, P.ABSTRACT_SYNTAX_NOT_SUPPORTED),
        (P.PROVIDER_REJECTION, P.TRANSFER_SYNTAXES_NOT_SUPPORTED),
        (P.ACCEPTANCE, 0),
    ]
    assert ack.results[2].transfer == P.NDR20
    assert ack.sec_addr == str(port_of(tcp[1]))


def test_alter_context_adds_a_second_interface_on_the_same_association(
    impl: Calc, tmp_path: Path
) -> None:
    class Other(other):
        def Add(self, a: int, b: int) -> int:
            return a * b

    for server, binding in _serve(impl, "ncacn_ip_tcp:127.0.0.1[0]"):
        server.register(Other())
        with Connection(binding) as conn:
            assert connect(conn, calc).Add(6, 7) == 13
            assert connect(conn, other).Add(6, 7) == 42  # type: ignore[attr-defined]
            assert conn.association_count == 1
            assert server.connection_count == 1


def test_fragment_sizes_are_negotiated_down(tcp: tuple[RpcServer, str]) -> None:
    with raw_connect(port_of(tcp[1])) as sock:
        bind = P.Bind(1, 2000, 1500, 0, (P.ContextElem(0, CALC, (P.NDR20,)),))
        sock.sendall(P.encode(bind))
        ack = read_pdu(sock, 0xFFFF, WAIT)
    assert isinstance(ack, P.BindAck)
    assert (ack.max_xmit_frag, ack.max_recv_frag) == (1500, 2000)


def test_string_bindings() -> None:
    b = parse_binding("00112233-4455-6677-8899-aabbccddeeff@ncacn_ip_tcp:10.0.0.1[4000]")
    assert (b.protseq, b.address, b.port) == ("ncacn_ip_tcp", "10.0.0.1", 4000)
    assert b.object == _rt.GUID("{00112233-4455-6677-8899-AABBCCDDEEFF}")
    assert str(parse_binding(str(b))) == str(b)
    u = parse_binding("ncacn_unix_stream:[/run/x.sock]")
    assert u.endpoint == "/run/x.sock"
    for bad in (
        "ncacn_ip_tcp:1.2.3.4[http]",
        "ncacn_ip_tcp:1.2.3.4[70000]",
        "ncalrpc:[x]",
        "ncacn_unix_stream:host[/x]",
        "nonsense",
    ):
        with pytest.raises(BindingError):
            parse_binding(bad)


def test_nothing_listening_is_server_unavailable(tmp_path: Path) -> None:
    with pytest.raises(RpcUnavailableError) as info:
        calc_Client(f"ncacn_unix_stream:[{tmp_path / 'none.sock'}]").Add(1, 2)
    assert info.value.hresult == hr(1722)


# ------------------------------------------------------------------ concurrency


def test_many_outstanding_calls_share_one_multiplexed_association(
    tcp: tuple[RpcServer, str],
) -> None:
    _server, binding = tcp
    with calc_Client(binding) as c:
        pending = [c.Begin_Add(i, 1000) for i in range(64)]
        assert [p.result(WAIT) for p in pending] == [i + 1000 for i in range(64)]
        assert c.connection.association_count == 1


def test_without_conc_mpx_the_client_pools_associations(impl: Calc) -> None:
    for _server, binding in _serve(impl, "ncacn_ip_tcp:127.0.0.1[0]", mpx=False):
        with calc_Client(binding) as c:
            blocked = [c.Begin_WaitCancel(int(WAIT * 1000)) for _ in range(3)]
            for _ in blocked:
                assert impl.started.acquire(timeout=WAIT)
            assert c.connection.association_count == 3
            assert c.Add(1, 1) == 2  # a fourth association, or an idle one
            for p in blocked:
                p.cancel()
            for p in blocked:
                with pytest.raises(_rt.CallCanceledError):
                    p.result(WAIT)


def test_without_conc_mpx_a_lone_caller_reading_in_place_keeps_its_association(
    impl: Calc,
) -> None:
    """A synchronous call written and read in place (`Association.call_alone`) is in no
    call table while its caller waits; its association still counts as busy, so a second
    synchronous call to a server that does not multiplex takes another association."""
    for _server, binding in _serve(impl, "ncacn_ip_tcp:127.0.0.1[0]", mpx=False):
        with calc_Client(binding, timeout=WAIT) as c:
            assert c.Add(1, 1) == 2
            outcome: list[Any] = []

            def wait_for_cancel(into: list[Any], client: Any) -> None:
                try:
                    into.append(client.WaitCancel(1500))  # not canceled: S_FALSE after 1.5 s
                except _rt.COMError as exc:
                    into.append(exc)

            waiter = threading.Thread(target=wait_for_cancel, args=(outcome, c))
            waiter.start()
            assert impl.started.acquire(timeout=WAIT)
            assert c.connection.association_count == 1
            assert c.Add(2, 2) == 4  # not behind the WaitCancel: on an association of its own
            assert c.connection.association_count == 2
            waiter.join(WAIT)
            assert outcome == [_rt.S_FALSE]


def test_threads_calling_through_one_client(tcp: tuple[RpcServer, str]) -> None:
    errors: list[BaseException] = []
    with calc_Client(tcp[1]) as c:

        def worker(k: int) -> None:
            try:
                for i in range(50):
                    assert c.Add(k, i) == k + i
            except BaseException as e:  # pragma: no cover - reported below
                errors.append(e)

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(WAIT)
    assert not errors


# ------------------------------------------------------------------ cancel, orphan, failure


def test_co_cancel_reaches_the_servers_test_cancel(tcp: tuple[RpcServer, str], impl: Calc) -> None:
    with calc_Client(tcp[1]) as c:
        p = c.Begin_WaitCancel(int(WAIT * 1000))
        assert impl.entered.wait(WAIT)
        p.cancel()
        with pytest.raises(_rt.CallCanceledError):
            p.result(WAIT)
        assert impl.cancel_seen.is_set()
        assert c.Add(1, 2) == 3  # the association survives a canceled call


def test_a_call_that_times_out_is_orphaned_on_the_server(
    tcp: tuple[RpcServer, str], impl: Calc
) -> None:
    with calc_Client(tcp[1]) as c:
        p = c.Begin_WaitCancel(int(WAIT * 1000))
        assert impl.entered.wait(WAIT)
        with pytest.raises(_rt.RpcTimeoutError):
            p.result(0.01)
        assert impl.cancel_seen.wait(WAIT)  # the orphaned PDU canceled the server call
        assert c.Add(2, 2) == 4


def test_server_going_away_mid_call_fails_the_caller_promptly(
    impl: Calc,
) -> None:
    for server, binding in _serve(impl, "ncacn_ip_tcp:127.0.0.1[0]"):
        c = calc_Client(binding)
        p = c.Begin_WaitCancel(int(WAIT * 1000) * 6)
        assert impl.entered.wait(WAIT)
        server.close()
        with pytest.raises(_rt.DisconnectedError):
            p.result(WAIT)
        c.close()


def test_outstanding_call_limit_answers_server_too_busy(impl: Calc) -> None:
    limits = Limits(max_outstanding=2)
    for _, binding in _serve(impl, "ncacn_ip_tcp:127.0.0.1[0]", limits=limits):
        with calc_Client(binding) as c:
            blocked = [c.Begin_WaitCancel(int(WAIT * 1000)) for _ in range(2)]
            for _ in blocked:
                assert impl.started.acquire(timeout=WAIT)
            with pytest.raises(_rt.COMError) as info:
                c.Add(1, 2)
            assert info.value.hresult == hr(RPC_S_SERVER_TOO_BUSY)
            for p in blocked:
                p.cancel()
                with pytest.raises(_rt.CallCanceledError):
                    p.result(WAIT)
            assert c.Add(1, 2) == 3


def test_request_size_limit_faults_the_call_and_the_association_goes_on(impl: Calc) -> None:
    limits = Limits(max_request=8192)
    for _server, binding in _serve(impl, "ncacn_ip_tcp:127.0.0.1[0]", limits=limits):
        with calc_Client(binding) as c:
            with pytest.raises(_rt.COMError) as info:
                c.Write(20000, bytes(20000))
            assert info.value.hresult == hr(RPC_S_SERVER_OUT_OF_MEMORY)
            assert impl.written == b""
            assert c.Add(1, 2) == 3
            assert c.connection.association_count == 1  # faulted, not disconnected


def test_unknown_opnum_faults_with_procnum_out_of_range(tcp: tuple[RpcServer, str]) -> None:
    with raw_connect(port_of(tcp[1])) as sock:
        assert isinstance(raw_bind(sock), P.BindAck)
        sock.sendall(P.encode(P.Request(2, 0, 99, b"")))
        fault = read_pdu(sock, 0xFFFF, WAIT)
    assert isinstance(fault, P.Fault) and fault.status == P.NCA_S_OP_RNG_ERROR
    assert fault.flags & P.PFC_DID_NOT_EXECUTE
    from idlgen.runtime.rpc.dcerpc.status import fault_hresult

    assert fault_hresult(fault.status) == hr(RPC_S_PROCNUM_OUT_OF_RANGE)


def test_bad_stub_data_is_a_fault_not_a_crash(tcp: tuple[RpcServer, str]) -> None:
    with raw_connect(port_of(tcp[1])) as sock:
        raw_bind(sock)
        sock.sendall(P.encode(P.Request(2, 0, 0, b"\x01\x00")))  # Add needs 8 bytes
        fault = read_pdu(sock, 0xFFFF, WAIT)
        assert isinstance(fault, P.Fault) and fault.status == 0x6F7  # RPC_X_BAD_STUB_DATA
        sock.sendall(P.encode(P.Request(3, 0, 0, struct.pack("<ii", 5, 6))))
        ok = read_pdu(sock, 0xFFFF, WAIT)
    assert isinstance(ok, P.Response) and struct.unpack("<i", ok.stub) == (11,)


def test_malformed_pdus_get_nak_or_fault_then_close_and_others_keep_working(
    tcp: tuple[RpcServer, str],
) -> None:
    _server, binding = tcp
    port = port_of(binding)
    with calc_Client(binding) as bystander:
        assert bystander.Add(1, 1) == 2
        # before bind: a bind_nak (version 4 gets the version reason)
        with raw_connect(port) as sock:
            bad = bytearray(P.encode(P.Bind(1, 5840, 5840, 0, ())))
            bad[0] = 4
            sock.sendall(bytes(bad))
            replies = read_until_closed(sock)
        assert len(replies) == 1 and isinstance(replies[0], P.BindNak)
        assert replies[0].reason == P.NAK_PROTOCOL_VERSION_NOT_SUPPORTED
        # after bind: garbage gets a protocol-error fault and the connection closes
        with raw_connect(port) as sock:
            raw_bind(sock)
            sock.sendall(b"\x05\x00\x00\x03\x10\x00\x00\x00\x11\x00\x00\x00\x07\x00\x00\x00" + b"x")
            replies = read_until_closed(sock)
        assert len(replies) == 1 and isinstance(replies[0], P.Fault)
        assert replies[0].status == P.NCA_S_PROTO_ERROR and replies[0].call_id == 7
        # an oversized fragment is refused from its header alone
        with raw_connect(port) as sock:
            raw_bind(sock)
            header = bytearray(P.encode(P.Request(8, 0, 0, b"")))
            struct.pack_into("<H", header, 8, 0xFFFF)
            sock.sendall(bytes(header))
            replies = read_until_closed(sock)
        assert len(replies) == 1 and isinstance(replies[0], P.Fault)
        # a second bind on a bound association
        with raw_connect(port) as sock:
            raw_bind(sock)
            sock.sendall(P.encode(P.Bind(2, 5840, 5840, 0, ())))
            replies = read_until_closed(sock)
        assert len(replies) == 1 and isinstance(replies[0], P.Fault)
        assert bystander.Add(2, 2) == 4


def test_client_disappearing_releases_the_servers_connection(tcp: tuple[RpcServer, str]) -> None:
    server, binding = tcp
    c = calc_Client(binding)
    assert c.Add(1, 2) == 3
    assert server.connection_count == 1
    c.close()
    assert server.wait_connections(0, WAIT)
