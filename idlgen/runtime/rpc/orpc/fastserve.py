"""The ORPC half of the server's lean path: an MTA method with a precompiled codec.

`ObjectServer.request` turns a request into a channel frame, queues it in the object's
apartment, where `_serve` and the stub decode it again, and the reply frame comes back
through `ConnectionPort.deliver` to be encoded as a response PDU: right for every call, and
about a hundred Python calls for an `Add`. When the target is an object in an MTA whose
method has a precompiled codec (fastwire.py: `PrimitiveCodec`, or `BufferCodec` for byte
buffers), no call object, and no ORPCTHIS extensions, this module does the same work with
what it cached on the connection's port the first time (apartment, exporter, stub, the
method's structs):

- the request's ORPCTHIS is checked with one `struct.unpack_from` (the causality id is not
  kept: nothing on the server uses it), the [in] values are read with one more (and a slice
  per byte buffer) on the reactor thread; data the precompiled codec does not take as it
  is (a size that disagrees, trailing bytes) leaves the request to the general path;
- the call is registered in the connection's call table, where a cancel (co_cancel, or
  the connection closing) finds its state, whose hook passes it straight to the call until
  the call ends (the exporter's incoming-call table, which a queued request needs because
  its cancel comes as a separate frame, would cost two lock turns more per call); it runs
  with the same call context, reference book, caller and apartment a general-path call
  sees;
- the reply PDU (header, ORPCTHAT, [out] values, HRESULT) is one `struct.pack`; with [out]
  byte buffers, a header `struct.pack` and the codec's stub, if that fits one fragment
  (a larger reply is the general path's to cut).

The call runs on the reactor thread when the reactor allows it (a spare thread is ready to
take over reading, reactor.py), else it is queued in the apartment like any request. A call
that runs there takes the like requests that follow it in the same read (a burst of call
objects: the same target, method and context) as a run (`take_run`): the checks above are
made once for the run, and per request only its call id and [in] values are read. A
lone request (a synchronous client's) is entered in the apartment as it is reserved
(`ENTERED`) and served by the reactor as soon as its read is framed, as a batch of one
without the batch machinery (`Reactor.lone`).
Every other outcome (a server exception, a failure HRESULT, a value that does not marshal,
a cancel before the call started, a reply larger than a fragment) is handed to the stub's own
`_Reply` with the call entered in the port's table, so its fault or reply is the general
path's, byte for byte. Cases the lean path does not take at all are listed in
`ObjectServer.fast_call`'s checks; tests/orpc/test_fast_path.py checks both.
"""

from __future__ import annotations

import contextvars
import logging
import struct
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from idlgen.runtime.apartments.apartment import serve_reserved
from idlgen.runtime.apartments.marshal import ObjectExporter, ref_observer, remote_client
from idlgen.runtime.apartments.stub import (
    IncomingCall,
    Stub,
    _InParameters,
    _log_fault,
    _outs_of,
    _Reply,
)
from idlgen.runtime.com.hresult import (
    RPC_E_CALL_CANCELED,
    RPC_E_DISCONNECTED,
    RPC_E_SERVERFAULT,
    S_OK,
    COMError,
)
from idlgen.runtime.com.servercall import _CALL_CONTEXT
from idlgen.runtime.com.status import _LAST, WithHResult
from idlgen.runtime.ndr.fastwire import BufferCodec, OneBufferReader, PrimitiveCodec
from idlgen.runtime.rpc.dcerpc import fastpath
from idlgen.runtime.rpc.dcerpc import pdu as P
from idlgen.runtime.rpc.dcerpc.auth import _CALLER, ANONYMOUS
from idlgen.runtime.rpc.dcerpc.callstate import CallState
from idlgen.runtime.rpc.dcerpc.fragments import chunk_room
from idlgen.runtime.rpc.dcerpc.reactor import FLUSH_EVERY
from idlgen.runtime.rpc.orpc.peer import _PEER
from idlgen.runtime.rpc.orpc.wire import COM_MAJOR, ORPCTHIS

if TYPE_CHECKING:
    from idlgen.runtime.apartments.apartment import Apartment
    from idlgen.runtime.com.interface import Method
    from idlgen.runtime.rpc.orpc.server import ConnectionPort

