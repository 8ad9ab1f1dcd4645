"""Item 12 of issue 11: IDL names cannot reach the names generated code and the runtime use.

Every internal name is tried in every place an IDL name lands (interface, method,
parameter, struct field, constant, enum value, typedef); the module must import with
its internals intact, and calls across a proxy and over DCE/RPC must still work.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import typing
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import idlgen
from idlgen import runtime as rt
from idlgen.codegen.view import RUNTIME_ATTRIBUTES
from idlgen.runtime.apartments.apartment import Apartment
from idlgen.runtime.apartments.marshal import marshal_interface, unmarshal_interface
from idlgen.runtime.apartments.proxy import InterfaceProxy
from idlgen.runtime.com.comobject import ComObject
from idlgen.runtime.com.interface import AsyncInterface, IUnknown
from idlgen.runtime.rpc.dcerpc.rpcclient import RpcClient

WAIT = 10.0  # a safety net against hangs, never a timing assertion
MODULE_INTERNALS = ["_rt", "_rpc", "_ndr", "_t", "_dc", "_enum", "_ndr_Thing", "_unknwn_idl"]
RUNTIME_CLASSES = (IUnknown, AsyncInterface, InterfaceProxy, ComObject, RpcClient)


def class_internals() -> list[str]:
    """Every underscore name of the runtime classes generated classes derive from."""
    names = {n for cls in RUNTIME_CLASSES for n in dir(cls) if n.startswith("_")}
    names |= {"_wire_", "_sync_", "_uuid_", "_version_", "_clsid_", "_proxy_"}
    dunders = {n for n in names if n.startswith("__")}
    return [*sorted(names - dunders), "__init__", "__slots__", "__class__", "_", "__"]


RESERVED = MODULE_INTERNALS + class_internals()


def load(folder: Path, text: str, stem: str) -> ModuleType:
    source = folder / f"{stem}.idl"
    source.write_text(text)
    result = idlgen.compile(source)
    assert result.output is not None
    target = folder / f"{result.module_name}.py"
    target.write_text(result.output)
    sys.modules.pop(result.module_name, None)
    spec = importlib.util.spec_from_file_location(result.module_name, target)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[result.module_name] = module
    spec.loader.exec_module(module)
    return module


def assert_internals_intact(module: ModuleType) -> None:
    expected = {
        "_rt": rt,
        "_ndr": importlib.import_module("idlgen.runtime.ndr"),
        "_rpc": importlib.import_module("idlgen.runtime.rpc.dcerpc.generated"),
        "_t": typing,
        "_dc": importlib.import_module("dataclasses"),
        "_enum": importlib.import_module("enum"),
    }
    for name, value in expected.items():
        if name in vars(module):
            assert vars(module)[name] is value, name
    assert not [n for n in module.__all__ if n.startswith("_")]


def test_reserved_names_as_constants_typedefs_and_enum_values(tmp_path: Path) -> None:
    lines = ['import "unknwn.idl";']
    lines += [f"const int {name} = {i};" for i, name in enumerate(RESERVED)]
    lines += [f"typedef long {name};" for name in RESERVED]
    members = ", ".join(f"{name} = {i}" for i, name in enumerate(RESERVED))
    lines.append(f"typedef enum {{ {members} }} E;")
    module = load(tmp_path, "\n".join(lines) + "\n", "consts")
    assert_internals_intact(module)
    exported = set(module.__all__)
    for i, name in enumerate(RESERVED):
        python = name.lstrip("_") + "_" * (len(name) - len(name.lstrip("_")))
        python = "u" + python if not name.strip("_") else python
        assert python in exported or python + "_" in exported, name
        assert module.E[python].value == i or module.E[python + "_"].value == i


def test_reserved_names_as_struct_fields_keep_the_descriptor(tmp_path: Path) -> None:
    fields = " ".join(f"long {name};" for name in RESERVED)
    text = f'import "unknwn.idl";\ntypedef struct {{ {fields} long tail[4]; }} Thing;\n'
    module = load(tmp_path, text, "fields")
    assert_internals_intact(module)
    value = module.Thing()
    assert value.tail == []  # `_dc.field(default_factory=list)` still meant dataclasses
    assert len(module.Thing.__dataclass_fields__) == len(RESERVED) + 1
    assert not [f for f in module.Thing.__dataclass_fields__ if f.startswith("_")]
    descriptor = vars(module)["_ndr_Thing"]
    assert descriptor.factory is module.Thing


def test_reserved_names_as_interfaces(tmp_path: Path) -> None:
    lines = ['import "unknwn.idl";']
    for i, name in enumerate(RESERVED):
        lines.append(f"[object, uuid(0b4c5d6e-7f80-4192-a3b4-{i:012x})]")
        lines.append(f"interface {name} : IUnknown {{ HRESULT Do([in] long x); }}")
    module = load(tmp_path, "\n".join(lines) + "\n", "ifaces")
    assert_internals_intact(module)
    classes = [v for v in vars(module).values() if isinstance(v, type) and rt.is_interface(v)]
    assert len(classes) == len(RESERVED)
    for cls in classes:
        assert not cls.__name__.startswith("_")
        assert cls._proxy_.__name__ == cls.__name__ + "_Proxy"
        assert [m.name for m in cls._methods_] == ["Do"]


@pytest.fixture
def server_sta() -> Iterator[Apartment]:
    apartment = Apartment.sta("server")
    apartment.call_timeout = WAIT
    yield apartment
    apartment.shutdown()


def test_reserved_names_as_methods_and_parameters_work_across_a_proxy(
    tmp_path: Path, server_sta: Apartment
) -> None:
    lines = ['import "unknwn.idl";', "[object, uuid(0b4c5d6e-7f80-4192-a3b4-c5d6e7f80911)]"]
    lines.append("interface IThing : IUnknown {")
    count = len(RESERVED)
    for i, name in enumerate(RESERVED):
        out = RESERVED[(i + 1) % count]
        lines.append(f"    HRESULT {name}([in] long {name}, [out] long *{out});")
    lines.append("}")
    module = load(tmp_path, "\n".join(lines) + "\n", "methods")
    assert_internals_intact(module)
    iface = module.IThing
    assert iface._iid_ == module.IID_IThing
    assert len(iface._methods_) == count and len(iface._wire_) == count
    assert iface._proxy_ is module.IThing_Proxy

    def implementation(offset: int) -> Any:
        return lambda self, value: value + offset

    methods = {m.name: implementation(k) for k, m in enumerate(iface._methods_)}
    server_class = type("Thing", (rt.ComObject, iface), methods)

    def export() -> bytes:
        obj = server_class()
        objref = marshal_interface(obj, iface)
        obj.Release()
        return objref

    proxy = unmarshal_interface(server_sta.run(export))
    assert isinstance(proxy, module.IThing_Proxy)
    for k, method in enumerate(iface._methods_):
        assert getattr(proxy, method.name)(1000) == 1000 + k, method.name


RPC_IDL = """
import "wtypes.idl";

