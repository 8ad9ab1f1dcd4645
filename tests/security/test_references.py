"""Findings 1 and 2 of issue 11: references are booked per client, IPIDs and OIDs cannot be
guessed, and a connection reaches only what was marshaled to it. The server is a child
process; each `RawClient` is a separate connection (a separate client, for the server)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from security_helpers import RawClient, serve_child, split_published
from stream_handwritten import ICalc, ISimpleStream

from idlgen import runtime as rt
from idlgen.runtime.apartments.apartment import Apartment
from idlgen.runtime.apartments.marshal import marshaler_for

S_OK = 0


@pytest.fixture
def hub() -> Iterator[tuple[str, Any]]:
    with serve_child() as (_, text):
        yield text, split_published(text)


def census(client: RawClient, stream_ipid: bytes) -> int:
    """Public references the server's export of the hub holds (Write(b"", 0) reports them)."""
    return int(client.call(ISimpleStream, "Write", stream_ipid, pv=b"", cb=0).outs["pcbWritten"])


def test_rem_release_of_another_clients_references_releases_nothing(hub: tuple[str, Any]) -> None:
    """A connection may give back only references it was given: B's RemRelease(ipid, 1000)
    on A's IPID, and on the published IPID, leaves A's object alive and its count unchanged."""
    _, (published, binding) = hub
    a, b = RawClient(binding), RawClient(binding)
    try:
        qi = a.rem_query(published, ISimpleStream._iid_, refs=2)
        assert qi.hResult == S_OK
        a_stream = qi.std.ipid.bytes_le
        before = census(a, a_stream)
        b.rem_release(a_stream, 1000)
        b.rem_release(published, 1000)
        assert census(a, a_stream) == before
        assert a.call(ISimpleStream, "Write", a_stream, pv=b"x", cb=1).outs["pcbWritten"] == 1
        # B's own references are B's to give back, and only those.
        mine = b.rem_query(published, ICalc._iid_, refs=3)
        assert census(a, a_stream) == before + 3
        b.rem_release(mine.std.ipid.bytes_le, 1000)
        assert census(a, a_stream) == before
    finally:
        a.close()
        b.close()


def test_guessed_ipid_of_another_clients_object_gets_rpc_e_disconnected(
    hub: tuple[str, Any],
) -> None:
    """Knowing (here: being told) an IPID marshaled to A gives B nothing: calls, QI and
    AddRef on it fail exactly as for an IPID that does not exist."""
    _, (published, binding) = hub
    a, b = RawClient(binding), RawClient(binding)
    try:
        a_stream = a.rem_query(published, ISimpleStream._iid_).std.ipid.bytes_le
        assert census(a, a_stream) > 0
        for ipid in (a_stream, bytes(a_stream[:8]) + bytes(8)):  # A's, and a made-up one
            with pytest.raises(rt.DisconnectedError):
                b.call(ISimpleStream, "Write", ipid, pv=b"x", cb=1)
            with pytest.raises(rt.DisconnectedError):
                b.rem_query(ipid, ICalc._iid_)
            assert b.rem_add_ref(ipid, 5) == rt.E_INVALIDARG
    finally:
        a.close()
        b.close()


def test_ipids_oxids_and_oids_are_not_predictable() -> None:
    """Consecutive exports get unrelated IPIDs and OIDs (64 random bits each), consecutive
    apartments unrelated OXIDs: nothing one client sees lets it compute another's."""

    class Obj(rt.ComObject, ISimpleStream):
        def Read(self, cb: int) -> Any:
            return ISimpleStream.ReadResult(b"", 0)

        def Write(self, pv: bytes, cb: int) -> int:
            return cb

    apts = [Apartment.mta(1, f"guess-{i}") for i in range(8)]
    try:
        exporter = marshaler_for(apts[0]).exporter
        pairs = [exporter.export(Obj(), ISimpleStream._iid_, 1) for _ in range(32)]
        ipid_lows = [int.from_bytes(ipid[8:], "big") for _, ipid in pairs]
        oids = [oid for oid, _ in pairs]
        oxids = [apt.oxid for apt in apts]
        for values in (ipid_lows, oids, oxids):
            assert len(set(values)) == len(values)
            # no two values within 2**20 of each other: not a counter, not a counter's stride
            for x, y in itertools.combinations(values, 2):
                assert abs(x - y) > 1 << 20
    finally:
        for apt in apts:
            apt.shutdown()
