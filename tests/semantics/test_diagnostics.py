"""Diagnostics say where the problem is (docs/cli.md, "Diagnostics").

- an attribute expression naming nothing points at the name inside the attribute, for
  every expression attribute, on parameters and on struct fields;
- an error in a file brought in by `#include` or `import`, at any depth and in any
  mix of the two, carries gcc's "In file included from X:LINE" chain, innermost first;
- past the 100-error cap a note says how many errors were left out;
- an unknown type name gets a note naming the file on the search path that declares
  it, or asking whether an import is missing.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from idl_snippets import PRELUDE, write

import idlgen
from idlgen import IdlError
from idlgen.diagnostics import Diagnostic, Severity
from idlgen.semantics.checks import EXPRESSION_ATTRIBUTES

MIDL_ONLY = {"first_is", "last_is", "min_is", "max_is"}


def diagnostics_of(path: Path, **kwargs: object) -> list[Diagnostic]:
    with pytest.raises(IdlError) as caught:
        idlgen.compile(path, emit="model", **kwargs)  # type: ignore[arg-type]
    return caught.value.diagnostics


def _attribute_text(name: str) -> str:
    return f"{name}(nothing)"


@pytest.mark.parametrize("name", EXPRESSION_ATTRIBUTES)
def test_unresolved_name_in_an_attribute_points_at_the_name(tmp_path: Path, name: str) -> None:
    param = f"    HRESULT F([in] LONG n, [in, {_attribute_text(name)}] LONG *v);"
    field = f"typedef struct {{ LONG n; [{_attribute_text(name)}] LONG *v; }} S;"
    text = (
        PRELUDE
        + "[object, uuid(0c1a5e10-0000-4000-8000-000000000031)]\n"
        + "interface IUse : IUnknown {\n"
        + param
        + "\n}\n"
        + field
        + "\n"
    )
    errors = [
        d
        for d in diagnostics_of(write(tmp_path, "attr.idl", text))
        if "nothing cannot be resolved" in d.message
    ]
    places = {(d.position.line, d.position.column) for d in errors if d.position}
    assert (4, param.index("nothing") + 1) in places
    assert (6, field.index("nothing") + 1) in places


# Each way a file can be brought in: (directive written in the includer, file suffix).
BRINGS = {"include": ('#include "{name}"', ".h"), "import": ('import "{name}";', ".idl")}


@pytest.mark.parametrize("chain", [*itertools.product(BRINGS, repeat=2), ("import",)])
def test_error_in_a_brought_in_file_shows_the_inclusion_chain(
    tmp_path: Path, chain: tuple[str, ...]
) -> None:
    """main -> level1 -> level2 ...: the last file has the error; every step is named."""
    names = [f"level{i}{BRINGS[how][1]}" for i, how in enumerate(chain, 1)]
    write(tmp_path, names[-1], "\n\ntypedef NoSuchType Broken;\n")
    for index in range(len(chain) - 1, 0, -1):
        directive = BRINGS[chain[index]][0].format(name=names[index])
        write(tmp_path, names[index - 1], f"// level {index}\n{directive}\n")
    main = write(tmp_path, "main.idl", PRELUDE + BRINGS[chain[0]][0].format(name=names[0]) + "\n")
    error = next(d for d in diagnostics_of(main) if d.severity is Severity.ERROR)
    assert error.position is not None
    assert Path(error.position.file).name == names[-1]
    expected = [(names[i - 1], 2) for i in range(len(chain) - 1, 0, -1)] + [("main.idl", 2)]
    assert [(Path(p.file).name, p.line) for p in error.included_from] == expected
    lines = error.format().splitlines()
    assert lines[0].startswith("In file included from ")
    assert lines[len(chain) - 1].endswith("main.idl:2:")
    assert lines[len(chain)].startswith(error.position.file)


def test_an_error_in_the_main_file_has_no_chain(tmp_path: Path) -> None:
    main = write(tmp_path, "main.idl", PRELUDE + "typedef NoSuchType Broken;\n")
    error = diagnostics_of(main)[0]
    assert error.included_from == ()
    assert not error.format().startswith("In file included from")


@pytest.mark.parametrize("count", [101, 150])
def test_errors_past_the_cap_are_counted_in_a_note(tmp_path: Path, count: int) -> None:
    body = "".join(f"typedef NoSuchType{i} Broken{i};\n" for i in range(count))
    found = diagnostics_of(write(tmp_path, "many.idl", body))
    errors = [d for d in found if d.severity is Severity.ERROR]
    assert len(errors) == 100
    assert found[-1].severity is Severity.NOTE
    assert found[-1].message.startswith(f"{count - 100} more error")


def test_exactly_the_cap_needs_no_note(tmp_path: Path) -> None:
    body = "".join(f"typedef NoSuchType{i} Broken{i};\n" for i in range(100))
    found = diagnostics_of(write(tmp_path, "many.idl", body))
    assert all("not shown" not in d.message for d in found)


@pytest.mark.parametrize(
    ("use", "declared_in"),
    [
        ("HRESULT F([in] IStream *s);", "objidlbase.idl"),
        ("HRESULT F([in] IDispatch *d);", "oaidl.idl"),
        ("HRESULT F([in] VARIANT v);", "oaidl.idl"),
    ],
)
def test_unknown_type_declared_in_a_known_file_names_that_file(
    tmp_path: Path, use: str, declared_in: str
) -> None:
    text = (
        'import "unknwn.idl";\n'
        "[object, uuid(0c1a5e10-0000-4000-8000-000000000031)]\n"
        f"interface IUse : IUnknown {{ {use} }}\n"
    )
    found = diagnostics_of(write(tmp_path, "use.idl", text))
    notes = [d.message for d in found if d.severity is Severity.NOTE]
    assert any(f'import "{declared_in}";' in note for note in notes), notes


def test_unknown_type_found_in_an_include_folder_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "sdk"
    folder.mkdir()
    write(folder, "widgets.idl", "typedef struct tagWIDGET { long a; } WIDGET;\n")
    main = write(tmp_path, "main.idl", "typedef WIDGET *PWIDGET;\n")
    notes = [d.message for d in diagnostics_of(main, include_dirs=[folder])]
    assert any('import "widgets.idl";' in note for note in notes), notes


def test_unknown_parent_interface_gets_the_hint_too(tmp_path: Path) -> None:
    text = (
        'import "unknwn.idl";\n'
        "[object, uuid(0c1a5e10-0000-4000-8000-000000000031)]\n"
        "interface IChild : IPersist { HRESULT H(); }\n"
    )
    found = diagnostics_of(write(tmp_path, "child.idl", text))
    notes = [d for d in found if d.severity is Severity.NOTE]
    assert any('import "objidl.idl";' in d.message for d in notes)
    assert (
        notes[0].position is not None and notes[0].position.column == len("interface IChild : ") + 1
    )


def test_a_name_declared_nowhere_asks_about_imports(tmp_path: Path) -> None:
    found = diagnostics_of(write(tmp_path, "x.idl", "typedef Nowhere1234 X;\n"))
    assert any("did you forget an import?" in d.message for d in found)


ASYNC_MISUSES = {
    "dispinterface": 'import "oaidl.idl";\n[uuid(0c1a5e10-0000-4000-8000-000000000041), '
    "async_uuid(0c1a5e10-0000-4000-8000-000000000042)]\n"
    "dispinterface DFoo { properties: methods: [id(1)] void Go(); };\n",
    "not an object interface": "[uuid(0c1a5e10-0000-4000-8000-000000000041), "
    "async_uuid(0c1a5e10-0000-4000-8000-000000000042)]\n"
    "interface RFoo { void Go(void); }\n",
    "incompatible parent": 'import "oaidl.idl";\n[object, '
    "uuid(0c1a5e10-0000-4000-8000-000000000041), "
    "async_uuid(0c1a5e10-0000-4000-8000-000000000042)]\n"
    "interface IFoo : IDispatch { HRESULT Go(); }\n",
}


@pytest.mark.parametrize("misuse", ASYNC_MISUSES)
def test_async_uuid_errors_point_at_the_attribute(tmp_path: Path, misuse: str) -> None:
    text = ASYNC_MISUSES[misuse]
    found = diagnostics_of(write(tmp_path, "async.idl", text))
    errors = [d for d in found if d.severity is Severity.ERROR and "async_uuid" in d.message]
    assert errors and errors[0].position is not None
    line = text.splitlines()[errors[0].position.line - 1]
    assert line[errors[0].position.column - 1 :].startswith("async_uuid(")
