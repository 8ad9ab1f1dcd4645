"""Typedefs, constants, enums, forward declarations and inheritance."""

from __future__ import annotations

from pathlib import Path

from idl_snippets import PRELUDE, compile_text, errors_of, interface


def test_constant_expressions_are_evaluated_with_c_semantics(tmp_path: Path) -> None:
    text = """
const int A = 7 / -2;
const int B = -7 % 3;
const int C = (1 << 4) | 3;
const unsigned long D = ~0;
const int E = A < B ? 10 : 20;
const long F = sizeof(long) * 2;
const hyper G = 0x7fffffffffffffff;
const char *S = "text";
const int H = 'A';
"""
    constants = {c["name"]: c["value"] for c in compile_text(tmp_path, text)["constants"]}
    assert constants == {
        "A": -3,
        "B": -1,
        "C": 19,
        "D": 0xFFFFFFFF,
        "E": 10,
        "F": 8,
        "G": 0x7FFFFFFFFFFFFFFF,
        "S": "text",
        "H": 65,
    }


def test_enum_values_count_on_from_the_last_explicit_one(tmp_path: Path) -> None:
    text = "const int BASE = 10;\ntypedef enum { E0, E1 = BASE, E2, E3 = E1 * 2, E4 } E;\n"
    enum = compile_text(tmp_path, text)["enums"][0]
    assert [(m["name"], m["value"]) for m in enum["members"]] == [
        ("E0", 0),
        ("E1", 10),
        ("E2", 11),
        ("E3", 20),
        ("E4", 21),
    ]


def test_constants_can_use_enum_members_and_casts(tmp_path: Path) -> None:
    text = (
        "typedef enum { RED = 2 } COLOR;\ntypedef unsigned char UC;\nconst int X = RED + (UC)257;\n"
    )
    assert compile_text(tmp_path, text)["constants"][0]["value"] == 3


def test_unknown_identifier_in_a_constant_is_an_error(tmp_path: Path) -> None:
    errors = errors_of(tmp_path, "const int X = 1 +\n  NOPE;\n")
    assert len(errors) == 1
    assert ":2:3: error: identifier 'NOPE' is not a constant" in errors[0]


def test_forward_declared_interface_can_be_used_before_definition(tmp_path: Path) -> None:
    text = (
        PRELUDE
        + """
interface ILater;
[object, uuid(11111111-1111-1111-1111-111111111111)]
interface IUser : IUnknown { HRESULT Get([out] ILater **later); }
[object, uuid(22222222-2222-2222-2222-222222222222)]
interface ILater : IUnknown { HRESULT Ping(void); }
"""
    )
    document = compile_text(tmp_path, text)
    assert interface(document, "ILater")["methods"][0]["name"] == "Ping"
    param = interface(document, "IUser")["methods"][0]["params"][0]
    assert param == {
        "name": "later",
        "type": "ILater **",
        "direction": "out",
        "attributes": [{"name": "out", "args": []}],
    }


def test_unknown_parent_interface_is_an_error(tmp_path: Path) -> None:
    text = (
        "[object, uuid(11111111-1111-1111-1111-111111111111)]\ninterface IOrphan : IMissing { }\n"
    )
    errors = errors_of(tmp_path, text)
    assert errors and "IMissing" in errors[0]


def test_interface_json_has_the_documented_fields(tmp_path: Path) -> None:
    text = (
        PRELUDE
        + """
[object, uuid(11111111-1111-1111-1111-111111111111), pointer_default(unique)]
interface IThing : IUnknown
{
    [propget] HRESULT Name([out, retval] BSTR *value);
    HRESULT Unnamed(int, [in] REFIID riid);
}
"""
    )
    thing = interface(compile_text(tmp_path, 'import "oaidl.idl";\n' + text), "IThing")
    assert thing["kind"] == "interface"
    assert thing["parent"] == "IUnknown"
    assert thing["async"] is None
    assert thing["imported"] is False
    assert thing["line"] == 5  # the line of `interface IThing`
    assert thing["file"].endswith("test.idl")
    assert {"name": "pointer_default", "args": ["unique"]} in thing["attributes"]
    name, unnamed = thing["methods"]
    assert (name["name"], name["vtable_name"], name["return_type"]) == (
        "Name",
        "get_Name",
        "HRESULT",
    )
    assert name["params"][0]["direction"] == "out"
    assert [p["name"] for p in unnamed["params"]] == [None, "riid"]


def test_library_coclass_and_dispinterface_are_in_the_document(tmp_path: Path) -> None:
    text = (
        'import "oaidl.idl";\n'
        + """
[uuid(11111111-1111-1111-1111-111111111111), version(1.0)]
library ThingLib
{
    importlib("stdole2.tlb");
    [uuid(22222222-2222-2222-2222-222222222222)]
    dispinterface DThing { properties: [id(1)] long Count; methods: [id(2)] void Go(); };
    [uuid(33333333-3333-3333-3333-333333333333)]
    coclass Thing { [default] dispinterface DThing; };
}
"""
    )
    document = compile_text(tmp_path, text)
    assert document["libraries"][0]["name"] == "ThingLib"
    assert set(document["libraries"][0]["members"]) >= {"DThing", "Thing"}
    dthing = interface(document, "DThing")
    assert dthing["kind"] == "dispinterface"
    assert dthing["parent"] == "IDispatch"
    assert [p["name"] for p in dthing["properties"]] == ["Count"]
    assert document["coclasses"][0]["uuid"] == "33333333-3333-3333-3333-333333333333"
