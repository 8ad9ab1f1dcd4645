"""Client-side DCOM: activation against a remote resolver (CoCreateInstanceEx) and pinging.

`create_instance(host, clsid, iids, auth=...)` sends RemoteCreateInstance to the host's
resolver endpoint (port 135) with an activation properties BLOB (InstantiationInfoData and
ScmRequestInfoData), unmarshals the OBJREFs of the reply into proxies (calls then go to the
object endpoint the reply names, with the same credentials), and puts the objects' OIDs in
a ping set at that resolver: a `Pinger` sends ComplexPing once and SimplePing every period
([MS-DCOM] 3.2.6), so the server keeps the objects while this process lives. Objects of
that server that reach this process later, as [out] pointers or return values of calls,
join the same set (`remote_hooks.imported`): a DCOM server reclaims whatever its clients
stop pinging, not only what activation handed out.

The client's OXID table ([MS-DCOM] 3.2.4.4, orpc/client.py) gets each activated OXID from
the reply's ScmReplyInfo. An OBJREF of an OXID the table lacks, naming no object endpoint
an activation named, names its server's resolver (Windows writes the resolver's bindings
in saResAddr): the OXID is resolved there with ResolveOxid2 (`_resolve_oxid`, installed as
`orpc.client.oxid_resolver`) when its first request is sent, with the credentials used for
that host, and its objects are pinged at that resolver.
"""

from __future__ import annotations

import logging
import struct
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from idlgen.runtime.apartments import marshal as _marshal
from idlgen.runtime.com.guid import GUID, as_guid
from idlgen.runtime.com.hresult import E_INVALIDARG, HRESULT_FROM_WIN32, COMError
from idlgen.runtime.com.stdiface import IClassFactory
from idlgen.runtime.ndr.objref import OBJREF_SIGNATURE
from idlgen.runtime.rpc.dcerpc import binding as B
from idlgen.runtime.rpc.dcerpc.auth import ClientAuth
from idlgen.runtime.rpc.dcom import activation_idl as A
from idlgen.runtime.rpc.dcom.activation import (
    OBJREF_CUSTOM,
    CLSID_InstantiationInfo,
    CLSID_PropsOutInfo,
    CLSID_ScmReplyInfo,
    deserialize,
    serialize,
)
from idlgen.runtime.rpc.dcom.oxid_idl import (
    OR_INVALID_OXID,
    OR_INVALID_SET,
    IObjectExporter_Client,
)
from idlgen.runtime.rpc.dcom.resolver import PING_PERIOD
from idlgen.runtime.rpc.orpc import client as _orpc_client
from idlgen.runtime.rpc.orpc.client import (
    OxidEntry,
    bindings_of,
    learn_oxid,
    mark_object_endpoint,
    use_credentials,
)
from idlgen.runtime.rpc.orpc.endpoint import _install as install_remote_hooks

__all__ = ["Pinger", "create_instance", "get_class_object"]

log = logging.getLogger(__name__)

CLSID_ScmRequestInfo = GUID("000001AA-0000-0000-C000-000000000046")
CLSID_ActivationPropertiesIn = GUID("00000338-0000-0000-C000-000000000046")
IID_IActivationPropertiesIn = GUID("000001A2-0000-0000-C000-000000000046")
TOWER_TCP = 0x07
RPC_C_IMP_LEVEL_IDENTIFY = 2
RESOLVER_PORT = 135
RPC_S_UNKNOWN_IF = 1717


