"""The process's ORPC endpoint, the marshaling hooks, and the publish/connect API.

One `Endpoint` per process: an RpcServer whose object handler is `ObjectServer`, listening
on any number of string bindings. Every OBJREF this process writes then carries those
bindings in its DUALSTRINGARRAY, so whoever unmarshals it elsewhere can call back. A process
that only connects gets an endpoint on first need (when it marshals one of its own objects
for a peer, a WMI sink say): on the address its route to the peer uses, port 0, or a fresh
Unix socket when it reached the peer through one.

The endpoint's `ServerLimits` (set with `configure` before the first `serve`) bound what
clients can make it hold, and decide where an OBJREF a client sends may make this process
connect (`callback_allowed`: by default, only back to that client's own host).
"""

from __future__ import annotations

import atexit
import os
import socket
import tempfile
import threading
import uuid
from collections.abc import Callable
from typing import Any, TypeVar, overload

from idlgen.runtime import ndr as _ndr
from idlgen.runtime.apartments import marshal as _marshal
from idlgen.runtime.apartments.apartment import (
    Apartment,
    current_apartment,
    find_apartment,
    is_local_oxid,
    process_mta,
)
from idlgen.runtime.apartments.remunknown import REM_QUERY_INTERFACE, IID_IRemUnknown
from idlgen.runtime.com.guid import GUID, as_guid
from idlgen.runtime.com.hresult import AccessDeniedError, COMError, error_for
from idlgen.runtime.com.interface import IID_IUnknown, IUnknown
from idlgen.runtime.ndr.objref import DualStringArray
from idlgen.runtime.rpc.dcerpc import binding as B
from idlgen.runtime.rpc.dcerpc.auth import ClientAuth, ServerSecurity
from idlgen.runtime.rpc.dcerpc.limits import ServerLimits
from idlgen.runtime.rpc.dcerpc.pdu import SyntaxId
from idlgen.runtime.rpc.dcerpc.server import RpcServer
from idlgen.runtime.rpc.orpc.client import (
    ORPC_LIMITS,
    bindings_of,
    close_connections,
    configure_outbound,
    connection_for,
    dualstringarray,
    known_exporter,
    mark_object_endpoint,
    rem_unknown_ipid,
    remote_exporter,
    use_credentials,
)
from idlgen.runtime.rpc.orpc.server import ObjectServer, callback_allowed, current_peer
from idlgen.runtime.rpc.orpc.wire import orpcthis, split_orpcthat

__all__ = [
    "Endpoint",
    "configure",
    "connect",
    "endpoint",
    "limits",
    "publish",
    "serve",
    "shutdown",
    "unpublish",
]

_limits = ServerLimits(connection=ORPC_LIMITS)

_I = TypeVar("_I", bound=IUnknown)


class Endpoint:
    """Where other processes reach this process's objects."""

    def __init__(
        self, limits: ServerLimits | None = None, security: ServerSecurity | None = None
    ) -> None:
        limits = limits or _limits
        self.limits = limits
        self.objects = ObjectServer()
        self.server = RpcServer(limits, objects=self.objects, security=security)
        # Calls run in the objects' apartments; the process MTA grows to the same bound.
        process_mta().max_workers = limits.max_call_threads
        process_mta().max_queued = limits.max_queued_calls
        self.bindings: list[B.Binding] = []
        self.resolver = DualStringArray()

    def listen(self, binding: str | B.Binding) -> B.Binding:
        actual = self.server.listen(binding)
        self.bindings.append(actual)
        self.resolver = dualstringarray(self.bindings)
        return actual

    def close(self) -> None:
        self.server.close()


_lock = threading.RLock()
_endpoint: Endpoint | None = None
_callback_peer: B.Binding | None = None  # the first exporter we connected to
_publications: dict[str, tuple[Any, bytes]] = {}


def endpoint() -> Endpoint | None:
    """The process endpoint, if one was started."""
    return _endpoint


def configure(new_limits: ServerLimits) -> None:
    """Set the endpoint's limits (before `serve`/`publish` starts it; ValueError after)."""
    global _limits
    with _lock:
        if _endpoint is not None:
            raise ValueError("the ORPC endpoint is already serving: configure it first")
        _limits = new_limits
    configure_outbound(new_limits.outbound_connect_timeout, new_limits.outbound_bind_timeout)


