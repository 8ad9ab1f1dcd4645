"""The constant checks after resolution walk the main file with a lean copy of the
front end's attribute walk (idlgen/semantics/attribute_values.py): it must see the same
attribute lists and arrays in the same order, and it must not walk the named and
built-in types that most parameters have (counted calls, never timings)."""

from __future__ import annotations

from pathlib import Path

import pytest
from shared_fixtures import skip_or_fail, wine_idl_dir_path, wine_include_dirs

from idlgen.diagnostics import DiagnosticSink
from idlgen.frontend import syntax
from idlgen.frontend.attributes import AttributeWalker
from idlgen.semantics import attribute_values
from idlgen.semantics.consteval import Evaluator
from idlgen.semantics.loader import Loader, make_settings

# Every place an attribute list or an array can stand.
EVERYWHERE = """
typedef long HRESULT;
const long N = 4;
typedef [public, v1_enum] enum {
    A = 1, [hidden, custom(11111111-2222-3333-4444-55555555555a, 2)] B } E;
typedef struct S { [size_is(n), unique] long *p; long n; long fixed[N][2];
    union { [case(1), case(2)] long a; [default] short b; } u;
    struct { [string, unique] char *s; } inner; } S;
typedef [switch_type(long)] union U { [case(1)] long a; [case(2)] S s; } U;
typedef [helpstring("h"), public] long (*CALLBACK)([in, unique] S *s, [in] long a[3]);
[object, uuid(11111111-2222-3333-4444-555555555555), pointer_default(unique)]
interface IThing : IUnknown {
    typedef [public, helpstring("t")] struct { long x[2]; } T;
    [id(1), propget, helpstring("x")] HRESULT X([out, retval] long *p);
    HRESULT Y([in] long a, [in, size_is(a)] S *items, [in] E e);
    long Z([in] long (*f)([in] long x), [in] struct { [range(0, 3)] long y; } v);
};
[uuid(11111111-2222-3333-4444-555555555556), version(1.0)]
library L {
    [uuid(11111111-2222-3333-4444-555555555557), helpstring("d")]
    dispinterface D { properties: [id(2), readonly] long p; methods: [id(3)] void m(); };
    [uuid(11111111-2222-3333-4444-555555555558), helpstring("c")]
    coclass C { [default, source] dispinterface D; interface IThing; };
    [dllname("x.dll"), uuid(11111111-2222-3333-4444-555555555559)]
    module M { [entry(1), helpstring("f")] long F([in] long a); const long K = 2; };
};
"""


def _load(path: str | None = None, text: str | None = None) -> syntax.File:
    folder = wine_idl_dir_path()
    dirs = [str(d) for d in wine_include_dirs(folder)] if folder.is_dir() else []
    sink = DiagnosticSink()
    loaded = Loader(make_settings(dirs), sink).load_main(path or "t.idl", text)
    assert sink.error_count == 0, sink.diagnostics
    return loaded.tree


def _seen_by_both(file: syntax.File) -> tuple[list[object], list[object]]:
    """What the front end's walk and the lean one see: each list of two or more
    attributes (the duplicate check's input) and each array, in order."""
    generic: list[object] = []
    AttributeWalker(
        lambda attribute, place: None,
        generic.append,
        lambda attributes: generic.append(attributes) if len(attributes) > 1 else None,
    ).items(file.items)
    lean: list[object] = []
    original = attribute_values._ValueWalk._visit_array

    def visit_array(self: attribute_values._ValueWalk, array: syntax.Array) -> None:
        lean.append(array)
        original(self, array)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(attribute_values._ValueWalk, "_visit_array", visit_array)
        evaluator = Evaluator(lambda name: None, lambda type_: type_)
        attribute_values.check_values(file, evaluator, DiagnosticSink(), lean.append)
    return generic, lean


def test_the_lean_walk_sees_what_the_front_end_walk_sees() -> None:
    generic, lean = _seen_by_both(_load(text=EVERYWHERE))
    assert len(generic) > 20
    assert [id(node) for node in lean] == [id(node) for node in generic]


@pytest.mark.parametrize("name", ["oaidl.idl", "d3d11.idl", "mshtml.idl"])
def test_the_lean_walk_sees_what_the_front_end_walk_sees_in_the_corpus(name: str) -> None:
    path = wine_idl_dir_path() / name
    if not path.is_file():
        skip_or_fail(f"Wine corpus file {path} not found")
    generic, lean = _seen_by_both(_load(str(Path(path))))
    assert [id(node) for node in lean] == [id(node) for node in generic]


def test_named_and_built_in_types_are_not_walked(monkeypatch: pytest.MonkeyPatch) -> None:
    text = (
        "typedef long HRESULT; typedef short BSTR;"
        "[object, uuid(11111111-2222-3333-4444-555555555555)] interface I : IUnknown {"
        " HRESULT f([in] long a, [in] BSTR b, [out] long *c); };"
    )
    file = _load(text=text)
    walked: list[object] = []
    original = AttributeWalker.type

    def counting(self: AttributeWalker, type_: object) -> None:
        walked.append(type_)
        original(self, type_)

    monkeypatch.setattr(AttributeWalker, "type", counting)
    evaluator = Evaluator(lambda name: None, lambda type_: type_)
    attribute_values.check_values(file, evaluator, DiagnosticSink())
    # Only `long *c` is walked: the return type and `a`, `b` hold nothing to visit.
    assert [type(node).__name__ for node in walked] == ["Pointer"]
