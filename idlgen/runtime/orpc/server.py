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
from idlgen.runtime.dcerpc.server import CallState
from idlgen.runtime.hresult import RPC_E_CALL_CANCELED, RPC_E_DISCONNECTED, COMError
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
        self.caller = f"ORPC client {getattr(conn, 'peer', '?')}"
        self.calls: dict[int, tuple[CallState, int]] = {}  # call id -> (state, context id)
        self.held: dict[tuple[ObjectExporter, bytes], int] = {}

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
            apartment.post(_serve, apartment, frame, port)
        except COMError:
            port.deliver(_fault(call_id), None)

    def closed(self, conn: Any) -> None:
        """The client is gone: give back every reference it still held."""
        with self._lock:
            port = self._ports.pop(id(conn), None)
        if port is None:
            return
        for (exporter, ipid), count in port.take_held().items():
            log.info(
                "%s went away: released %d references to IPID %s",
                port,
                count,
                uuid.UUID(bytes_le=ipid),
            )
            self.released += count
            with contextlib.suppress(COMError):
                exporter.apartment.post(exporter.release_refs, ipid, count)


def _fault(call_id: int) -> bytes:
    from idlgen.runtime.channel import fault_frame

    return fault_frame(call_id, RPC_E_DISCONNECTED)


def _serve(apartment: Apartment, frame: bytes, port: ConnectionPort) -> None:
    """In the apartment: dispatch with the connection's reference book open."""
    dispatcher = apartment.dispatcher
    parsed = parse(frame)
    if parsed is None:
        return
    if not isinstance(dispatcher, ObjectExporter):
        port.deliver(_fault(parsed.call_id), None)
        return
    token = ref_observer.set(port.book)
    try:
        dispatcher.on_request(parsed, port)
    finally:
        ref_observer.reset(token)