[uuid(7b1f2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d), version(1.0)]
interface rpcnames
{
{methods}
}
"""


def test_renamed_method_names_are_exactly_the_runtime_public_attributes() -> None:
    mixed_with = (RpcClient, InterfaceProxy, ComObject)
    public = {n for cls in mixed_with for n in dir(cls) if not n.startswith("_")}
    assert public - {"QueryInterface", "AddRef", "Release"} == RUNTIME_ATTRIBUTES


def test_rpc_methods_named_like_the_client_stub_do_not_override_it(tmp_path: Path) -> None:
    from idlgen.runtime.rpc.dcerpc import RpcServer, connect

    names = [*sorted(RUNTIME_ATTRIBUTES), "_call_", "_conn"]
    methods = "\n".join(f"    long {name}([in] long v);" for name in names)
    module = load(tmp_path, RPC_IDL.replace("{methods}", methods), "rpcnames")
    assert_internals_intact(module)
    python_names = [m.name for m in module.rpcnames._methods_]
    assert not set(python_names) & RUNTIME_ATTRIBUTES
    offsets = {name: k for k, name in enumerate(python_names)}
    server_class = type(
        "Server",
        (module.rpcnames,),
        {name: (lambda self, v, _k=k: v + _k) for name, k in offsets.items()},
    )
    server = RpcServer()
    server.register(server_class())
    binding = server.listen(f"ncacn_unix_stream:[{tmp_path / 'rpc.sock'}]")
    try:
        client = connect(binding, module.rpcnames)
        client.timeout = WAIT  # still RpcClient's own setting, not a remote method
        for name, k in offsets.items():
            assert getattr(client, name)(100) == 100 + k
        client.close()  # RpcClient.close: closes, sends nothing
    finally:
        server.close()


def test_result_tuple_does_not_collide_with_a_method(tmp_path: Path) -> None:
    text = """import "unknwn.idl";
[object, uuid(0b4c5d6e-7f80-4192-a3b4-c5d6e7f80913)]
interface IPair : IUnknown
{
    HRESULT Get([out] long *a, [out] long *b);
    HRESULT GetResult([out] long *c);
}
"""
    module = load(tmp_path, text, "pair")
    assert callable(module.IPair.GetResult)
    assert module.IPair._methods_[0].result._fields == ("a", "b")
    assert module.IPair._methods_[0].result is module.IPair.GetResult_
