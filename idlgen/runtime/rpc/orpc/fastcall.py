"""The lean ORPC call: a proxy's request straight to the wire, its reply straight back.

The general path carries a call through the channel (a frame with a header), the RemoteOxid
port (ORPCTHIS prepended, a GUID object for the IPID), the connection (association and
context looked up, a Request object, fragmentation) and back the same way, with a thread
hand-off at the end. For the common case none of that varies between calls to one IPID: the
association, the presentation context and the 16 IPID bytes are known once a first call
went through, and a request that fits one fragment is one `struct.pack` of the DCE/RPC
header, the object UUID and ORPCTHIS (with a counter-based causality id), followed by the
NDR stub. A `Lane` holds that per IPID; the proxy manager caches it after the first general
call. The bytes are the general path's exactly (tests/orpc/test_fastcall.py checks it).

A synchronous caller that is not in an STA writes its request and reads its reply in place
when nothing else is in flight on the connection (`Association.call_alone`); otherwise it
waits for whoever reads. Call objects' Begin_ queue the request for the connection's
writer in the turn of its lock that puts the call in flight, so a burst of
them leaves in few writes (64 requests each, written by the caller once that many queue:
the server starts on a burst before it is complete; rpc/dcerpc/outbox.py). Not lean, and
so on the general path: an STA caller (it pumps), authenticated connections, requests
larger than one fragment, a connection being replaced or closing, and any call while
`channel.observe` taps are installed.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from idlgen.runtime.apartments.routes import Route
from idlgen.runtime.com.hresult import RPC_E_DISCONNECTED, RpcTimeoutError
from idlgen.runtime.rpc.dcerpc import pdu as P
from idlgen.runtime.rpc.dcerpc.client import Association, ClientCall, WireCall
from idlgen.runtime.rpc.orpc.wire import (
    CAUSALITY_PREFIX,
    COM_MAJOR,
    COM_MINOR,
    ORPCF_NULL,
    OrpcError,
    next_causality,
    split_orpcthat,
)

__all__ = [
    "REQUEST_HEAD",
    "Lane",
    "WholeRequest",
    "connections_changed",
    "lane_reply",
    "lean_request",
    "request_middle",
    "taken",
]

# common header, alloc_hint, p_cont_id, opnum, object UUID, then ORPCTHIS: version, flags,
# reserved, causality id (8 fixed bytes + a 64-bit counter), extensions pointer.
REQUEST_HEAD = struct.Struct("<BBBB4sHHIIHH16sHHII8sQI")
_FLAGS = P.PFC_FIRST_FRAG | P.PFC_LAST_FRAG | P.PFC_OBJECT_UUID
_STUB_HEAD = REQUEST_HEAD.size - P.REQUEST_HEADER - 16  # ORPCTHIS: counted by alloc_hint
# The same header as `lean_request` packs it: the bytes that never change (version,
# type, flags, drep) and those that do not change between one lane's requests (the IPID,
# ORPCTHIS up to the causality counter: `Lane.middle`) go pre-packed, zeros as padding.
_LANE_HEAD = struct.Struct("<8sH2xIIHH36sQ4x")
_START = bytes((P.RPC_VERS, P.RPC_VERS_MINOR, P.REQUEST, _FLAGS)) + P.DREP_LE_ASCII_IEEE
_NULL_THAT = b"\0" * 8  # ORPCTHAT with no flags and no extensions
_SLICED = 512  # the largest stub a synchronous reply's data is sliced from (see `Lane.call`)
_generation = 0  # of orpc.client's connection table: lanes made before a change stop
# Lean calls made, process-wide (tests check the lane is used, not timing). A module global,
# not a class attribute: assigning to a class attribute per call would change the class's
# version tag each time and undo the interpreter's specialization of every method call
# and attribute read on lanes.
_taken = 0


def taken() -> int:
    """How many calls took a lane so far."""
    return _taken


def connections_changed() -> None:
    """A connection was replaced (new credentials) or closed: every lane is stale."""
    global _generation
    _generation += 1


def generation() -> int:
    return _generation


def request_middle(ipid: bytes) -> bytes:
    """A lean request's bytes from the object UUID (`ipid`) to ORPCTHIS's causality counter:
    the same for every request of one lane (`Lane.middle`)."""
    orpcthis = struct.pack("<HHII8s", COM_MAJOR, COM_MINOR, ORPCF_NULL, 0, CAUSALITY_PREFIX)
    return ipid + orpcthis


def lean_request(
    call_id: int, cont_id: int, opnum: int, middle: bytes, cid: int, ndr: bytes
) -> bytes:
    """One request PDU to the IPID that `middle` (`request_middle`) starts with: ORPCTHIS
    with causality id `CAUSALITY_PREFIX + cid`, then `ndr` (`REQUEST_HEAD`'s layout, the
    constant parts pre-packed: 8 fields to pack instead of 19)."""
    n = len(ndr)
    return _LANE_HEAD.pack(
        _START, REQUEST_HEAD.size + n, call_id, _STUB_HEAD + n, cont_id, opnum, middle, cid
    ) + ndr  # fmt: skip


# `_LANE_HEAD` with the first 8 bytes and the fragment length pre-packed (the same for
# every request of one route: its NDR has one size), then the call id, alloc hint, context
# id, opnum, `Lane.middle` and causality counter: the request's NDR follows in the same
# struct (`WholeRequest`).
_WHOLE_HEAD = "<12s" + _LANE_HEAD.format.removeprefix("<8sH2x")


class WholeRequest:
    """A route's request PDU, header and NDR in one `struct` call: for a method whose [in]
    values are all plain integers (`Route.ints`). Made once per route (`Route.lean`)."""

    __slots__ = ("front", "hint", "ndr_size", "opnum", "pack")

    def __init__(self, route: Route) -> None:
        fmt = route.ints
        assert fmt is not None
        n = self.ndr_size = struct.calcsize("<" + fmt)
        self.front = _START + struct.pack("<H2x", REQUEST_HEAD.size + n)
        self.hint = _STUB_HEAD + n
        self.opnum = route.opnum
        self.pack: Callable[..., bytes] = struct.Struct(_WHOLE_HEAD + fmt).pack


def lane_reply(call: WireCall) -> memoryview | int:
    """A settled call's NDR reply data, or the HRESULT it failed with."""
    if call.error is not None:
        return int(getattr(call.error, "hresult", RPC_E_DISCONNECTED))
    return _stub_data(call.reply)