def _request_blob(clsid: GUID, iids: list[GUID]) -> bytes:
    info = A.InstantiationInfoData(
        clsid, 0x14, 0, 0, len(iids), 0, list(iids), 0, A.COMVERSION(5, 7)
    )
    first = serialize(A._ndr_InstantiationInfoData, info)
    info.thisSize = len(first)
    scm = A.ScmRequestInfoData(
        None,  # type: ignore[arg-type]
        A.customREMOTE_REQUEST_SCM_INFO(RPC_C_IMP_LEVEL_IDENTIFY, 1, [TOWER_TCP]),
    )
    props = [
        serialize(A._ndr_InstantiationInfoData, info),
        serialize(A._ndr_ScmRequestInfoData, scm),
    ]
    header = A.CustomHeader(
        0, 0, 0, 2, 2, GUID(0), [CLSID_InstantiationInfo, CLSID_ScmRequestInfo],
        [len(p) for p in props], None,  # type: ignore[arg-type]
    )  # fmt: skip
    size = len(serialize(A._ndr_CustomHeader, header))
    header.headerSize, header.totalSize = size, size + sum(len(p) for p in props)
    blob = struct.pack("<II", header.totalSize, 0) + serialize(A._ndr_CustomHeader, header)
    blob += b"".join(props)
    head = struct.pack("<II", OBJREF_SIGNATURE, OBJREF_CUSTOM)
    head += IID_IActivationPropertiesIn.bytes_le + CLSID_ActivationPropertiesIn.bytes_le
    return head + struct.pack("<II", 0, len(blob) + 8) + blob


def _reply_parts(pointer: A.MInterfacePointer | None) -> tuple[A.PropsOutInfo, A.ScmReplyInfoData]:
    if pointer is None:
        raise COMError(E_INVALIDARG, "activation reply without properties")
    data = bytes(pointer.abData)
    blob = data[48:]
    header = deserialize(A._ndr_CustomHeader, blob[8:])
    offset = 8 + int(header.headerSize)
    found: dict[GUID, bytes] = {}
    for clsid, size in zip(header.pclsid or [], header.pSizes or [], strict=False):
        found[clsid] = blob[offset : offset + size]
        offset += int(size)
    if CLSID_PropsOutInfo not in found or CLSID_ScmReplyInfo not in found:
        raise COMError(E_INVALIDARG, "activation reply lacks PropsOutInfo or ScmReplyInfo")
    return (
        deserialize(A._ndr_PropsOutInfo, found[CLSID_PropsOutInfo]),
        deserialize(A._ndr_ScmReplyInfoData, found[CLSID_ScmReplyInfo]),
    )