__all__ = ["ENTERED", "RESERVED", "LeanCall", "Target", "method_of", "target_of"]

log = logging.getLogger(__name__)

# Response PDU header (DCE 12.6.4.10) and ORPCTHAT with no extensions ([MS-DCOM] 2.2.13.4),
# followed by the method's [out] values and result (PrimitiveCodec.response_format).
_RESPONSE_PREFIX = "<BBBB4sHHIIHBBII"
_PREFIX = struct.Struct(_RESPONSE_PREFIX)
_PREFIX_SIZE = _PREFIX.size
_ORPCTHAT_SIZE = 8
# The same prefix for `FastMethod.response`, whose first 12 bytes (version, type, flags,
# data representation, fragment length, no auth) are the same for every reply of a method
# with a fixed-size response: packed once (`FastMethod.head`), so a reply passes six values
# where it passed fourteen. Then call id, alloc_hint, context id, cancel count, and zeros:
# the reserved byte and ORPCTHAT (no flags, no extensions).
_FIXED_PREFIX = "<12sIIHB9x"
_HEAD = struct.Struct("<BBBB4sHH")
# A whole request PDU as `FastMethod.like` compares it with the run's first: the header's
# first 12 bytes (version, type, flags, data representation, fragment and auth lengths),
# the call id, alloc_hint skipped, context id, opnum, object UUID and ORPCTHIS's version,
# its flags, reserved field and causality id skipped, its extensions; the [in] values follow.
_RUN_PREFIX = "<12sI4x24s24xI"
# ORPCTHIS ([MS-DCOM] 2.2.13.3) as the lean path reads it: COM version and extensions
# pointer. Its flags, reserved field and causality id, which nothing on the server uses,
# are skipped: no bytes object made per request for the causality id. What `FastMethod.
# request` and `reader` read starts with these three; the [in] values follow.
_ORPCTHIS_READ = struct.Struct("<HH24xI")
assert _ORPCTHIS_READ.size == ORPCTHIS.size
# `_CALL_CONTEXT.set` made once: the attribute makes a new bound method each time.
_SET_CALL_CONTEXT = _CALL_CONTEXT.set
# `LeanCall.inline`: run on the reactor thread, reserved in its apartment (a batch's call)
# or entered there as it was reserved (a lone request's: `ObjectServer.fast_call`); 0:
# queued in the apartment.
RESERVED = 1
ENTERED = 2


