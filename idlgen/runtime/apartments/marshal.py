"""Marshaling interface pointers between apartments: OBJREFs out, proxies in.

`marshal_interface(obj, iid)` exports the object from the calling apartment and returns
OBJREF bytes ([MS-DCOM] 2.2.18, OBJREF_STANDARD with one public reference);
`unmarshal_interface(data)` turns them into a proxy in the calling apartment (or the object
itself when it lives there). The same pair is the NDR `InterfaceMarshaler` of each apartment,
so interface pointers passed as parameters travel the same way and callbacks work.

Exports are counted per object: each OBJREF and each RemQueryInterface/RemAddRef adds public
references, RemRelease takes them back, and at zero the object is disconnected and released.
`disconnect_object` (CoDisconnectObject) and apartment shutdown cut it off at once: later
calls get RPC_E_DISCONNECTED. The global interface table keeps an object with its home
apartment and marshals it afresh for whoever asks.
"""

from __future__ import annotations

import contextlib
import itertools
import secrets
import threading
import uuid
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol

from idlgen.runtime import ndr as _ndr
from idlgen.runtime.apartments.apartment import (
    Apartment,
    current_apartment,
    find_apartment,
    is_local_oxid,
)
from idlgen.runtime.apartments.channel import Frame, Port, fault_frame, send
from idlgen.runtime.apartments.incoming import IncomingCalls
from idlgen.runtime.apartments.proxy import (
    ImportTable,
    InterfaceProxy,
    ProxyManager,
    proxy_class_for,
)
from idlgen.runtime.apartments.registry import interface_for
from idlgen.runtime.apartments.remunknown import (
    IRemUnknown,
    RemInterfaceRef,
    RemQIResult,
    StdObjRefValue,
)
from idlgen.runtime.apartments.stub import Stub, dispatch
from idlgen.runtime.com.comobject import ComObject
from idlgen.runtime.com.guid import GUID, as_guid
from idlgen.runtime.com.hresult import (
    E_INVALIDARG,
    E_NOINTERFACE,
    RPC_E_DISCONNECTED,
    S_OK,
    COMError,
    DisconnectedError,
    InvalidArgError,
    NoInterfaceError,
)
from idlgen.runtime.com.interface import IID_IUnknown, IUnknown

__all__ = [
    "ApartmentMarshaler",
    "GlobalInterfaceTable",
    "MarshaledStream",
    "ObjectExporter",
    "disconnect_object",
    "get_interface_and_release_stream",
    "global_interface_table",
    "marshal_inter_thread_interface_in_stream",
    "marshal_interface",
    "marshaler_for",
    "unmarshal_interface",
]


def _next_oid() -> int:
    """OIDs, like IPIDs, are unguessable: 64 random bits ([MS-DCOM] leaves the value to the
    exporter; Windows draws them at random too)."""
    return secrets.randbits(64) | 1


REM_UNKNOWN_IPID_LOW = 1  # an apartment's IRemUnknown: OXID << 64 | 1 (see orpc/client.py)
# False (a DCOM server advertising its resolver, dcom/service.py): apartments made from now
# on give IRemUnknown a random IPID that only the OXID resolver tells, as Windows does.
conventional_rem_unknown = True


# -- hooks for the cross-process layer (idlgen.runtime.rpc.orpc) --------------------------------


@dataclass
class RemoteHooks:
    """Set by the ORPC layer once it is in use; in-process marshaling never needs them.

    `resolver(oxid)`: the DUALSTRINGARRAY an OBJREF for that OXID carries (the exporter's
    string bindings), `connect(oxid, resolver)`: the Port and IRemUnknown IPID for an OXID of
    another process (None: unknown), `imported(manager)`: told of each new ProxyManager for
    an object of another process, once its first proxy exists (DCOM pings what a client
    holds, whichever call handed it over), `ref_observer` (per context): told (exporter,
    ipid, delta) whenever public references change while serving a remote client's request.
    """

    resolver: Any = None
    connect: Any = None
    imported: Any = None


class RemoteClient(Protocol):
    """The remote connection a request is being served for (set by the ORPC server): what
    it may reach and how many public references it holds."""

    def reaches(self, ipid: bytes) -> bool: ...

    def reach(self, ipid: bytes) -> None: ...

    def held(self, exporter: ObjectExporter, ipid: bytes) -> int: ...


remote_hooks = RemoteHooks()
ref_observer: ContextVar[Any] = ContextVar("idlgen_ref_observer", default=None)
remote_client: ContextVar[RemoteClient | None] = ContextVar("idlgen_remote_client", default=None)


