"""Import search, the bundled base IDL, `.h` imports and parse-once behaviour."""

from __future__ import annotations

from pathlib import Path

import pytest
from idl_snippets import compile_text, count_parses, errors_of, interface, write

import idlgen
from idlgen.semantics import loader as loader_module


def test_bundled_base_idl_is_found_without_include_dirs(tmp_path: Path) -> None:
    document = compile_text(tmp_path, 'import "unknwn.idl";\nimport "wbemcli.idl";\n')
    unknown = interface(document, "IUnknown")
    assert unknown["imported"] is True
    assert unknown["uuid"] == "00000000-0000-0000-c000-000000000046"
    assert interface(document, "IWbemObjectSink")["imported"] is True


@pytest.mark.parametrize(
    "name", ["unknwn.idl", "objidl.idl", "oaidl.idl", "wtypes.idl", "wbemcli.idl"]
)
def test_each_bundled_file_imports_cleanly(tmp_path: Path, name: str) -> None:
    document = compile_text(tmp_path, f'import "{name}";\n')
    assert any(f.endswith(name) for f in document["files_read"])


def test_user_include_dir_wins_over_bundled_file(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    write(
        mine,
        "unknwn.idl",
        "[object, uuid(12345678-1234-1234-1234-123456789abc)] interface IMine { }\n",
    )
    document = compile_text(tmp_path, 'import "unknwn.idl";\n', include_dirs=[mine])
    names = [i["name"] for i in document["interfaces"]]
    assert names == ["IMine"]


def test_importing_files_folder_is_searched_first(tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    write(tmp_path, "dep.idl", "typedef int LOCAL_DEP;\n")
    write(other, "dep.idl", "typedef int OTHER_DEP;\n")
    document = compile_text(tmp_path, 'import "dep.idl";\n', include_dirs=[other])
    assert [t["name"] for t in document["typedefs"]] == ["LOCAL_DEP"]


def test_imported_type_names_are_usable(tmp_path: Path) -> None:
    write(tmp_path, "types.idl", "typedef unsigned long MYCOUNT;\n")
    document = compile_text(tmp_path, 'import "types.idl";\nconst MYCOUNT N = (MYCOUNT)-1;\n')
    assert [(c["name"], c["value"]) for c in document["constants"]] == [("N", 0xFFFFFFFF)]


def test_h_file_named_by_import_is_read_as_idl(tmp_path: Path) -> None:
    write(tmp_path, "kinds.h", "typedef enum { KIND_A, KIND_B = 5 } KIND;\n")
    document = compile_text(tmp_path, 'import "kinds.h";\ntypedef KIND K2;\n')
    enum = next(e for e in document["enums"] if e["name"] == "KIND")
    assert enum["members"] == [{"name": "KIND_A", "value": 0}, {"name": "KIND_B", "value": 5}]
    assert enum["imported"] is True


def test_diamond_imports_parse_each_file_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, "base.idl", "typedef int BASE_T;\n")
    write(tmp_path, "left.idl", 'import "base.idl";\ntypedef BASE_T LEFT_T;\n')
    write(tmp_path, "right.idl", 'import "base.idl";\ntypedef BASE_T RIGHT_T;\n')
    loader_module._PARSE_CACHE.clear()
    parsed = count_parses(monkeypatch)
    compile_text(tmp_path, 'import "left.idl";\nimport "right.idl";\n')
    assert sorted(parsed) == ["base.idl", "left.idl", "right.idl", "test.idl"]


def test_unchanged_imports_are_not_parsed_again_in_the_same_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, "dep.idl", "typedef int DEP_T;\n")
    loader_module._PARSE_CACHE.clear()
    compile_text(tmp_path, 'import "dep.idl";\n')
    parsed = count_parses(monkeypatch)
    compile_text(tmp_path, 'import "dep.idl";\ntypedef DEP_T X;\n')
    assert parsed == ["test.idl"]
    write(tmp_path, "dep.idl", "typedef long DEP_T;\n")
    compile_text(tmp_path, 'import "dep.idl";\ntypedef DEP_T X;\n')
    assert parsed == ["test.idl", "dep.idl", "test.idl"]


def test_missing_import_is_an_error_at_the_import(tmp_path: Path) -> None:
    errors = errors_of(tmp_path, '\nimport "nowhere.idl";\n')
    assert len(errors) == 1
    where, message = errors[0].split(": error: ")
    assert where.startswith(f"{tmp_path / 'test.idl'}:2:")
    assert message == 'cannot find imported file "nowhere.idl"'


def test_error_in_imported_file_names_that_file(tmp_path: Path) -> None:
    write(tmp_path, "broken.idl", "typedef int OK_T;\n\nconst int BAD = 1 / 0;\n")
    errors = errors_of(tmp_path, 'import "broken.idl";\n')
    assert len(errors) == 1
    assert errors[0].startswith(f"{tmp_path / 'broken.idl'}:3:")
    assert "division by zero" in errors[0]


def test_import_cycle_terminates(tmp_path: Path) -> None:
    write(tmp_path, "a.idl", 'import "b.idl";\ntypedef int A_T;\n')
    write(tmp_path, "b.idl", 'import "a.idl";\ntypedef int B_T;\n')
    document = compile_text(tmp_path, 'import "a.idl";\n')
    assert {t["name"] for t in document["typedefs"]} >= {"A_T", "B_T"}


def test_compile_accepts_text_with_a_filename(tmp_path: Path) -> None:
    write(tmp_path, "dep.idl", "typedef int DEP_T;\n")
    result = idlgen.compile(
        text='import "dep.idl";\ntypedef DEP_T X;\n',
        filename=str(tmp_path / "virtual.idl"),
        emit="model",
    )
    assert [t.name for t in result.document.typedefs] == ["DEP_T", "X"]


def test_imported_header_sees_the_importers_own_typedefs(tmp_path: Path) -> None:
    """widl's scope is global: a header may use a type its importer declared before
    importing it. Compiling twice exercises the parse cache, which must replay that."""
    write(tmp_path, "uses.h", "typedef struct { MYCAPS caps; } USES;\n")
    text = 'typedef struct { int bits; } MYCAPS;\nimport "uses.h";\ntypedef USES U2;\n'
    for _ in range(2):
        document = compile_text(tmp_path, text)
        assert [t["name"] for t in document["typedefs"]][-1] == "U2"


def test_header_parsed_in_two_contexts_is_not_confused(tmp_path: Path) -> None:
    write(tmp_path, "uses.h", "typedef struct { MYCAPS caps; } USES;\n")
    write(tmp_path, "a.idl", 'typedef int MYCAPS;\nimport "uses.h";\n')
    compile_text(tmp_path, 'import "a.idl";\n', name="first.idl")
    errors = errors_of(tmp_path, 'import "uses.h";\n', name="second.idl")
    assert errors and "MYCAPS" in errors[0]


def test_editing_an_included_file_is_seen_by_the_next_compile(tmp_path: Path) -> None:
    write(tmp_path, "values.h", "const int VALUE = 1;\n")
    write(tmp_path, "dep.idl", '#include "values.h"\n')
    text = 'import "dep.idl";\n'
    assert compile_text(tmp_path, text)["constants"][0]["value"] == 1
    write(tmp_path, "values.h", "const int VALUE = 2;\n")
    assert compile_text(tmp_path, text)["constants"][0]["value"] == 2
