"""The OXID resolver ([MS-DCOM] 3.1.2.5.1, IObjectExporter) and its ping sets (3.2.6).

A DCOM client that unmarshals an OBJREF asks the exporter's resolver (port 135) for the
OXID's bindings and IRemUnknown IPID (ResolveOxid), then keeps the objects it holds alive by
pinging: ComplexPing puts OIDs into a ping set, SimplePing renews the set. An object whose
client stops pinging is released after `missed` ping periods (3 x 120 s by default; tests use
a fake clock), which is how a server reclaims what a crashed client held.

References handed out through the resolver's own exports (`PingSets.hold`, used by
activation) are governed by pings alone. References a client takes over an ORPC connection
([out] pointers, RemQueryInterface) are tied to that connection (orpc/server.py), as for
idlgen's direct publish/connect; once a client puts such an OID in a ping set, they are
governed by pings too: when no set pings it any more (DelFromSet, or the set expired), the
connections' references to it go back after the same grace, the connection still open or
not. A client that never pings an OID keeps the connection rule alone.
"""

from __future__ import annotations

import logging
import os
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from idlgen.runtime.apartments.apartment import find_apartment
from idlgen.runtime.apartments.marshal import marshaler_for
from idlgen.runtime.com.guid import GUID
from idlgen.runtime.ndr.objref import DualStringArray, encode_dualstringarray
from idlgen.runtime.rpc.dcerpc.auth import AuthLevel
from idlgen.runtime.rpc.dcom.oxid_idl import (
    COMVERSION,
    DUALSTRINGARRAY,
    OR_INVALID_OXID,
    OR_INVALID_SET,
    IObjectExporter,
)

__all__ = ["OxidResolver", "PingSets", "dualstringarray_wire"]

log = logging.getLogger(__name__)

COM_VERSION = COMVERSION(5, 7)
PING_PERIOD = 120.0  # seconds between a client's pings ([MS-DCOM] 3.2.6)
MISSED_PINGS = 3  # periods without a ping before the server releases the set's objects


def dualstringarray_wire(dsa: DualStringArray) -> DUALSTRINGARRAY:
    """The NDR struct for a DUALSTRINGARRAY (same units as in an OBJREF)."""
    raw = encode_dualstringarray(dsa)
    count, security = struct.unpack_from("<HH", raw)
    units = list(struct.unpack_from(f"<{count}H", raw, 4))
    return DUALSTRINGARRAY(count, security, units)


@dataclass
class _Held:
    releases: list[Callable[[], None]]  # one per export of the OID (each activation adds one)
    grace_until: float  # protected until the first ping may reasonably have come
    kinds: set[str] = field(default_factory=set)  # releases that must be there only once


@dataclass
class _Set:
    oids: set[int] = field(default_factory=set)
    last_ping: float = 0.0
    sequence: int = 0