def limits() -> ServerLimits:
    return _endpoint.limits if _endpoint is not None else _limits


def serve(
    binding: str | B.Binding = "ncacn_ip_tcp:127.0.0.1[0]",
    security: ServerSecurity | None = None,
) -> B.Binding:
    """Listen for ORPC calls on `binding` (port 0: any free port); returns the real binding.
    `security` (NTLM users and minimum level) applies to the whole endpoint and can only be
    set when the endpoint starts."""
    global _endpoint
    _install()
    with _lock:
        if _endpoint is None:
            _endpoint = Endpoint(_limits, security)
            atexit.register(_shutdown)
        elif security is not None and _endpoint.server.security != security:
            raise ValueError("the ORPC endpoint is already running with other security")
        return _endpoint.listen(binding)


def _shutdown() -> None:
    close_connections()
    if _endpoint is not None:
        _endpoint.close()


def shutdown() -> None:
    """Stop serving cleanly: refuse new connections and calls, cancel running calls and
    give them `shutdown_grace` seconds, release every reference clients held and every
    publication, close outbound connections."""
    ep = _endpoint
    if ep is not None:
        ep.server.close(grace=ep.limits.shutdown_grace)
    with _lock:
        texts = list(_publications)
    for text in texts:
        unpublish(text)
    close_connections()
    _drain(process_mta(), ep.limits.shutdown_grace if ep is not None else 1.0)


def _drain(apartment: Apartment, timeout: float) -> None:
    """Wait (up to `timeout`) until what was queued in `apartment` so far (the releases of
    closed connections) has been taken and run."""
    for _ in range(2):  # the second marker runs after whatever ran beside the first
        done = threading.Event()
        try:
            apartment.post(done.set)
        except COMError:
            return
        done.wait(timeout)


def publish(
    obj: Any,
    iface: Any,
    binding: str | B.Binding | None = "ncacn_ip_tcp:127.0.0.1[0]",
    apartment: Apartment | None = None,
    security: ServerSecurity | None = None,
) -> str:
    """Export `obj` as `iface` from `apartment` (default: the caller's) and listen on
    `binding` (None: the endpoint's existing bindings). Returns "IPID@string-binding", what
    `connect` takes. The publication holds one reference until `unpublish(text)`."""
    actual = serve(binding, security) if binding is not None else _first_binding()
    exporter = _marshal.marshaler_for(apartment or current_apartment()).exporter
    _oid, ipid = exporter.export(obj, as_guid(iface), 1)
    exporter.claim(ipid, 1)  # the publication's own reference: nobody else may give it back
    text = f"{uuid.UUID(bytes_le=ipid)}@{actual}"
    with _lock:
        _publications[text] = (exporter, ipid)
    return text


def _first_binding() -> B.Binding:
    ep = _endpoint
    if ep is None or not ep.bindings:
        raise ValueError("no ORPC endpoint is listening: pass a binding")
    return ep.bindings[0]


def unpublish(text: str) -> None:
    """Drop a publication's reference (clients that connected keep theirs)."""
    with _lock:
        entry = _publications.pop(text, None)
    if entry is not None:
        exporter, ipid = entry
        exporter.release_refs(ipid, 1)


@overload
def connect(target: str | bytes, iface: type[_I], auth: ClientAuth | None = None) -> _I: ...
@overload
def connect(
    target: str | bytes, iface: GUID | str | None = None, auth: ClientAuth | None = None
) -> Any: ...
def connect(target: str | bytes, iface: Any = None, auth: ClientAuth | None = None) -> Any:
    """A proxy for a published object: `target` is what `publish` returned
    ("IPID@ncacn_ip_tcp:HOST[PORT]" or "IPID@ncacn_unix_stream:[PATH]") or OBJREF bytes.
    The proxy holds its own reference, given back when it is released or this process ends.
    `auth` (NTLM credentials and level) is used for every call to that endpoint."""
    global _callback_peer
    _install()
    if isinstance(target, bytes | bytearray):
        return _marshal.unmarshal_interface(bytes(target), iface)
    binding = B.parse(target)
    if binding.object is None:
        raise B.BindingError(f"{target!r}: no object (IPID) in the binding")
    with _lock:
        _callback_peer = _callback_peer or binding
    want = IID_IUnknown if iface is None else as_guid(iface)
    ipid = binding.object.bytes_le
    oxid = uuid.UUID(bytes_le=ipid).int >> 64
    plain = B.Binding(binding.protseq, binding.address, binding.endpoint)
    mark_object_endpoint(plain)  # its OBJREFs name this endpoint, never a resolver
    use_credentials(plain, auth)
    std = _rem_query(plain, oxid, ipid, want)
    ref = _ndr.ObjRef(
        _ndr.OBJREF_STANDARD,
        want.uuid,
        _ndr.StdObjRef(0, std.cPublicRefs, std.oxid, std.oid, GUID(std.ipid).uuid),
        dualstringarray([plain]),
    )
    return _marshal.unmarshal_interface(_ndr.encode_objref(ref), want)