class FastMethod:
    """One method's lean form: its name, [in] order, the whole request's and response
    PDU's structs (for a `BufferCodec` whose responses carry buffers, and so vary in size,
    the reply header's)."""

    __slots__ = (
        "as_is",
        "codec",
        "head",
        "method",
        "name",
        "one_out",
        "order",
        "plain",
        "reader",
        "replies",
        "reply",
        "request",
        "run",
        "stub_size",
        "values",
        "wrapper",
    )

    def __init__(self, method: Method, codec: PrimitiveCodec | BufferCodec) -> None:
        self.codec = codec
        self.method = method
        self.name = method.name
        # The server class's method as ComObject wraps it (comobject._wrap_with_outs) and
        # the function it wraps, when `run` may call that directly and do the wrapper's
        # work itself (`method_of`); None: the wrapper runs.
        self.wrapper: object = None
        self.plain: Callable[..., Any] | None = None
        names = codec.request_names
        order = tuple(names.index(n) for n in self.method.ins)
        self.order = None if order == tuple(range(len(names))) else order
        # The [in] values in wire order, or None when the general path must decode the body
        # (its fault, if any, is then the general path's): the codec's own method, no wrapper.
        self.values = codec.fast_request_values
        # ORPCTHIS and the [in] values in one `struct` call, where `struct` reads them as
        # they are (`read`); None: ORPCTHIS, then the codec's own reading.
        self.request: struct.Struct | None = None
        # For a request of one byte buffer between fixed fields (`Write`): ORPCTHIS, the
        # fields and the buffer in two `struct` calls and a slice (`read`).
        self.reader: OneBufferReader | None = None
        # The usual shape, `HRESULT M(..., [out] T *x)`: the server's return value is the
        # one [out] (`fields`), without a dict of [out] values by name.
        self.one_out = False
        # The one [out] and the HRESULT need no check in Python when both are exact ints:
        # `struct` refuses what `_check` would (`fields`).
        self.as_is = False
        # The whole request PDU, for a run of like requests (`like`): the parts that must
        # be the same as the run's first request's, the call id, ORPCTHIS's extensions
        # and the [in] values; None: no runs (each request is offered on its own).
        self.run: struct.Struct | None = None
        if isinstance(codec, PrimitiveCodec) and codec.request_format is not None:
            self.request = struct.Struct(_ORPCTHIS_READ.format + codec.request_format)
            self.run = struct.Struct(_RUN_PREFIX + codec.request_format)
        elif isinstance(codec, BufferCodec):
            self.reader = codec.request_reader(_ORPCTHIS_READ)
        # The codec of a response of primitives only (a `BufferCodec`'s too, as for `Write`):
        # the reply PDU is then one `struct` call (`fields`, `response`); None: `_PREFIX`
        # around the codec's NDR (`buffer_response`).
        replies = codec if isinstance(codec, PrimitiveCodec) else codec.response_codec
        self.replies = replies
        self.head = b""
        if replies is not None:
            self.reply = struct.Struct(_FIXED_PREFIX + replies.response_format)
            self.head = _HEAD.pack(
                P.RPC_VERS,
                P.RPC_VERS_MINOR,
                P.RESPONSE,
                P.PFC_FIRST_FRAG | P.PFC_LAST_FRAG,
                P.DREP_LE_ASCII_IEEE,
                self.reply.size,
                0,  # auth_len
            )
            outs = method.outs
            self.one_out = (
                method.hresult and len(outs) == 1 and replies.response_names == (outs[0], "")
            )
            self.as_is = self.one_out and replies.response_as_is
        else:
            self.reply = _PREFIX
        self.stub_size = self.reply.size - _PREFIX_SIZE + _ORPCTHAT_SIZE

    def read(self, frame: bytes, at: int) -> tuple[Any, ...] | None:
        """The [in] values in wire order of the request whose stub data (ORPCTHIS first)
        starts at `at`; None when the lean path does not take it: ORPCTHIS other than
        `orpcthis_ok` accepts, or data the codec does not take as it is."""
        s = self.request
        raw: tuple[Any, ...] | None
        if s is not None:
            if len(frame) - at != s.size:
                return None
            raw = s.unpack_from(frame, at)
        elif self.reader is not None:
            raw = self.reader.read(frame, at)
            if raw is None:
                return None
        else:
            if not orpcthis_ok(frame, at):
                return None
            return self.values(memoryview(frame)[at + ORPCTHIS.size :])
        if raw[0] != COM_MAJOR or raw[1] < 1 or raw[2]:  # COM version 5.x (x >= 1), extensions
            return None
        return raw[3:]

    def like(self, buf: bytes | bytearray, pos: int, end: int, most: int) -> list[tuple[Any, ...]]:
        """The requests after the one at `pos` in `buf`, up to `end` and `most` of them,
        that are like it, in a row: the same PDU header but for the call id and alloc_hint
        (the same type, flags, data representation, length, context, opnum and object),
        the same ORPCTHIS version and no extensions; each as `run` reads it, the call id
        second and the [in] values from the fifth field on. What `offer` and `fast_call`
        checked of the one at `pos` holds for them too. (The causality id, ORPCTHIS's
        flags and the alloc_hint are not read by the lean path, so may differ.)"""
        run = self.run
        assert run is not None
        size = run.size
        unpack = run.unpack_from
        first = unpack(buf, pos)
        head, middle = first[0], first[2]
        found = []
        at = pos + size
        last = min(end, at + size * most) - size  # where the last one may start
        while at <= last:
            raw = unpack(buf, at)
            if raw[0] != head or raw[2] != middle or raw[3]:
                break
            found.append(raw)
            at += size
        return found

    def fields(self, value: Any, hr: int) -> Sequence[Any]:
        """The checked reply values (`replies`) for what the server returned; the stub's
        `_outs_of` and `response_fields` give the same. Exact ints of a response whose
        fields `struct` takes as `_check` does (`as_is`) are not checked here: a value out
        of range fails in `response`, and the reply goes to the general path as when a
        check fails here."""
        codec = self.replies
        assert codec is not None
        if self.one_out:
            if self.as_is and type(value) is int and type(hr) is int:
                return value, hr
            if type(value) is not WithHResult:
                return codec.checked_response((value, hr))
        outs, result = _outs_of(self.method, value, hr)
        return codec.response_fields(outs, result)

    def buffer_response(
        self, call_id: int, cont_id: int, cancel_count: int, stub: bytes, room: int
    ) -> bytes | None:
        """A `BufferCodec`'s reply PDU around its NDR `stub`; None if it needs fragments."""
        size = _ORPCTHAT_SIZE + len(stub)
        if size > room:
            return None
        head = _PREFIX.pack(
            P.RPC_VERS,
            P.RPC_VERS_MINOR,
            P.RESPONSE,
            P.PFC_FIRST_FRAG | P.PFC_LAST_FRAG,
            P.DREP_LE_ASCII_IEEE,
            _PREFIX_SIZE + len(stub),
            0,
            call_id,
            size,
            cont_id,
            min(cancel_count, 255),
            0,
            0,  # ORPCTHAT flags
            0,  # ORPCTHAT extensions: NULL
        )
        return head + stub

    def response(
        self, call_id: int, cont_id: int, cancel_count: int, fields: Sequence[Any]
    ) -> bytes:
        return self.reply.pack(
            self.head, call_id, self.stub_size, cont_id, min(cancel_count, 255), *fields
        )


