"""The lean ORPC call path (orpc/fastcall.py, issue 13): its bytes are the general path's,
it is taken for the common case and only then, and a caller reading its own reply hands
every other call's reply to its owner."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lab_objects as lab
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from orpc_helpers import WAIT, server_process
from orpc_objects import LARGE_READ, pattern
from stream_handwritten import ICalc, IID_AsyncICalc, IID_AsyncISimpleStream, ISimpleStream
from test_call_semantics_everywhere import _across_processes
from test_orpc_auth import private_server  # noqa: F401  (a fixture)
from waiting import until

from idlgen import runtime as rt
from idlgen.runtime.apartments import channel
from idlgen.runtime.apartments.apartment import Apartment
from idlgen.runtime.apartments.proxy import ProxyCall
from idlgen.runtime.apartments.registry import wire_table
from idlgen.runtime.apartments.routes import routes
from idlgen.runtime.com import deadline
from idlgen.runtime.com.guid import GUID
from idlgen.runtime.com.stdiface import ICallFactory
from idlgen.runtime.ndr import NdrMarshalError
from idlgen.runtime.ndr.fastwire import BufferCodec
from idlgen.runtime.rpc import orpc
from idlgen.runtime.rpc.dcerpc import pdu as P
from idlgen.runtime.rpc.dcerpc.auth import AuthLevel, ClientAuth
from idlgen.runtime.rpc.dcerpc.client import ClientCall, WireCall
from idlgen.runtime.rpc.dcerpc.fragments import request_fragments
from idlgen.runtime.rpc.orpc import fastcall
from idlgen.runtime.rpc.orpc.fastcall import Lane, lane_reply, lean_request, request_middle
from idlgen.runtime.rpc.orpc.wire import OrpcError, causality_id, orpcthis, split_orpcthat

HERE = Path(__file__).resolve().parent
u32 = st.integers(0, 0xFFFFFFFF)
u16 = st.integers(0, 0xFFFF)
long_ = st.integers(-(2**31), 2**31 - 1)


# -- bytes ----------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    call_id=u32,
    cont_id=u16,
    opnum=u16,
    ipid=st.binary(min_size=16, max_size=16),
    cid=st.integers(0, 2**64 - 1),
    a=long_,
    b=long_,
    tail=st.binary(max_size=64),
)
def test_lean_request_is_the_general_paths_bytes(
    call_id: int, cont_id: int, opnum: int, ipid: bytes, cid: int, a: int, b: int, tail: bytes
) -> None:
    add = wire_table(ICalc)[3]  # Add's precompiled codec (opnum 3, after IUnknown)
    for ndr in (add.encode_request({"a": a, "b": b}), tail):
        stub = orpcthis(causality_id(cid)) + ndr
        (general,) = request_fragments(
            call_id, cont_id, opnum, stub, P.MIN_FRAG, GUID.from_bytes_le(ipid)
        )
        assert lean_request(call_id, cont_id, opnum, request_middle(ipid), cid, ndr) == general


@settings(max_examples=300, deadline=None)
@given(
    call_id=u32,
    cid=st.integers(0, 2**64 - 1),
    ipid=st.binary(min_size=16, max_size=16),
    pv=st.binary(max_size=300),
    extra=st.integers(0, 9),
)
def test_lean_buffer_calls_are_the_general_paths_bytes(
    call_id: int, cid: int, ipid: bytes, pv: bytes, extra: int
) -> None:
    """Write(pv, cb) and Read(cb) as the proxy encodes them now (their precompiled codec)
    and frames them (the lane): the engine's encoding framed by the general path, byte for
    byte; Read's reply (pv sized by the [in] cb) decodes to the engine's values."""
    read, write = wire_table(ISimpleStream)[3:5]
    assert isinstance(read, BufferCodec) and isinstance(write, BufferCodec)
    engine_read, engine_write = ISimpleStream._wire_
    assert engine_read is not None and engine_write is not None
    ins = {"cb": len(pv) + extra}
    for codec, engine, values in (
        (write, engine_write, {"pv": pv, "cb": len(pv)}),
        (read, engine_read, ins),
    ):
        ndr = codec.encode_request(values)
        assert ndr == engine.encode_request(values)
        opnum = codec.method.opnum
        assert opnum is not None
        stub = orpcthis(causality_id(cid)) + engine.encode_request(values)
        (general,) = request_fragments(call_id, 1, opnum, stub, 4096, GUID.from_bytes_le(ipid))
        assert lean_request(call_id, 1, opnum, request_middle(ipid), cid, ndr) == general
    reply = engine_read.encode_response({"pv": pv, "pcbRead": len(pv)}, 0, scope=ins)
    fast = read.decode_response(memoryview(reply), scope=ins)
    assert fast == engine_read.decode_response(reply, scope=ins)
    assert fast.outs == {"pv": pv, "pcbRead": len(pv)}


def bare_lane(cont_id: int, ipid: bytes, max_ndr: int = 4096) -> Lane:
    """A lane without a connection: what `Lane.request` reads."""
    lane = Lane.__new__(Lane)
    lane.cont_id, lane.ipid, lane.max_ndr = cont_id, ipid, max_ndr
    lane.middle = request_middle(ipid)
    return lane


@settings(max_examples=300, deadline=None)
@given(call_id=u32, cont_id=u16, ipid=st.binary(min_size=16, max_size=16), a=long_, b=long_)
def test_an_all_integer_request_packed_whole_is_lean_requests_bytes(
    call_id: int, cont_id: int, ipid: bytes, a: int, b: int
) -> None:
    """`Lane.request` packs an all-integer method's header and [in] values in one struct
    (`WholeRequest`): the bytes `lean_request` frames the codec's NDR into, with the
    causality id it drew."""
    (add,) = (r for r in routes(ICalc) if r.method.name == "Add")
    assert add.ints is not None
    frame = bare_lane(cont_id, ipid).request(call_id, add, (a, b), None)
    assert frame is not None
    cid = fastcall.REQUEST_HEAD.unpack_from(frame)[17]
    ndr = wire_table(ICalc)[3].encode_request({"a": a, "b": b})
    assert frame == lean_request(call_id, cont_id, 3, request_middle(ipid), cid, ndr)


def test_a_whole_request_the_lane_cannot_take_is_refused() -> None:
    """Out of range, or larger than one fragment: None, and the general path encodes it
    (and faults the first with the engine's error)."""
    (add,) = (r for r in routes(ICalc) if r.method.name == "Add")
    lane = bare_lane(1, bytes(16))
    assert lane.request(1, add, (2**31, 0), None) is None
    assert lane.request(1, add, (0, -(2**31) - 1), None) is None
    assert bare_lane(1, bytes(16), max_ndr=4).request(1, add, (1, 2), None) is None
    assert lane.request(1, add, (1, 2), None) is not None


def test_ints_out_of_range_or_not_ints_fail_with_the_engines_error_on_both_calls(hub: Any) -> None:
    with pytest.raises(rt.COMError) as sync:
        hub.Add(2**31, 1)
    factory = hub.QueryInterface(ICallFactory)
    call = factory.CreateCall(IID_AsyncICalc, None, IID_AsyncICalc)
    with pytest.raises(rt.COMError) as begun:
        call.Begin_Add(1, -(2**31) - 1)
    assert sync.value.hresult == begun.value.hresult == NdrMarshalError("").hresult
    call.Begin_Add(2, 3)  # the object is idle again
    assert call.wait(WAIT) and call.Finish_Add() == 5
    assert hub.Add(2, 3) == 5
    # not an int, though `struct` would pack it: the engine refuses it, on both calls
    with pytest.raises(rt.COMError):
        hub.Add(_Index(), 1)
    with pytest.raises(rt.COMError):
        call.Begin_Add(1, _Index())
    call.Release()
    factory.Release()


def test_ints_that_are_not_exact_ints_still_take_the_lane(hub: Any) -> None:
    """A bool or an int subclass is encoded by the codec's checks, then framed by the lane."""
    taken = fastcall.taken()
    assert hub.Add(True, 2) == 3
    assert hub.Add(_Small(4), 2) == 6
    factory = hub.QueryInterface(ICallFactory)
    call = factory.CreateCall(IID_AsyncICalc, None, IID_AsyncICalc)
    call.Begin_Add(_Small(5), False)
    assert call.wait(WAIT) and call.Finish_Add() == 5
    assert fastcall.taken() - taken == 3
    call.Release()
    factory.Release()


class _Small(int):
    pass


class _Index:
    def __index__(self) -> int:
        return 3


@settings(max_examples=200, deadline=None)
@given(flags=u32, extensions=u32, ndr=st.binary(max_size=32))
def test_lean_reply_reads_orpcthat_as_the_general_path_does(
    flags: int, extensions: int, ndr: bytes
) -> None:
    stub = flags.to_bytes(4, "little") + extensions.to_bytes(4, "little") + ndr
    call = ClientCall.__new__(ClientCall)
    call.reply, call.error = stub, None
    try:
        expected: Any = bytes(split_orpcthat(stub))
    except OrpcError as exc:
        expected = exc.hresult
    got = lane_reply(call)
    assert (got if isinstance(got, int) else bytes(got)) == expected
    call.reply = memoryview(stub)  # as the reader hands a call object its reply
    got = lane_reply(call)
    assert (got if isinstance(got, int) else bytes(got)) == expected


class InPlace:
    """An association whose every synchronous call is made in place with `stub` as reply."""

    max_xmit = 5840

    def __init__(self, stub: bytes) -> None:
        self.stub = stub
        self.next_id = iter(range(1, 100)).__next__

    def call_alone(
        self, call_id: int, frame: bytes, timeout: float | None, read: Any = None
    ) -> Any:
        got = read(memoryview(self.stub)) if read is not None else None
        return self.stub if got is None else got  # (decoded in place when `read` can)


def test_an_in_place_reply_is_sliced_when_small_and_viewed_not_copied_when_large() -> None:
    for size, kind in ((12, bytes), (4096, memoryview)):
        stub = bytes(8) + bytes(range(256)) * (size // 256) + bytes(size % 256)
        lane = Lane(InPlace(stub), 0, bytes(16), fastcall.generation())  # type: ignore[arg-type]
        (add,) = (r for r in routes(ICalc) if r.method.name == "Add")
        got = lane.call(add, (1, 2), b"", None)
        assert type(got) is kind and bytes(got) == stub[8:]  # type: ignore[arg-type]
        if kind is memoryview:
            assert got.obj is stub  # type: ignore[union-attr]


def test_a_common_in_place_reply_comes_decoded_and_any_other_as_its_data() -> None:
    """A lane's synchronous call gives `call_alone` its route's `read_stub`: a reply led by
    a null ORPCTHAT comes back decoded where it was read, as (value, HRESULT); one that
    `read_stub` leaves to the two steps (ORPCTHAT flags set) comes as its data."""
    (add,) = (r for r in routes(ICalc) if r.method.name == "Add")
    common = bytes(8) + (42).to_bytes(4, "little") + bytes(4)
    lane = Lane(InPlace(common), 0, bytes(16), fastcall.generation())  # type: ignore[arg-type]
    assert lane.call(add, (40, 2), None, None) == (42, 0)
    flagged = (1).to_bytes(4, "little") + bytes(4) + (42).to_bytes(4, "little") + bytes(4)
    lane = Lane(InPlace(flagged), 0, bytes(16), fastcall.generation())  # type: ignore[arg-type]
    got = lane.call(add, (40, 2), None, None)
    assert got == _stub_data_of(flagged)


def _stub_data_of(stub: bytes) -> Any:
    try:
        return bytes(split_orpcthat(stub))
    except OrpcError as exc:
        return exc.hresult


def test_causality_ids_are_distinct_without_uuid4() -> None:
    ids = {causality_id() for _ in range(1000)}
    assert len(ids) == 1000 and all(len(cid) == 16 for cid in ids)


# -- which path -----------------------------------------------------------------------------


@pytest.fixture
def hub() -> Iterator[Any]:
    with server_process("ncacn_ip_tcp:127.0.0.1[0]") as (_, text):
        calc = orpc.connect(text, ICalc)
        assert calc.Add(1, 1) == 2  # the first call goes the general way and finds the lane
        yield calc
        calc.Release()


def lane_of(proxy: Any) -> Lane:
    lane = proxy._mgr.lanes.get(proxy._ipid)
    assert isinstance(lane, Lane)
    return lane


def test_a_call_objects_lean_request_is_lean_requests_bytes(
    hub: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`Lane.begin` sends the bytes `lean_request` gives (which the tests above hold to the
    general path's) for its lane's IPID and context and the call id and causality id it
    drew."""
    factory = hub.QueryInterface(ICallFactory)
    call = factory.CreateCall(IID_AsyncICalc, None, IID_AsyncICalc)
    lane = lane_of(hub)
    outbox = type(lane.assoc.outbox)
    post = outbox.post_locked
    sent: list[bytes] = []

    def kept(self: Any, frames: list[bytes]) -> Any:
        sent.extend(frames)
        return post(self, frames)

    monkeypatch.setattr(outbox, "post_locked", kept)
    taken = fastcall.taken()
    for a, b in ((-5, 7), (2**31 - 1, -(2**31))):
        call.Begin_Add(a, b)
        assert call.wait(WAIT) and call.Finish_Add() == a + b
    monkeypatch.undo()
    assert fastcall.taken() - taken == 2 and len(sent) == 2
    add = wire_table(ICalc)[3]
    for frame, (a, b) in zip(sent, ((-5, 7), (2**31 - 1, -(2**31))), strict=True):
        fields = fastcall.REQUEST_HEAD.unpack_from(frame)
        call_id, cid = fields[7], fields[17]
        ndr = add.encode_request({"a": a, "b": b})
        assert frame == lean_request(call_id, lane.cont_id, 3, request_middle(lane.ipid), cid, ndr)
    call.Release()
    factory.Release()


def test_mta_caller_takes_the_lean_path_and_reads_its_own_reply(hub: Any) -> None:
    assoc = lane_of(hub).assoc
    taken, own = fastcall.taken(), assoc.own_reads
    assert [hub.Add(i, 1) for i in range(20)] == [i + 1 for i in range(20)]
    assert fastcall.taken() - taken == 20
    assert assoc.own_reads - own == 20


def test_a_lean_calls_timeout_is_the_calls_else_the_proxys_else_its_apartments(
    hub: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`_call_` works out a lean call's timeout in place (no `current_apartment()`, no
    `ProxyManager._timeout` call): the same order as the general path, every source read
    at each call, the default included."""
    waits: list[float | None] = []
    call = Lane.call

    def recorded(
        self: Lane, route: Any, ins: tuple[Any, ...], ndr: bytes | None, timeout: float | None
    ) -> Any:
        waits.append(timeout)
        return call(self, route, ins, ndr, timeout)

    monkeypatch.setattr(Lane, "call", recorded)
    mta = rt.process_mta()
    monkeypatch.setattr(mta, "call_timeout", None)
    monkeypatch.setattr(deadline, "DEFAULT_CALL_TIMEOUT", 61.0)
    hub.Add(1, 1)  # the default
    mta.call_timeout = 7.0
    hub.Add(1, 1)  # the caller's apartment's
    joined = Apartment.mta(1, "joined")
    joined.call_timeout = 5.0
    with joined.join():
        hub.Add(1, 1)  # the apartment the thread is in, not the process MTA
    joined.shutdown()
    rt.set_call_timeout(hub, 4.0)
    hub.Add(1, 1)  # the proxy's, before the apartment's
    with rt.call_timeout(3.0):
        hub.Add(1, 1)  # the call's, before the proxy's
    with rt.call_timeout(None):
        hub.Add(1, 1)  # the call's: no bound
    rt.set_call_timeout(hub, None)
    hub.Add(1, 1)  # the proxy's: no bound
    assert waits == [61.0, 7.0, 5.0, 4.0, 3.0, None, None]


def test_calls_leave_the_classes_on_their_path_as_they_were(hub: Any) -> None:
    """Nothing on a call's path assigns to a class: each assignment gives the class a new
    version tag, which undoes the interpreter's specialization of every attribute read
    and method call on its instances (a per-call counter did this to `Lane`)."""
    factory = hub.QueryInterface(ICallFactory)
    hub.Add(1, 1)
    call = factory.CreateCall(IID_AsyncICalc, None, IID_AsyncICalc)
    call.Begin_Add(1, 2)
    call.Finish_Add()
    lane = lane_of(hub)
    on_path = {type(x) for x in (hub, hub._mgr, lane, lane.assoc, lane.assoc.inbox, call)}
    on_path |= {Lane, ClientCall, type(lane.assoc.outbox)}
    classes = {k for cls in on_path for k in cls.__mro__ if k is not object}
    before = {k: dict(vars(k)) for k in classes}
    for i in range(5):
        assert hub.Add(i, 1) == i + 1
        call.Begin_Add(i, 2)
        assert call.Finish_Add() == i + 2
    changed = [k.__name__ for k in classes if dict(vars(k)) != before[k]]
    assert changed == []
    call.Release()
    factory.Release()


def test_faults_and_errors_come_back_the_same_way(hub: Any) -> None:
    stream = hub.QueryInterface(ISimpleStream)
    assert stream.Write(b"ab", 2) == 2  # general, then lean
    taken = fastcall.taken()
    with pytest.raises(rt.COMError):
        stream.Write(b"ab", 3)  # size_is larger than the data: refused before sending
    assert stream.Write(b"abc", 3) == 3
    assert fastcall.taken() - taken == 1
    stream.Release()


def test_sta_callers_pump_on_the_general_path(hub: Any) -> None:
    sta = Apartment.sta("fastcall-sta")
    try:
        taken = fastcall.taken()
        assert sta.run(lambda: hub.Add(2, 3)) == 5
        assert fastcall.taken() == taken
    finally:
        sta.shutdown()


def test_requests_larger_than_one_fragment_take_the_general_path(hub: Any) -> None:
    stream = hub.QueryInterface(ISimpleStream)
    assert stream.Write(b"x", 1) == 1
    taken = fastcall.taken()
    big = bytes(2 * lane_of(stream).assoc.max_xmit)
    assert stream.Write(big, len(big)) == len(big)
    assert fastcall.taken() == taken
    assert stream.Write(b"x", 1) == 1
    assert fastcall.taken() == taken + 1
    stream.Release()


def test_byte_buffers_take_the_lean_path_up_to_one_fragment(hub: Any) -> None:
    """Write and Read (their precompiled codec) on the lane while the request fits one
    fragment; a 64 KiB Write goes out in fragments on the general path; a Read whose
    64 KiB reply comes back in fragments is still a lean call."""
    stream = hub.QueryInterface(ISimpleStream)
    assert stream.Write(b"x", 1) == 1  # general, then lean
    room = lane_of(stream).max_ndr - 8  # Write's NDR: count, pv, cb
    taken = fastcall.taken()
    for size in (1, 3, 5, 4096, room):
        assert stream.Write(pattern(size), size) == size
    assert fastcall.taken() - taken == 5
    for size in (room + 1, 64 * 1024):
        assert stream.Write(pattern(size), size) == size
    assert fastcall.taken() - taken == 5
    for size in (LARGE_READ, 64 * 1024):
        assert stream.Read(size) == (pattern(size), size)
    assert fastcall.taken() - taken == 7
    stream.Release()


def test_buffer_call_objects_decode_with_their_ins(hub: Any) -> None:
    """Begin_Read's reply is sized by its [in] cb: the lean call keeps the [in] values
    for decoding (a primitive method's codec needs none)."""
    stream = hub.QueryInterface(ISimpleStream)
    assert stream.Write(b"x", 1) == 1  # the lane to the stream's IPID is known from now on
    factory = hub.QueryInterface(ICallFactory)
    call = factory.CreateCall(IID_AsyncISimpleStream, None, IID_AsyncISimpleStream)
    taken = fastcall.taken()
    call.Begin_Read(LARGE_READ + 1)
    assert call.wait(WAIT)
    assert call.Finish_Read() == (pattern(LARGE_READ + 1), LARGE_READ + 1)
    assert fastcall.taken() - taken == 1
    call.Release()
    factory.Release()
    stream.Release()


def test_call_objects_results_stay_their_own_after_the_buffer_is_read_into_again(
    hub: Any,
) -> None:
    """A call object's reply is read in place from the connection's receive buffer, many
    to a read: what Finish_ gives must be the call's own, whatever the buffer holds later
    (more bursts of replies of other sizes read into it meanwhile)."""
    stream = hub.QueryInterface(ISimpleStream)
    assert stream.Write(b"x", 1) == 1  # the lane to the stream's IPID is known from now on
    factory = hub.QueryInterface(ICallFactory)

    def burst(sizes: list[int]) -> list[Any]:
        calls = [
            factory.CreateCall(IID_AsyncISimpleStream, None, IID_AsyncISimpleStream) for _ in sizes
        ]
        for call, size in zip(calls, sizes, strict=True):
            call.Begin_Read(size)
        assert all(call.wait(WAIT) for call in calls)
        return calls

    taken = fastcall.taken()
    # (a Read of LARGE_READ bytes or more answers at once; up to 1,500 more: one fragment)
    sizes = [LARGE_READ + 97 * i % 1500 for i in range(64)]
    others = [2 * LARGE_READ + 1500 - size for size in sizes]
    first = burst(sizes)
    results = [call.Finish_Read() for call in burst(others)]
    got = [call.Finish_Read() for call in first]  # their replies were read in place first
    assert got == [(pattern(size), size) for size in sizes]
    assert results == [(pattern(size), size) for size in others]
    assert fastcall.taken() - taken == 2 * len(sizes)
    for call in first:
        call.Release()
    factory.Release()
    stream.Release()


def test_observed_channels_see_every_frame(hub: Any) -> None:
    frames: list[bytes] = []
    taken = fastcall.taken()
    with channel.observe(frames.append):
        assert hub.Add(4, 5) == 9
    assert fastcall.taken() == taken
    assert [channel.parse(f).kind for f in frames] == [channel.REQUEST, channel.RESPONSE]


def test_authenticated_connections_have_no_lane(private_server: str) -> None:  # noqa: F811
    auth = ClientAuth("alice", "Wonder-1", "WORKGROUP", AuthLevel.PKT_PRIVACY)
    calc = orpc.connect(private_server, ICalc, auth=auth)
    try:
        taken = fastcall.taken()
        assert calc.Add(2, 40) == 42
        assert calc.Add(2, 41) == 43
        assert fastcall.taken() == taken
        assert not calc._mgr.lanes
    finally:
        calc.Release()


def test_call_objects_begin_on_the_lean_path(hub: Any) -> None:
    factory = hub.QueryInterface(ICallFactory)
    calls = [factory.CreateCall(IID_AsyncICalc, None, IID_AsyncICalc) for _ in range(64)]
    calls[0].Begin_Add(0, 0)
    assert calls[0].wait(WAIT) and calls[0].Finish_Add() == 0
    taken = fastcall.taken()
    for i, call in enumerate(calls):
        call.Begin_Add(i, 100)
    assert all(call.wait(WAIT) for call in calls)
    assert [call.Finish_Add() for call in calls] == [i + 100 for i in range(64)]
    assert fastcall.taken() - taken == 64
    for call in calls:
        call.Release()
    factory.Release()


def test_a_released_call_object_is_freed_without_the_cyclic_collector(hub: Any) -> None:
    """A call object on the lean path is its own wire call, held by its connection's call
    table while pending: once the reply is in, nothing of the call may be left for the
    cyclic garbage collector, or a burst of call objects keeps it busy (and their memory
    held) until it runs."""
    factory = hub.QueryInterface(ICallFactory)
    warm = factory.CreateCall(IID_AsyncICalc, None, IID_AsyncICalc)
    warm.Begin_Add(1, 1)
    assert warm.Finish_Add() == 2  # on the lean path from now on
    warm.Release()
    del warm
    gc.collect()
    gc.disable()
    try:
        taken = fastcall.taken()
        calls = [factory.CreateCall(IID_AsyncICalc, None, IID_AsyncICalc) for _ in range(8)]
        for i, call in enumerate(calls):
            call.Begin_Add(i, 1)
        for i, call in enumerate(calls):
            assert call.Finish_Add() == i + 1
            call.Release()
        assert fastcall.taken() - taken == 8
        del calls, call
        gc.set_debug(gc.DEBUG_SAVEALL)  # what the collector finds stays in gc.garbage
        gc.collect()
        left = [o for o in gc.garbage if isinstance(o, ProxyCall)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert not left
    factory.Release()


def test_a_lean_request_failed_before_begin_returns_still_completes_its_call(
    hub: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A closing connection fails every request in flight from its reading thread, which
    may be before Begin_ has recorded the request: the call object completes all the same,
    with the connection's error, instead of staying pending forever."""
    factory = hub.QueryInterface(ICallFactory)
    call = factory.CreateCall(IID_AsyncICalc, None, IID_AsyncICalc)
    call.Begin_Add(1, 1)
    assert call.wait(WAIT) and call.Finish_Add() == 2  # on the lean path from now on
    [assoc] = {lane.assoc for lane in hub._mgr.lanes.values()}
    entered = assoc.enter

    def failed_at_once(wire_call: WireCall, *request: bytes) -> WireCall:
        entered(wire_call, *request)
        with assoc._lock:  # what the connection's `_fail_all` does to each call
            del assoc.calls[wire_call.call_id]
        assoc.finish(wire_call, None, rt.DisconnectedError())
        return wire_call

    monkeypatch.setattr(assoc, "enter", failed_at_once)
    taken = fastcall.taken()
    call.Begin_Add(2, 2)
    assert fastcall.taken() - taken == 1
    assert call.wait(WAIT)
    with pytest.raises(rt.COMError) as failure:
        call.Finish_Add()
    assert failure.value.hresult == rt.DisconnectedError.hresult
    monkeypatch.undo()
    call.Begin_Add(3, 3)  # the object and the connection go on working
    assert call.wait(WAIT) and call.Finish_Add() == 6
    call.Release()
    factory.Release()


# -- routing and cancel against the lab (a Read held until the test opens its gate) --------------


@pytest.fixture
def lab_server() -> Iterator[tuple[Any, Any]]:
    """The lab's ISimpleStream and its switchboard (an ICalc) in a child process."""
    for setting in _across_processes():
        stream, control = setting.stream, setting.control.__self__  # type: ignore[attr-defined]
        assert stream.Read(3).pv == b"abc" and control.Add(lab.RESET, 0) == 1  # lanes known
        yield stream, control


def test_a_caller_reading_its_own_reply_routes_the_others(lab_server: tuple[Any, Any]) -> None:
    stream, control = lab_server
    assoc = lane_of(stream).assoc
    assert lane_of(control).assoc is assoc  # one connection to the lab's process
    assert control.Add(lab.RESET, lab.GATED) == 1
    own = assoc.own_reads
    got: list[Any] = []
    reader = threading.Thread(target=lambda: got.append(stream.Read(3)))
    reader.start()  # leads: nothing else is in flight; its Read waits at the gate
    # the Read's caller holds the reading role (its call, written in place, is in no table)
    until(lambda: assoc._reading, WAIT)
    assert control.Add(lab.WAIT_STARTED, 0) == 1  # read by the Read's thread, handed here
    assert [control.Add(lab.RUNS, 0) for _ in range(5)] == [1] * 5
    assert control.Add(lab.OPEN_GATE, 0) == 1
    reader.join(WAIT)
    assert got and got[0].pv == b"abc"
    assert assoc.own_reads - own == 1  # the Read read its own; the seven others were handed
    assert control.Add(lab.RUNS, 0) == 1  # the connection is idle again: read by its caller
    assert assoc.own_reads - own == 2


def _cancel_a_lean_read(stream: Any, control: Any) -> tuple[Any, Any]:
    """A call object's Read begun on the lane, started by the gated server, then canceled
    without waiting for the server's answer (`Cancel(0)`): the factory and the object."""
    factory = stream.QueryInterface(ICallFactory)
    call = factory.CreateCall(IID_AsyncISimpleStream, None, IID_AsyncISimpleStream)
    taken = fastcall.taken()
    call.Begin_Read(3)
    assert fastcall.taken() == taken + 1
    assert control.Add(lab.WAIT_STARTED, 0) == 1
    assert call.Cancel(0) == rt.S_OK
    return factory, call


def test_lean_call_objects_cancel(lab_server: tuple[Any, Any]) -> None:
    stream, control = lab_server
    assert control.Add(lab.RESET, lab.GATED | lab.ACKNOWLEDGE) == 1
    factory, call = _cancel_a_lean_read(stream, control)
    assert control.Add(lab.OPEN_GATE, 0) == 1
    assert call.wait(WAIT)
    with pytest.raises(rt.CallCanceledError):
        call.Finish_Read()
    call.Release()
    factory.Release()
    assert stream.Read(2).pv == b"ab"  # the connection still serves


def test_a_synchronous_lean_call_times_out_with_a_cancel(lab_server: tuple[Any, Any]) -> None:
    stream, control = lab_server
    assert control.Add(lab.RESET, lab.GATED | lab.ACKNOWLEDGE) == 1
    taken = fastcall.taken()
    with rt.call_timeout(0.2), pytest.raises(rt.RpcTimeoutError):
        stream.Read(3)
    assert fastcall.taken() == taken + 1
    assert control.Add(lab.WAIT_CANCEL_REQUESTED, 0) == 1  # the server saw the co_cancel
    assert control.Add(lab.OPEN_GATE, 0) == 1
    assert stream.Read(1).pv == b"a"


def test_a_call_object_reused_while_its_canceled_request_is_on_the_wire(
    lab_server: tuple[Any, Any],
) -> None:
    """A lean call object is its own wire call. Canceled without the server's answer
    (`Cancel(0)`), its call is over, but its request is still on the wire: the next Begin_
    takes the general path (the object still stands for the old request in its connection's
    call table), gets its own reply, and the late reply of the old call is dropped. Once
    that has come, the object is back on the lean path."""
    stream, control = lab_server
    assert control.Add(lab.RESET, lab.GATED) == 1
    assoc = lane_of(stream).assoc
    factory, call = _cancel_a_lean_read(stream, control)
    with pytest.raises(rt.CallCanceledError):
        call.Finish_Read()
    assert call in assoc.calls.values()  # the old request: still on the wire
    taken = fastcall.taken()
    call.Begin_Read(2)
    assert fastcall.taken() == taken  # the general path
    assert control.Add(lab.OPEN_GATE, 0) == 1
    assert call.wait(WAIT)
    assert call.Finish_Read() == (b"ab", 2)
    until(lambda: call not in assoc.calls.values(), WAIT)  # the old reply came, dropped
    taken = fastcall.taken()
    call.Begin_Read(1)
    assert fastcall.taken() == taken + 1
    assert call.wait(WAIT) and call.Finish_Read() == (b"a", 1)
    call.Release()
    factory.Release()