class PingSets:
    """OIDs handed to pinging clients, the sets they are pinged in, and their expiry."""

    def __init__(
        self,
        period: float = PING_PERIOD,
        missed: int = MISSED_PINGS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.period, self.missed, self.clock = period, missed, clock
        self._held: dict[int, _Held] = {}
        self._sets: dict[int, _Set] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.released = 0  # OIDs released because nobody pinged them (tests, logs)

    @property
    def lifetime(self) -> float:
        return self.period * self.missed

    def hold(self, oid: int, release: Callable[[], None], once: str | None = None) -> None:
        """Keep `oid` alive while a client pings it; `release` runs once when it expires.
        An OID exported again (the same object activated twice) keeps every release: all
        run when no set pings the OID any more. A release of kind `once` is kept only if
        the OID has none of that kind yet (one that covers every holder)."""
        with self._lock:
            grace = self.clock() + self.lifetime
            held = self._held.get(oid)
            if held is None:
                self._held[oid] = _Held([release], grace, {once} if once else set())
            elif once is None or once not in held.kinds:
                held.releases.append(release)
                held.grace_until = max(held.grace_until, grace)
                if once is not None:
                    held.kinds.add(once)

    def complex_ping(self, setid: int, sequence: int, add: list[int], delete: list[int]) -> int:
        """ComplexPing: the set's id (a new one for 0), or raises KeyError for an unknown set."""
        now = self.clock()
        with self._lock:
            if setid == 0:
                setid = int.from_bytes(os.urandom(8), "little") or 1
                self._sets[setid] = _Set()
            ping_set = self._sets[setid]
            ping_set.oids |= set(add)
            ping_set.oids -= set(delete)
            ping_set.last_ping, ping_set.sequence = now, sequence
            for oid in delete:  # no longer pinged: its grace starts now
                held = self._held.get(oid)
                if held is not None:
                    held.grace_until = now + self.lifetime
            return setid

    def simple_ping(self, setid: int) -> bool:
        with self._lock:
            ping_set = self._sets.get(setid)
            if ping_set is None:
                return False
            ping_set.last_ping = self.clock()
            return True

    def snapshot(self) -> dict[int, tuple[frozenset[int], float]]:
        """Each live set's OIDs and last ping time (for logs and tests)."""
        with self._lock:
            return {k: (frozenset(v.oids), v.last_ping) for k, v in self._sets.items()}

    def held(self) -> frozenset[int]:
        """The OIDs exported for pinging clients and not yet released."""
        with self._lock:
            return frozenset(self._held)

    def sweep(self) -> int:
        """Drop sets nobody pinged for `missed` periods; release OIDs nothing protects."""
        now = self.clock()
        with self._lock:
            for setid in [s for s, v in self._sets.items() if now - v.last_ping > self.lifetime]:
                del self._sets[setid]
            pinged: set[int] = set().union(*(s.oids for s in self._sets.values()))
            expired = [
                oid
                for oid, held in self._held.items()
                if oid not in pinged and now > held.grace_until
            ]
            releases = [release for oid in expired for release in self._held.pop(oid).releases]
        for release in releases:
            try:
                release()
            except Exception:  # a failing release must not stop the others
                log.exception("releasing an unpinged object failed")
        self.released += len(expired)
        return len(expired)

    def start(self) -> None:
        """Sweep in the background, a few times per period."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, daemon=True, name="dcom-pings")
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(max(self.period / 4, 0.01)):
            self.sweep()

    def stop(self) -> None:
        self._stop.set()


class OxidResolver(IObjectExporter):
    """IObjectExporter over this process's apartments and ORPC endpoint.

    `object_bindings()` gives the DUALSTRINGARRAY of the ORPC endpoint (where objects are
    called), `resolver_bindings()` the resolver's own (ServerAlive2), `authn_hint()` the
    lowest level the object endpoint accepts."""

    def __init__(
        self,
        pings: PingSets,
        object_bindings: Callable[[], DualStringArray],
        resolver_bindings: Callable[[], DualStringArray],
        authn_hint: Callable[[], int] = lambda: int(AuthLevel.NONE),
        connection_refs: Callable[[list[int]], dict[int, Callable[[], None]]] | None = None,
    ) -> None:
        self.pings = pings
        self._objects = object_bindings
        self._resolver = resolver_bindings
        self._hint = authn_hint
        # connection_refs(oids): for those ORPC connections hold, what gives their
        # references back once a client pinged them and stopped (None: connections keep
        # their own)
        self._connection_refs = connection_refs
        self.resolutions: dict[int, int] = {}  # OXID -> ResolveOxid(2) calls (tests, logs)
        self._count_lock = threading.Lock()

    def _resolve(self, oxid: int) -> tuple[int, Any, GUID, int]:
        with self._count_lock:
            self.resolutions[oxid] = self.resolutions.get(oxid, 0) + 1
        apartment = find_apartment(oxid)
        if apartment is None or apartment.closed:
            return OR_INVALID_OXID, None, GUID(0), 0
        exporter = marshaler_for(apartment).exporter
        ipid = GUID.from_bytes_le(exporter.rem_ipid)
        return 0, dualstringarray_wire(self._objects()), ipid, self._hint()

    def ResolveOxid(
        self, hRpc: object, pOxid: int, cRequestedProtseqs: int, arRequestedProtseqs: list[int]
    ) -> IObjectExporter.ResolveOxidResult:
        return IObjectExporter.ResolveOxidResult(*self._resolve(pOxid))

    def ResolveOxid2(
        self, hRpc: object, pOxid: int, cRequestedProtseqs: int, arRequestedProtseqs: list[int]
    ) -> IObjectExporter.ResolveOxid2Result:
        status, dsa, ipid, hint = self._resolve(pOxid)
        return IObjectExporter.ResolveOxid2Result(status, dsa, ipid, hint, COM_VERSION)

    def SimplePing(self, hRpc: object, pSetId: int) -> int:
        return 0 if self.pings.simple_ping(pSetId) else OR_INVALID_SET

    def ComplexPing(
        self,
        hRpc: object,
        pSetId: int,
        SequenceNum: int,
        cAddToSet: int,
        cDelFromSet: int,
        AddToSet: list[int] | None,
        DelFromSet: list[int] | None,
    ) -> IObjectExporter.ComplexPingResult:
        try:
            setid = self.pings.complex_ping(pSetId, SequenceNum, AddToSet or [], DelFromSet or [])
        except KeyError:
            return IObjectExporter.ComplexPingResult(OR_INVALID_SET, pSetId, 0)
        if self._connection_refs is not None and AddToSet:
            for oid, release in self._connection_refs(AddToSet).items():
                self.pings.hold(oid, release, once="connections")  # pings govern it now
        return IObjectExporter.ComplexPingResult(0, setid, 0)

    def ServerAlive(self, hRpc: object) -> int:
        return 0

    def ServerAlive2(self, hRpc: object) -> IObjectExporter.ServerAlive2Result:
        dsa = dualstringarray_wire(self._resolver())
        return IObjectExporter.ServerAlive2Result(0, COM_VERSION, dsa, 0)