def method_of(stub: Stub, opnum: int) -> FastMethod | None:
    """The lean form of `stub`'s method `opnum`, or None when the general path must serve
    it (no such method, no precompiled codec, a call factory, [in] names that disagree)."""
    if stub.factory is not None or opnum >= len(stub.wire):
        return None
    codec = stub.wire[opnum]
    if not isinstance(codec, PrimitiveCodec | BufferCodec):
        return None
    try:
        m = FastMethod(stub.vtable[opnum], codec)
    except ValueError:  # a method [in] the codec does not carry
        return None
    wrapper = getattr(type(stub.target), m.name, None)
    plain = getattr(wrapper, "_idlgen_plain_", None)
    if plain is not None:
        m.wrapper, m.plain = wrapper, plain
    return m


class Target:
    """An IPID as one connection reaches it: checked once, re-validated per call cheaply."""

    __slots__ = ("apartment", "exporter", "ipid", "methods", "own_checks", "stub")

    def __init__(self, apartment: Apartment, exporter: ObjectExporter, stub: Stub) -> None:
        self.apartment = apartment
        self.exporter = exporter
        self.stub = stub
        self.ipid = stub.ipid
        identity = stub.export.identity if stub.export is not None else None
        self.own_checks = identity is not None and (
            hasattr(identity, "_authn_level_") or hasattr(identity, "_access_check_")
        )
        self.methods: dict[int, FastMethod | None] = {}

    def valid(self) -> bool:
        """Still exported by a live MTA (CoDisconnectObject and shutdown end that)."""
        return not self.apartment.closed and self.exporter.stubs.get(self.ipid) is self.stub

    def method(self, opnum: int) -> FastMethod | None:
        try:
            return self.methods[opnum]
        except KeyError:
            m = self.methods[opnum] = method_of(self.stub, opnum)
            return m


def target_of(apartment: Apartment | None, ipid: bytes) -> Target | None:
    """A `Target` for an IPID exported by a live MTA, else None."""
    if apartment is None or apartment.closed or apartment.kind != "mta":
        return None
    exporter = apartment.dispatcher
    if not isinstance(exporter, ObjectExporter):
        return None
    stub = exporter.lookup(ipid)
    return None if stub is None else Target(apartment, exporter, stub)


