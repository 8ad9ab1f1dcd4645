"""The harness's own logic: vtables from idlgen's JSON, and the comparison with widl.

These use small hand-built JSON documents (the `--emit json` shape) so the harness is
trusted before idlgen's front end exists: a differential test is only as good as the
code that decides what "different" means.
"""

from __future__ import annotations

from typing import Any

import pytest
from differential import compare
from json_vtable import VtableError, full_vtable, has_vtable, index_interfaces
from widl_header import Method, Vtable

IUNKNOWN_SLOTS = ["QueryInterface(riid, ppvObject)", "AddRef()", "Release()"]


def method(name: str, *params: str, attrs: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "name": name,
        "return_type": "HRESULT",
        "attributes": [{"name": a, "args": []} for a in attrs],
        "params": [{"name": p, "type": "int", "direction": "in", "attributes": []} for p in params],
    }


def interface(
    name: str,
    parent: str | None,
    *methods: dict[str, Any],
    kind: str = "interface",
    uuid: str | None = None,
    imported: bool = False,
    async_partner: str | None = None,
) -> dict[str, Any]:
    return {
        "name": name,
        "kind": kind,
        "uuid": uuid,
        "parent": parent,
        "async": async_partner,
        "imported": imported,
        "file": "x.idl",
        "line": 1,
        "attributes": [{"name": "object", "args": []}] if kind == "interface" else [],
        "methods": list(methods),
    }


BASE = [
    interface(
        "IUnknown",
        None,
        method("QueryInterface", "riid", "ppvObject"),
        method("AddRef"),
        method("Release"),
        imported=True,
    ),
    interface(
        "IDispatch",
        "IUnknown",
        method("GetTypeInfoCount", "pctinfo"),
        method("Invoke", "dispIdMember"),
        imported=True,
    ),
]


def document(*interfaces: dict[str, Any]) -> dict[str, Any]:
    return {"interfaces": [*BASE, *interfaces]}


def slots_of(name: str, doc: dict[str, Any]) -> list[str]:
    index = index_interfaces(doc)
    return [str(slot) for slot in full_vtable(index[name], index)]


def widl_vtable(
    name: str,
    *slots: tuple[str, tuple[str, ...]],
    uuid: str | None = None,
    c_name: str | None = None,
    async_partner: str | None = None,
) -> Vtable:
    base = [("QueryInterface", ("riid", "ppvObject")), ("AddRef", ()), ("Release", ())]
    methods = tuple(Method(n, p, "?") for n, p in [*base, *slots])
    return Vtable(name, c_name or name, "interface", uuid, methods, async_partner)


def test_inherited_slots_come_first() -> None:
    doc = document(
        interface("IShape", "IUnknown", method("Area", "area")),
        interface("IPolygon", "IShape", method("Sides", "count")),
    )
    assert slots_of("IPolygon", doc) == [*IUNKNOWN_SLOTS, "Area(area)", "Sides(count)"]


def test_accessors_get_c_prefixes_and_call_as_has_no_slot() -> None:
    doc = document(
        interface(
            "IThing",
            "IUnknown",
            method("Size", "value", attrs=("propget",)),
            method("Size", "value", attrs=("propput",)),
            method("Owner", "o", attrs=("propputref",)),
            method("Changed", "h", "token", attrs=("eventadd",)),
            method("Changed", "token", attrs=("eventremove",)),
            method("Next", "n", attrs=("local",)),
            method("RemoteNext", "n", attrs=("call_as",)),
        )
    )
    assert slots_of("IThing", doc)[3:] == [
        "get_Size(value)",
        "put_Size(value)",
        "putref_Owner(o)",
        "add_Changed(h, token)",
        "remove_Changed(token)",
        "Next(n)",
    ]


def test_method_redeclared_from_an_ancestor_gets_the_interface_prefix() -> None:
    doc = document(
        interface(
            "IFormat", "IUnknown", method("GetSize", "size"), method("Size", attrs=("propget",))
        ),
        interface(
            "ILayout",
            "IFormat",
            method("GetSize", "pos", "size"),
            method("Size", attrs=("propget",)),
        ),
        interface("ILayout1", "ILayout", method("Extra")),
    )
    assert slots_of("ILayout1", doc)[3:] == [
        "GetSize(size)",
        "get_Size()",
        "ILayout_GetSize(pos, size)",
        "ILayout_get_Size()",
        "Extra()",
    ]


def test_unnamed_parameters_get_widl_letters() -> None:
    unnamed = method("Foo", "x", "", "y", "")
    for param in unnamed["params"]:
        param["name"] = param["name"] or None
    doc = document(interface("IUnnamed", "IUnknown", unnamed))
    assert slots_of("IUnnamed", doc)[3:] == ["Foo(x, a, y, b)"]


def test_dispinterface_vtable_is_idispatch() -> None:
    doc = document(interface("DEvents", "IDispatch", method("Fired", "code"), kind="dispinterface"))
    expected = [*IUNKNOWN_SLOTS, "GetTypeInfoCount(pctinfo)", "Invoke(dispIdMember)"]
    assert slots_of("DEvents", doc) == expected


@pytest.mark.parametrize(
    ("interfaces", "message"),
    [
        ([interface("IOrphan", "INowhere")], "parent INowhere"),
        ([interface("IA", "IB"), interface("IB", "IA")], "cycle"),
    ],
)
def test_broken_inheritance_is_reported(interfaces: list[dict[str, Any]], message: str) -> None:
    doc = document(*interfaces)
    with pytest.raises(VtableError, match=message):
        slots_of(interfaces[0]["name"], doc)


def test_generic_and_plain_rpc_interfaces_have_no_vtable() -> None:
    plain = interface("svcctl", None, method("Close", "h"))
    plain["attributes"] = [{"name": "version", "args": ["2.0"]}]
    assert not has_vtable(plain)
    assert not has_vtable(interface("IVector<T>", "IInspectable"))
    assert has_vtable(interface("IShape", "IUnknown"))


def test_identical_views_have_no_mismatch() -> None:
    doc = document(interface("IShape", "IUnknown", method("Area", "area"), uuid="{AB-CD}"))
    header = {"IShape": widl_vtable("IShape", ("Area", ("area",)), uuid="ab-cd")}
    assert compare(header, doc) == []


def test_every_kind_of_mismatch_is_reported() -> None:
    doc = document(
        interface("IShape", "IUnknown", method("Area", "size"), uuid="11"),
        interface("IExtra", "IUnknown"),
    )
    header = {
        "IShape": widl_vtable("IShape", ("Area", ("area",)), uuid="22"),
        "IMissing": widl_vtable("IMissing"),
    }
    problems = compare(header, doc)
    assert len(problems) == 4
    assert problems[0].startswith("IShape: uuid 22 for widl, 11 for idlgen")
    assert "-Area(area)" in problems[1] and "+Area(size)" in problems[1]
    assert problems[2].startswith("IMissing: widl wrote a vtable")
    assert problems[3].startswith("IExtra: in idlgen's JSON")


def test_async_partner_must_be_named() -> None:
    doc = document(interface("IRender", "IUnknown", async_partner=None))
    header = {"IRender": widl_vtable("IRender", async_partner="AsyncIRender")}
    assert compare(header, doc) == ["IRender: async partner AsyncIRender for widl, None for idlgen"]


def test_winrt_interface_matches_by_unqualified_name() -> None:
    doc = document(interface("IClock", "IUnknown"))
    header = {
        "Windows.Foundation.IClock": widl_vtable(
            "Windows.Foundation.IClock", c_name="__x_ABI_CWindows_CFoundation_CIClock"
        )
    }
    assert compare(header, doc) == []
