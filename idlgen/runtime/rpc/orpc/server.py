"""The exporter side: ORPC requests from DCE/RPC connections into apartments.

An `RpcServer` with an `ObjectServer` as its object handler accepts a bind for any loaded
COM interface (abstract syntax = the IID, version 0.0, as DCOM does). A request names its
target by the IPID in the PDU's object field; the IPID's high 64 bits are the OXID of the
apartment that exported it (marshal.py builds IPIDs that way), so the request goes to that
apartment as an ordinary channel frame: the in-process stub machinery does the rest, and
its reply frame comes back through the connection's `ConnectionPort`, which turns it into a
response PDU (ORPCTHAT + NDR data) or a fault.

References: while a request from a connection is served, every change to public references
(exports for [out] pointers, RemQueryInterface, RemAddRef, RemRelease) is booked to that
connection. When the connection goes away (client exited, killed, network gone), what it
still holds is released in the objects' apartments: the DCOM pinging rule, with the
connection's life standing in for pings. A connection may give back only what its book
says it holds (plus references the process's own code handed out to whoever unmarshals
them), and may reach only IPIDs marshaled to it, IPIDs the process's own code handed out
(published objects, arguments of its own calls: unguessable, known only to whoever was
given them) and IRemUnknown; any other IPID gets the fault an unknown one gets
(RPC_E_DISCONNECTED), so nobody can tell the two apart.

Callbacks: while a request is served, `current_peer()` says who sent it, so unmarshaling an
OBJREF the client sent connects only where `callback_allowed` permits (endpoint.py).
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import stat
import threading
import uuid
from collections import deque
from typing import Any

from idlgen.runtime.apartments import channel
from idlgen.runtime.apartments.apartment import (
    Apartment,
    enter,
    find_apartment,
    leave,
)
from idlgen.runtime.apartments.channel import (
    FAULT,
    HEADER,
    RESPONSE,
    Port,
    cancel_frame,
    parse,
    request_frame,
)
from idlgen.runtime.apartments.marshal import (
    REM_UNKNOWN_IPID_LOW,
    ObjectExporter,
    ref_observer,
    remote_client,
)
from idlgen.runtime.apartments.registry import interface_for
from idlgen.runtime.apartments.remunknown import IID_IRemUnknown
from idlgen.runtime.com.guid import GUID
from idlgen.runtime.com.hresult import (
    E_ACCESSDENIED,
    HRESULT_FROM_WIN32,
    RPC_E_CALL_CANCELED,
    RPC_E_DISCONNECTED,
    COMError,
)
from idlgen.runtime.rpc.dcerpc import binding as B
from idlgen.runtime.rpc.dcerpc import fastpath
from idlgen.runtime.rpc.dcerpc import pdu as P
from idlgen.runtime.rpc.dcerpc.auth import (
    ANONYMOUS,
    AccessCheck,
    CallSecurity,
    done_serving,
    serving,
)
from idlgen.runtime.rpc.dcerpc.limits import ServerLimits
from idlgen.runtime.rpc.dcerpc.server import CallState
from idlgen.runtime.rpc.dcerpc.status import RPC_S_SERVER_TOO_BUSY
from idlgen.runtime.rpc.orpc import fastserve
from idlgen.runtime.rpc.orpc.peer import _PEER, current_peer
from idlgen.runtime.rpc.orpc.wire import COM_MAJOR, OrpcError, orpcthat, split_orpcthis

__all__ = [
    "ConnectionPort",
    "ObjectServer",
    "apartment_of_ipid",
    "callback_allowed",
    "current_peer",
]

log = logging.getLogger(__name__)


def callback_allowed(binding: B.Binding, peer: object, limits: ServerLimits) -> bool:
    """May a client at `peer` make this server connect to `binding`?

    By default only its own host: for a TCP client, its IP address (any port); for a
    Unix-socket client, loopback addresses and Unix sockets that client's uid owns.
    `limits.callback_hosts` adds hosts (literal addresses as written, "*" for any)."""
    hosts = limits.callback_hosts
    if "*" in hosts:
        return True
    if binding.protseq == B.NCACN_UNIX_STREAM:
        if limits.callback_unix_any_owner:
            return True
        return isinstance(peer, tuple) and _owned_socket(binding.endpoint, peer[1])
    if binding.address in hosts:
        return True
    target = _ip(binding.address)
    if target is None:
        return False  # names are not resolved: a name could point anywhere
    if isinstance(peer, tuple):  # a local Unix-socket client: this host only
        return target.is_loopback
    origin = _ip(str(peer))
    return origin is not None and target == origin


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def _owned_socket(path: str, uid: int) -> bool:
    try:
        st = os.stat(path)
    except OSError:
        return False
    return stat.S_ISSOCK(st.st_mode) and st.st_uid == uid


def apartment_of_ipid(ipid: bytes) -> Apartment | None:
    """The live apartment that exported `ipid` (its OXID is the IPID's high 64 bits)."""
    return find_apartment(uuid.UUID(bytes_le=ipid).int >> 64)


class ConnectionPort:
    """Where replies to one connection's requests go; also its reference book."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.lock = threading.Lock()
        self.caller = f"ORPC client {getattr(conn, 'peer_text', '?')}"
        self.calls: dict[int, tuple[CallState, int]] = {}  # call id -> (state, context id)
        self.held_refs: dict[tuple[ObjectExporter, bytes], int] = {}
        self.reachable: set[bytes] = set()  # IPIDs marshaled to this connection
        self.fast: dict[bytes, fastserve.Target] = {}  # IPIDs the lean path has checked
        # The last batch of lean calls given to the reactor (`ObjectServer.fast_call`).
        self.batch: fastserve.LeanCall | None = None
        self.context = fastserve.connection_context(self, getattr(conn, "peer", None))

    def reaches(self, ipid: bytes) -> bool:
        if int.from_bytes(ipid[8:], "big") == REM_UNKNOWN_IPID_LOW:
            return True  # IRemUnknown (its methods check the IPIDs they are given)
        with self.lock:
            return ipid in self.reachable

    def reach(self, ipid: bytes) -> None:
        with self.lock:
            self.reachable.add(ipid)

    def held(self, exporter: ObjectExporter, ipid: bytes) -> int:
        with self.lock:
            return self.held_refs.get((exporter, ipid), 0)

    def __str__(self) -> str:
        return self.caller

    def deliver(self, frame: bytes, reply_to: Port | None) -> None:
        kind, call_id, status, _ = HEADER.unpack_from(frame)
        with self.lock:
            entry = self.calls.pop(call_id, None)
        if entry is None:
            return
        state, cont_id = entry
        if kind == RESPONSE:
            self.conn.reply(state, cont_id, orpcthat() + frame[HEADER.size :])
        elif kind == FAULT:
            self.conn.fault_call(state, cont_id, status)

    def book(self, exporter: ObjectExporter, ipid: bytes, delta: int) -> None:
        key = (exporter, ipid)
        with self.lock:
            if delta > 0:
                self.reachable.add(ipid)
            count = max(0, self.held_refs.get(key, 0) + delta)
            if count:
                self.held_refs[key] = count
            else:
                self.held_refs.pop(key, None)

    def holds_any(self) -> bool:
        with self.lock:
            return bool(self.held_refs)

    def take_held(self) -> dict[tuple[ObjectExporter, bytes], int]:
        with self.lock:
            held, self.held_refs = self.held_refs, {}
            return held

    def held_oids(self) -> set[int]:
        with self.lock:
            keys = list(self.held_refs)
        return {oid for oid in (_oid_of(*key) for key in keys) if oid is not None}

    def take_oid(self, oid: int) -> dict[tuple[ObjectExporter, bytes], int]:
        """Take what this connection holds on the object `oid` (any of its IPIDs)."""
        with self.lock:
            taken = {k: n for k, n in self.held_refs.items() if _oid_of(*k) == oid}
            for key in taken:
                del self.held_refs[key]
            return taken


def _oid_of(exporter: ObjectExporter, ipid: bytes) -> int | None:
    stub = exporter.lookup(ipid)
    return stub.export.oid if stub is not None and stub.export is not None else None


class ObjectServer:
    """The `ObjectHandler` an ORPC endpoint's RpcServer uses."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ports: dict[int, ConnectionPort] = {}
        # Per-interface access checks (IID -> check(caller)); objects may add their own
        # with an `_access_check_(caller, iid)` method (per class). False: access denied.
        self.access_checks: dict[GUID, AccessCheck] = {}
        # Per-interface minimum levels (IID -> AuthLevel); per class: `_authn_level_`.
        self.levels: dict[GUID, int] = {}
        self.released = 0  # references released because their client went away (tests)

    def accepts(self, syntax: P.SyntaxId) -> bool:
        return syntax.uuid == IID_IRemUnknown or interface_for(syntax.uuid) is not None

    def _port(self, conn: Any) -> ConnectionPort:
        with self._lock:
            port = self._ports.get(id(conn))
            if port is None:
                port = self._ports[id(conn)] = ConnectionPort(conn)
            return port

    def fast_call(
        self,
        conn: Any,
        buf: bytes | bytearray,
        pos: int,
        at: int,
        stop: int,
        end: int,
        call_id: int,
        cont_id: int,
        opnum: int,
        ipid: bytes,
    ) -> int:
        """The lean path's offer (dcerpc/fastpath.py) of a one-fragment request, `buf[pos:
        stop]`, whose stub data starts at `at`: serve it (orpc/fastserve.py) and return
        `stop`, or return 0 and leave it to `request`. Taken only for a reachable IPID of a
        live MTA, a method with a precompiled codec and no call factory, ORPCTHIS without
        extensions, [in] data the codec takes as it is, an apartment not saturated, access
        allowed, and no channel observer (tests that watch frames see every call as frames).

        A call served on the reactor thread also takes the run of like requests that
        follow it in `buf`, up to `end` (`FastMethod.like`: the same target, method and
        context; a burst of call objects), as far as the apartment reserves calls for it
        and their call ids are free, and returns where the run ends: what the checks above
        read is the same for each, so they are made once for the run. A lone request (a
        synchronous client's: the read's last, `Reactor.lone_ready`, no call waiting to
        run) is entered in its apartment as it is reserved and left to the reactor as
        `Reactor.lone`, which serves it once the read is framed, without a batch."""
        if channel._taps:
            return 0
        port = conn.handler_state
        if port is None:
            port = conn.handler_state = self._port(conn)
        try:  # a subscript, not `dict.get`: no builtin call per request
            target = port.fast[ipid]
        except KeyError:
            target = None
        if (  # `Target.valid`, inline
            target is None
            or target.apartment.closed
            or target.exporter.stubs.get(ipid) is not target.stub
        ):
            target = fastserve.target_of(apartment_of_ipid(ipid), ipid)
            if target is None or not _may_reach(port, target.apartment, ipid):
                return 0
            port.fast[ipid] = target
        try:  # a subscript, not `dict.get`: no builtin call per request
            method = target.methods[opnum]
        except KeyError:
            method = target.method(opnum)
        if method is None:
            return 0
        s = method.request  # `FastMethod.read`'s usual cases, without a call:
        if s is not None and stop - at == s.size:  # ORPCTHIS and the [in] values
            raw: tuple[Any, ...] | None = s.unpack_from(buf, at)
        elif method.reader is not None:  # a byte buffer between fixed fields (`Write`)
            # `bytes`: the buffer, a slice of it, is an [in] value (and `buf` may be the
            # reactor's read buffer, a bytearray the next read overwrites).
            raw = method.reader.read(bytes(buf[pos:stop]), at - pos)
        else:
            raw = None
        if raw is not None:
            # COM 5.x (x >= 1), no extensions; the causality id is not read (`FastMethod.read`)
            if raw[0] != COM_MAJOR or raw[1] < 1 or raw[2]:
                return 0
            values = raw[3:]
        else:  # the rest, and what it refuses
            values = method.read(buf[pos:stop], at - pos)
            if values is None:
                return 0
        checked = self.levels or self.access_checks or target.own_checks
        if checked and not _allowed(target.exporter, ipid, ANONYMOUS, self):
            return 0
        reactor = conn.transport.reactor
        apartment = target.apartment
        # The batch this call may join: the last call waiting to run on the reactor
        # thread, to the same apartment, from this connection (its first call, `LeanCall.
        # mates`); it runs once the read is framed, and this call then runs in it.
        batch = port.batch
        jobs = reactor.inline_calls
        # A lone request: the last of a read the reactor serves as soon as it is framed
        # (`Reactor.lone_ready`), with no call waiting to run before it: a synchronous
        # client's. It is entered in its apartment as it is reserved, and run by the
        # reactor without the batch machinery (`Reactor.lone`): never a batch, nothing
        # joins it. (`framing_ready` is true whenever `lone_ready` is.)
        lone = reactor.lone_ready and stop == end and not jobs
        joins = (
            batch is not None
            and batch.target.apartment is apartment
            and bool(jobs)
            and jobs[-1] is batch
        )
        # `framing_ready`: this runs only while the reactor frames (`fastpath.offer`).
        ready = joins or reactor.framing_ready or reactor.inline_ready()
        inline = ready and apartment.reserve(1, lone) == 1  # never when saturated
        if not inline and apartment.saturated:
            return 0
        joins = joins and inline
        call = fastserve.LeanCall(call_id)
        call.port, call.target, call.method = port, target, method
        call.cont_id, call.values, call.mates = cont_id, values, None
        call.inline = (fastserve.ENTERED if lone else fastserve.RESERVED) if inline else 0
        # A batch's first call takes the batch's running turn, its later ones none.
        admitted = fastpath.join(conn, call, not joins) if inline else fastpath.admit(conn, call)
        if not admitted:
            if inline:
                apartment.unreserve(1, lone)
            return 0
        if not inline:
            call.queue()
            return stop
        if lone:
            reactor.lone = call
            return stop
        if joins:
            assert batch is not None
            if batch.mates is None:
                batch.mates = deque((call,))
                reactor.cork(conn.transport)  # the batch's replies leave in few sends
            else:
                batch.mates.append(call)
        else:
            port.batch = batch = call
            reactor.run_inline(conn.transport, call)
        # Like requests after this one join the batch as a run (`fastserve.take_run`); not
        # where an access check applies: the object's own may not answer the same each time.
        if stop < end and method.run is not None and not checked:
            return fastserve.take_run(batch, call, buf, pos, stop, end)
        return stop

    def holds(self, conn: Any) -> bool:
        with self._lock:
            port = self._ports.get(id(conn))
        return port is not None and port.holds_any()

    def request(self, conn: Any, first: P.Request, stub: bytes, state: CallState) -> None:
        """On the connection's reader thread: check, then queue in the object's apartment."""
        cont_id = first.cont_id
        try:
            _cid, body = split_orpcthis(stub)
        except OrpcError as exc:
            conn.fault_call(state, cont_id, exc.hresult)
            return
        ipid = first.object.bytes_le if first.object is not None else bytes(16)
        port = self._port(conn)
        apartment = apartment_of_ipid(ipid)
        if apartment is None or apartment.closed or not _may_reach(port, apartment, ipid):
            conn.fault_call(state, cont_id, RPC_E_DISCONNECTED)
            return
        if state.canceled:  # co_cancel (or PFC_PENDING_CANCEL) before the request was whole
            conn.fault_call(state, cont_id, RPC_E_CALL_CANCELED)
            return
        if apartment.saturated:  # every thread busy at the limit: say so, do not queue
            conn.fault_call(state, cont_id, _TOO_BUSY, executed=False)
            return
        call_id = state.call_id
        with port.lock:
            port.calls[call_id] = (state, cont_id)
        frame = request_frame(call_id, first.opnum, ipid, bytes(body))
        apartment.expect(call_id, port)  # a cancel from now on finds the queued request
        state.on_cancel = lambda: apartment.deliver(cancel_frame(call_id, ipid), port)
        reactor = conn.transport.reactor
        inline = reactor.inline_ready() and apartment.reserve() == 1
        call = _Queued(apartment, call_id, frame, port, state.security, self, inline)
        if inline:
            reactor.run_inline(conn.transport, call)  # no hand-off (docs/orpc.md)
        else:
            call.post()

    def closed(self, conn: Any) -> None:
        """The client is gone: give back every reference it still held."""
        with self._lock:
            port = self._ports.pop(id(conn), None)
        if port is None:
            return
        self._give_back(port, port.take_held(), "went away")

    def held_oids(self) -> set[int]:
        """The objects open connections hold references on (one pass, however many OIDs
        a ping then asks about)."""
        with self._lock:
            ports = list(self._ports.values())
        return set().union(*(port.held_oids() for port in ports))

    def release_oid(self, oid: int) -> int:
        """Give back every reference open connections hold on the object `oid`: a DCOM
        server's pinging rule for objects its clients got as [out] pointers, once no ping
        set keeps the OID (dcom/resolver.py). Returns how many references went back."""
        with self._lock:
            ports = list(self._ports.values())
        return sum(self._give_back(port, port.take_oid(oid), "stopped pinging") for port in ports)

    def _give_back(
        self, port: ConnectionPort, held: dict[tuple[ObjectExporter, bytes], int], why: str
    ) -> int:
        for (exporter, ipid), count in held.items():
            log.info(
                "%s %s: released %d references to IPID %s",
                port,
                why,
                count,
                uuid.UUID(bytes_le=ipid),
            )
            self.released += count
            with contextlib.suppress(COMError):
                exporter.apartment.post(exporter.release_refs, ipid, count)
        return sum(held.values())


_TOO_BUSY = HRESULT_FROM_WIN32(RPC_S_SERVER_TOO_BUSY)


class _Queued:
    """A request for its apartment: queued there (`post`), or served on the reactor thread
    that read it (`run`, an MTA only: the reactor's spare takes over a slow one)."""

    __slots__ = ("apartment", "call_id", "frame", "inline", "objects", "port", "security")

    def __init__(
        self,
        apartment: Apartment,
        call_id: int,
        frame: bytes,
        port: ConnectionPort,
        security: CallSecurity,
        objects: ObjectServer,
        inline: bool,
    ) -> None:
        self.inline = inline  # reserved in the apartment, for `run` on the reactor thread
        self.apartment = apartment
        self.call_id = call_id
        self.frame = frame
        self.port = port
        self.security = security
        self.objects = objects

    def run(self) -> None:
        if self.apartment.closed:  # shut down since: what a request for it gets
            self.post()
            return
        outer = enter(self.apartment)  # in the MTA for the call, as its threads are
        try:
            _serve(self.apartment, self.frame, self.port, self.security, self.objects)
        finally:
            leave(self.apartment, outer)

    def post(self) -> None:
        apartment = self.apartment
        if self.inline:
            self.inline = False
            apartment.unreserve()
        try:
            apartment.post(_serve, apartment, self.frame, self.port, self.security, self.objects)
        except COMError:
            self.port.deliver(_fault(self.call_id), None)


def _may_reach(port: ConnectionPort, apartment: Apartment, ipid: bytes) -> bool:
    """Marshaled to this connection, or handed out by the process's own code (published,
    or an argument of its own calls: whoever was given it may call it), or the apartment's
    IRemUnknown (whose methods check the IPIDs they are given) wherever its IPID is."""
    if port.reaches(ipid):
        return True
    exporter = apartment.dispatcher
    if not isinstance(exporter, ObjectExporter):
        return False
    return exporter.rem_ipid == ipid or exporter.handed_out(ipid)


def _fault(call_id: int) -> bytes:
    from idlgen.runtime.apartments.channel import fault_frame

    return fault_frame(call_id, RPC_E_DISCONNECTED)


def _serve(
    apartment: Apartment,
    frame: bytes,
    port: ConnectionPort,
    security: CallSecurity = ANONYMOUS,
    objects: ObjectServer | None = None,
) -> None:
    """In the apartment: check access, then dispatch with the connection's reference book
    open and the caller's security visible (`auth.caller()`, `CoQueryClientBlanket`)."""
    dispatcher = apartment.dispatcher
    parsed = parse(frame)
    if parsed is None:
        return
    if not isinstance(dispatcher, ObjectExporter):
        port.deliver(_fault(parsed.call_id), None)
        return
    if not _allowed(dispatcher, parsed.ipid, security, objects):
        from idlgen.runtime.apartments.channel import fault_frame

        dispatcher.calls.done((port, parsed.call_id))  # it was expected: it will not run
        port.deliver(fault_frame(parsed.call_id, E_ACCESSDENIED), None)
        return
    token = ref_observer.set(port.book)
    client = remote_client.set(port)
    peer = _PEER.set(port.conn.peer)
    who = serving(security)
    try:
        dispatcher.on_request(parsed, port)
    finally:
        done_serving(who)
        _PEER.reset(peer)
        remote_client.reset(client)
        ref_observer.reset(token)


def _allowed(
    exporter: ObjectExporter, ipid: bytes, security: CallSecurity, objects: ObjectServer | None
) -> bool:
    """The minimum level (ObjectServer.levels per interface, `_authn_level_` per class), the
    per-interface check (ObjectServer.access_checks) and the object's own
    `_access_check_(caller, iid)`; IRemUnknown's IPIDs are checked by the objects they
    reach, not here."""
    stub = exporter.lookup(ipid)
    if stub is None or stub.export is None:
        return True
    iid = stub.iface._iid_
    needed = max(
        objects.levels.get(iid, 0) if objects is not None else 0,
        int(getattr(stub.export.identity, "_authn_level_", 0)),
    )
    if security.level < needed:
        return False
    check = objects.access_checks.get(iid) if objects is not None else None
    if check is not None and not check(security):
        return False
    own = getattr(stub.export.identity, "_access_check_", None)
    return own is None or bool(own(security, iid))