def connection_context(port: ConnectionPort, peer: object) -> contextvars.Context:
    """What every lean call of one connection sees as context variables, whatever it
    calls: the connection's reference book and client, its peer, and an anonymous caller
    (the lean path serves no authenticated connection). Set once; each call runs in a
    copy (`FastCall.run`), which costs less than setting and resetting four variables."""
    context = contextvars.Context()
    context.run(_serving, port, peer)
    return context


def _serving(port: ConnectionPort, peer: object) -> None:
    ref_observer.set(port.book)
    remote_client.set(port)
    _PEER.set(peer)
    _CALLER.set(ANONYMOUS)  # auth.serving


def orpcthis_ok(frame: bytes, at: int) -> bool:
    """ORPCTHIS as the lean path takes it: COM 5.x (x >= 1), no extensions."""
    if len(frame) < at + ORPCTHIS.size:
        return False
    major, minor, _flags, _reserved, _cid, extensions = ORPCTHIS.unpack_from(frame, at)
    return major == COM_MAJOR and minor >= 1 and not extensions


def take_run(
    batch: LeanCall, call: LeanCall, buf: bytes | bytearray, pos: int, stop: int, end: int
) -> int:
    """After `call`, the request `buf[pos:stop]`, joined `batch` (`ObjectServer.fast_call`):
    the like requests that follow it up to `end` (`FastMethod.like`) join it too, as far
    as the connection's call table takes them (`fastpath.run_room`, `join_run`) and the
    apartment reserves them (in one lock turn, as it would one by one: `Apartment.reserve`);
    where framing goes on. Only what differs between them is read per request: the call
    id and the [in] values. (The target's validity and the access checks are the first
    request's: what another thread changes meanwhile, a disconnection or a shutdown,
    applies to the run as to requests framed just before it; `serve` still checks per
    call that the apartment is open.)"""
    conn = call.port.conn
    room = fastpath.run_room(conn)
    if not room:
        return stop
    method = call.method
    rest = method.like(buf, pos, end, room)
    if not rest:
        return stop
    apartment = call.target.apartment
    del rest[apartment.reserve(len(rest)) :]
    port, target, cont_id = call.port, call.target, call.cont_id
    made = []
    for raw in rest:
        mate = LeanCall(raw[1])
        mate.port, mate.target, mate.method = port, target, method
        mate.cont_id, mate.values, mate.inline, mate.mates = cont_id, raw[4:], RESERVED, None
        made.append(mate)
    joined = fastpath.join_run(conn, made)
    if joined < len(made):
        apartment.unreserve(len(made) - joined)
        del made[joined:]
    if made:
        mates = batch.mates
        if mates is None:
            batch.mates = deque(made)
            conn.transport.reactor.cork(conn.transport)  # the batch's replies: few sends
        else:
            mates.extend(made)
    return stop + joined * (stop - pos)