@dataclass
class Pinger:
    """Keeps the OIDs this process holds alive at one resolver ([MS-DCOM] 3.2.6.1): each
    period, the OIDs of live proxies are compared with the server's ping set; a change goes
    out as ComplexPing (AddToSet for new objects, DelFromSet for released ones, so the
    server may reclaim them), no change as SimplePing, and nothing when nothing is held."""

    resolver: B.Binding
    auth: ClientAuth | None = None
    period: float = PING_PERIOD
    setid: int = 0
    sequence: int = 0
    _held: dict[int, list[Any]] = field(default_factory=dict)  # OID -> its proxy managers
    _pinged: set[int] = field(default_factory=set)  # what the server's set holds
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _ping_lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _wake: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def track(self, proxy: Any) -> None:
        """Ping the object behind `proxy` until its last local reference is released, the
        first ping before this returns (an object of this process, unmarshaled to itself,
        needs no pings)."""
        mgr = getattr(proxy, "_mgr", None)
        if mgr is not None and self._add(mgr):
            self.ping()

    def track_manager(self, mgr: Any) -> None:
        """Ping a newly imported object from the pinging thread, soon: the import may be
        happening on a thread that must not wait for the network (a reply being read)."""
        if self._add(mgr):
            self._wake.set()

    def _add(self, mgr: Any) -> bool:
        """Book `mgr` under its OID; True when the server's set still lacks that OID."""
        with self._lock:
            managers = self._held.setdefault(mgr.oid, [])
            if not any(m is mgr for m in managers):
                managers.append(mgr)
            joined = mgr.oid not in self._pinged
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._run, daemon=True, name="dcom-pinger")
                self._thread.start()
        return joined

    def held(self) -> set[int]:
        """The OIDs some live proxy manager still holds (released managers are dropped)."""
        with self._lock:
            for oid, managers in list(self._held.items()):
                managers[:] = [m for m in managers if not m.released]
                if not managers:
                    del self._held[oid]
            return set(self._held)

    def ping(self) -> None:
        """One ping now: ComplexPing when the set must change, else SimplePing."""
        with self._ping_lock:
            if self._stop.is_set():
                return
            held = self.held()
            if not held and not self._pinged:
                return
            with IObjectExporter_Client(self.resolver, auth=self.auth, timeout=30.0) as c:
                if held == self._pinged and self.setid != 0:
                    status = c.SimplePing(0, self.setid)
                    if status != OR_INVALID_SET:
                        _check(status, "SimplePing")
                        return
                    self._reset()  # the server dropped it: start again
                status = self._complex_ping(c, held)
                if status == OR_INVALID_SET and self.setid != 0:
                    self._reset()
                    status = self._complex_ping(c, held)
                _check(status, "ComplexPing")

    def _reset(self) -> None:
        with self._lock:
            self.setid, self._pinged = 0, set()

    def _complex_ping(self, c: IObjectExporter_Client, held: set[int]) -> int:
        adding = sorted(held - self._pinged)
        deleting = sorted(self._pinged - held)
        self.sequence = (self.sequence + 1) & 0xFFFF
        r = c.ComplexPing(0, self.setid, self.sequence, len(adding), len(deleting),
                          adding, deleting)  # fmt: skip
        if r.return_ == 0:
            with self._lock:
                self.setid, self._pinged = r.pSetId, held
        return int(r.return_)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.period)
            self._wake.clear()
            try:
                self.ping()
            except (COMError, OSError) as exc:  # the server may be gone; try again later
                log.info("DCOM ping to %s failed: %s", self.resolver, exc)

    def stop(self) -> None:
        """No more pings from this pinger (a ping under way is finished first): the server
        reclaims what it held once its ping period has run out."""
        self._stop.set()
        self._wake.set()
        with self._ping_lock:
            pass


def _check(status: int, what: str) -> None:
    if status != 0:
        raise COMError(status, f"{what} failed with {status}")


_pingers: dict[str, Pinger] = {}
_by_endpoint: dict[str, Pinger] = {}  # object endpoint binding -> its resolver's pinger
_by_oxid: dict[int, Pinger] = {}  # OXID an activation returned -> its resolver's pinger
_pingers_lock = threading.Lock()


def _pinger(resolver: B.Binding, auth: ClientAuth | None, period: float) -> Pinger:
    with _pingers_lock:
        pinger = _pingers.get(str(resolver))
        if pinger is None or pinger._stop.is_set():
            pinger = _pingers[str(resolver)] = Pinger(resolver, auth, period)
        return pinger


def _serve_endpoints(pinger: Pinger, bindings: list[B.Binding]) -> None:
    """Objects at these object endpoints belong to `pinger`'s resolver from now on: any
    proxy for one of them (an [out] pointer, a return value) joins its ping set."""
    with _pingers_lock:
        for binding in bindings:
            _by_endpoint[str(binding)] = pinger


def _imported(mgr: Any) -> None:
    """`remote_hooks.imported`: a new proxy manager joins the ping set of the resolver whose
    server exports its object: the one an activation or ResolveOxid2 named for its OXID, or
    the one whose object endpoint it lives at. An object whose OXID is still to be resolved
    is pinged at once at the resolver its OBJREF names if we already ping there (a server we
    activated at, as Windows' OBJREFs name it), else once a resolver has answered for its
    OXID (at first use). Objects of endpoints no activation named (idlgen's direct
    `orpc.connect`) keep connection-tied references and are not pinged."""
    home = mgr.home
    bindings = getattr(home, "bindings", None) or []
    with _pingers_lock:
        pinger = _by_oxid.get(mgr.oxid) or next(
            (_by_endpoint[k] for k in map(str, bindings) if k in _by_endpoint), None
        )
        resolvers = getattr(home, "pending", None) or []
        known = next((_pingers[str(r)] for r in resolvers if str(r) in _pingers), None)
    resolved_at = getattr(home, "resolved_at", None)
    if pinger is None and resolved_at is not None:
        pinger = _pinger_for_host(resolved_at)
    if pinger is None and resolvers:
        if known is None:
            home.on_resolved(lambda: _imported(mgr))  # runs once `pending` is None
            return
        pinger = known
    if pinger is not None:
        pinger.track_manager(mgr)


