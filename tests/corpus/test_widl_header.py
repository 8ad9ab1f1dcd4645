"""The widl header parser, checked against headers widl writes on the fly.

The IDL here defines its own minimal IUnknown and IDispatch so these tests need widl
but not the Wine corpus.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from widl_header import Vtable, parse_header, parse_header_file

PRELUDE = """
typedef long HRESULT;
typedef unsigned long ULONG;
typedef struct _GUID { ULONG Data1; unsigned short Data2; unsigned short Data3; } GUID;
typedef const GUID *REFIID;
typedef struct tagSIZE { long cx; long cy; } SIZE;

[object, local, uuid(00000000-0000-0000-c000-000000000046)]
interface IUnknown
{
    HRESULT QueryInterface([in] REFIID riid, [out, iid_is(riid)] void **ppvObject);
    ULONG AddRef();
    ULONG Release();
}

[object, uuid(00020400-0000-0000-c000-000000000046)]
interface IDispatch : IUnknown
{
    HRESULT GetTypeInfoCount([out] unsigned int *pctinfo);
    HRESULT GetTypeInfo([in] unsigned int iTInfo, [in] ULONG lcid, [out] IUnknown **ppTInfo);
    HRESULT GetIDsOfNames([in] REFIID riid, [in] ULONG cNames);
    HRESULT Invoke([in] long dispIdMember);
}
"""

COM_IDL = """
[object, uuid(6a1b2c3d-0001-4e5f-8a9b-0c1d2e3f4a5b)]
interface IShape : IUnknown
{
    HRESULT Area([out, retval] double *area);
}

[object, uuid(6a1b2c3d-0002-4e5f-8a9b-0c1d2e3f4a5b)]
interface IPolygon : IShape
{
    [propget] HRESULT Sides([out, retval] ULONG *count);
    [propput] HRESULT Sides([in] ULONG count);
    [propputref] HRESULT Owner([in] IUnknown *owner);
    [local] HRESULT Next([in] ULONG wanted, [out] IShape **shapes);
    [call_as(Next)] HRESULT RemoteNext([in] ULONG wanted, [out] IShape **shapes);
    HRESULT Fill([in] ULONG n, [in, size_is(n)] unsigned char bytes[], [in] float rgba[4]);
}

[object, uuid(6a1b2c3d-0003-4e5f-8a9b-0c1d2e3f4a5b),
 async_uuid(6a1b2c3d-0004-4e5f-8a9b-0c1d2e3f4a5b)]
interface IRender : IUnknown
{
    HRESULT Draw([in] ULONG x, [in, out] ULONG *cookie, [out] ULONG *drawn);
}

[uuid(6a1b2c3d-0005-4e5f-8a9b-0c1d2e3f4a5b)]
dispinterface DShapeEvents
{
properties:
    [id(1)] long Count;
methods:
    [id(2)] void Moved([in] long dx, [in] long dy);
}

[object, local, uuid(6a1b2c3d-0006-4e5f-8a9b-0c1d2e3f4a5b)]
interface ISized : IUnknown
{
    SIZE GetSize();
    SIZE Scaled([in] long factor);
}