def _observe_refs(exporter: ObjectExporter, ipid: bytes, delta: int) -> None:
    observer = ref_observer.get()
    if observer is not None and delta:
        observer(exporter, ipid, delta)


# -- the export side -------------------------------------------------------------------------


@dataclass(eq=False)
class _Export:
    """One exported object (an OID) and the IPIDs of the interfaces it was asked for."""

    oid: int
    identity: Any
    refs: int = 0
    stubs: dict[GUID, Stub] = field(default_factory=dict)


class ObjectExporter:
    """An apartment's exported objects; also the apartment's request `Dispatcher`."""

    def __init__(self, apartment: Apartment, marshaler: ApartmentMarshaler) -> None:
        self.apartment = apartment
        self.marshaler = marshaler
        self._lock = threading.Lock()
        self._by_ipid: dict[bytes, Stub] = {}
        # The same table for readers that check an IPID per call without a call of
        # `lookup` (a server's lean path); changed only here, under `_lock`.
        self.stubs: Mapping[bytes, Stub] = self._by_ipid
        self._by_identity: dict[int, _Export] = {}
        self.calls = IncomingCalls()  # requests from queued to replied (cancels find them)
        # References handed out by this process's own code (publish, marshal_interface, [in]
        # arguments of its outgoing calls), to whoever unmarshals them: any connection that
        # knows such an IPID may use it and give those references back.
        self._unclaimed: dict[bytes, int] = {}
        rem = _RemUnknownServer(self)
        if conventional_rem_unknown:
            low = REM_UNKNOWN_IPID_LOW
            self.rem_ipid = uuid.UUID(int=(apartment.oxid << 64) | low).bytes_le
        else:
            self.rem_ipid = self._new_ipid()
        self._by_ipid[self.rem_ipid] = Stub(IRemUnknown, self.rem_ipid, rem, None)

    def _new_ipid(self) -> bytes:
        """The apartment's OXID (the server routes requests by it) and 64 random bits: one
        client cannot compute another's IPIDs (the proxy treats the value as opaque)."""
        while True:
            low = secrets.randbits(64)
            ipid = uuid.UUID(int=(self.apartment.oxid << 64) | low).bytes_le
            if low > REM_UNKNOWN_IPID_LOW and ipid not in self._by_ipid:
                return ipid

    # -- exporting -------------------------------------------------------------------------

    def export(self, obj: Any, iid: GUID, refs: int) -> tuple[int, bytes]:
        """(OID, IPID) for `obj` as `iid`, adding `refs` public references."""
        iface = interface_for(iid)
        if iface is None:
            raise NoInterfaceError(message=f"no interface class is loaded for {iid}")
        if iface is not IUnknown:
            proxy_class_for(iface)  # a [local] interface cannot be marshaled
        identity = obj.QueryInterface(IID_IUnknown)
        with self._lock:
            if self.apartment.closed:
                identity.Release()
                raise DisconnectedError(message=f"{self.apartment} is shut down")
            export = self._by_identity.get(id(identity))
            if export is None:
                export = _Export(_next_oid(), identity)
                self._by_identity[id(identity)] = export
            else:
                identity.Release()
            stub = export.stubs.get(iid)
            if stub is None:
                target = export.identity.QueryInterface(iid)
                stub = Stub(iface, self._new_ipid(), target, export)
                export.stubs[iid] = stub
                self._by_ipid[stub.ipid] = stub
            export.refs += refs
            self._hand_out_locked(stub.ipid, refs)
        _observe_refs(self, stub.ipid, refs)
        return export.oid, stub.ipid

    def _hand_out_locked(self, ipid: bytes, refs: int) -> None:
        if remote_client.get() is None:
            self._unclaimed[ipid] = self._unclaimed.get(ipid, 0) + refs

    def handed_out(self, ipid: bytes) -> bool:
        """Did this process's own code marshal `ipid` for someone (not a remote client)?"""
        with self._lock:
            return ipid in self._unclaimed

    def claim(self, ipid: bytes, refs: int) -> int:
        """Take up to `refs` of the references handed out for `ipid` (a RemRelease from a
        connection that holds fewer itself); returns how many."""
        with self._lock:
            have = self._unclaimed.get(ipid)
            if have is None:
                return 0
            taken = min(have, refs)
            self._unclaimed[ipid] = have - taken
            return taken

    def lookup(self, ipid: bytes) -> Stub | None:
        return self._by_ipid.get(ipid)

    def add_refs(self, ipid: bytes, refs: int) -> bool:
        with self._lock:
            stub = self._by_ipid.get(ipid)
            if stub is None or stub.export is None:
                return False
            stub.export.refs += refs
            self._hand_out_locked(ipid, refs)
        _observe_refs(self, ipid, refs)
        return True

    def release_refs(self, ipid: bytes, refs: int) -> None:
        with self._lock:
            stub = self._by_ipid.get(ipid)
            if stub is None or stub.export is None:
                return
            export = stub.export
            export.refs -= refs
            if remote_client.get() is None and ipid in self._unclaimed:
                self._unclaimed[ipid] = max(0, self._unclaimed[ipid] - refs)
            gone = export.refs <= 0
            if gone:
                self._forget_locked(export)
        _observe_refs(self, ipid, -refs)
        if gone:
            _release_export(export)

    def disconnect(self, obj: Any) -> bool:
        """CoDisconnectObject: drop every IPID of `obj`; True if it was exported here."""
        identity = obj.QueryInterface(IID_IUnknown)
        identity.Release()
        with self._lock:
            export = self._by_identity.get(id(identity))
            if export is None:
                return False
            self._forget_locked(export)
        _release_export(export)
        return True

    def _forget_locked(self, export: _Export) -> None:
        self._by_identity.pop(id(export.identity), None)
        for stub in export.stubs.values():
            self._by_ipid.pop(stub.ipid, None)
            self._unclaimed.pop(stub.ipid, None)

    def close(self) -> None:
        """Apartment shutdown: disconnect every object, release every proxy held here."""
        with self._lock:
            exports = list(self._by_identity.values())
            self._by_identity.clear()
            self._by_ipid.clear()
            self._unclaimed.clear()
        self.calls.clear()
        for export in exports:
            _release_export(export)
        self.marshaler.release_imports()

    # -- Dispatcher --------------------------------------------------------------------------

    def on_request(self, frame: Frame, reply_to: Port) -> None:
        stub = self._by_ipid.get(frame.ipid)
        if stub is None:
            self.calls.done((reply_to, frame.call_id))
            send(reply_to, fault_frame(frame.call_id, RPC_E_DISCONNECTED), None)
            return
        dispatch(stub, frame, reply_to, self.marshaler, self.calls)

    def on_queued(self, call_id: int, reply_to: Port | None) -> None:
        self.calls.queued((reply_to, call_id))

    def on_cancel(self, frame: Frame, reply_to: Port | None) -> None:
        self.calls.cancel((reply_to, frame.call_id))