# What activation used per resolver (and per host, for its resolver on port 135): the same
# credentials and ping period serve the resolver of an OXID an OBJREF names there.
_hosts: dict[str, tuple[ClientAuth | None, float]] = {}


def _host_settings(resolver: B.Binding) -> tuple[ClientAuth | None, float]:
    """Credentials and ping period for `resolver`: those of the activation made there, else
    (a host's own resolver, port 135, as Windows' OBJREFs name it) those used for that host;
    else anonymous, the default period."""
    with _pingers_lock:
        found = _hosts.get(str(resolver))
        if found is None and resolver.endpoint == str(RESOLVER_PORT):
            found = _hosts.get(resolver.address)
    return found or (None, PING_PERIOD)


def _pinger_for_host(resolver: B.Binding) -> Pinger:
    auth, period = _host_settings(resolver)
    return _pinger(resolver, auth, period)


def _resolve_oxid(oxid: int, resolvers: list[B.Binding]) -> OxidEntry | None:
    """ResolveOxid2 ([MS-DCOM] 3.1.2.5.1.1) at the OBJREF's resolver bindings, asking for
    TCP: the OXID's object bindings, IRemUnknown IPID and authentication hint, cached in the
    OXID table. None when the first binding that answers serves no IObjectExporter (an
    idlgen endpoint that writes its own bindings in OBJREFs). Raises COMError: an unknown
    OXID (HRESULT_FROM_WIN32(OR_INVALID_OXID)), or no resolver reachable."""
    failure: COMError | None = None
    ordered = sorted(resolvers, key=lambda r: str(r) not in _pingers)  # known ones first
    for resolver in ordered:
        auth, _period = _host_settings(resolver)
        try:
            with IObjectExporter_Client(resolver, auth=auth, timeout=30.0) as c:
                r = c.ResolveOxid2(0, oxid, 1, [TOWER_TCP])
        except COMError as exc:
            if exc.hresult == HRESULT_FROM_WIN32(RPC_S_UNKNOWN_IF):
                mark_object_endpoint(resolver)  # not asked again for other OXIDs
                return None
            failure = exc
            continue
        except OSError as exc:
            failure = COMError(HRESULT_FROM_WIN32(1722), f"resolver {resolver}: {exc}")
            continue
        if r.return_ == OR_INVALID_OXID:
            raise COMError(HRESULT_FROM_WIN32(OR_INVALID_OXID), f"{resolver}: unknown OXID")
        if r.return_ != 0:
            raise COMError(HRESULT_FROM_WIN32(r.return_), f"ResolveOxid2 at {resolver} failed")
        bindings = _decode_bindings(r.ppdsaOxidBindings)
        if not bindings:
            raise COMError(HRESULT_FROM_WIN32(1722), f"{resolver}: no usable object binding")
        for binding in bindings:
            use_credentials(binding, auth)
        ipid = as_guid(r.pipidRemUnknown).bytes_le
        entry = OxidEntry(oxid, tuple(bindings), ipid, int(r.pAuthnHint), resolver)
        learn_oxid(entry)
        with _pingers_lock:
            _resolved.append(oxid)
        return entry
    raise failure or COMError(HRESULT_FROM_WIN32(1722), "no resolver binding")


_resolved: list[int] = []  # OXIDs this process resolved with ResolveOxid2, in order (tests)