def _rem_query(binding: B.Binding, oxid: int, ipid: bytes, iid: GUID) -> Any:
    """RemQueryInterface for one reference to `iid` on the object behind `ipid`."""
    args = {"ripid": GUID.from_bytes_le(ipid), "cRefs": 1, "cIids": 1, "iids": [iid]}
    stub = orpcthis() + REM_QUERY_INTERFACE.encode_request(args)
    conn = connection_for(binding)
    syntax = SyntaxId(IID_IRemUnknown, 0, 0)
    reply = conn.call(syntax, 3, stub, GUID.from_bytes_le(rem_unknown_ipid(oxid)))
    try:
        response = REM_QUERY_INTERFACE.decode_response(split_orpcthat(reply), scope=args)
    except (ValueError, _ndr.NdrFault) as exc:
        raise error_for(getattr(exc, "hresult", 0x800706F7), str(exc)) from None
    hr = response.result & 0xFFFFFFFF
    if hr & 0x80000000:
        raise error_for(hr)
    result = response.outs["ppQIResults"][0]
    if result.hResult & 0x80000000:
        raise error_for(result.hResult)
    return result.std


# -- the hooks marshal.py calls --------------------------------------------------------------


# What OBJREFs for this process's OXIDs carry instead of the endpoint's bindings (None: the
# endpoint's): a DCOM service set to advertise its resolver, as Windows does, puts the
# resolver's bindings there (dcom/service.py, objref_bindings="resolver").
advertised: Callable[[], DualStringArray] | None = None


def advertise(bindings: Callable[[], DualStringArray] | None) -> None:
    """Set what OBJREFs for this process's OXIDs carry (None: the endpoint's bindings)."""
    global advertised
    advertised = bindings


def _resolver(oxid: int) -> DualStringArray:
    if find_apartment(oxid) is not None:
        if advertised is not None:
            return advertised()
        ep = _endpoint if _endpoint is not None else _callback_endpoint()
        return ep.resolver if ep is not None else DualStringArray()
    remote = known_exporter(oxid)
    return remote.resolver if remote is not None else DualStringArray()


def _callback_endpoint() -> Endpoint | None:
    """A process that connected somewhere listens for callbacks once it hands out an object."""
    peer = _callback_peer
    if peer is None:
        return None
    if peer.protseq == B.NCACN_IP_TCP:
        serve(f"ncacn_ip_tcp:{_route_source(peer)}[0]")
    else:
        path = os.path.join(tempfile.mkdtemp(prefix="idlgen-orpc-"), "callbacks.sock")
        serve(f"ncacn_unix_stream:[{path}]")
    return _endpoint


def _route_source(peer: B.Binding) -> str:
    """The local address this host uses to reach `peer` (a UDP connect sends nothing)."""
    family = socket.AF_INET6 if ":" in peer.address else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect((peer.address, peer.port or 135))
            return str(probe.getsockname()[0])
        except OSError:
            return "127.0.0.1"


def _connect_hook(oxid: int, dsa: DualStringArray) -> tuple[Any, bytes] | None:
    if is_local_oxid(oxid):  # an apartment of this process that is gone: never a remote one
        return None
    peer = current_peer()
    if peer is not None:  # an OBJREF a remote client sent: connect only where allowed
        allowed = [b for b in bindings_of(dsa) if callback_allowed(b, peer, limits())]
        if not allowed:
            raise AccessDeniedError(
                message="the OBJREF names an endpoint this server may not connect to"
            )
        dsa = dualstringarray(allowed)
    port = remote_exporter(oxid, dsa)
    return None if port is None else (port, port.rem_ipid)


def _install() -> None:
    _marshal.remote_hooks.resolver = _resolver
    _marshal.remote_hooks.connect = _connect_hook