def _release_export(export: _Export) -> None:
    for stub in export.stubs.values():
        _quiet_release(stub.target)
    _quiet_release(export.identity)


def _quiet_release(obj: Any) -> None:
    with contextlib.suppress(COMError):
        obj.Release()


class _RemUnknownServer(ComObject, IRemUnknown):
    """The apartment's IRemUnknown: QI, AddRef and Release for its exported objects."""

    _aggregatable_ = False

    def __init__(self, exporter: ObjectExporter) -> None:
        super().__init__()
        self._exporter = exporter

    def RemQueryInterface(self, ripid: Any, cRefs: int, cIids: int, iids: list[Any]) -> Any:
        stub = self._exporter.lookup(self._reachable(as_guid(ripid).bytes_le))
        if stub is None or stub.export is None:
            raise DisconnectedError()
        export = stub.export
        results = []
        for iid in iids:
            results.append(self._query_one(export, as_guid(iid), cRefs))
        return results

    def _query_one(self, export: _Export, iid: GUID, refs: int) -> RemQIResult:
        empty = StdObjRefValue(0, 0, 0, 0, bytes(16))
        try:
            probe = export.identity.QueryInterface(iid)
        except COMError as exc:
            return RemQIResult(exc.hresult, empty)
        _quiet_release(probe)
        try:
            oid, ipid = self._exporter.export(export.identity, iid, refs)
        except COMError as exc:
            return RemQIResult(exc.hresult, empty)
        std = StdObjRefValue(0, refs, self._exporter.apartment.oxid, oid, GUID.from_bytes_le(ipid))
        return RemQIResult(S_OK, std)

    def RemAddRef(self, cInterfaceRefs: int, InterfaceRefs: list[RemInterfaceRef]) -> Any:
        return [
            S_OK
            if self._exporter.add_refs(self._reachable(as_guid(ref.ipid).bytes_le), ref.cPublicRefs)
            else E_INVALIDARG
            for ref in InterfaceRefs
        ]

    def RemRelease(self, cInterfaceRefs: int, InterfaceRefs: list[RemInterfaceRef]) -> int:
        """A remote client gives back at most what it was given (its book says how many);
        asking for more releases what it holds and nothing of anyone else's."""
        client = remote_client.get()
        exporter = self._exporter
        for ref in InterfaceRefs:
            ipid = as_guid(ref.ipid).bytes_le
            count = ref.cPublicRefs
            if client is not None:
                mine = client.held(exporter, ipid)
                count = mine + exporter.claim(ipid, max(0, count - mine)) if count > mine else count
            if count > 0:
                exporter.release_refs(ipid, count)
        return S_OK

    def _reachable(self, ipid: bytes) -> bytes:
        """`ipid` if the remote client being served may use it, else an IPID nobody has (so
        an unreachable IPID and an unknown one look the same from outside)."""
        client = remote_client.get()
        if client is None or client.reaches(ipid) or self._exporter.handed_out(ipid):
            return ipid
        return bytes(16)


