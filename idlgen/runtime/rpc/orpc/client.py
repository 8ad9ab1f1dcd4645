"""The importer side: a Port per remote OXID that carries channel frames as ORPC calls.

`marshal.unmarshal` meets an OBJREF whose OXID lives in another process and whose
DUALSTRINGARRAY names the exporter's endpoint; `remote_exporter()` gives it a `RemoteOxid`
to use as the object's home. The ProxyManager sends request frames to it exactly as it
would to an apartment; here they become DCE/RPC requests (ORPCTHIS + the same NDR bytes,
the IPID in the object field, the interface's IID as the presentation context), and the
response or fault comes back to the caller's reply port as a channel frame. A cancel frame
becomes co_cancel; a dead connection fails every call in flight with RPC_E_DISCONNECTED.

Where an OXID is called and its IRemUnknown IPID come from the client's OXID table
([MS-DCOM] 3.2.4.4, `OxidEntry`): a DCOM client fills it from activation replies and from
the OXID resolver's ResolveOxid2 (dcom/client.py installs `oxid_resolver`). An OXID the
table lacks, in an OBJREF whose bindings are a resolver's (a Windows server's saResAddr), is
resolved when its first request is sent, on the sending thread: unmarshaling never waits
for the network (it may run on a thread reading a reply). Without a resolver (idlgen's
direct `publish`/`connect`), the OBJREF names the exporter's endpoint and the IRemUnknown
IPID follows how marshal.py numbers IPIDs (the OXID in the high 64 bits, 1 below).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace

from idlgen.runtime.apartments.channel import (
    CANCEL,
    DISCARD,
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
    "OxidEntry",
    "RemoteOxid",
    "bindings_of",
    "configure_outbound",
    "connection_for",
    "dualstringarray",
    "learn_oxid",
    "mark_object_endpoint",
    "oxid_entry",
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
    """The string bindings we can use from a DUALSTRINGARRAY (others are skipped). A TCP
    address without a port (Windows writes its resolver's so) is the resolver's, 135."""
    out = []
    for sb in dsa.strings:
        seq = {TOWER_TCP: B.NCACN_IP_TCP, TOWER_UNIX: B.NCACN_UNIX_STREAM}.get(sb.tower_id)
        if seq is None:
            continue
        text = sb.network_addr
        if sb.tower_id == TOWER_TCP and not text.endswith("]"):
            text += "[135]"
        try:
            out.append(B.parse(f"{seq}:{text}"))
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


@dataclass(frozen=True)
class OxidEntry:
    """A row of the client's OXID table: where the OXID's objects are called, its
    IRemUnknown IPID, the authentication hint, and the resolver that told us (pings go
    there; None when activation did not say)."""

    oxid: int
    bindings: tuple[B.Binding, ...]
    rem_ipid: bytes
    authn_hint: int = 1
    resolver: B.Binding | None = None


_table_lock = threading.Lock()
_oxid_table: dict[int, OxidEntry] = {}
# Set by dcom/client.py: oxid_resolver(oxid, resolver bindings) -> the OXID's entry, or
# None when those bindings are no resolver (an idlgen endpoint: call it directly); raises
# COMError when the resolver refuses (OR_INVALID_OXID) or cannot be reached.
oxid_resolver: Callable[[int, list[B.Binding]], OxidEntry | None] | None = None
_object_endpoints: set[str] = set()  # an activation named them, or `connect` was given them


def mark_object_endpoint(binding: B.Binding) -> None:
    """OBJREFs naming `binding` name an exporter's own endpoint: call it, resolve nothing."""
    with _table_lock:
        _object_endpoints.add(str(binding))


def is_object_endpoint(binding: B.Binding) -> bool:
    with _table_lock:
        return str(binding) in _object_endpoints


def learn_oxid(entry: OxidEntry) -> None:
    """Put an OXID in the table (activation reply, ResolveOxid2); a RemoteOxid already made
    for it and still unresolved uses it from its next request."""
    with _table_lock:
        _oxid_table[entry.oxid] = entry


def oxid_entry(oxid: int) -> OxidEntry | None:
    with _table_lock:
        return _oxid_table.get(oxid)


def forget_oxids() -> None:
    """Empty the OXID table (tests; a process that starts over)."""
    with _table_lock:
        _oxid_table.clear()


HRESULT_OR_INVALID_OXID = 0x80070776  # HRESULT_FROM_WIN32(OR_INVALID_OXID)
RPC_S_CALL_FAILED_HRESULT = 0x800706BE


class RemoteOxid:
    """The Port standing for an apartment in another process.

    Made `pending` (the OBJREF named a resolver, the OXID table had no entry), it resolves
    the OXID before its first request: `rem_ipid` is then a stand-in that requests to
    IRemUnknown carry, replaced by the resolved IPID on the way out."""

    def __init__(
        self, oxid: int, bindings: list[B.Binding], pending: list[B.Binding] | None = None
    ) -> None:
        self.oxid = oxid
        self.bindings = bindings
        self.rem_ipid = rem_unknown_ipid(oxid)
        self.resolver = dualstringarray(pending or bindings)  # what OBJREFs we write carry
        self.pending = pending  # resolver bindings while unresolved, else None
        self.resolved_at: B.Binding | None = None  # the resolver that answered (pings)
        self._wire_rem_ipid = self.rem_ipid
        self._failure: COMError | None = None  # a resolver's final refusal (unknown OXID)
        self._waiting: list[Callable[[], None]] = []  # on_resolved callbacks
        self._resolve_lock = threading.Lock()
        self._lock = threading.Lock()
        self._iids: dict[bytes, GUID] = {self.rem_ipid: IID_IRemUnknown}
        self._calls: dict[int, ClientCall] = {}

    def __repr__(self) -> str:
        where = self.bindings[0] if self.bindings else f"resolver {self.pending}"
        return f"<RemoteOxid 0x{self.oxid:x} at {where}>"

    @property
    def name(self) -> str:
        return repr(self)

    def use(self, entry: OxidEntry) -> None:
        with self._lock:
            self.bindings = list(entry.bindings)
            self._wire_rem_ipid = entry.rem_ipid
            self.resolved_at = entry.resolver
            self.pending = None

    def on_resolved(self, callback: Callable[[], None]) -> None:
        """Run `callback` once the OXID is resolved (at once if it is): who pings its
        objects depends on the resolver that answers."""
        with self._lock:
            if self.pending is not None:
                self._waiting.append(callback)
                return
        callback()

    def _resolved(self) -> None:
        with self._lock:
            waiting, self._waiting = self._waiting, []
        for callback in waiting:
            callback()

    def resolve(self) -> None:
        """Make sure the OXID's bindings and IRemUnknown IPID are known: from the table, else
        ResolveOxid2 at the resolver the OBJREF named (once; later callers wait for it).
        Raises the COMError a caller should see (OR_INVALID_OXID, resolver unreachable)."""
        if self.pending is None:
            return
        with self._resolve_lock:
            if self.pending is None:
                return
            if self._failure is not None:
                raise self._failure
            entry = oxid_entry(self.oxid)
            if entry is None and oxid_resolver is not None:
                try:
                    entry = oxid_resolver(self.oxid, self.pending)
                except COMError as exc:
                    if exc.hresult == HRESULT_OR_INVALID_OXID:
                        self._failure = exc  # the OXID is gone for good
                    raise
                except Exception as exc:  # a resolver's reply we could not read, say
                    raise COMError(RPC_S_CALL_FAILED_HRESULT, f"resolving the OXID: {exc}") from exc
            if entry is None:  # no resolver there: an exporter's own endpoint
                with self._lock:
                    self.bindings, self.pending = list(self.pending), None
            else:
                self.use(entry)
        self._resolved()

    def learn_ipid(self, ipid: bytes, iid: GUID) -> None:
        """The proxy manager tells us which interface an IPID is (the bind's syntax)."""
        with self._lock:
            self._iids.setdefault(ipid, iid)

    def lane(self, ipid: bytes) -> Lane | None:
        """The lean path to `ipid` (orpc.fastcall) over the connection the general path uses,
        once that has an association and a context for the IPID's interface; None when
        calls must stay on the general path (authentication, no multiplexing)."""
        gen = generation()
        if self.pending is not None:
            return None
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
        if kind == REQUEST and reply_to is DISCARD and self.pending is not None:
            # a one-way RemRelease (a proxy released, perhaps on a thread reading replies)
            # must not wait for a resolver: resolve and send it from a thread of its own
            args = (call_id, opnum, ipid, frame, reply_to)
            threading.Thread(target=self._request, args=args, daemon=True).start()
        elif kind == REQUEST:
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
            self.resolve()
            if ipid == self.rem_ipid:
                ipid = self._wire_rem_ipid
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
    """The Port for a remote OXID (made on first sight); None if no binding is usable.
    Its bindings come from the OXID table if the OXID is there; else, with a resolver
    installed (a DCOM client), an OBJREF naming no known object endpoint is taken to name
    the OXID's resolver, asked at the first request."""
    with _exporters_lock:
        port = _exporters.get(oxid)
        if port is not None:
            return port
        entry = oxid_entry(oxid)
        if entry is not None:
            port = RemoteOxid(oxid, list(entry.bindings))
            port.use(entry)
            port.resolver = dsa if dsa.strings else port.resolver
        else:
            bindings = bindings_of(dsa)
            if not bindings:
                return None
            direct = oxid_resolver is None or any(map(is_object_endpoint, bindings))
            port = RemoteOxid(oxid, bindings) if direct else RemoteOxid(oxid, [], bindings)
        _exporters[oxid] = port
        return port


def known_exporter(oxid: int) -> RemoteOxid | None:
    with _exporters_lock:
        return _exporters.get(oxid)