class LeanCall(CallState, IncomingCall):
    """One call on the lean path, from the reactor's decision to its response PDU: its
    DCE/RPC state (in the connection's call table, where a cancel or the connection's end
    finds it) and what `CoGetCallContext` sees while its method runs, in one object (they
    were two, and the cancel hook from one to the other a third). A cancel before the call
    starts sets its flag as one while it runs does, and `serve` then answers
    RPC_E_CALL_CANCELED without running it, as for a canceled queued request.

    The first call of a read's run of calls to one MTA on the reactor thread is also that
    batch (`mates`, `run`): the reactor runs it as one job, in the apartment once."""

    __slots__ = ("cont_id", "inline", "mates", "method", "port", "target", "values")

    port: ConnectionPort
    target: Target
    method: FastMethod
    cont_id: int
    values: tuple[Any, ...]  # [in], in wire order
    # Reserved (RESERVED) or entered (ENTERED) in the apartment, to run on the reactor
    # thread (in a batch, or lone); 0: queued in the apartment, where a thread of its own
    # runs it (`queue`).
    inline: int
    # The batch's later calls not started yet (its first call's only): taken one by one
    # (`serve`), or all at once by a thread that takes the reading over (`post_rest`).
    mates: deque[LeanCall] | None

    # The client's cancel (`CallState.cancel`) counts on the wire; `CoGetCallContext`'s
    # Cancel only sets the flag, as for a queued request.
    Cancel = IncomingCall.Cancel

    def request_cancel(self) -> int:
        self._cancel_ticket = self._ticket
        hook = self.on_cancel  # an `async def` method's task (`_watch_cancel_`)
        if hook is not None:
            hook()
        return 1

    def _watch_cancel_(self, on_cancel: Callable[[], object]) -> None:
        self.on_cancel = on_cancel
        if self._cancel_ticket:
            on_cancel()

    def run(self) -> None:
        """Serve this call and its mates: on the reactor thread as one of the
        apartment's threads (`inline`: between `enter` and `leave`, once for them all),
        or on one of its own (`queue`); then give back the connection's running turn the
        call holds (the batch's, or its own)."""
        inline = self.inline
        if inline:
            port = self.port
            if port.batch is self:  # nothing joins it now: the port lets go of it
                port.batch = None
            mates = self.mates
            # A lone call was entered as it was reserved (`serve_reserved`'s 0 calls).
            calls = 0 if inline == ENTERED else 1 if mates is None else 1 + len(mates)
            serve_reserved(self.target.apartment, calls, self.serve)
            # The batch's running turn (`fastpath.join`) is not this call's own
            # (`running` is False): `_Connection._finish` does not give it back with
            # this call's reply if the general path made it (a failure, an exception).
            fastpath.end_batch(port.conn, self)
        else:
            self.serve()
            fastpath.release(self.port.conn, self)

    def serve(self) -> None:
        """Serve this call, then, if it is the first of a batch run on the reactor thread
        (`inline`), its `mates` (of one connection, to objects of the apartment this thread
        is in) one after the other: the one path of every lean call, alone or in a batch.
        A method with no arguments, so `serve_reserved` calls it without `*args`.

        Each method runs in a copy of the connection's context (`ConnectionPort.context`) with
        its call context set there; the copy is dropped after the call, so nothing is reset,
        and _LAST is S_OK to start with (the connection's context never holds it).
        `Context.run` takes the method itself: no Python frame of ours around it. A method as
        `ComObject` wrapped it (no other override) has its own function called, and the
        wrapper's work (HRESULT, `WithHResult`) is done here.

        Each call leaves the connection's call table before its reply is sent (the client may
        use its call id again once it has the reply); a batch's replies wait in the transport
        (`Transport.held`, corked) for one send every `FLUSH_EVERY` calls and at the batch's
        end, or when another thread takes the reading over (a slow method): the replies made
        before it do not wait for it, and neither do the calls after it (`post_rest`)."""
        first = self
        mates = self.mates if self.inline else None
        port = first.port
        conn = port.conn
        table, t = conn.calls, conn.transport
        reactor = t.reactor
        call: LeanCall | None = None
        served = 0
        while True:
            if call is None:
                call = first
            elif mates is None:
                return
            else:
                try:
                    call = mates.popleft()
                except IndexError:  # all served, or the rest taken by `post_rest`
                    return
                served += 1
                if served % FLUSH_EVERY == 0:
                    reactor.flush_corked()
            target, m = call.target, call.method
            if target.apartment.closed or call._cancel_ticket:
                call.refuse()
                continue
            values = call.values
            ins = values if m.order is None else tuple(values[i] for i in m.order)
            context = port.context.copy()
            context.run(_SET_CALL_CONTEXT, (call, 1))  # type: ignore[arg-type]
            obj = target.stub.target
            try:
                fn = getattr(obj, m.name)
                plain = m.plain
                if plain is not None and getattr(fn, "__func__", None) is m.wrapper:
                    value = context.run(plain, obj, *ins)
                else:
                    plain = None
                    value = context.run(fn, *ins)
            except COMError as exc:
                call.on_cancel = None
                call.general(values).failure(exc.hresult)
                continue
            except Exception:
                call.on_cancel = None
                _log_fault(target.stub, m.name, port)
                call.general(values).fault(RPC_E_SERVERFAULT)
                continue
            call.on_cancel = None  # the call ended: a later cancel reaches no task
            if plain is None:
                hr = context.get(_LAST, S_OK)
            else:
                hr = S_OK  # what `_wrap_with_outs` makes of what the method returned
                if type(value) is WithHResult:
                    hr, value = value.hresult, value.value
                    if hr & 0x80000000:
                        call.general(values).failure(hr)
                        continue
            frame: bytes | None = None
            if m.as_is and type(value) is int and type(hr) is int:  # the usual reply
                # The cancel count is a byte on the wire: over 255 (never in practice), `pack`
                # refuses it as it refuses a value out of range, and `reply` clamps it; no
                # `min` per call (a builtin call, about 1 % of a synchronous call).
                try:
                    frame = m.reply.pack(
                        m.head,
                        call.call_id,
                        m.stub_size,
                        call.cont_id,
                        call.cancel_count,
                        value,
                        hr,
                    )
                except struct.error:  # a value out of range: `reply` says what then
                    frame = None
            if frame is None:
                frame = call.reply(value, hr)
                if frame is None:
                    continue
            table.pop(call.call_id, None)  # an atomic dict operation: no lock (docs/orpc.md)
            if not call.orphaned:
                if t.corked:
                    t.held.append(frame)
                    if not t.corked:  # uncorked meanwhile: that flush may have missed it
                        reactor.want_write(t)
                else:
                    t.send(frame)

    def post(self) -> None:
        """The reactor was taken over before this batch ran: its calls go to their
        apartment, each once the connection has a running turn for it."""
        self.target.apartment.unreserve(1 + len(self.mates or ()))
        self.inline = 0
        self.requeue()
        self.post_rest()

    def post_rest(self) -> None:
        """The batch's calls not started yet go to their apartment (`InlineBatch`): the
        reading was taken over, from this batch or before it ran."""
        mates = self.mates
        if mates is None:
            return
        while True:
            try:
                call = mates.popleft()
            except IndexError:
                return
            call.inline = 0
            call.requeue()

    def requeue(self) -> None:
        """Queue this call in its apartment within the connection's share of turns."""
        fastpath.requeue(self.port.conn, self, self.queue)

    def queue(self) -> None:
        """Queue the call in its apartment (a thread there runs it)."""
        try:
            self.target.apartment.post(self.run)
        except COMError:  # shut down meanwhile: what a request for it gets
            self.general().fault(RPC_E_DISCONNECTED)

    def refuse(self) -> None:
        """Not run after all: its apartment shut down, or it was canceled, since it was
        read; the general path's answers."""
        if self.target.apartment.closed:
            self.queue()
        else:
            self.general(self.values).fault(RPC_E_CALL_CANCELED)

    def reply(self, value: Any, hr: int) -> bytes | None:
        """The response PDU for what the method returned; None when the general path
        makes the reply (a value the lean forms do not take, a reply that needs
        fragments), which it then sends. `serve` packs the usual exact-int reply itself."""
        m = self.method
        codec = m.codec
        try:
            if m.replies is not None:
                fields = m.fields(value, hr)
                return m.response(self.call_id, self.cont_id, self.cancel_count, fields)
            # [out] buffers may be sized by [in] values: those are the scope
            outs, result = _outs_of(m.method, value, hr)
            scope = dict(zip(codec.request_names, self.values, strict=True))
            stub = codec.encode_response(outs, result, scope=scope)
            room = chunk_room(self.port.conn.max_xmit, P.RESPONSE_HEADER)
            frame = m.buffer_response(self.call_id, self.cont_id, self.cancel_count, stub, room)
        except Exception:  # the general path says which fault, and logs it
            frame = None
        if frame is None:
            self.general(self.values).success(value, hr)
        return frame

    def general(self, values: tuple[Any, ...] | None = None) -> _Reply:
        """The stub's reply object for this call, its reply routed like a queued request's."""
        port, m = self.port, self.method
        with port.lock:
            port.calls[self.call_id] = (self, self.cont_id)
        args = {} if values is None else dict(zip(m.codec.request_names, values, strict=True))
        marshaler = self.target.exporter.marshaler
        received = _InParameters(marshaler)
        return _Reply(port, self.call_id, m.codec, m.method, args, marshaler, received)  # type: ignore[arg-type]