def _stub_data(stub: bytes) -> memoryview | int:
    """A response's stub data without its ORPCTHAT, or the HRESULT it is malformed with."""
    if stub[:8] == _NULL_THAT:
        return memoryview(stub)[8:]
    try:
        return split_orpcthat(stub)
    except OrpcError as exc:
        return exc.hresult


class Lane:
    """Calls to one IPID over one association and presentation context."""

    __slots__ = ("assoc", "cont_id", "generation", "ipid", "max_ndr", "middle")

    def __init__(self, assoc: Association, cont_id: int, ipid: bytes, generation: int) -> None:
        self.assoc = assoc
        self.cont_id = cont_id
        self.ipid = ipid
        self.generation = generation  # of orpc.client's connections: credentials changed
        room = assoc.max_xmit - P.REQUEST_HEADER - 16
        self.max_ndr = room - room % 8 - _STUB_HEAD  # one fragment, as the general path cuts
        self.middle = request_middle(ipid)

    def fresh(self) -> bool:
        """Still the connection the general path would use."""
        assoc = self.assoc
        return assoc.alive and not assoc.closing and self.generation == _generation

    # `call` and `begin` take a request only if `fresh()` and it fits one fragment (asked
    # inline: once per call), and return None otherwise: the general path takes it.

    reply = staticmethod(lane_reply)

    def request(
        self, call_id: int, route: Route, ins: tuple[Any, ...], ndr: bytes | None
    ) -> bytes | None:
        """Call `call_id`'s request PDU: `ndr` framed (`lean_request`); with `ndr` None,
        `ins` (exact ints: the caller checked) packed with the header in one struct call
        (`WholeRequest`). None if it does not fit one fragment, or an int is out of range
        (the general encoder then faults it)."""
        if ndr is not None:
            if len(ndr) > self.max_ndr:
                return None
            return lean_request(
                call_id, self.cont_id, route.opnum, self.middle, next_causality(), ndr
            )
        whole: WholeRequest | None = route.lean
        if whole is None:
            whole = route.lean = WholeRequest(route)
        if whole.ndr_size > self.max_ndr:
            return None
        # one tuple concatenated: `*ins` after other arguments would build a list too
        head = (whole.front, call_id, whole.hint, self.cont_id, whole.opnum, self.middle,
                next_causality())  # fmt: skip
        try:
            return whole.pack(*(head + ins))
        except struct.error:
            return None

    def call(
        self, route: Route, ins: tuple[Any, ...], ndr: bytes | None, timeout: float | None
    ) -> tuple[Any, int] | bytes | memoryview | int | None:
        """A synchronous call (`request`'s `ins` and `ndr`): the reply's NDR data or a
        failure HRESULT, or, for a reply that `route.read_stub` decodes, its value and
        HRESULT (decoded in place: `call_alone`); None if the lane does not take it or
        its connection turned out closed (the general path takes it). On an idle
        connection the caller writes and reads in place (`call_alone`); else its call
        waits for whoever reads. On timeout the call is canceled (co_cancel; a late
        reply is dropped) and RpcTimeoutError raised."""
        # A connection closed or closing is `call_alone`'s to tell (None, then `fresh`).
        if self.generation != _generation:
            return None
        assoc = self.assoc
        next_id = assoc.next_id  # an attribute holding C's `next`: called from a local, as
        call_id = next_id() & 0xFFFFFFFF  # a method-style call of it is never specialized
        frame = self.request(call_id, route, ins, ndr)
        if frame is None:
            return None
        global _taken
        _taken += 1
        # unprotected (lanes have no security); a common reply decoded where it was read
        got = assoc.call_alone(call_id, frame, timeout, route.read_stub)
        if type(got) is tuple:  # (its value, its HRESULT)
            return got
        if type(got) is bytes:  # the stub, read in place: the data past a null ORPCTHAT
            if got.startswith(_NULL_THAT):  # a small one sliced (cheaper than a view and
                # its buffer object), a large one (a Read's) viewed: not copied again
                return got[8:] if len(got) <= _SLICED else memoryview(got)[8:]
            return _stub_data(got)
        if got is None:  # not idle: the call waits for whoever reads (or the lane is stale)
            if not self.fresh():
                _taken -= 1
                return None
            got = assoc.enter(ClientCall(assoc, 0))
            frame = self.request(got.call_id, route, ins, ndr)
            assert frame is not None  # as it was a moment ago
            assoc.outbox.send_one(frame)
            got.wait(timeout)
        assert isinstance(got, ClientCall)
        if not got.settled:
            got.cancel()
            raise RpcTimeoutError(message=f"no reply within {timeout} s")
        return lane_reply(got)

    def begin(self, call: WireCall, route: Route, ins: tuple[Any, ...], ndr: bytes | None) -> bool:
        """Send a call object's request (`request`'s `ins` and `ndr`), the object being its
        own wire call (`WireCall`: its reply completes it on the reading thread, through
        its `on_done`). The call is put in flight and its request queued for the
        connection's writer (outbox.post_locked) in one lock turn. False if the lane does
        not take it."""
        assoc = self.assoc
        if not assoc.alive or assoc.closing or self.generation != _generation:
            return False
        next_id = assoc.next_id  # called from a local: see `call`
        call_id = next_id() & 0xFFFFFFFF
        frame = self.request(call_id, route, ins, ndr)
        if frame is None:
            return False
        call.call_id = call_id
        call.settled = False
        call.reply = call.error = call.partial = None
        # in flight and queued for the connection's writer in one turn of its lock
        assoc.enter(call, frame)  # unprotected: lanes exist only without security
        global _taken
        _taken += 1
        return True