# -- the InterfaceMarshaler of an apartment --------------------------------------------------


class ApartmentMarshaler:
    """Exports from and imports into one apartment (the NDR `InterfaceMarshaler`)."""

    def __init__(self, apartment: Apartment) -> None:
        self.apartment = apartment
        self.imports = ImportTable()
        self.exporter = ObjectExporter(apartment, self)

    def marshal(self, obj: Any, iid: Any) -> bytes:
        want = IID_IUnknown if iid is None else _iid_of(iid)
        if isinstance(obj, InterfaceProxy):
            return self._remarshal(obj, want)
        oid, ipid = self.exporter.export(obj, want, 1)
        return _objref(want, self.apartment.oxid, oid, ipid)

    def _remarshal(self, proxy: InterfaceProxy, iid: GUID) -> bytes:
        """Hand on a proxy: the OBJREF names the object's own apartment, not ours."""
        mgr = proxy._mgr
        ipid, refs = mgr.remarshal_refs(iid)
        client = remote_client.get()
        if client is not None:  # a remote client handed this reference may use it
            client.reach(ipid)
        return _objref(iid, mgr.oxid, mgr.oid, ipid, refs)

    def unmarshal(self, data: bytes, iid: Any) -> Any:
        ref = _ndr.decode_objref(bytes(data))
        if ref.flags != _ndr.OBJREF_STANDARD or ref.std is None:
            raise _ndr.NdrFault(E_NOINTERFACE, "only standard OBJREFs are supported")
        std = ref.std
        want = as_guid(ref.iid) if iid is None else _iid_of(iid)
        ipid = std.ipid.bytes_le
        if std.oxid == self.apartment.oxid:
            return self._local(ipid, std.public_refs, want)
        home = find_apartment(std.oxid)
        remote = None
        if home is None and is_local_oxid(std.oxid):
            pass  # one of this process's apartments, shut down: never ask the network for it
        elif home is None and ref.resolver.strings and remote_hooks.connect is not None:
            remote = remote_hooks.connect(std.oxid, ref.resolver)
        if remote is not None:
            home, rem_ipid = remote
        elif home is None or home.closed or home.dispatcher is None:
            raise DisconnectedError(message=f"apartment 0x{std.oxid:x} is gone")
        else:
            rem_ipid = home.dispatcher.rem_ipid  # type: ignore[attr-defined]
        key = (std.oxid, std.oid)
        created = False
        with self.imports.lock:
            mgr = self.imports.managers.get(key)
            if mgr is None:
                mgr = ProxyManager(
                    self.apartment, home, std.oxid, std.oid, rem_ipid, self, self.imports
                )
                self.imports.managers[key] = mgr
                created = True
            proxy = mgr.adopt(ipid, as_guid(ref.iid), std.public_refs)
        if created and remote is not None and remote_hooks.imported is not None:
            remote_hooks.imported(mgr)  # outside the table's lock: it may reach the network
        if as_guid(ref.iid) == want:
            return proxy
        try:
            return proxy.QueryInterface(want)
        finally:
            proxy.Release()

    def _local(self, ipid: bytes, public_refs: int, want: GUID) -> Any:
        """The object lives here: hand out the object itself, give back the OBJREF's refs."""
        stub = self.exporter.lookup(ipid)
        if stub is None or stub.export is None:
            raise DisconnectedError(message="the object was disconnected")
        obj = stub.export.identity.QueryInterface(want)
        self.exporter.release_refs(ipid, public_refs)
        return obj

    def release_imports(self) -> None:
        with self.imports.lock:
            managers = list(self.imports.managers.values())
        for mgr in managers:
            while mgr.refs > 0 and mgr.release():
                pass


def _iid_of(iid: Any) -> GUID:
    return as_guid(getattr(iid, "_iid_", iid))


