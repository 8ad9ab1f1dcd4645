"""The server's lean path (dcerpc/fastpath.py, orpc/fastserve.py): taken for a one-fragment
request to an MTA method with a precompiled codec, byte for byte the general path's reply,
not taken for anything else, and a call run on the reactor thread stalls nobody.

A raw socket talks to an `Endpoint` of this process, so the test sees the server's counters
and can switch the lean path off (`general_only`) to get the general path's bytes."""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from orpc_helpers import WAIT
from stream_handwritten import ICalc, IEventSource, ISimpleStream
from test_fastwire import PRIMS, _value, buffer_methods, methods
from waiting import until

from idlgen import runtime as rt
from idlgen.runtime import ndr as _ndr
from idlgen.runtime.apartments import channel
from idlgen.runtime.apartments.apartment import Apartment
from idlgen.runtime.apartments.marshal import marshaler_for, ref_observer, remote_client
from idlgen.runtime.apartments.stub import IncomingCall, _outs_of
from idlgen.runtime.com.guid import GUID
from idlgen.runtime.com.interface import Method
from idlgen.runtime.com.servercall import _CALL_CONTEXT
from idlgen.runtime.ndr.fastwire import BufferCodec, PrimitiveCodec, fast_codec
from idlgen.runtime.rpc.dcerpc import fastpath
from idlgen.runtime.rpc.dcerpc import pdu as P
from idlgen.runtime.rpc.dcerpc.auth import ANONYMOUS, caller
from idlgen.runtime.rpc.dcerpc.callstate import CallState
from idlgen.runtime.rpc.dcerpc.fragments import (
    chunk_room,
    request_fragments,
    response_fragments,
)
from idlgen.runtime.rpc.dcerpc.reactor import Transport
from idlgen.runtime.rpc.dcerpc.server import _Connection
from idlgen.runtime.rpc.orpc import fastserve
from idlgen.runtime.rpc.orpc.endpoint import Endpoint
from idlgen.runtime.rpc.orpc.fastserve import FastMethod, LeanCall, method_of
from idlgen.runtime.rpc.orpc.peer import current_peer
from idlgen.runtime.rpc.orpc.wire import ORPCTHIS, orpcthat, orpcthis

ADD = ICalc._wire_[0]
INT32 = st.integers(-(2**31), 2**31 - 1)
BLOCK = -1  # Add(BLOCK, n) waits for the test's event
WATCH = -2  # Add(WATCH, n) waits for the client's cancel and returns 1 if it came
FAILS = -3  # Add(FAILS, n) fails with E_FAIL
RAISES = -4  # Add(RAISES, n) raises a Python exception (RPC_E_SERVERFAULT)
SEES = -5  # Add(SEES, n) records the context variables it sees (`Calc.seen`)
SUCCESS_CODE = -6  # Add(SUCCESS_CODE, n) returns n with S_FALSE (`WithHResult`)
FAILURE_CODE = -7  # Add(FAILURE_CODE, n) returns E_FAIL through `WithHResult`
CANCELED_300 = -8  # Add(CANCELED_300, n) is canceled 300 times by the client meanwhile