[uuid(6a1b2c3d-0007-4e5f-8a9b-0c1d2e3f4a5b), version(1.0)]
interface IPlainRpc
{
    void Ping([in] handle_t binding, [in] long value);
}
"""

WINRT_IDL = """
#pragma winrt ns_prefix
typedef long HRESULT;
[object, local, uuid(00000000-0000-0000-c000-000000000046)]
interface IUnknown { HRESULT QueryInterface(); }
namespace Windows { namespace Foundation {
    [object, uuid(6a1b2c3d-0008-4e5f-8a9b-0c1d2e3f4a5b)]
    interface IClock : IUnknown { HRESULT Now([out] long *ticks_C); }
}}
"""

IUNKNOWN = ["QueryInterface", "AddRef", "Release"]
IDISPATCH = [*IUNKNOWN, "GetTypeInfoCount", "GetTypeInfo", "GetIDsOfNames", "Invoke"]


def widl_header(widl: str, tmp_path: Path, idl_text: str) -> dict[str, Vtable]:
    idl = tmp_path / "sample.idl"
    idl.write_text(idl_text, encoding="utf-8")
    header = tmp_path / "sample.h"
    done = subprocess.run(
        [widl, "-h", "-o", str(header), str(idl)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return parse_header_file(header)


@pytest.fixture
def com(widl: str, tmp_path: Path) -> dict[str, Vtable]:
    return widl_header(widl, tmp_path, PRELUDE + COM_IDL)


def test_full_vtable_lists_inherited_methods_first(com: dict[str, Vtable]) -> None:
    polygon = com["IPolygon"]
    assert polygon.method_names[:4] == [*IUNKNOWN, "Area"]
    assert [m.declared_in for m in polygon.methods[:4]] == ["IUnknown"] * 3 + ["IShape"]


def test_this_is_dropped_and_parameter_names_kept(com: dict[str, Vtable]) -> None:
    methods = {m.name: m for m in com["IPolygon"].methods}
    assert methods["QueryInterface"].params == ("riid", "ppvObject")
    assert methods["Fill"].params == ("n", "bytes", "rgba")
    assert methods["Release"].params == ()


def test_accessors_are_prefixed_and_call_as_has_no_slot(com: dict[str, Vtable]) -> None:
    own = com["IPolygon"].method_names[4:]
    assert own == ["get_Sides", "put_Sides", "putref_Owner", "Next", "Fill"]


def test_uuid_is_read_from_define_guid(com: dict[str, Vtable]) -> None:
    assert com["IPolygon"].uuid == "6a1b2c3d-0002-4e5f-8a9b-0c1d2e3f4a5b"
    assert com["DShapeEvents"].uuid == "6a1b2c3d-0005-4e5f-8a9b-0c1d2e3f4a5b"


def test_async_partner_is_linked_and_split(com: dict[str, Vtable]) -> None:
    partner = com["AsyncIRender"]
    assert com["IRender"].async_partner == "AsyncIRender"
    assert partner.async_of == "IRender"
    assert partner.uuid == "6a1b2c3d-0004-4e5f-8a9b-0c1d2e3f4a5b"
    slots = [(m.name, m.params) for m in partner.methods[3:]]
    assert slots == [("Begin_Draw", ("x", "cookie")), ("Finish_Draw", ("cookie", "drawn"))]


def test_dispinterface_has_the_idispatch_vtable(com: dict[str, Vtable]) -> None:
    events = com["DShapeEvents"]
    assert events.kind == "dispinterface"
    assert events.method_names == IDISPATCH


def test_struct_return_hides_the_ret_parameter(com: dict[str, Vtable]) -> None:
    slots = [(m.name, m.params, m.returns_aggregate) for m in com["ISized"].methods[3:]]
    assert slots == [("GetSize", (), True), ("Scaled", ("factor",), True)]


def test_plain_rpc_interface_has_no_vtable(com: dict[str, Vtable]) -> None:
    assert "IPlainRpc" not in com
    assert list(com) == [
        "IUnknown",
        "IDispatch",
        "IShape",
        "IPolygon",
        "IRender",
        "AsyncIRender",
        "DShapeEvents",
        "ISized",
    ]


def test_winrt_interface_gets_its_dotted_name(widl: str, tmp_path: Path) -> None:
    clock = widl_header(widl, tmp_path, WINRT_IDL)["Windows.Foundation.IClock"]
    assert clock.c_name == "__x_ABI_CWindows_CFoundation_CIClock"
    assert clock.method_names == ["QueryInterface", "Now"]  # WINRT_IDL's one-slot IUnknown
    assert clock.methods[1].params == ("ticks_C",)


def test_text_without_vtables_parses_to_nothing() -> None:
    assert parse_header("/* nothing here */\ntypedef int INT;\n") == {}


def test_widl_letters_unnamed_parameters(widl: str, tmp_path: Path) -> None:
    idl = (
        PRELUDE
        + """
[object, uuid(6a1b2c3d-0009-4e5f-8a9b-0c1d2e3f4a5b)]
interface IAnon : IUnknown { HRESULT Mix([in] ULONG x, [in] ULONG, [in] ULONG y, [in] ULONG); }
"""
    )
    mix = widl_header(widl, tmp_path, idl)["IAnon"].methods[3]
    assert mix.params == ("x", "a", "y", "b")


def test_widl_prefixes_a_method_redeclared_from_an_ancestor(widl: str, tmp_path: Path) -> None:
    idl = (
        PRELUDE
        + """
[object, uuid(6a1b2c3d-000a-4e5f-8a9b-0c1d2e3f4a5b)]
interface IBase : IUnknown { HRESULT Get([out] long *v); }
[object, uuid(6a1b2c3d-000b-4e5f-8a9b-0c1d2e3f4a5b)]
interface IDerived : IBase { HRESULT Get([in] long i, [out] long *v); }
"""
    )
    derived = widl_header(widl, tmp_path, idl)["IDerived"]
    assert derived.method_names[3:] == ["Get", "IDerived_Get"]