def _decode_bindings(dsa: Any) -> list[B.Binding]:
    from idlgen.runtime.ndr.objref import decode_dualstringarray

    if dsa is None:
        return []
    raw = struct.pack(f"<HH{len(dsa.aStringArray)}H", dsa.wNumEntries, dsa.wSecurityOffset,
                      *dsa.aStringArray)  # fmt: skip
    decoded, _ = decode_dualstringarray(raw)
    return bindings_of(decoded)


def create_instance(
    host: str,
    clsid: Any,
    iids: list[Any],
    auth: ClientAuth | None = None,
    port: int = RESOLVER_PORT,
    ping_period: float = PING_PERIOD,
) -> list[Any]:
    """CoCreateInstanceEx: one proxy per IID (an interface the object lacks raises its
    HRESULT). Calls to the object use `auth` too; the objects are pinged while alive."""
    return _activate(host, clsid, iids, auth, port, ping_period, class_object=False)


def get_class_object(
    host: str,
    clsid: Any,
    iid: Any = IClassFactory,
    auth: ClientAuth | None = None,
    port: int = RESOLVER_PORT,
    ping_period: float = PING_PERIOD,
) -> Any:
    """CoGetClassObject with a remote server: a proxy for the class object (IClassFactory
    by default), pinged while alive; its CreateInstance makes objects in the server."""
    (factory,) = _activate(host, clsid, [iid], auth, port, ping_period, class_object=True)
    return factory


def _activate(
    host: str,
    clsid: Any,
    iids: list[Any],
    auth: ClientAuth | None,
    port: int,
    ping_period: float,
    class_object: bool,
) -> list[Any]:
    resolver = B.Binding(B.NCACN_IP_TCP, host, str(port))
    wanted = [as_guid(getattr(i, "_iid_", i)) for i in iids]
    data = _request_blob(as_guid(clsid), wanted)
    blob = A.MInterfacePointer(len(data), data)
    orpcthis = A.ORPCTHIS(A.COMVERSION(5, 7), 0, 0, GUID(uuid.uuid4()), None)
    with A.IRemoteSCMActivator_Client(resolver, auth=auth, timeout=30.0) as scm:
        if class_object:
            properties = scm.RemoteGetClassObject(0, orpcthis, blob).ppActProperties
        else:
            properties = scm.RemoteCreateInstance(0, orpcthis, None, blob).ppActProperties
    props, scm_reply = _reply_parts(properties)
    install_remote_hooks()  # marshal.py's hooks for remote OXIDs
    _marshal.remote_hooks.imported = _imported
    _orpc_client.oxid_resolver = _resolve_oxid
    with _pingers_lock:
        _hosts[str(resolver)] = _hosts[host] = (auth, ping_period)
    pinger = _pinger(resolver, auth, ping_period)
    remote = scm_reply.remoteReply
    if remote is not None:
        bindings = _decode_bindings(remote.pdsaOxidBindings)
        for binding in bindings:
            use_credentials(binding, auth)
            mark_object_endpoint(binding)
        _serve_endpoints(pinger, bindings)
        if remote.Oxid and bindings and remote.ipidRemUnknown is not None:  # OXID table rows
            ipid = as_guid(remote.ipidRemUnknown).bytes_le
            learn_oxid(OxidEntry(remote.Oxid, tuple(bindings), ipid, remote.authnHint, resolver))
            with _pingers_lock:
                _by_oxid[remote.Oxid] = pinger
    proxies = []
    for iid, hr, pointer in zip(wanted, props.phresults, props.ppIntfData, strict=True):
        if hr & 0x80000000 or pointer is None:
            raise COMError(hr, f"activation could not give {iid}")
        proxy = _marshal.unmarshal_interface(bytes(pointer.abData), iid)
        mgr = getattr(proxy, "_mgr", None)
        if mgr is not None and getattr(mgr.home, "bindings", None):  # another process's
            with _pingers_lock:
                _by_oxid[mgr.oxid] = pinger
        pinger.track(proxy)
        proxies.append(proxy)
    return proxies
