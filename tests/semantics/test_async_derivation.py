"""The async derivation rules of DESIGN.md section 3, one test per rule."""

from __future__ import annotations

from pathlib import Path

from idl_snippets import (
    PRELUDE,
    compile_text,
    errors_of,
    interface,
    method_names,
    params,
)

FOO = """
[object, uuid(11111111-1111-1111-1111-111111111111),
 async_uuid(22222222-2222-2222-2222-222222222222), pointer_default(unique),
 helpstring("foo")]
interface IFoo : IUnknown
{
    HRESULT Read([out, size_is(cb), length_is(*pcbRead)] byte *pv, [in] ULONG cb,
                 [out] ULONG *pcbRead);
    HRESULT Swap([in, out] LONG *value, LONG plain);
    [local] HRESULT Local([in] int a);
    [call_as(Local)] HRESULT RemoteLocal([in] int a);
}
"""


def test_partner_is_named_async_plus_name_with_the_async_iid(tmp_path: Path) -> None:
    document = compile_text(tmp_path, PRELUDE + FOO)
    foo = interface(document, "IFoo")
    partner = interface(document, "AsyncIFoo")
    assert foo["async"] == "AsyncIFoo"
    assert partner["uuid"] == "22222222-2222-2222-2222-222222222222"
    assert partner["async_of"] == "IFoo"
    assert partner["async"] is None


def test_partner_copies_attributes_except_uuid_and_async_uuid(tmp_path: Path) -> None:
    partner = interface(compile_text(tmp_path, PRELUDE + FOO), "AsyncIFoo")
    names = [a["name"] for a in partner["attributes"]]
    assert "async_uuid" not in names
    assert {"object", "pointer_default", "helpstring"} <= set(names)
    uuids = [a["args"] for a in partner["attributes"] if a["name"] == "uuid"]
    assert uuids == [["22222222-2222-2222-2222-222222222222"]]


def test_partner_of_an_iunknown_child_derives_from_iunknown(tmp_path: Path) -> None:
    assert interface(compile_text(tmp_path, PRELUDE + FOO), "AsyncIFoo")["parent"] == "IUnknown"


def test_partner_of_a_child_derives_from_the_parents_partner(tmp_path: Path) -> None:
    text = (
        PRELUDE
        + FOO
        + """
[object, uuid(33333333-3333-3333-3333-333333333333),
 async_uuid(44444444-4444-4444-4444-444444444444)]
interface IBar : IFoo { HRESULT Ping(void); }
"""
    )
    document = compile_text(tmp_path, text)
    assert interface(document, "AsyncIBar")["parent"] == "AsyncIFoo"
    assert method_names(interface(document, "AsyncIBar")) == ["Begin_Ping", "Finish_Ping"]


def test_begin_and_finish_pairs_in_order_skipping_call_as(tmp_path: Path) -> None:
    partner = interface(compile_text(tmp_path, PRELUDE + FOO), "AsyncIFoo")
    assert method_names(partner) == [
        "Begin_Read",
        "Finish_Read",
        "Begin_Swap",
        "Finish_Swap",
        "Begin_Local",
        "Finish_Local",
    ]


def test_in_params_go_to_begin_out_to_finish_in_out_to_both(tmp_path: Path) -> None:
    methods = {
        m["name"]: m
        for m in interface(compile_text(tmp_path, PRELUDE + FOO), "AsyncIFoo")["methods"]
    }
    assert params(methods["Begin_Read"]) == [("cb", "in")]
    assert params(methods["Finish_Read"]) == [("pv", "out"), ("pcbRead", "out")]
    assert params(methods["Begin_Swap"]) == [("value", "in"), ("plain", "in")]
    assert params(methods["Finish_Swap"]) == [("value", "out")]


def test_begin_and_finish_return_the_methods_return_type(tmp_path: Path) -> None:
    text = (
        PRELUDE
        + """
[object, uuid(11111111-1111-1111-1111-111111111111),
 async_uuid(22222222-2222-2222-2222-222222222222)]
interface IFoo : IUnknown { ULONG Count(void); HRESULT Go(void); }
"""
    )
    methods = interface(compile_text(tmp_path, text), "AsyncIFoo")["methods"]
    assert [m["return_type"] for m in methods] == ["ULONG", "ULONG", "HRESULT", "HRESULT"]


def test_finish_keeps_size_is_naming_a_begin_parameter(tmp_path: Path) -> None:
    methods = {
        m["name"]: m
        for m in interface(compile_text(tmp_path, PRELUDE + FOO), "AsyncIFoo")["methods"]
    }
    pv = methods["Finish_Read"]["params"][0]
    size_is = [a["args"] for a in pv["attributes"] if a["name"] == "size_is"]
    assert size_is == [["cb"]]


def test_no_parent_is_an_incompatible_parent(tmp_path: Path) -> None:
    text = """
[object, uuid(11111111-1111-1111-1111-111111111111),
 async_uuid(22222222-2222-2222-2222-222222222222)]
interface IRoot { HRESULT Go(void); }
"""
    assert any(
        "async_uuid applied to an interface with incompatible parent" in e
        for e in errors_of(tmp_path, text)
    )


def test_parent_without_async_uuid_is_an_incompatible_parent(tmp_path: Path) -> None:
    text = (
        PRELUDE
        + """
[object, uuid(33333333-3333-3333-3333-333333333333)]
interface IBase : IUnknown { HRESULT Go(void); }
[object, uuid(11111111-1111-1111-1111-111111111111),
 async_uuid(22222222-2222-2222-2222-222222222222)]
interface IChild : IBase { HRESULT Go2(void); }
"""
    )
    errors = errors_of(tmp_path, text)
    assert any("incompatible parent" in e for e in errors)
    assert errors[0].startswith(f"{tmp_path / 'test.idl'}:")


def test_idispatch_parent_is_an_incompatible_parent(tmp_path: Path) -> None:
    text = (
        'import "oaidl.idl";\n'
        + """
[object, dual, uuid(11111111-1111-1111-1111-111111111111),
 async_uuid(22222222-2222-2222-2222-222222222222)]
interface IAuto : IDispatch { HRESULT Go(void); }
"""
    )
    assert any("incompatible parent" in e for e in errors_of(tmp_path, text))


def test_user_interface_named_like_the_partner_is_a_redefinition(tmp_path: Path) -> None:
    text = (
        PRELUDE
        + FOO
        + """
[object, uuid(55555555-5555-5555-5555-555555555555)]
interface AsyncIFoo : IUnknown { HRESULT Other(void); }
"""
    )
    assert any("redefinition" in e and "AsyncIFoo" in e for e in errors_of(tmp_path, text))


def test_async_uuid_on_a_dispinterface_is_an_error(tmp_path: Path) -> None:
    text = (
        'import "oaidl.idl";\n'
        + """
[uuid(11111111-1111-1111-1111-111111111111),
 async_uuid(22222222-2222-2222-2222-222222222222)]
dispinterface DFoo { properties: methods: [id(1)] void Go(); };
"""
    )
    assert any("dispinterface" in e for e in errors_of(tmp_path, text))
