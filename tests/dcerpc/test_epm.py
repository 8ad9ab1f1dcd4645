"""The endpoint mapper: towers, our server, our client, and the generated epm bindings."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from rpc_calc import calc, calc_Client
from rpc_calc_server import Calc

import idlgen
from idlgen.runtime.com.guid import GUID
from idlgen.runtime.com.hresult import COMError
from idlgen.runtime.rpc.dcerpc import RpcServer, epm
from idlgen.runtime.rpc.dcerpc import binding as B
from idlgen.runtime.rpc.dcerpc import pdu as P
from idlgen.runtime.rpc.dcerpc.endpoints import EndpointMap
from idlgen.runtime.rpc.dcerpc.rpcif import syntax_of

REPO = Path(__file__).resolve().parents[2]


def test_epm_module_is_generated_from_its_idl() -> None:
    """The runtime's endpoint-mapper bindings are idlgen's own output for epm.idl."""
    source = REPO / "idlgen" / "protocol_idl" / "epm.idl"
    committed = REPO / "idlgen" / "runtime" / "rpc" / "dcerpc" / "epm_idl.py"
    expected = idlgen.compile(source).output
    assert committed.read_text(encoding="utf-8") == expected, (
        "stale: run `python -m idlgen -o idlgen/runtime/rpc/dcerpc idlgen/protocol_idl/epm.idl`"
    )


# ------------------------------------------------------------------ towers and our mapper


CALC = syntax_of(calc)
NOWHERE = P.SyntaxId(GUID("0d8e4c1b-1111-2222-3333-444455556666"), 1, 0)


@pytest.mark.parametrize(
    "binding", ["ncacn_ip_tcp:10.1.2.3[4321]", "ncacn_unix_stream:[/run/x.sock]"]
)
def test_towers_round_trip(binding: str) -> None:
    b = B.parse(binding)
    tower = epm.decode_tower(epm.encode_tower(CALC, b))
    assert (tower.syntax, tower.transfer, tower.binding) == (CALC, P.NDR20, b)


def test_the_query_tower_asks_for_tcp_with_port_and_address_zero() -> None:
    raw = epm.encode_tower(CALC)
    tcp_floor = bytes([1, 0, 0x07, 2, 0, 0, 0])  # lhs 0x07, rhs port 0 (big-endian)
    ip_floor = bytes([1, 0, 0x09, 4, 0, 0, 0, 0, 0])  # lhs 0x09, rhs address 0.0.0.0
    assert raw.endswith(tcp_floor + ip_floor) and raw[:2] == b"\x05\x00"  # five floors
    assert epm.decode_tower(raw).binding == B.Binding("ncacn_ip_tcp", "0.0.0.0", "0")


@pytest.mark.parametrize("cut", [0, 1, 5, 30, 60])
def test_truncated_towers_are_tower_errors(cut: int) -> None:
    with pytest.raises(epm.TowerError):
        epm.decode_tower(epm.encode_tower(CALC)[:cut])


@pytest.fixture
def mapped() -> Iterator[tuple[RpcServer, int, EndpointMap]]:
    """A calc server advertised in a private map, and an endpoint mapper serving that map."""
    endpoints = EndpointMap()
    service = RpcServer(endpoint_map=endpoints)
    service.register(Calc())
    service.listen("ncacn_ip_tcp:127.0.0.1[0]")
    mapper = RpcServer(endpoint_map=None)
    mapper.register(epm.EndpointMapper(endpoints))
    port = mapper.listen("ncacn_ip_tcp:127.0.0.1[0]").port
    try:
        yield service, port, endpoints
    finally:
        mapper.close()
        service.close()


def test_a_listening_server_advertises_what_it_serves(
    mapped: tuple[RpcServer, int, EndpointMap],
) -> None:
    service, port, _ = mapped
    found = epm.map_endpoint("127.0.0.1", CALC, port=port)
    assert found == service.bindings[0]
    with calc_Client(found) as c:
        assert c.Add(1, 2) == 3


def test_ept_map_of_an_unserved_interface_is_not_registered(
    mapped: tuple[RpcServer, int, EndpointMap],
) -> None:
    _, port, _ = mapped
    with pytest.raises(COMError) as info:
        epm.map_endpoint("127.0.0.1", NOWHERE, port=port)
    assert info.value.hresult == 0x800706D9


def test_ept_lookup_continues_with_its_handle(mapped: tuple[RpcServer, int, EndpointMap]) -> None:
    service, port, endpoints = mapped
    extra = [B.parse(f"ncacn_ip_tcp:127.0.0.1[{40000 + i}]") for i in range(7)]
    endpoints.register(NOWHERE, extra, "nowhere")
    in_ones = epm.lookup("127.0.0.1", port=port, batch=1)
    whole = epm.lookup("127.0.0.1", port=port, batch=500)
    assert in_ones == whole and len(whole) == 8
    assert {e.binding for e in whole} == {*extra, service.bindings[0]}
    assert {e.annotation for e in whole} == {"calc", "nowhere"}


def test_a_closed_server_is_withdrawn_from_the_map(
    mapped: tuple[RpcServer, int, EndpointMap],
) -> None:
    service, port, endpoints = mapped
    service.close()
    assert endpoints.snapshot() == []
    with pytest.raises(COMError):
        epm.map_endpoint("127.0.0.1", CALC, port=port)


def test_impacket_maps_and_looks_up_through_our_mapper(
    mapped: tuple[RpcServer, int, EndpointMap],
) -> None:
    iepm = pytest.importorskip("impacket.dcerpc.v5.epm")
    transport = pytest.importorskip("impacket.dcerpc.v5.transport")
    from impacket.uuid import uuidtup_to_bin

    service, port, _ = mapped

    def connected() -> object:  # impacket binds the mapper itself, once per connection
        dce = transport.DCERPCTransportFactory(f"ncacn_ip_tcp:127.0.0.1[{port}]").get_dce_rpc()
        dce.connect()
        return dce

    want = uuidtup_to_bin((str(calc._uuid_.uuid), "1.2"))
    dce = connected()
    try:
        found = iepm.hept_map("127.0.0.1", want, protocol="ncacn_ip_tcp", dce=dce)
    finally:
        dce.disconnect()
    assert found == f"ncacn_ip_tcp:127.0.0.1[{service.bindings[0].port}]"
    dce = connected()
    try:
        entries = iepm.hept_lookup(None, dce=dce)
    finally:
        dce.disconnect()
    assert len(entries) == 1 and entries[0]["annotation"].rstrip(b"\0") == b"calc"


def test_garbage_towers_and_counts_get_answers_not_crashes(
    mapped: tuple[RpcServer, int, EndpointMap],
) -> None:
    from idlgen.runtime.ndr import ContextHandle
    from idlgen.runtime.rpc.dcerpc.epm_idl import epmp_Client, twr_t

    _, port, _ = mapped
    with epmp_Client(f"ncacn_ip_tcp:127.0.0.1[{port}]") as c:
        for junk in (b"", b"\x05\x00", struct.pack("<H", 3) + b"\x01\x00"):
            r = c.ept_map(None, None, twr_t(len(junk), junk), ContextHandle(), 4)
            assert (r.num_towers, r.status) == (0, epm.EPT_S_NOT_REGISTERED)
        tower = epm.encode_tower(CALC)
        r = c.ept_map(None, None, twr_t(len(tower), tower), ContextHandle(), 0)
        assert r.num_towers == 0