class Calc(rt.ComObject, ICalc, ISimpleStream, IEventSource):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.threads: list[threading.Thread] = []
        self.seen: list[tuple[Any, ...]] = []

    def Add(self, a: int, b: int) -> int:
        self.threads.append(threading.current_thread())
        if a == BLOCK:
            self.release.wait(WAIT)
        elif a == WATCH:
            deadline = time.monotonic() + WAIT
            while time.monotonic() < deadline:
                if rt.call_canceled():
                    return 1
                time.sleep(0.001)
        elif a == FAILS:
            raise rt.COMError(rt.E_FAIL)
        elif a == RAISES:
            raise RuntimeError("a server bug")
        elif a == SUCCESS_CODE:
            return rt.WithHResult(rt.S_FALSE, b)  # type: ignore[return-value]
        elif a == FAILURE_CODE:
            return rt.WithHResult(rt.E_FAIL, b)  # type: ignore[return-value]
        elif a == CANCELED_300:  # a lean call's context is its DCE/RPC state
            state = _CALL_CONTEXT.get()[0]  # type: ignore[index]
            for _ in range(300):
                CallState.cancel(state)
        elif a == SEES:
            ctx = _CALL_CONTEXT.get()
            self.seen.append(
                (
                    current_peer(),
                    caller(),
                    remote_client.get(),
                    ref_observer.get(),
                    None if ctx is None else (isinstance(ctx[0], IncomingCall), ctx[1]),
                    rt.last_hresult(),
                )
            )
        return a + b

    def Read(self, cb: int) -> ISimpleStream.ReadResult:
        data = bytes(i & 0xFF for i in range(cb // 2))  # a varying array: less than cb
        return ISimpleStream.ReadResult(data, len(data))

    def Write(self, pv: bytes, cb: int) -> int:
        self.threads.append(threading.current_thread())
        return cb

    def Advise(self, sink: Any) -> int:  # an interface pointer: no precompiled codec
        self.threads.append(threading.current_thread())
        return rt.S_OK

    def Fire(self, v: int) -> int:
        return 0

    def GetSink(self) -> Any:
        return None


class Server:
    """An endpoint with one Calc in an MTA and one in an STA."""

    def __init__(self) -> None:
        self.endpoint = Endpoint()
        bound = self.endpoint.listen("ncacn_ip_tcp:127.0.0.1[0]")
        self.address = (bound.address, int(bound.endpoint))
        self.mta = Apartment.mta(2, "fast-mta")
        self.sta = Apartment.sta("fast-sta")
        self.calc = Calc()
        self.ipid = self._export(self.mta, self.calc, ICalc)
        self.stream_ipid = self._export(self.mta, self.calc, ISimpleStream)
        self.events_ipid = self._export(self.mta, self.calc, IEventSource)
        self.sta_calc = Calc()
        self.sta_ipid = self.sta.run(lambda: self._export(self.sta, self.sta_calc, ICalc))

    @staticmethod
    def _export(apartment: Apartment, obj: Any, iface: Any) -> bytes:
        return marshaler_for(apartment).exporter.export(obj, iface._iid_, 1)[1]

    @property
    def reactor(self) -> Any:
        return self.endpoint.server.reactor

    def close(self) -> None:
        self.calc.release.set()
        self.endpoint.close()
        self.mta.shutdown()
        self.sta.shutdown()


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    s = Server()
    try:
        yield s
    finally:
        s.close()


class Client:
    """A raw ncacn_ip_tcp association bound to ICalc (context 0), ISimpleStream (1) and
    IEventSource (2)."""

    def __init__(self, address: tuple[str, int]) -> None:
        self.sock = socket.create_connection(address, timeout=WAIT)
        self.buf = b""
        contexts = tuple(
            P.ContextElem(i, P.SyntaxId(iid, 0, 0), (P.NDR20,))
            for i, iid in enumerate((ICalc._iid_, ISimpleStream._iid_, IEventSource._iid_))
        )
        self.sock.sendall(P.encode(P.Bind(1, 5840, 5840, 0, contexts)))
        ack = self.pdu()
        assert isinstance(ack, P.BindAck)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def raw(self) -> bytes:
        while len(self.buf) < 16 or len(self.buf) < struct.unpack_from("<H", self.buf, 8)[0]:
            chunk = self.sock.recv(65536)
            assert chunk, "the server closed the connection"
            self.buf += chunk
        length = struct.unpack_from("<H", self.buf, 8)[0]
        frame, self.buf = self.buf[:length], self.buf[length:]
        return frame

    def pdu(self) -> Any:
        return P.decode(self.raw())

    def close(self) -> None:
        self.sock.close()


def request(
    call_id: int,
    ipid: bytes,
    stub: bytes,
    opnum: int = 3,
    cont_id: int = 0,
    flags: int = P.PFC_FIRST_FRAG | P.PFC_LAST_FRAG,
) -> bytes:
    req = P.Request(call_id, cont_id, opnum, stub, GUID.from_bytes_le(ipid), len(stub), flags)
    return P.encode(req)


def add_stub(a: int, b: int) -> bytes:
    return orpcthis(bytes(16)) + ADD.encode_request({"a": a, "b": b})


@contextlib.contextmanager
def general_only() -> Iterator[None]:
    """Every request on the general path (what the lean path must match)."""
    saved = _Connection.fast_request
    _Connection.fast_request = lambda *args: False  # type: ignore[method-assign]
    try:
        yield
    finally:
        _Connection.fast_request = saved  # type: ignore[method-assign]


def exchange(client: Client, frame: bytes) -> bytes:
    client.send(frame)
    return client.raw()


def taken_by(fn: Callable[[], Any]) -> int:
    before = fastpath.taken
    fn()
    return fastpath.taken - before


# -- the reply bytes ------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(INT32, INT32, st.integers(1, 2**32 - 1), st.integers(0, 0xFFFF), st.integers(0, 300))
def test_lean_response_pdu_is_the_general_encoding(
    a: int, b: int, call_id: int, cont_id: int, cancels: int
) -> None:
    m = method_of(_stub_of_icalc(), 3)
    assert m is not None
    total = (a + b) & 0xFFFFFFFF
    value = total - (1 << 32) if total >= 1 << 31 else total
    fields = m.codec.response_fields({"sum": value}, rt.S_OK)
    body = orpcthat() + ADD.encode_response({"sum": value}, rt.S_OK)
    general = response_fragments(call_id, cont_id, body, P.MIN_FRAG, cancels)
    assert [m.response(call_id, cont_id, cancels, fields)] == general


@settings(max_examples=200, deadline=None)
@given(methods(), st.integers(1, 2**32 - 1), st.integers(0, 300))
def test_lean_response_pdu_is_the_general_encoding_for_any_primitive_method(
    case: Any, call_id: int, cancels: int
) -> None:
    """Random primitive signatures (tests/apartments/test_fastwire.py's): the lean path's
    one-struct response PDU equals ORPCTHAT plus the engine's encoding, fragmented."""
    wire, _ins, outs, result = case
    codec = fast_codec(wire)
    assert isinstance(codec, PrimitiveCodec)
    ins = tuple(p.name for p in wire.method.params if p.is_in)
    m = FastMethod(Method("M", ins=ins, outs=tuple(outs)), codec)
    body = orpcthat() + wire.encode_response(outs, result)
    general = response_fragments(call_id, 0, body, P.MIN_FRAG, cancels)
    assert [m.response(call_id, 0, cancels, m.codec.response_fields(outs, result))] == general


@settings(max_examples=200, deadline=None)
@given(buffer_methods(), st.integers(1, 2**32 - 1), st.integers(0, 300))
def test_lean_response_pdu_is_the_general_encoding_for_any_buffer_method(
    case: Any, call_id: int, cancels: int
) -> None:
    """Random signatures with byte buffers: header plus the codec's stub is ORPCTHAT plus
    the engine's encoding as the general path frames it; too large for one fragment, the
    lean path declines (the general path cuts it)."""
    wire, ins, outs, result = case
    codec = fast_codec(wire)
    assert isinstance(codec, BufferCodec)
    m = FastMethod(Method("M", ins=tuple(ins), outs=tuple(outs)), codec)
    stub = wire.encode_response(outs, result, scope=ins)
    general = response_fragments(call_id, 0, orpcthat() + stub, P.MIN_FRAG, cancels)
    room = chunk_room(P.MIN_FRAG, P.RESPONSE_HEADER)
    assert [m.buffer_response(call_id, 0, cancels, stub, room)] == general
    assert m.buffer_response(call_id, 0, cancels, stub, len(stub) + 7) is None
    if m.replies is not None:  # no [out] buffer (`Write`): the whole PDU in one struct
        fields = m.replies.response_fields(outs, result)
        assert [m.response(call_id, 0, cancels, fields)] == general


def _com_method(wire: Any) -> Method:
    """The COM method a stub would have for `wire`: an HRESULT one when it returns one."""
    ins = tuple(p.name for p in wire.method.params if p.is_in)
    outs = tuple(p.name for p in wire.method.params if p.is_out)
    return Method("M", ins=ins, outs=outs, hresult=wire.method.returns is _ndr.HRESULT)


def _outcome(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except Exception as exc:  # compared by type and message: the same refusal
        return (type(exc), str(exc))


_ODD = st.one_of(st.none(), st.text(max_size=3), st.floats(), st.integers(), st.booleans())


@st.composite
def usual_methods(draw: st.DrawFn) -> tuple[_ndr.MethodMarshaler, dict[str, Any], Any, Any]:
    """`HRESULT M([in] ..., [out] T *x)`: the shape `FastMethod.fields` shortens."""
    ins = draw(st.lists(st.sampled_from(PRIMS), max_size=3))
    out = draw(st.sampled_from(PRIMS))
    params = [_ndr.Param(f"i{i}", prim, "in") for i, prim in enumerate(ins)]
    params.append(_ndr.Param("x", _ndr.Pointer("ref", out), "out"))
    method = _ndr.Method("M", tuple(params), returns=_ndr.HRESULT, opnum=3)
    return _ndr.MethodMarshaler(method), {}, {"x": draw(_value(out))}, rt.S_OK


@settings(max_examples=300, deadline=None)
@given(methods() | usual_methods(), st.data())
def test_lean_reply_fields_are_the_stubs_for_any_return_value(case: Any, data: Any) -> None:
    """`FastMethod.fields` (a shortcut for `HRESULT M(..., [out] T *x)`), packed into the
    reply PDU, gives what the stub's `_outs_of` and the codec's `response_fields` give, for
    whatever the server returned: the right values, odd ones (refused alike) or a
    `WithHResult`. Exact ints are left to `struct`'s range check, which also refuses a
    negative HRESULT that `_check` would mask: `FastCall._reply` then leaves the reply to
    the general path, which masks it."""
    wire, _ins, outs, result = case
    m = FastMethod(_com_method(wire), fast_codec(wire))
    codec = m.replies
    assert codec is not None
    names = m.method.outs
    if not m.method.hresult:
        value: Any = (result, *(outs[n] for n in names))
    elif len(names) == 1:
        value = outs[names[0]]
    else:
        value = tuple(outs[n] for n in names) if names else None
    value = data.draw(st.sampled_from([value, rt.WithHResult(1, value)]) | _ODD)
    hr = data.draw(st.sampled_from([rt.S_OK, 1, -(2**31), 2**32 - 1]) | _ODD)

    def general() -> list[Any]:
        return codec.response_fields(*_outs_of(m.method, value, hr))

    def packed(fields: Callable[[], Any]) -> Any:
        try:
            return m.response(1, 0, 0, fields())
        except Exception:  # whichever: `FastCall._reply` hands the reply to the general path
            return "refused"

    fast, expected = packed(lambda: m.fields(value, hr)), packed(general)
    if fast != expected:
        negative = [v for v in (value, hr) if type(v) is int and v < 0]
        assert fast == "refused" and negative and m.as_is


def test_lean_reply_fields_take_the_shortcut_for_the_usual_shape() -> None:
    m = method_of(_stub_of_icalc(), 3)
    assert m is not None and m.one_out and m.as_is  # what the test above compares
    assert m.fields(5, rt.S_OK) == (5, rt.S_OK)  # exact ints: no check in Python


def test_write_reply_is_one_struct_as_for_primitive_methods() -> None:
    """`Write`'s response (a count and the HRESULT) carries no buffer: the lean path packs
    its PDU in one struct as for `Add` (the tests above: the same bytes as the general
    path's), not an NDR stub encoded apart and joined to a header."""
    stream = FastMethod(Method("Write", ins=("pv", "cb"), outs=("pcbWritten",)), fast_codec(WRITE))
    assert stream.replies is not None and stream.one_out
    fields = stream.fields(4096, rt.S_OK)
    body = orpcthat() + WRITE.encode_response({"pcbWritten": 4096}, rt.S_OK)
    assert [stream.response(7, 0, 0, fields)] == response_fragments(7, 0, body, P.MIN_FRAG, 0)


def test_write_request_is_read_in_two_structs_and_a_slice() -> None:
    """`Write(pv, cb)`'s request (ORPCTHIS, the buffer's count, its bytes, `cb`) is read
    by `OneBufferReader`, as the test below compares with the codec's own reading, not
    by ORPCTHIS's check, then the codec's general loop over runs and a dict by name."""
    stream = FastMethod(Method("Write", ins=("pv", "cb"), outs=("pcbWritten",)), fast_codec(WRITE))
    assert stream.reader is not None
    payload = bytes(range(256)) * 3 + b"odd"
    stub = orpcthis(bytes(16)) + WRITE.encode_request({"pv": payload, "cb": len(payload)})
    assert stream.read(b"head" + stub, 4) == (payload, len(payload))


@settings(max_examples=400, deadline=None)
@given(
    methods() | buffer_methods(),
    st.sampled_from([4, 5, 6]),
    st.integers(0, 9),
    st.sampled_from([0, 0x20000]),
    st.integers(0, 3),
    st.sampled_from([b"", b"\0", b"\0" * 4]),
    st.integers(0, 4),
)
def test_lean_request_read_is_orpcthis_then_the_codecs_values(
    case: Any, major: int, minor: int, ext: int, at: int, tail: bytes, cut: int
) -> None:
    """`FastMethod.read` (ORPCTHIS and the [in] values in one `struct` call; for one byte
    buffer, two and a slice) takes what `orpcthis_ok` and the codec's own
    `fast_request_values` take, with the same values, whatever the COM version,
    extensions, trailing bytes or a short stub."""
    wire, ins, _outs, _result = case
    m = FastMethod(_com_method(wire), fast_codec(wire))
    stub = ORPCTHIS.pack(major, minor, 0, 0, bytes(16), ext) + wire.encode_request(ins) + tail
    frame = bytes(range(at)) + stub[: len(stub) - cut]
    if not fastserve.orpcthis_ok(frame, at):
        expected = None
    else:
        expected = m.codec.fast_request_values(memoryview(frame)[at + ORPCTHIS.size :])
    assert m.read(frame, at) == expected


_ICALC_STUB: list[Any] = []


def _stub_of_icalc() -> Any:
    if not _ICALC_STUB:
        from idlgen.runtime.apartments.stub import Stub

        _ICALC_STUB.append(Stub(ICalc, bytes(16), Calc(), None))
    return _ICALC_STUB[0]


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**31 - 1), INT32, st.integers(2, 2**32 - 1))
def test_lean_reply_bytes_equal_the_general_paths(
    server: Server, a: int, b: int, call_id: int
) -> None:
    """Same request, once on each path: the same reply bytes. A sum outside a long is a
    fault on both (the lean path hands the reply to the stub's own code)."""
    fast, general = both_paths(server, request(call_id, server.ipid, add_stub(a, b)))
    assert fast == general
    if -(2**31) <= a + b < 2**31:
        assert isinstance(P.decode(fast), P.Response)


@pytest.mark.parametrize("a", [FAILS, RAISES], ids=["failure-hresult", "server-exception"])
def test_lean_path_failures_are_the_general_paths(server: Server, a: int) -> None:
    fast, general = both_paths(server, request(7, server.ipid, add_stub(a, 0)))
    assert fast == general


@pytest.mark.parametrize("a", [SUCCESS_CODE, FAILURE_CODE], ids=["S_FALSE", "E_FAIL"])
def test_lean_path_returns_with_hresult_as_the_general_path(server: Server, a: int) -> None:
    """The lean path calls a ComObject method's own function and does its wrapper's work
    itself (fastserve.FastMethod.plain): a returned `WithHResult` is the wrapper's."""
    fast, general = both_paths(server, request(7, server.ipid, add_stub(a, 5)))
    assert fast == general
    if a == SUCCESS_CODE:
        assert struct.unpack_from("<iI", fast, len(fast) - 8) == (5, rt.S_FALSE)


def test_lean_path_calls_a_method_set_on_the_instance(server: Server) -> None:
    """A method set on the server object itself (not ComObject's wrapper) is the one
    called, as on the general path, not the class's function."""
    server.calc.Add = lambda a, b: 99  # type: ignore[method-assign]
    try:
        fast, general = both_paths(server, request(7, server.ipid, add_stub(1, 2)))
    finally:
        del server.calc.Add
    assert fast == general
    assert struct.unpack_from("<iI", fast, len(fast) - 8) == (99, rt.S_OK)


WRITE, READ = ISimpleStream._wire_[1], ISimpleStream._wire_[0]


def _write_request(
    server: Server, call_id: int, size: int = 3, cb: int | None = None, tail: bytes = b""
) -> bytes:
    """Write(pv, cb) with `size` bytes; `cb` other than `size` or a `tail` make an NDR
    stub the precompiled codec does not take (the engine faults it)."""
    pv = bytes(i * 7 & 0xFF for i in range(size))
    ndr = WRITE.encode_request({"pv": pv, "cb": size})
    if cb is not None:
        ndr = ndr[:-4] + struct.pack("<I", cb)
    return request(call_id, server.stream_ipid, orpcthis(bytes(16)) + ndr + tail, 4, 1)


def _read_request(server: Server, call_id: int, cb: int) -> bytes:
    ndr = READ.encode_request({"cb": cb})
    return request(call_id, server.stream_ipid, orpcthis(bytes(16)) + ndr, 3, 1)


def _advise_request(server: Server, call_id: int) -> bytes:
    advise = IEventSource._wire_[0]
    assert advise is not None and fast_codec(advise) is advise
    body = orpcthis(bytes(16)) + advise.encode_request({"sink": None})
    return request(call_id, server.events_ipid, body, cont_id=2)


def both_paths(server: Server, frame: bytes) -> tuple[bytes, bytes]:
    """The reply to `frame` on the lean path, then on the general path."""
    client = Client(server.address)
    try:
        fast = exchange(client, frame)
        with general_only():
            return fast, exchange(client, frame)
    finally:
        client.close()


# -- when it is taken -----------------------------------------------------------------------


def test_lean_call_sees_the_general_paths_context_variables(server: Server) -> None:
    """Peer, caller, reference book, client and call context, in a lean call as in a
    general one from the same connection (the lean path runs each call in a copy of the
    connection's context), and none of them left set on the thread afterwards."""
    server.calc.seen.clear()
    client = Client(server.address)
    fails, sees = (
        request(6, server.ipid, add_stub(FAILS, 0)),
        request(7, server.ipid, add_stub(SEES, 0)),
    )
    try:
        exchange(client, fails)  # its E_FAIL must not be the next call's last HRESULT
        fast = exchange(client, sees)
        with general_only():
            exchange(client, fails)
            general = exchange(client, sees)
    finally:
        client.close()
    assert fast == general
    lean, queued = server.calc.seen
    assert lean == queued
    peer, who, client, book, call, last = lean
    assert peer == "127.0.0.1" and who == ANONYMOUS and last == rt.S_OK
    assert client is not None and book is not None and call is not None
    assert current_peer() is None and caller() is None and remote_client.get() is None


def test_lean_path_serves_the_common_call(server: Server) -> None:
    client = Client(server.address)
    try:
        for call_id in range(2, 12):
            frame = request(call_id, server.ipid, add_stub(call_id, 1))
            reply: list[bytes] = []
            assert taken_by(lambda: reply.append(exchange(client, frame))) == 1  # noqa: B023
            pdu = P.decode(reply[0])
            assert isinstance(pdu, P.Response) and pdu.call_id == call_id
            out = ADD.decode_response(pdu.stub[8:], scope={})
            assert out.outs["sum"] == call_id + 1
    finally:
        client.close()


def test_a_served_lean_call_leaves_nothing_to_the_cyclic_collector(server: Server) -> None:
    """A lean call's state and its call object must not refer to each other (the state's
    cancel hook was the call's bound method): every call served would otherwise be freed
    only by the cyclic garbage collector, which then runs every few hundred calls."""
    client = Client(server.address)
    try:
        exchange(client, request(2, server.ipid, add_stub(1, 1)))
        gc.collect()
        gc.disable()
        try:
            for call_id in range(3, 13):
                frame = request(call_id, server.ipid, add_stub(call_id, 1))
                assert taken_by(lambda: exchange(client, frame)) == 1  # noqa: B023
            gc.set_debug(gc.DEBUG_SAVEALL)  # what the collector finds stays in gc.garbage
            gc.collect()
            left = [o for o in gc.garbage if isinstance(o, LeanCall | CallState)]
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
            gc.enable()
        assert not left
    finally:
        client.close()


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 5000), st.integers(2, 2**32 - 1))
def test_lean_path_serves_byte_buffers_with_the_general_paths_bytes(
    server: Server, size: int, call_id: int
) -> None:
    """Write(pv, cb) with any payload that fits one fragment, and Read(cb), whose reply is
    a conformant varying array sized by the [in] cb: taken by the lean path, the same
    reply bytes as the general path."""
    for frame in (_write_request(server, call_id, size), _read_request(server, call_id, size)):
        got: list[tuple[bytes, bytes]] = []
        assert taken_by(lambda: got.append(both_paths(server, frame))) == 1  # noqa: B023
        fast, general = got[0]
        assert fast == general
        assert isinstance(P.decode(fast), P.Response)
    pdu = P.decode(fast)
    assert isinstance(pdu, P.Response)
    out = READ.decode_response(pdu.stub[8:], scope={"cb": size})
    assert out.outs == {"pv": bytes(i & 0xFF for i in range(size // 2)), "pcbRead": size // 2}


def _replies(client: Client) -> list[bytes]:
    """Every fragment of one reply."""
    frames = [client.raw()]
    while not frames[-1][3] & P.PFC_LAST_FRAG:
        frames.append(client.raw())
    return frames


def test_large_byte_buffers_go_through_fragments_on_the_general_path(server: Server) -> None:
    """A 64 KiB Write is several request fragments: the general path reassembles it. A
    Read of 128 KiB is one request fragment the lean path takes, but its 64 KiB reply needs
    fragments: the general code cuts it, into the general path's bytes."""
    size = 64 * 1024
    pv = bytes(i * 7 & 0xFF for i in range(size))
    stub = orpcthis(bytes(16)) + WRITE.encode_request({"pv": pv, "cb": size})
    ipid = GUID.from_bytes_le(server.stream_ipid)
    frames = request_fragments(9, 1, 4, stub, 5840, ipid)
    assert len(frames) > 10
    client = Client(server.address)
    try:
        got: list[bytes] = []
        assert taken_by(lambda: got.append(exchange(client, b"".join(frames)))) == 0
        pdu = P.decode(got[0])
        assert isinstance(pdu, P.Response)
        assert WRITE.decode_response(pdu.stub[8:]).outs == {"pcbWritten": size}
        read = _read_request(server, 10, 2 * size)
        fast: list[list[bytes]] = []
        assert taken_by(lambda: (client.send(read), fast.append(_replies(client)))) == 1
        with general_only():
            client.send(read)
            general = _replies(client)
    finally:
        client.close()
    assert len(general) > 10 and fast[0] == general
    stub = b"".join(P.decode(f).stub for f in general)
    out = READ.decode_response(stub[8:], scope={"cb": 2 * size})
    assert out.outs["pv"] == bytes(i & 0xFF for i in range(size))


def _fragments(call_id: int, ipid: bytes, stub: bytes) -> bytes:
    half = 40  # a multiple of 8: the NDR alignment does not depend on the cut
    first = request(call_id, ipid, stub[:half], flags=P.PFC_FIRST_FRAG)
    last = request(call_id, ipid, stub[half:], flags=P.PFC_LAST_FRAG)
    return first + last


def _with_extensions(stub: bytes) -> bytes:
    head = ORPCTHIS.pack(5, 7, 0, 0, bytes(16), 0x20000)
    return head + stub[ORPCTHIS.size :]


@pytest.mark.parametrize(
    "case",
    [
        "fragmented",
        "pending-cancel",
        "unknown-ipid",
        "orpcthis-extensions",
        "sta-object",
        "no-precompiled-codec",
        "buffer-size-disagrees",
        "buffer-trailing-bytes",
        "short-stub",
        "channel-observer",
        "unbound-context",
    ],
)
def test_lean_path_leaves_every_other_request_to_the_general_path(
    server: Server, case: str
) -> None:
    stub = add_stub(20, 22)
    ipid = server.ipid
    frame = request(5, ipid, stub)
    if case == "fragmented":
        frame = _fragments(5, ipid, stub)
    elif case == "pending-cancel":
        flags = P.PFC_FIRST_FRAG | P.PFC_LAST_FRAG | P.PFC_PENDING_CANCEL
        frame = request(5, ipid, stub, flags=flags)
    elif case == "unknown-ipid":
        frame = request(5, ipid[:8] + bytes(8), stub)
    elif case == "orpcthis-extensions":
        frame = request(5, ipid, _with_extensions(stub))
    elif case == "sta-object":
        frame = request(5, server.sta_ipid, stub)
    elif case == "no-precompiled-codec":  # IEventSource::Advise: an interface pointer
        frame = _advise_request(server, 5)
    elif case == "buffer-size-disagrees":  # Write(pv, cb) whose cb is not pv's count
        frame = _write_request(server, 5, cb=4)
    elif case == "buffer-trailing-bytes":
        frame = _write_request(server, 5, tail=bytes(4))
    elif case == "short-stub":
        frame = request(5, ipid, stub[:-4])
    elif case == "unbound-context":  # a presentation context the client never bound
        frame = request(5, ipid, stub, cont_id=9)
    observer = channel.observe(lambda f: None) if case == "channel-observer" else None
    client = Client(server.address)
    got: list[bytes] = []
    try:
        with observer or contextlib.nullcontext():
            assert taken_by(lambda: got.append(exchange(client, frame))) == 0
    finally:
        client.close()
    reply = P.decode(got[0])
    assert isinstance(reply, P.Response | P.Fault) and reply.call_id == 5


def test_lean_path_is_off_for_authenticated_servers() -> None:
    from idlgen.runtime.rpc.dcerpc.auth import Credentials, ServerSecurity

    creds = Credentials()
    creds.add("WORKGROUP", "u", "p")
    endpoint = Endpoint(security=ServerSecurity(creds))
    try:
        bound = endpoint.listen("ncacn_ip_tcp:127.0.0.1[0]")
        with socket.create_connection((bound.address, int(bound.endpoint)), timeout=WAIT):
            until(lambda: endpoint.server.connection_count == 1, WAIT)
            conns = list(endpoint.server._conns)
        assert [conn.fast_handler for conn in conns] == [None]
    finally:
        endpoint.close()


# -- no hand-off, and nobody stalled --------------------------------------------------------


@pytest.fixture
def client(server: Server) -> Iterator[Client]:
    """A bound client whose first call has started the reactor's spare thread, so the
    calls it makes next may run on the reactor thread."""
    c = Client(server.address)
    try:
        exchange(c, request(2, server.ipid, add_stub(1, 1)))
        until(lambda: server.reactor._spares == 1, WAIT)
        yield c
    finally:
        c.close()


def test_common_call_runs_on_the_thread_that_read_it(server: Server, client: Client) -> None:
    server.calc.threads.clear()
    exchange(client, request(3, server.ipid, add_stub(1, 1)))
    # A reactor thread (the one that read it), not one of the MTA's: no hand-off.
    assert [t.name for t in server.calc.threads] == ["rpc-reactor"]


def test_lean_call_with_a_spare_ready_runs_inline_without_asking_inline_ready(
    server: Server, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reactor says once per read that a spare thread is ready (`framing_ready`): a
    lean call does not ask `inline_ready` (a Python call per request) then."""
    reactor = server.reactor
    asked: list[int] = []
    ask = type(reactor).inline_ready
    monkeypatch.setattr(type(reactor), "inline_ready", lambda r: asked.append(1) or ask(r))
    server.calc.threads.clear()
    reply = P.decode(exchange(client, request(3, server.ipid, add_stub(2, 3))))
    assert isinstance(reply, P.Response)
    assert [t.name for t in server.calc.threads] == ["rpc-reactor"] and asked == []
    assert reactor.framing_ready is False  # only while a read is framed


def test_lean_call_without_a_spare_asks_inline_ready_which_starts_one(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No spare ready when the read began: the call asks `inline_ready` (which starts a
    spare thread) and goes to the apartment's threads."""
    reactor = server.reactor
    asked: list[int] = []
    ask = type(reactor).inline_ready
    monkeypatch.setattr(type(reactor), "inline_ready", lambda r: asked.append(1) or ask(r))
    monkeypatch.setattr(reactor, "_spares", 0)  # as before the first call: none ready
    monkeypatch.setattr(reactor, "_want_spare", lambda: asked.append(2))
    c = Client(server.address)
    try:
        server.calc.threads.clear()
        reply = P.decode(exchange(c, request(2, server.ipid, add_stub(2, 3))))
    finally:
        c.close()
    assert isinstance(reply, P.Response)
    assert asked == [1, 2]
    assert [t.name for t in server.calc.threads] != ["rpc-reactor"]


def test_any_mta_call_runs_on_the_thread_that_read_it(server: Server, client: Client) -> None:
    """No hand-off for the general path either: a method without a precompiled codec in
    an MTA runs on the reactor thread (the STA keeps its own thread: next test)."""
    server.calc.threads.clear()
    assert taken_by(lambda: exchange(client, _advise_request(server, 3))) == 0
    assert [t.name for t in server.calc.threads] == ["rpc-reactor"]


def test_sta_calls_still_run_on_the_sta_thread(server: Server, client: Client) -> None:
    server.sta_calc.threads.clear()
    reply = P.decode(exchange(client, request(3, server.sta_ipid, add_stub(1, 1))))
    assert isinstance(reply, P.Response)
    assert [t.name for t in server.sta_calc.threads] == ["fast-sta"]


def test_slow_inline_call_stalls_neither_its_connection_nor_others(server: Server) -> None:
    slow, other = Client(server.address), Client(server.address)
    calc = server.calc
    try:
        exchange(slow, request(2, server.ipid, add_stub(1, 1)))
        until(lambda: server.reactor._spares == 1, WAIT)
        takeovers = server.reactor.takeovers
        calc.release.clear()
        calc.threads.clear()
        slow.send(request(3, server.ipid, add_stub(BLOCK, 0)))
        until(lambda: len(calc.threads) == 1, WAIT)
        # It counts as running (a server closing with a grace period waits for it).
        assert server.endpoint.server.running_calls() == 1
        # The blocked call holds the thread that read it; calls still get answered.
        same = P.decode(exchange(slow, request(4, server.ipid, add_stub(2, 3))))
        assert isinstance(same, P.Response) and same.call_id == 4
        elsewhere = P.decode(exchange(other, request(2, server.ipid, add_stub(5, 6))))
        assert isinstance(elsewhere, P.Response)
        assert server.reactor.takeovers == takeovers + 1
        calc.release.set()
        late = slow.pdu()
        assert isinstance(late, P.Response) and late.call_id == 3
    finally:
        calc.release.set()
        slow.close()
        other.close()


def test_cancel_reaches_a_call_running_on_the_reactor_thread(
    server: Server, client: Client
) -> None:
    server.calc.threads.clear()
    before = fastpath.taken
    client.send(request(3, server.ipid, add_stub(WATCH, 0)))
    until(lambda: len(server.calc.threads) == 1, WAIT)
    assert fastpath.taken == before + 1
    assert [t.name for t in server.calc.threads] == ["rpc-reactor"]  # run inline
    client.send(P.encode(P.CoCancel(3)))
    reply = client.pdu()
    assert isinstance(reply, P.Response) and reply.cancel_count == 1
    assert ADD.decode_response(reply.stub[8:], scope={}).outs["sum"] == 1


def test_lean_reply_of_a_call_canceled_more_than_255_times_says_255(
    server: Server, client: Client
) -> None:
    """The cancel count is one byte of the response header: the lean path's usual reply
    leaves a count over 255 to `LeanCall.reply`, which clamps it as the general path does."""
    before = fastpath.taken
    reply = P.decode(exchange(client, request(3, server.ipid, add_stub(CANCELED_300, 9))))
    assert fastpath.taken == before + 1
    assert isinstance(reply, P.Response) and reply.cancel_count == 255
    assert ADD.decode_response(reply.stub[8:], scope={}).outs["sum"] == CANCELED_300 + 9


def test_cancel_before_a_lean_call_starts_is_the_general_paths_canceled_fault(
    server: Server,
) -> None:
    """A request and its co_cancel in one read: the lean path has taken the call (the
    cancel finds it in the exporter's table) but not started it, and answers that it
    was canceled without running it, byte for byte as the general path does."""
    replies = []
    for path in (contextlib.nullcontext, general_only):
        server.calc.threads.clear()
        client = Client(server.address)
        try:
            with path():
                both = request(9, server.ipid, add_stub(1, 2)) + P.encode(P.CoCancel(9))
                took = taken_by(lambda: replies.append(exchange(client, both)))  # noqa: B023
        finally:
            client.close()
        assert took == (1 if path is contextlib.nullcontext else 0)
        assert server.calc.threads == []  # never ran
    fast, general = replies
    assert fast == general
    fault = P.decode(fast)
    assert isinstance(fault, P.Fault) and fault.status == P.NCA_S_FAULT_CANCEL


def test_replies_of_one_read_leave_in_fewer_sends(
    server: Server, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Requests that arrive together are answered together: their replies wait in the
    connection's buffer until the read's calls are done, then go out in one send (a read
    may hold fewer than all 32 requests, so the test asks for fewer sends than replies)."""
    writes: list[int] = []
    flush = Transport.flush

    def counting(t: Transport) -> None:
        if t.outbuf or t.held:  # replies wait in either until the flush sends them
            writes.append(len(t.outbuf) + sum(map(len, t.held)))
        flush(t)

    monkeypatch.setattr(Transport, "flush", counting)
    client.send(b"".join(request(i, server.ipid, add_stub(i, i)) for i in range(10, 42)))
    replies = [client.pdu() for _ in range(32)]
    assert [r.call_id for r in replies] == list(range(10, 42))
    sums = [ADD.decode_response(r.stub[8:], scope={}).outs["sum"] for r in replies]
    assert sums == [2 * i for i in range(10, 42)]
    assert 1 <= len(writes) < 32


class _CountingLock:
    """A lock that counts its turns (the apartment's, for the test below)."""

    def __init__(self, lock: Any) -> None:
        self.lock = lock
        self.turns = 0

    def acquire(self, *args: Any) -> bool:
        self.turns += 1
        return bool(self.lock.acquire(*args))

    def release(self) -> None:
        self.lock.release()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def test_calls_of_one_read_enter_their_apartment_once(
    server: Server, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The calls of one read to one MTA run on the reactor thread one after the other as
    one batch (`LeanCall.run`), in the apartment once: two turns of the apartment's lock
    per run of like requests (the first's reservation, then the rest's in one), and two
    per batch (enter, leave). A read may hold fewer than all 32 requests (a run per read):
    the test asks for fewer turns than one per call."""
    counting = _CountingLock(server.mta._lock)
    monkeypatch.setattr(server.mta, "_lock", counting)
    client.send(b"".join(request(i, server.ipid, add_stub(i, 1)) for i in range(10, 42)))
    replies = [client.pdu() for _ in range(32)]
    assert [r.call_id for r in replies] == list(range(10, 42))
    until(lambda: server.mta._busy == 0, WAIT)
    assert server.mta._reserved == 0
    assert 4 <= counting.turns < 32


def test_a_call_that_stayed_for_the_next_leaves_when_the_reading_is_taken_over(
    server: Server,
) -> None:
    """A call of a batch runs too long: the spare takes the reading over and the batch's
    next call goes to the apartment's threads (`LeanCall.post_rest`), answered before the
    slow one; the thread that ran the slow call leaves the apartment after it, which does
    not count it busy any more."""
    client, calc = Client(server.address), server.calc
    try:
        exchange(client, request(2, server.ipid, add_stub(1, 1)))
        until(lambda: server.reactor._spares == 1, WAIT)
        takeovers = server.reactor.takeovers
        calc.release.clear()
        client.send(
            request(3, server.ipid, add_stub(BLOCK, 0)) + request(4, server.ipid, add_stub(2, 3))
        )
        first = P.decode(client.raw())
        assert isinstance(first, P.Response) and first.call_id == 4
        calc.release.set()
        late = P.decode(client.raw())
        assert isinstance(late, P.Response) and late.call_id == 3
        assert server.reactor.takeovers == takeovers + 1
        until(lambda: server.mta._busy == 0 and server.mta._reserved == 0, WAIT)
    finally:
        calc.release.set()
        client.close()


def test_replies_made_before_a_slow_call_of_the_batch_do_not_wait_for_it(
    server: Server,
) -> None:
    """A batch's replies wait in its transport (`Transport.held`) for the batch's send:
    when a later call of the batch runs too long, the thread that takes the reading over
    sends the replies made before it, and serves the calls after it elsewhere."""
    client, calc = Client(server.address), server.calc
    try:
        exchange(client, request(2, server.ipid, add_stub(1, 1)))
        until(lambda: server.reactor._spares == 1, WAIT)
        calc.release.clear()
        client.send(
            request(3, server.ipid, add_stub(1, 1))
            + request(4, server.ipid, add_stub(BLOCK, 0))
            + request(5, server.ipid, add_stub(2, 2))
        )
        early = sorted(P.decode(client.raw()).call_id for _ in range(2))
        assert early == [3, 5]  # while call 4 still runs
        calc.release.set()
        late = P.decode(client.raw())
        assert isinstance(late, P.Response) and late.call_id == 4
    finally:
        calc.release.set()
        client.close()


class _UncorkedMeanwhile(Transport):
    """A transport that is corked when a reply is held, and uncorked (and flushed) right
    after: the moment a takeover's flush ran between the two."""

    reads = 0

    @property  # type: ignore[override]
    def corked(self) -> bool:
        self.reads += 1
        return self.reads == 1

    @corked.setter
    def corked(self, value: bool) -> None:
        pass


def test_a_reply_held_as_its_transport_is_uncorked_is_sent_all_the_same(
    server: Server, client: Client
) -> None:
    (conn,) = [
        c
        for c in list(server.endpoint.server._conns)
        if c.transport.sock.getpeername() == client.sock.getsockname()
    ]
    t = conn.transport
    t.__class__ = _UncorkedMeanwhile
    try:
        pdu = P.decode(exchange(client, request(3, server.ipid, add_stub(2, 3))))
    finally:
        t.__class__ = Transport
    assert isinstance(pdu, P.Response) and pdu.call_id == 3
    assert ADD.decode_response(pdu.stub[8:], scope={}).outs["sum"] == 5


def test_a_batch_stops_at_the_outstanding_limit_as_the_general_path_does(
    server: Server, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Calls joining a batch count against the connection's `max_outstanding` like every
    call: past it, the general path's fault (server too busy, not executed)."""
    rpc = server.endpoint.server
    monkeypatch.setattr(rpc, "limits", dataclasses.replace(rpc.limits, max_outstanding=4))
    burst = b"".join(request(i, server.ipid, add_stub(i, 1)) for i in range(10, 16))
    replies = []
    for path in (contextlib.nullcontext, general_only):
        with path():
            client.send(burst)
            replies.append(sorted((client.raw() for _ in range(6)), key=lambda f: f[12:16]))
    fast, general = replies
    assert fast == general
    kinds = [type(P.decode(f)) for f in fast]
    assert kinds.count(P.Response) == 4 and kinds.count(P.Fault) == 2


def test_a_lone_calls_reply_is_sent_as_it_is_made(
    server: Server, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read of one request (a synchronous client) corks nothing: the reply goes out in
    the call's own send, not through the connection's buffer and a flush at the batch's
    end (a second turn of the transport's lock and a copy per call)."""
    flushed: list[int] = []
    flush = Transport.flush

    def counting(t: Transport) -> bool:
        if t.outbuf or t.held:
            flushed.append(len(t.outbuf) + sum(map(len, t.held)))
        return flush(t)

    monkeypatch.setattr(Transport, "flush", counting)
    for call_id in range(3, 13):
        reply: list[bytes] = []
        frame = request(call_id, server.ipid, add_stub(call_id, 1))
        assert taken_by(lambda: reply.append(exchange(client, frame))) == 1  # noqa: B023
        pdu = P.decode(reply[0])
        assert isinstance(pdu, P.Response) and pdu.call_id == call_id
    assert flushed == []


class _HookGoesAway(CallState):
    """A state whose cancel hook is cleared by another thread right after it is first
    read: the moment a lean call ends (`FastCall._done`) while its cancel is handled."""

    __slots__ = ("hook", "reads")

    @property  # type: ignore[override]
    def on_cancel(self) -> Callable[[], None] | None:
        self.reads += 1
        return self.hook if self.reads == 1 else None

    @on_cancel.setter
    def on_cancel(self, hook: Callable[[], None] | None) -> None:
        self.reads = 0
        self.hook = hook


def test_a_cancel_reads_its_hook_once() -> None:
    """The hook a cancel finds is the one it calls (a lean call clears it from its own
    thread when it ends; a cancel on the reactor thread meanwhile calls what it read, and
    never None)."""
    called: list[int] = []
    state = _HookGoesAway(7)
    state.on_cancel = lambda: called.append(1)
    state.cancel()
    assert called == [1] and state.canceled and state.cancel_count == 1


def _connection_of(server: Server, client: Client) -> Any:
    (conn,) = [
        c
        for c in list(server.endpoint.server._conns)
        if c.transport.sock.getpeername() == client.sock.getsockname()
    ]
    return conn


@pytest.mark.parametrize("first", [FAILS, RAISES])
def test_a_batch_holds_its_running_turn_until_its_last_call_whatever_its_first_returns(
    server: Server, client: Client, monkeypatch: pytest.MonkeyPatch, first: int
) -> None:
    """A batch takes one running turn of its connection for all its calls: a first call
    whose reply the general path makes (a failure, a server exception) does not give
    that turn back with its reply while the batch's other calls still run, or the
    connection's share of running calls (max_running_per_connection) would not count
    them."""
    conn = _connection_of(server, client)
    running: list[int] = []
    add = Calc.Add

    def counting_add(a: int, b: int) -> int:
        if a >= 0:
            running.append(conn.running + len(conn.batches))  # the batch's turn: `batches`
        return add(server.calc, a, b)  # type: ignore[no-any-return]

    monkeypatch.setattr(server.calc, "Add", counting_add, raising=False)
    client.send(
        request(10, server.ipid, add_stub(first, 0))
        + b"".join(request(i, server.ipid, add_stub(i, 1)) for i in range(11, 17))
    )
    replies = [P.decode(client.raw()) for _ in range(7)]
    assert sorted(type(r).__name__ for r in replies).count("Response") >= 6
    assert len(running) == 6 and min(running) >= 1
    until(lambda: conn.running + len(conn.batches) == 0, WAIT)


@pytest.fixture
def one_running_call(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """max_running_per_connection = 1 on the test server."""
    rpc = server.endpoint.server
    limits = dataclasses.replace(rpc.server_limits, max_running_per_connection=1)
    monkeypatch.setattr(rpc, "server_limits", limits)


def test_a_call_that_waits_for_a_batchs_turn_starts_when_the_batch_ends(
    server: Server, client: Client, one_running_call: None
) -> None:
    """A batch's running turn is taken and given back without the connection's lock
    (`fastpath.join`, `fastpath.end_batch`); a general-path call that waits for it at
    the connection's share runs once the batch ends, not before, and not never."""
    calc = server.calc
    exchange(client, request(2, server.ipid, add_stub(1, 1)))
    until(lambda: server.reactor._spares == 1, WAIT)
    calc.release.clear()
    try:
        client.send(
            request(3, server.ipid, add_stub(BLOCK, 0))
            + request(4, server.ipid, _with_extensions(add_stub(2, 3)))  # the general path
        )
        conn = _connection_of(server, client)
        until(lambda: len(conn.waiting) == 1, WAIT)  # the batch holds the one turn
        calc.release.set()
        assert sorted(P.decode(client.raw()).call_id for _ in range(2)) == [3, 4]
        until(lambda: conn.running + len(conn.batches) == 0, WAIT)
    finally:
        calc.release.set()


class _EndsMeanwhile(set[CallState]):
    """A connection's batches whose only batch ends just after `_admit` counts it."""

    def __init__(self) -> None:
        super().__init__()
        self.counted = 0

    def __len__(self) -> int:
        self.counted += 1
        return 1 if self.counted == 1 else 0


def test_a_call_queued_as_a_batch_ends_without_the_lock_runs_all_the_same(
    server: Server, client: Client, one_running_call: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`_Connection._admit` looks at the batches' turns again after it queued a call: a
    batch that ended between its count and the queueing (without the lock) may have
    looked at `waiting` before the call was there."""
    conn = _connection_of(server, client)
    monkeypatch.setattr(conn, "batches", _EndsMeanwhile())
    ran: list[bool] = []
    state = CallState(99)
    conn._admit(state, lambda: ran.append(True))
    assert ran == [True] and not conn.waiting and state.running
    conn.release_turn(state)
    assert conn.running == 0


def test_a_batch_handed_to_its_apartment_before_it_ran_gives_its_turn_back(
    server: Server, client: Client
) -> None:
    """A read's calls to two MTAs are two batches; when the first is taken over (a slow
    call), the second goes to its apartment (`LeanCall.post`) and its running turn
    leaves the connection's batches (`fastpath.requeue`)."""
    other = Apartment.mta(1, "fast-mta-2")
    calc = server.calc
    try:
        ipid = Server._export(other, Calc(), ICalc)
        exchange(client, request(2, server.ipid, add_stub(1, 1)))
        until(lambda: server.reactor._spares == 1, WAIT)
        takeovers = server.reactor.takeovers
        calc.release.clear()
        client.send(request(3, server.ipid, add_stub(BLOCK, 0)) + request(4, ipid, add_stub(2, 3)))
        first = P.decode(client.raw())
        assert isinstance(first, P.Response) and first.call_id == 4
        assert server.reactor.takeovers == takeovers + 1
        calc.release.set()
        assert P.decode(client.raw()).call_id == 3
        conn = _connection_of(server, client)
        until(lambda: conn.running + len(conn.batches) == 0, WAIT)
    finally:
        calc.release.set()
        other.shutdown()