def _objref(iid: GUID, oxid: int, oid: int, ipid: bytes, refs: int = 1) -> bytes:
    std = _ndr.StdObjRef(0, refs, oxid, oid, uuid.UUID(bytes_le=ipid))
    resolver = _ndr.DualStringArray()
    if remote_hooks.resolver is not None:
        resolver = remote_hooks.resolver(oxid)  # where another process reaches this OXID
    return _ndr.encode_objref(_ndr.ObjRef(_ndr.OBJREF_STANDARD, iid.uuid, std, resolver))


_marshalers_lock = threading.Lock()


def marshaler_for(apartment: Apartment) -> ApartmentMarshaler:
    """The apartment's marshaler, created (and made its dispatcher) on first use."""
    dispatcher = apartment.dispatcher
    if isinstance(dispatcher, ObjectExporter):
        return dispatcher.marshaler
    with _marshalers_lock:
        if not isinstance(apartment.dispatcher, ObjectExporter):
            if apartment.closed:
                raise DisconnectedError(message=f"{apartment} is shut down")
            apartment.dispatcher = ApartmentMarshaler(apartment).exporter
        return apartment.dispatcher.marshaler


# -- public API --------------------------------------------------------------------------------


def marshal_interface(obj: Any, iid: Any, apartment: Apartment | None = None) -> bytes:
    """CoMarshalInterface: OBJREF bytes for `obj` as `iid`, exported from `apartment`
    (default: the calling thread's apartment, where the object is taken to live)."""
    return marshaler_for(apartment or current_apartment()).marshal(obj, iid)


def unmarshal_interface(data: bytes, iid: Any = None) -> Any:
    """CoUnmarshalInterface: a proxy in the calling apartment (the object itself if it lives
    here), AddRef'd; malformed bytes raise BadStubDataError, a dead apartment DisconnectedError."""
    try:
        return marshaler_for(current_apartment()).unmarshal(data, iid)
    except _ndr.NdrFault as fault:
        from idlgen.runtime.com.hresult import error_for

        raise error_for(fault.hresult, fault.message) from None


def disconnect_object(obj: Any, apartment: Apartment | None = None) -> bool:
    """CoDisconnectObject: later calls through proxies get RPC_E_DISCONNECTED."""
    return marshaler_for(apartment or current_apartment()).exporter.disconnect(obj)


@dataclass
class MarshaledStream:
    """What CoMarshalInterThreadInterfaceInStream returns: OBJREF bytes, unmarshaled once."""

    data: bytes
    used: bool = False


def marshal_inter_thread_interface_in_stream(obj: Any, iid: Any) -> MarshaledStream:
    return MarshaledStream(marshal_interface(obj, iid))


def get_interface_and_release_stream(stream: MarshaledStream, iid: Any = None) -> Any:
    """CoGetInterfaceAndReleaseStream: the stream can be used once (E_INVALIDARG after)."""
    if stream.used:
        raise InvalidArgError(message="the stream was already unmarshaled")
    stream.used = True
    return unmarshal_interface(stream.data, iid)


class GlobalInterfaceTable:
    """IGlobalInterfaceTable: register an object once, get a usable pointer in any apartment."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next = itertools.count(0x100).__next__
        self._entries: dict[int, tuple[Any, GUID, Apartment]] = {}

    def register(self, obj: Any, iid: Any) -> int:
        """RegisterInterfaceInGlobal: the cookie; the table holds a reference."""
        want = _iid_of(iid)
        held = obj.QueryInterface(want)
        with self._lock:
            cookie = self._next()
            self._entries[cookie] = (held, want, current_apartment())
        return cookie

    def get(self, cookie: int, iid: Any = None) -> Any:
        """GetInterfaceFromGlobal: the object in its home apartment, a proxy elsewhere."""
        with self._lock:
            entry = self._entries.get(cookie)
        if entry is None:
            raise InvalidArgError(message=f"no interface registered under cookie {cookie}")
        obj, registered, home = entry
        want = registered if iid is None else _iid_of(iid)
        here = current_apartment()
        if here is home:
            return obj.QueryInterface(want)
        return marshaler_for(here).unmarshal(marshaler_for(home).marshal(obj, want), want)

    def revoke(self, cookie: int) -> None:
        """RevokeInterfaceFromGlobal: drops the table's reference."""
        with self._lock:
            entry = self._entries.pop(cookie, None)
        if entry is None:
            raise InvalidArgError(message=f"no interface registered under cookie {cookie}")
        _quiet_release(entry[0])


_git = GlobalInterfaceTable()


def global_interface_table() -> GlobalInterfaceTable:
    return _git
