"""Parameters spelled alike are mapped once per module (idlgen/codegen/param_keys.py):
the key must hold everything the answers depend on, and a remembered answer must
print as the first one did, refusals and imports included."""

from __future__ import annotations

from pathlib import Path

import idlgen
from idlgen import model
from idlgen.codegen.param_keys import param_key
from idlgen.diagnostics import Position
from idlgen.frontend import syntax


def _param(
    type_: syntax.Type,
    names: tuple[str, ...] = ("in",),
    direction: model.Direction = model.Direction.IN,
    line: int = 1,
) -> model.Param:
    attributes = tuple(syntax.Attribute(n, (), Position("a.idl", line, 1)) for n in names)
    return model.Param("p", type_, direction, attributes)


def _named(name: str, const: bool = False, line: int = 1) -> syntax.NamedType:
    return syntax.NamedType(name, const, Position("a.idl", line, 5))


def test_positions_do_not_count() -> None:
    first = _param(syntax.Pointer(_named("IStream", line=3)), line=3)
    second = _param(syntax.Pointer(_named("IStream", line=9)), line=9)
    assert param_key(first) is not None
    assert param_key(first) == param_key(second)


def test_everything_else_counts() -> None:
    base = _param(syntax.Pointer(_named("LONG")))
    others = [
        _param(syntax.Pointer(_named("LONG")), ("out",), model.Direction.OUT),
        _param(syntax.Pointer(_named("LONG")), ("in", "unique")),
        _param(syntax.Pointer(_named("LONG"), const=True)),
        _param(syntax.Pointer(_named("LONG", const=True))),
        _param(syntax.Pointer(syntax.Pointer(_named("LONG")))),
        _param(syntax.Pointer(_named("ULONG"))),
        _param(syntax.Pointer(syntax.BaseType("long"))),
    ]
    keys = {param_key(p) for p in [base, *others]}
    assert len(keys) == 1 + len(others)


def test_no_key_where_answers_read_more_than_names() -> None:
    sized = model.Param(
        "p",
        syntax.Pointer(_named("LONG")),
        model.Direction.IN,
        (syntax.Attribute("size_is", (syntax.Name("n"),)),),
    )
    assert param_key(sized) is None
    assert param_key(_param(syntax.StructType("tagS", None))) is None
    assert param_key(_param(syntax.Array(_named("LONG"), None))) is None


IDL = """
import "objidl.idl";

typedef [wire_marshal(long)] short WIRED;

[object, uuid(0d0e0f10-1112-4314-9516-171819202123), pointer_default(unique)]
interface ITwice : IUnknown
{
    HRESULT First([in] WIRED wired, [in] IStream *stream, [in] long *count);
    HRESULT Second([in] WIRED wired, [in] IStream *stream, [out] long *count);
    HRESULT Third([in] IStream *stream, [in] long *count);
    HRESULT Fourth([out] long *count);
}
"""


def test_remembered_answers_print_as_the_first(tmp_path: Path) -> None:
    source = tmp_path / "twice.idl"
    source.write_text(IDL, encoding="utf-8")
    output = idlgen.compile(source).output or ""
    refusal = "None,  # not remotable: 'WIRED' is wire_marshal/user_marshal"
    assert output.count(refusal) == 2  # First and Second: the refusal is kept
    assert "from idlgen.runtime.base import objidlbase_idl as _objidlbase_idl" in output
    assert output.count("stream: _objidlbase_idl.IStream | None") == 6  # class, proxy
    # The direction is part of the key: [in] and [out] `long *` marshal differently.
    assert "_ndr.Param(\"count\", _ndr.Pointer('ref', _ndr.LONG), 'in')" in output
    assert "_ndr.Param(\"count_\", _ndr.Pointer('ref', _ndr.LONG), 'out')" in output
