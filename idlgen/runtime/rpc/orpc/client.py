"""The importer side: a Port per remote OXID that carries channel frames as ORPC calls.

`marshal.unmarshal` meets an OBJREF whose OXID lives in another process and whose
DUALSTRINGARRAY names the exporter's endpoint; `remote_exporter()` gives it a `RemoteOxid`
to use as the object's home. The ProxyManager sends request frames to it exactly as it
would to an apartment; here they become DCE/RPC requests (ORPCTHIS + the same NDR bytes,
the IPID in the object field, the interface's IID as the presentation context), and the
response or fault comes back to the caller's reply port as a channel frame. A cancel frame
becomes co_cancel; a dead connection fails every call in flight with RPC_E_DISCONNECTED.

The IRemUnknown IPID of an OXID is fixed by how marshal.py numbers IPIDs (the OXID in the
high 64 bits, 1 below): that convention stands in for the OXID resolver's ResolveOxid.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import replace

from idlgen.runtime.apartments.channel import (
    CANCEL,
    HEADER,
    REQUEST,
    Port,
    fault_frame,
    response_frame,
    send,
)
from idlgen.runtime.apartments.remunknown import IID_IRemUnknown
from idlgen.runtime.com.guid import GUID
from idlgen.runtime.com.hresult import RPC_E_DISCONNECTED, COMError
from idlgen.runtime.com.interface import IID_IUnknown
from idlgen.runtime.ndr.objref import DualStringArray, StringBinding
from idlgen.runtime.rpc.dcerpc import binding as B
from idlgen.runtime.rpc.dcerpc.auth import ClientAuth
from idlgen.runtime.rpc.dcerpc.client import ClientCall, Connection
from idlgen.runtime.rpc.dcerpc.pdu import SyntaxId
from idlgen.runtime.rpc.dcerpc.wire import Limits
from idlgen.runtime.rpc.orpc.fastcall import Lane, connections_changed, generation
from idlgen.runtime.rpc.orpc.wire import OrpcError, orpcthis, split_orpcthat

__all__ = [
    "TOWER_TCP",
    "TOWER_UNIX",
    "RemoteOxid",
    "bindings_of",
    "configure_outbound",
    "connection_for",
    "dualstringarray",
    "rem_unknown_ipid",
    "remote_exporter",
]

TOWER_TCP = 0x07  # ncacn_ip_tcp ([MS-DCOM] 2.2.19.3 protocol sequence ids)
TOWER_UNIX = 0x10  # ncalrpc's id, used here for ncacn_unix_stream (a local-only transport)
ORPC_LIMITS = Limits(max_outstanding=4096, connect_timeout=5.0, bind_timeout=5.0)
_outbound = ORPC_LIMITS  # what connections this process opens use (configure_outbound)


def configure_outbound(connect_timeout: float | None, bind_timeout: float | None) -> None:
    """Bounds for every connection this process opens from now on (a server's callbacks
    included): an endpoint that never answers costs at most these, then RPC errors."""
    global _outbound
    _outbound = replace(ORPC_LIMITS, connect_timeout=connect_timeout, bind_timeout=bind_timeout)


def rem_unknown_ipid(oxid: int) -> bytes:
    return uuid.UUID(int=(oxid << 64) | 1).bytes_le


def dualstringarray(bindings: list[B.Binding]) -> DualStringArray:
    strings = []
    for b in bindings:
        if b.protseq == B.NCACN_IP_TCP:
            strings.append(StringBinding(TOWER_TCP, f"{b.address}[{b.endpoint}]"))
        else:
            strings.append(StringBinding(TOWER_UNIX, f"[{b.endpoint}]"))
    return DualStringArray(tuple(strings))


def bindings_of(dsa: DualStringArray) -> list[B.Binding]:
    """The string bindings we can use from a DUALSTRINGARRAY (others are skipped)."""
    out = []
    for sb in dsa.strings:
        seq = {TOWER_TCP: B.NCACN_IP_TCP, TOWER_UNIX: B.NCACN_UNIX_STREAM}.get(sb.tower_id)
        if seq is None:
            continue
        try:
            out.append(B.parse(f"{seq}:{sb.network_addr}"))
        except B.BindingError:
            continue
    return out


_conn_lock = threading.Lock()
_connections: dict[str, Connection] = {}
_credentials: dict[str, ClientAuth] = {}
_retired: list[Connection] = []  # replaced by new credentials: calls in flight may finish


def use_credentials(binding: B.Binding, auth: ClientAuth | None) -> None:
    """Authenticate every later call to the exporter at `binding` with `auth` (None: none).
    A connection already open with other credentials is replaced for new calls."""
    key = str(binding)
    with _conn_lock:
        if _credentials.get(key) == auth:
            return
        if auth is None:
            _credentials.pop(key, None)
        else:
            _credentials[key] = auth
        old = _connections.pop(key, None)
        if old is not None:
            _retired.append(old)
        connections_changed()


def connection_for(binding: B.Binding) -> Connection:
    """One multiplexed DCE/RPC connection per exporter endpoint, shared by the process."""
    key = str(binding)
    with _conn_lock:
        conn = _connections.get(key)
        if conn is None:
            auth = _credentials.get(key)
            conn = _connections[key] = Connection(binding, _outbound, auth=auth)
        return conn


def close_connections() -> None:
    with _conn_lock:
        conns = list(_connections.values()) + _retired
        _connections.clear()
        _retired.clear()
        connections_changed()
    for conn in conns:
        conn.close()


class RemoteOxid:
    """The Port standing for an apartment in another process."""

    def __init__(self, oxid: int, bindings: list[B.Binding]) -> None:
        self.oxid = oxid
        self.bindings = bindings
        self.resolver = dualstringarray(bindings)
        self.rem_ipid = rem_unknown_ipid(oxid)
        self._lock = threading.Lock()
        self._iids: dict[bytes, GUID] = {self.rem_ipid: IID_IRemUnknown}
        self._calls: dict[int, ClientCall] = {}

    def __repr__(self) -> str:
        return f"<RemoteOxid 0x{self.oxid:x} at {self.bindings[0]}>"

    @property
    def name(self) -> str:
        return repr(self)

    def learn_ipid(self, ipid: bytes, iid: GUID) -> None:
        """The proxy manager tells us which interface an IPID is (the bind's syntax)."""
        with self._lock:
            self._iids.setdefault(ipid, iid)

    def lane(self, ipid: bytes) -> Lane | None:
        """The lean path to `ipid` (orpc.fastcall) over the connection the general path uses,
        once that has an association and a context for the IPID's interface; None when
        calls must stay on the general path (authentication, no multiplexing)."""
        gen = generation()
        with _conn_lock:
            conn = _connections.get(str(self.bindings[0]))
        if conn is None or conn.auth is not None:
            return None
        with self._lock:
            iid = self._iids.get(ipid, IID_IUnknown)
        found = conn.established(SyntaxId(iid, 0, 0))
        if found is None:
            return None
        assoc, cont_id = found
        if assoc.security is not None or not assoc.mpx:
            return None
        return Lane(assoc, cont_id, ipid, gen)

    def deliver(self, frame: bytes, reply_to: Port | None) -> None:
        kind, call_id, opnum, ipid = HEADER.unpack_from(frame)
        if kind == REQUEST:
            self._request(call_id, opnum, ipid, frame, reply_to)
        elif kind == CANCEL:
            with self._lock:
                call = self._calls.get(call_id)
            if call is not None:
                call.cancel()

    def _request(
        self, call_id: int, opnum: int, ipid: bytes, frame: bytes, reply_to: Port | None
    ) -> None:
        with self._lock:
            iid = self._iids.get(ipid, IID_IUnknown)
        stub = orpcthis() + frame[HEADER.size :]

        def done(call: ClientCall) -> None:
            with self._lock:
                self._calls.pop(call_id, None)
            if reply_to is not None:
                send(reply_to, _reply_frame(call_id, call), None)

        try:
            conn = connection_for(self.bindings[0])
            call = conn.begin(SyntaxId(iid, 0, 0), opnum, stub, GUID.from_bytes_le(ipid), done)
        except COMError as exc:
            if reply_to is not None:
                send(reply_to, fault_frame(call_id, exc.hresult), None)
            return
        with self._lock:
            if not call.done():
                self._calls[call_id] = call


def _reply_frame(call_id: int, call: ClientCall) -> bytes:
    if call.error is not None:
        return fault_frame(call_id, getattr(call.error, "hresult", RPC_E_DISCONNECTED))
    try:
        body = split_orpcthat(call.reply)
    except OrpcError as exc:
        return fault_frame(call_id, exc.hresult)
    return response_frame(call_id, bytes(body))


_exporters_lock = threading.Lock()
_exporters: dict[int, RemoteOxid] = {}


def remote_exporter(oxid: int, dsa: DualStringArray) -> RemoteOxid | None:
    """The Port for a remote OXID (made on first sight); None if no binding is usable."""
    with _exporters_lock:
        port = _exporters.get(oxid)
        if port is None:
            bindings = bindings_of(dsa)
            if not bindings:
                return None
            port = _exporters[oxid] = RemoteOxid(oxid, bindings)
        return port


def known_exporter(oxid: int) -> RemoteOxid | None:
    with _exporters_lock:
        return _exporters.get(oxid)
