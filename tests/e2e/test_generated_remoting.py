"""Generated modules are remotable as they are: the code generator's `_wire_` tables,
proxy classes and RPC client stubs drive the runtime's apartments and DCE/RPC transport.

The runtime's own tests use hand-written modules of the same shape; these tests close
the loop by generating from IDL (samples/simple_stream.idl and a plain RPC interface).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import idlgen
from idlgen import runtime as rt
from idlgen.runtime.apartments.apartment import Apartment
from idlgen.runtime.apartments.marshal import marshal_interface, unmarshal_interface

REPO = Path(__file__).resolve().parents[2]
WAIT = 10.0  # a safety net against hangs, never a timing assertion

CALC_IDL = """
import "wtypes.idl";

[uuid(7b1f2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d), version(1.2), pointer_default(unique)]
interface calc
{
    long Add([in] long a, [in] long b);
    HRESULT Divmod([in] long a, [in] long b, [out] long *q, [out] long *r);
    long Sum([in] unsigned long n, [in, size_is(n)] long *v, [out] long *count);
    HRESULT Upper([in, string] wchar_t *s, [out, string] wchar_t **result);
}
"""


def load(path: Path, text: str | None = None) -> ModuleType:
    """Generate the module for an IDL file (or text) and import it under its own name."""
    result = idlgen.compile(path, text=text)
    assert result.output is not None
    target = path.parent / f"{result.module_name}.py"
    target.write_text(result.output, encoding="utf-8")
    sys.modules.pop(result.module_name, None)
    spec = importlib.util.spec_from_file_location(result.module_name, target)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[result.module_name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def stream_module(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    folder = tmp_path_factory.mktemp("stream")
    source = folder / "simple_stream.idl"
    source.write_text((REPO / "samples" / "simple_stream.idl").read_text(), encoding="utf-8")
    return load(source)


@pytest.fixture
def server_sta() -> Iterator[Apartment]:
    apartment = Apartment.sta("server")
    apartment.call_timeout = WAIT
    yield apartment
    apartment.shutdown()


def memory_stream(module: ModuleType) -> Any:
    class MemoryStream(rt.ComObject, module.ISimpleStream):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.data = bytearray()

        def Read(self, cb: int) -> tuple[bytes, int]:
            chunk = bytes(self.data[:cb])
            del self.data[:cb]
            return chunk, len(chunk)

        def Write(self, pv: bytes, cb: int) -> int:
            self.data += pv[:cb]
            return cb

    return MemoryStream()


def proxy_to(apartment: Apartment, make: Any, iface: Any) -> Any:
    def export() -> bytes:
        obj = make()
        objref = marshal_interface(obj, iface)
        obj.Release()
        return objref

    return unmarshal_interface(apartment.run(export))


def test_generated_proxy_class_is_registered(stream_module: ModuleType) -> None:
    assert stream_module.ISimpleStream._proxy_ is stream_module.ISimpleStream_Proxy
    wire = stream_module.ISimpleStream._wire_
    assert [m.method.opnum for m in wire] == [3, 4]


def test_generated_proxy_calls_across_apartments(
    stream_module: ModuleType, server_sta: Apartment
) -> None:
    proxy = proxy_to(server_sta, lambda: memory_stream(stream_module), stream_module.ISimpleStream)
    assert isinstance(proxy, stream_module.ISimpleStream_Proxy)
    assert proxy.Write(b"hello world", 11) == 11
    assert proxy.Read(5) == (b"hello", 5)
    assert proxy.Read(100) == (b" world", 6)


def test_generated_async_partner_through_a_proxy(
    stream_module: ModuleType, server_sta: Apartment
) -> None:
    proxy = proxy_to(server_sta, lambda: memory_stream(stream_module), stream_module.ISimpleStream)
    factory = proxy.QueryInterface(rt.ICallFactory)
    iid = stream_module.IID_AsyncISimpleStream
    call = factory.CreateCall(iid, None, iid)
    call.Begin_Write(b"abc", 3)
    assert call.Finish_Write() == 3
    call.Begin_Read(10)
    assert call.Finish_Read() == (b"abc", 3)


def test_generated_rpc_client_stub_talks_dce_rpc(tmp_path: Path) -> None:
    from idlgen.runtime.rpc.dcerpc import RpcServer, connect

    module = load(tmp_path / "calc.idl", CALC_IDL)

    class Calculator(module.calc):  # type: ignore[misc, name-defined]
        def Add(self, a: int, b: int) -> int:
            return a + b

        def Divmod(self, a: int, b: int) -> tuple[int, int]:
            return a // b, a % b

        def Sum(self, n: int, v: list[int]) -> tuple[int, int]:
            return sum(v[:n]), n

        def Upper(self, s: str) -> str:
            return s.upper()

    server = RpcServer()
    server.register(Calculator())
    binding = server.listen(f"ncacn_unix_stream:[{tmp_path / 'calc.sock'}]")
    try:
        client = connect(binding, module.calc)
        assert isinstance(client, module.calc_Client)
        try:
            assert client.Add(2, 40) == 42
            assert client.Divmod(17, 5) == (3, 2)
            assert client.Sum(3, [1, 2, 3]) == (6, 3)
            assert client.Upper("déjà vu") == "DÉJÀ VU"
        finally:
            client.close()
    finally:
        server.close()
