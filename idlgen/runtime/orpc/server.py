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
connection's life standing in for pings.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from typing import Any

from idlgen.runtime.apartment import Apartment, find_apartment
from idlgen.runtime.channel import (
    FAULT,
    HEADER,
    RESPONSE,
    Port,
    cancel_frame,
    parse,
    request_frame,
)
from idlgen.runtime.dcerpc import pdu as P
from idlgen.runtime.dcerpc.auth import (
    ANONYMOUS,
    AccessCheck,
    CallSecurity,
    done_serving,
    serving,
)
from idlgen.runtime.dcerpc.server import CallState
from idlgen.runtime.guid import GUID
from idlgen.runtime.hresult import (
    E_ACCESSDENIED,
    RPC_E_CALL_CANCELED,
    RPC_E_DISCONNECTED,
    COMError,
)
from idlgen.runtime.marshal import ObjectExporter, ref_observer
from idlgen.runtime.orpc.wire import OrpcError, orpcthat, split_orpcthis
from idlgen.runtime.registry import interface_for
from idlgen.runtime.remunknown import IID_IRemUnknown

__all__ = ["ConnectionPort", "ObjectServer", "apartment_of_ipid"]

log = logging.getLogger(__name__)


def apartment_of_ipid(ipid: bytes) -> Apartment | None:
    """The live apartment that exported `ipid` (its OXID is the IPID's high 64 bits)."""
    return find_apartment(uuid.UUID(bytes_le=ipid).int >> 64)


class ConnectionPort:
    """Where replies to one connection's requests go; also its reference book."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.lock = threading.Lock()
        self.calls: dict[int, tuple[CallState, int]] = {}  # call id -> (state, context id)
        self.held: dict[tuple[ObjectExporter, bytes], int] = {}

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
            count = max(0, self.held.get(key, 0) + delta)
            if count:
                self.held[key] = count
            else:
                self.held.pop(key, None)

    def take_held(self) -> dict[tuple[ObjectExporter, bytes], int]:
        with self.lock:
            held, self.held = self.held, {}
            return held


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

    def request(self, conn: Any, first: P.Request, stub: bytes, state: CallState) -> None:
        """On the connection's reader thread: check, then queue in the object's apartment."""
        cont_id = first.cont_id
        try:
            _cid, body = split_orpcthis(stub)
        except OrpcError as exc:
            conn.fault_call(state, cont_id, exc.hresult)
            return
        ipid = first.object.bytes_le if first.object is not None else bytes(16)
        apartment = apartment_of_ipid(ipid)
        if apartment is None or apartment.closed:
            conn.fault_call(state, cont_id, RPC_E_DISCONNECTED)
            return
        if state.canceled:  # co_cancel (or PFC_PENDING_CANCEL) before the request was whole
            conn.fault_call(state, cont_id, RPC_E_CALL_CANCELED)
            return
        port = self._port(conn)
        call_id = state.call_id
        with port.lock:
            port.calls[call_id] = (state, cont_id)
        frame = request_frame(call_id, first.opnum, ipid, bytes(body))
        apartment.expect(call_id, port)  # a cancel from now on finds the queued request
        state.on_cancel = lambda: apartment.deliver(cancel_frame(call_id, ipid), port)
        try:
            apartment.post(_serve, apartment, frame, port, state.security, self)
        except COMError:
            port.deliver(_fault(call_id), None)

    def closed(self, conn: Any) -> None:
        """The client is gone: give back every reference it still held."""
        with self._lock:
            port = self._ports.pop(id(conn), None)
        if port is None:
            return
        for (exporter, ipid), count in port.take_held().items():
            self.released += count
            with contextlib.suppress(COMError):
                exporter.apartment.post(exporter.release_refs, ipid, count)


def _fault(call_id: int) -> bytes:
    from idlgen.runtime.channel import fault_frame

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
        from idlgen.runtime.channel import fault_frame

        dispatcher.calls.done((port, parsed.call_id))  # it was expected: it will not run
        port.deliver(fault_frame(parsed.call_id, E_ACCESSDENIED), None)
        return
    token = ref_observer.set(port.book)
    who = serving(security)
    try:
        dispatcher.on_request(parsed, port)
    finally:
        done_serving(who)
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
