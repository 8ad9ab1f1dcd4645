"""impacket's DCE/RPC client (written by others) against an idlgen server over TCP: it binds,
encodes the arguments itself, and reads our replies and faults."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from rpc_calc import calc
from rpc_calc_server import Calc

from idlgen.runtime.rpc.dcerpc import RpcServer

rpcrt = pytest.importorskip("impacket.dcerpc.v5.rpcrt")
ndr = pytest.importorskip("impacket.dcerpc.v5.ndr")
dtypes = pytest.importorskip("impacket.dcerpc.v5.dtypes")
transport = pytest.importorskip("impacket.dcerpc.v5.transport")
from impacket.uuid import uuidtup_to_bin  # noqa: E402


class Add(ndr.NDRCALL):
    opnum = 0
    structure = (("a", dtypes.LONG), ("b", dtypes.LONG))


class AddResponse(ndr.NDRCALL):
    structure = (("ErrorCode", dtypes.LONG),)


class LONG_ARRAY(ndr.NDRUniConformantArray):
    item = "<l"


class Sum(ndr.NDRCALL):
    opnum = 3
    structure = (("n", dtypes.ULONG), ("v", LONG_ARRAY))


class SumResponse(ndr.NDRCALL):
    structure = (("count", dtypes.LONG), ("ErrorCode", dtypes.LONG))


class Upper(ndr.NDRCALL):
    opnum = 4
    structure = (("s", dtypes.WSTR),)


class UpperResponse(ndr.NDRCALL):
    structure = (("out", dtypes.LPWSTR), ("ErrorCode", dtypes.ULONG))


class Divmod(ndr.NDRCALL):
    opnum = 2
    structure = (("a", dtypes.LONG), ("b", dtypes.LONG))


class DivmodResponse(ndr.NDRCALL):
    structure = (("q", dtypes.LONG), ("r", dtypes.LONG), ("ErrorCode", dtypes.ULONG))


IFACE = uuidtup_to_bin((str(calc._uuid_.uuid), "1.2"))


@pytest.fixture
def dce() -> Iterator[object]:
    server = RpcServer()
    server.register(Calc())
    binding = server.listen("ncacn_ip_tcp:127.0.0.1[0]")
    t = transport.DCERPCTransportFactory(f"ncacn_ip_tcp:127.0.0.1[{binding.port}]")
    t.set_connect_timeout(10)
    d = t.get_dce_rpc()
    d.connect()
    try:
        yield d
    finally:
        d.disconnect()
        server.close()


def test_impacket_binds_and_calls_add(dce: rpcrt.DCERPC_v5) -> None:
    dce.bind(IFACE)
    req = Add()
    req["a"], req["b"] = 1234, -34
    resp = dce.request(req, checkError=False)  # the last 4 bytes are a long, not a status
    assert resp["ErrorCode"] == 1200


def test_impacket_conformant_array_and_strings(dce: rpcrt.DCERPC_v5) -> None:
    dce.bind(IFACE)
    req = Sum()
    values = [3, -1, 400, 7]
    req["n"] = len(values)
    req["v"] = values
    resp = dce.request(req, checkError=False)
    assert (resp["ErrorCode"], resp["count"]) == (sum(values), len(values))
    up = Upper()
    up["s"] = "idlgen\0"
    out = dce.request(up)
    assert out["out"].rstrip("\0") == "IDLGEN" and out["ErrorCode"] == 0


def test_impacket_fragmented_request(dce: rpcrt.DCERPC_v5) -> None:
    dce.set_max_fragment_size(64)  # impacket splits the stub into 64-byte fragments
    dce.bind(IFACE)
    req = Sum()
    values = list(range(500))
    req["n"] = len(values)
    req["v"] = values
    resp = dce.request(req, checkError=False)
    assert resp["ErrorCode"] == sum(values)


def test_impacket_sees_our_fault(dce: rpcrt.DCERPC_v5) -> None:
    dce.bind(IFACE)
    req = Divmod()
    req["a"], req["b"] = 1, 0
    with pytest.raises(rpcrt.DCERPCException) as info:
        dce.request(req)
    assert "00000057" in str(info.value)  # E_INVALIDARG goes out as its Win32 code


class Nothing(ndr.NDRCALL):
    opnum = 99
    structure = ()


class NothingResponse(ndr.NDRCALL):
    structure = ()


def test_impacket_names_our_opnum_fault(dce: rpcrt.DCERPC_v5) -> None:
    dce.bind(IFACE)
    with pytest.raises(rpcrt.DCERPCException) as info:
        dce.request(Nothing())
    assert "nca_s_op_rng_error" in str(info.value)


def test_impacket_bind_to_unknown_interface_is_rejected(dce: rpcrt.DCERPC_v5) -> None:
    unknown = uuidtup_to_bin(("0d8e4c1b-1111-2222-3333-444455556666", "1.0"))
    with pytest.raises(rpcrt.DCERPCException) as info:
        dce.bind(unknown)
    assert "abstract_syntax_not_supported" in str(info.value)
