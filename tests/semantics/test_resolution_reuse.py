"""Work resolution and the model do once instead of per item behave like doing it per item.

A compile replays an imported file's recorded resolution table by table, gathers the
constants a sizing expression may name only when asked, stops an inheritance walk at a
chain already known to end, indexes a document's names from dict displays, and reads a
method's vtable name in one pass over its attributes. Each test states the general rule.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from idl_snippets import compile_text, errors_of, write

from idlgen import model
from idlgen.frontend import syntax

IMPORTED = """
import "unknwn.idl";
cpp_quote("// first")
interface IForward;
typedef long T1;
typedef [v1_enum] enum { E_A, E_B = 4, E_C } ENUM1;
const long N = E_C + 1;
typedef struct { long n; [size_is(n)] long *v; } S1;
cpp_quote("// second")
typedef T1 T2;
typedef long T1;
[object, uuid(0c1a5e10-0000-4000-8000-000000000061)]
interface IOne : IUnknown { HRESULT F([in] T2 a, [out] S1 *s); }
"""


def test_a_replayed_import_resolves_as_the_walk_that_recorded_it(tmp_path: Path) -> None:
    write(tmp_path, "imported.idl", IMPORTED)
    main = 'import "imported.idl";\ntypedef T2 T3;\n'
    first = compile_text(tmp_path, main)  # walks imported.idl and records it
    second = compile_text(tmp_path, main)  # replays the record
    assert second == first
    # A name written twice keeps the place of its first write.
    typedefs = [t["name"] for t in first["typedefs"]]
    assert typedefs.index("T1") < typedefs.index("T2") < typedefs.index("T3")


def test_sizes_may_name_constants_and_enum_members_of_imports(tmp_path: Path) -> None:
    write(tmp_path, "imported.idl", IMPORTED)
    text = (
        'import "imported.idl";\n'
        "[object, uuid(0c1a5e10-0000-4000-8000-000000000062)]\n"
        "interface ITwo : IUnknown {\n"
        "  HRESULT G([in, size_is(N)] long *a, [in, size_is(E_B)] long *b);\n"
        "  HRESULT H([in, size_is(MISSING)] long *c);\n"
        "}\n"
        "typedef struct { [size_is(N + E_A)] long *v; [size_is(NOPE)] long *w; } S2;\n"
    )
    errors = errors_of(tmp_path, text)
    assert [e.split("error: ", 1)[1] for e in errors] == [
        "identifier MISSING cannot be resolved in expression for attribute size_is",
        "identifier NOPE cannot be resolved in expression for attribute size_is",
    ]


def test_every_interface_whose_parents_come_back_round_is_reported(tmp_path: Path) -> None:
    # Acyclic chains first (they are remembered), then a cycle, an interface above the
    # cycle, and an acyclic interface after them.
    text = """
import "unknwn.idl";
interface IB;
[object, uuid(0c1a5e10-0000-4000-8000-000000000071)] interface IBase : IUnknown {}
[object, uuid(0c1a5e10-0000-4000-8000-000000000072)] interface IKid : IBase {}
[object, uuid(0c1a5e10-0000-4000-8000-000000000073)] interface IC : IB {}
[object, uuid(0c1a5e10-0000-4000-8000-000000000074)] interface IB : IC {}
[object, uuid(0c1a5e10-0000-4000-8000-000000000075)] interface ID : IC {}
[object, uuid(0c1a5e10-0000-4000-8000-000000000076)] interface IE : IKid {}
"""
    errors = errors_of(tmp_path, text)
    reported = sorted(e.split("interface '", 1)[1].split("'")[0] for e in errors)
    assert reported == ["IB", "IC", "ID"]
    assert all("inherits from itself" in e for e in errors)


SLOT_ATTRIBUTES = ["propget", "propput", "propputref", "eventadd", "eventremove", "id", "local"]
PRECEDENCE = [
    ("propget", "get_"),
    ("propput", "put_"),
    ("propputref", "putref_"),
    ("eventadd", "add_"),
    ("eventremove", "remove_"),
]


@given(st.lists(st.sampled_from(SLOT_ATTRIBUTES), max_size=5))
def test_a_vtable_name_takes_the_first_prefix_in_order_of_precedence(names: list[str]) -> None:
    attributes = tuple(syntax.Attribute(name, ()) for name in names)
    method = model.Method("Value", syntax.BaseType("void"), (), attributes)
    expected = next((p + "Value" for a, p in PRECEDENCE if a in names), "Value")
    assert method.vtable_name == expected


ORIGIN = model.Origin("x.idl", 1, 1, False)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["interface", "typedef", "coclass", "struct", "enum"]),
            st.sampled_from(["A", "B", "C"]),
        ),
        max_size=12,
    )
)
def test_a_document_looks_up_the_first_declaration_of_a_name(
    declared: list[tuple[str, str]],
) -> None:
    made: dict[str, list[object]] = {
        k: [] for k in ("interface", "typedef", "coclass", "struct", "enum")
    }
    for kind, name in declared:
        made[kind].append(_declaration(kind, name, len(made[kind])))
    document = model.Document(
        "x.idl",
        (),
        interfaces=tuple(made["interface"]),  # type: ignore[arg-type]
        typedefs=tuple(made["typedef"]),  # type: ignore[arg-type]
        coclasses=tuple(made["coclass"]),  # type: ignore[arg-type]
        structs=tuple(made["struct"]),  # type: ignore[arg-type]
        enums=tuple(made["enum"]),  # type: ignore[arg-type]
    )
    for name in ("A", "B", "C"):
        named = [i for k in ("interface", "typedef", "coclass") for i in made[k]]
        tagged = [i for k in ("struct", "enum") for i in made[k]]
        first = next((i for i in named if i.name == name), None)  # type: ignore[attr-defined]
        first_tag = next((i for i in tagged if i.name == name), None)  # type: ignore[attr-defined]
        assert document.lookup(name) is first
        assert document.lookup(f"tag:{name}") is first_tag


def _declaration(kind: str, name: str, serial: int) -> object:
    origin = model.Origin("x.idl", serial + 1, 1, False)
    if kind == "interface":
        return model.Interface(name, "interface", None, None, (), (), origin)
    if kind == "typedef":
        return model.Typedef(name, syntax.BaseType("long"), (), origin)
    if kind == "coclass":
        return model.Coclass(name, None, (), (), origin)
    if kind == "struct":
        return model.Struct(name, (), (), origin)
    return model.Enum(name, (), (), origin)
