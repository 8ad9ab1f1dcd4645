"""A synchronous interface derived from an async one (DESIGN.md section 3, corrected).

The Windows SDK's ocidl.idl declares `IAdviseSinkEx : IAdviseSink` that way, and MIDL
and widl accept it: the child simply has no async partner. Checked at every depth
(child and grandchild), against widl's header, and on the generated module: it
imports, the child classes subclass their parent, a Python object implementing the
grandchild serves every inherited method directly and through a proxy, and the
parent's async partner still works on that object.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from test_generated_remoting import WAIT, load, proxy_to

import idlgen
from idlgen import runtime as rt
from idlgen.runtime.apartments.apartment import Apartment

SINK_IDL = """
import "unknwn.idl";

[object, uuid(0c1a5e10-0000-4000-8000-000000000031),
 async_uuid(0c1a5e10-0000-4000-8000-000000000032)]
interface ISink : IUnknown { HRESULT Twice([in] DWORD x, [out] DWORD *y); }

[object, uuid(0c1a5e10-0000-4000-8000-000000000033)]
interface ISinkEx : ISink { HRESULT Add([in] DWORD a, [in] DWORD b, [out] DWORD *sum); }

[object, uuid(0c1a5e10-0000-4000-8000-000000000034)]
interface ISinkEx2 : ISinkEx { HRESULT Negate([in] LONG v, [out] LONG *r); }
"""


@pytest.fixture(scope="module")
def sink_module(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    folder = tmp_path_factory.mktemp("sink")
    return load(folder / "sync_child.idl", SINK_IDL)


@pytest.fixture
def server_sta() -> Iterator[Apartment]:
    apartment = Apartment.sta("server")
    apartment.call_timeout = WAIT
    yield apartment
    apartment.shutdown()


def implementation(module: ModuleType) -> Any:
    class Sink(rt.ComObject, module.ISinkEx2):  # type: ignore[misc, name-defined]
        def Twice(self, x: int) -> int:
            return 2 * x

        def Add(self, a: int, b: int) -> int:
            return a + b

        def Negate(self, v: int) -> int:
            return -v

    return Sink()


def test_children_compile_without_async_partners(tmp_path: Path) -> None:
    source = tmp_path / "sync_child.idl"
    source.write_text(SINK_IDL, encoding="utf-8")
    doc = idlgen.compile_json(source)
    partners = {i["name"]: i["async"] for i in doc["interfaces"] if not i["imported"]}
    assert partners == {
        "ISink": "AsyncISink",
        "AsyncISink": None,
        "ISinkEx": None,
        "ISinkEx2": None,
    }


def test_generated_children_subclass_their_parents(sink_module: ModuleType) -> None:
    assert issubclass(sink_module.ISinkEx2, sink_module.ISinkEx)
    assert issubclass(sink_module.ISinkEx, sink_module.ISink)
    assert not hasattr(sink_module, "AsyncISinkEx")
    assert not hasattr(sink_module, "AsyncISinkEx2")


def test_a_grandchild_object_serves_every_method_directly_and_through_a_proxy(
    sink_module: ModuleType, server_sta: Apartment
) -> None:
    direct = implementation(sink_module)
    assert (direct.Twice(4), direct.Add(2, 3), direct.Negate(5)) == (8, 5, -5)
    proxy = proxy_to(server_sta, lambda: implementation(sink_module), sink_module.ISinkEx2)
    assert (proxy.Twice(4), proxy.Add(2, 3), proxy.Negate(5)) == (8, 5, -5)


def test_the_parents_async_partner_works_on_a_child_object(
    sink_module: ModuleType, server_sta: Apartment
) -> None:
    proxy = proxy_to(server_sta, lambda: implementation(sink_module), sink_module.ISinkEx2)
    factory = proxy.QueryInterface(rt.ICallFactory)
    iid = sink_module.IID_AsyncISink
    call = factory.CreateCall(iid, None, iid)
    call.Begin_Twice(21)
    assert call.Finish_Twice() == 42
