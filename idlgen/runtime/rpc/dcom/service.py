"""The resolver endpoint: what Windows' RPCSS answers on port 135, for this process.

One `RpcServer` on the resolver binding serves the endpoint mapper (anonymously, as Windows
does), IObjectExporter and activation (IRemoteSCMActivator, at the server's level); the
objects themselves are called on the process's ORPC endpoint (orpc/endpoint.py), whose
bindings ResolveOxid hands out. `export_pinged` exports an object whose references are kept
by ping sets rather than by a connection: what activation gives a DCOM client.

`objref_bindings="resolver"` makes the process's OBJREFs carry the resolver's bindings
(saResAddr as Windows fills it, [MS-DCOM] 2.2.18.4) instead of the object endpoint's, and
gives apartments made from then on an IRemUnknown IPID only ResolveOxid tells: clients must
resolve every OXID they have not seen. The default ("endpoint") is what idlgen did before,
which idlgen's and impacket's clients both follow.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

from idlgen.runtime.apartments import marshal as _marshal
from idlgen.runtime.apartments.apartment import Apartment, current_apartment, find_apartment
from idlgen.runtime.apartments.marshal import marshaler_for
from idlgen.runtime.com.guid import GUID, as_guid
from idlgen.runtime.com.hresult import COMError
from idlgen.runtime.ndr.objref import DualStringArray
from idlgen.runtime.rpc.dcerpc import binding as B
from idlgen.runtime.rpc.dcerpc.auth import AuthLevel, ServerSecurity
from idlgen.runtime.rpc.dcerpc.epm import EndpointMapper
from idlgen.runtime.rpc.dcerpc.server import RpcServer
from idlgen.runtime.rpc.dcom.activation import Activator, ClassRegistry
from idlgen.runtime.rpc.dcom.resolver import MISSED_PINGS, PING_PERIOD, OxidResolver, PingSets
from idlgen.runtime.rpc.orpc.client import dualstringarray
from idlgen.runtime.rpc.orpc.endpoint import advertise
from idlgen.runtime.rpc.orpc.endpoint import endpoint as object_endpoint

__all__ = ["DcomService", "PingedExport"]


class PingedExport:
    """An object exported for a pinging client: its OXID, OID and IPID."""

    def __init__(self, oxid: int, oid: int, ipid: bytes) -> None:
        self.oxid, self.oid, self.ipid = oxid, oid, ipid

    @property
    def ipid_guid(self) -> GUID:
        return GUID.from_bytes_le(self.ipid)


class DcomService:
    """The resolver endpoint of this process (endpoint mapper, OXID resolver, pings)."""

    def __init__(
        self,
        security: ServerSecurity | None = None,
        ping_period: float = PING_PERIOD,
        missed_pings: int = MISSED_PINGS,
        clock: Callable[[], float] | None = None,
        classes: ClassRegistry | None = None,
        objref_bindings: str = "endpoint",
    ) -> None:
        if objref_bindings not in ("endpoint", "resolver"):
            raise ValueError(f"objref_bindings: 'endpoint' or 'resolver', not {objref_bindings!r}")
        self.objref_bindings = objref_bindings
        self.security = security
        self.classes = classes if classes is not None else ClassRegistry()
        self.pings = PingSets(ping_period, missed_pings, clock or time.monotonic)
        self.server = RpcServer(security=security, endpoint_map=None)
        self.server.register(EndpointMapper(), level=AuthLevel.NONE)
        self.resolver = OxidResolver(
            self.pings,
            self.object_bindings,
            self.resolver_bindings,
            self.authn_hint,
            self._connection_refs,
        )
        self.server.register(self.resolver, level=AuthLevel.NONE)
        self.server.register(Activator(self, self.classes))  # the server's level applies
        if objref_bindings == "resolver":
            _marshal.conventional_rem_unknown = False
            advertise(self.resolver_bindings)

    def listen(self, binding: str | B.Binding) -> B.Binding:
        actual = self.server.listen(binding)
        self.pings.start()
        return actual

    def object_bindings(self) -> DualStringArray:
        ep = object_endpoint()
        return ep.resolver if ep is not None else DualStringArray()

    def resolver_bindings(self) -> DualStringArray:
        return dualstringarray(list(self.server.bindings))

    def objref_dsa(self) -> DualStringArray:
        """What the OBJREFs this service writes carry: the object endpoint's bindings, or
        (objref_bindings="resolver") the resolver's, for the client to ResolveOxid."""
        if self.objref_bindings == "resolver":
            return self.resolver_bindings()
        return self.object_bindings()

    def authn_hint(self) -> int:
        ep = object_endpoint()
        security = ep.server.security if ep is not None else None
        return int(security.level) if security is not None else int(AuthLevel.NONE)

    def _connection_refs(self, oids: list[int]) -> dict[int, Callable[[], None]]:
        """For each of `oids` some connection holds: what gives its references back. OIDs
        of nothing get none (a client cannot make the ping sets remember made-up OIDs)."""
        ep = object_endpoint()
        if ep is None:
            return {}
        objects = ep.objects
        held = objects.held_oids()

        def releaser(oid: int) -> Callable[[], None]:
            def release() -> None:
                objects.release_oid(oid)

            return release

        return {oid: releaser(oid) for oid in oids if oid in held}

    def rem_unknown_ipid(self, oxid: int) -> GUID:
        """The IRemUnknown IPID of the apartment with this OXID (GUID 0 if it is gone)."""
        apartment = find_apartment(oxid)
        if apartment is None:
            return GUID(0)
        return GUID.from_bytes_le(marshaler_for(apartment).exporter.rem_ipid)

    def export_pinged(
        self, obj: Any, iid: Any, refs: int = 1, apartment: Apartment | None = None
    ) -> PingedExport:
        """Export `obj` as `iid` with `refs` public references that the ping sets own: they
        go back when the client stops pinging the OID (or never starts)."""
        home = apartment or current_apartment()
        exporter = marshaler_for(home).exporter
        oid, ipid = exporter.export(obj, as_guid(iid), refs)

        def release() -> None:
            with contextlib.suppress(COMError):
                home.post(exporter.release_refs, ipid, refs)

        self.pings.hold(oid, release)
        return PingedExport(home.oxid, oid, ipid)

    def close(self) -> None:
        self.pings.stop()
        self.server.close()
        if self.objref_bindings == "resolver":
            advertise(None)
            _marshal.conventional_rem_unknown = True
