"""Parses of imported files kept on disk (idlgen/semantics/parse_store.py): a later
process reuses them, and never one that no longer matches its files.

A new process is simulated by emptying the in-process parse cache; whether a file was
parsed again is observed by counting the loader's parses.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from idl_snippets import count_parses, write

import idlgen
from idlgen.semantics import loader as loader_module
from idlgen.semantics.parse_store import default_folder

Parsed = Callable[[], list[str]]


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> Parsed:
    """Empties the parse cache (a fresh process) and records which files get parsed."""
    names = count_parses(monkeypatch)

    def fresh_process() -> list[str]:
        loader_module._PARSE_CACHE.clear()
        names.clear()
        return names

    return fresh_process


def compile_main(folder: Path, store: Path, body: str = "", value: str = "1") -> str:
    main = write(folder, "main.idl", f'import "dep.idl";\nconst long MAIN = {value};\n{body}')
    result = idlgen.compile(main, parse_cache_dir=store)
    assert result.output is not None
    return result.output


def test_a_later_process_parses_only_its_main_file(tmp_path: Path, parsed: Parsed) -> None:
    write(tmp_path, "base.idl", "typedef long BASE_T;\n")
    write(tmp_path, "dep.idl", 'import "base.idl";\ntypedef BASE_T DEP_T;\nconst DEP_T D = 2;\n')
    store = tmp_path / "store"
    names = parsed()
    first = compile_main(tmp_path, store, "typedef DEP_T MINE;\n")
    assert sorted(names) == ["base.idl", "dep.idl", "main.idl"]
    names = parsed()
    again = compile_main(tmp_path, store, "typedef DEP_T MINE;\n")
    assert names == ["main.idl"]
    assert again == first


def test_a_stored_parse_whose_import_changed_its_names_is_not_used(
    tmp_path: Path, parsed: Parsed
) -> None:
    write(tmp_path, "base.idl", "typedef long BASE_T;\n")
    # dep.idl's own text never changes, but what it means does: with BASE_T gone from
    # base.idl, `BASE_T` below is no longer a type name and dep.idl must fail to parse.
    write(tmp_path, "dep.idl", 'import "base.idl";\ntypedef BASE_T DEP_T;\n')
    store = tmp_path / "store"
    parsed()
    compile_main(tmp_path, store)
    write(tmp_path, "base.idl", "typedef long OTHER_T;\n")
    names = parsed()
    with pytest.raises(idlgen.IdlError):
        compile_main(tmp_path, store)
    assert "dep.idl" in names


def test_a_changed_include_of_an_import_is_seen(tmp_path: Path, parsed: Parsed) -> None:
    write(tmp_path, "part.h", "#define VALUE 1\n")
    write(tmp_path, "dep.idl", '#include "part.h"\nconst long DEP = VALUE;\n')
    store = tmp_path / "store"
    parsed()
    assert "MAIN = 1\n" in compile_main(tmp_path, store, value="DEP")
    write(tmp_path, "part.h", "#define VALUE 7\n")
    parsed()
    assert "MAIN = 7\n" in compile_main(tmp_path, store, value="DEP")


def test_an_unreadable_store_entry_is_a_miss(tmp_path: Path, parsed: Parsed) -> None:
    write(tmp_path, "dep.idl", "const long DEP = 3;\n")
    store = tmp_path / "store"
    parsed()
    first = compile_main(tmp_path, store)
    entries = list(store.iterdir())
    assert entries
    for entry in entries:
        entry.write_bytes(b"not a pickle")
    names = parsed()
    assert compile_main(tmp_path, store) == first
    assert sorted(names) == ["dep.idl", "main.idl"]


def test_the_command_stores_parses_only_when_caching(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from idlgen.cli import main

    monkeypatch.setenv("IDLGEN_CACHE_DIR", str(tmp_path / "cache"))
    write(tmp_path, "dep.idl", "const long DEP = 3;\n")
    main_idl = str(write(tmp_path, "main.idl", 'import "dep.idl";\n'))
    loader_module._PARSE_CACHE.clear()
    assert main(["-q", "--no-cache", "-o", str(tmp_path / "out"), main_idl]) == 0
    assert not default_folder().exists()
    loader_module._PARSE_CACHE.clear()
    assert main(["-q", "-o", str(tmp_path / "out"), main_idl]) == 0
    assert len(list(default_folder().iterdir())) == 1  # dep.idl; a main file is not kept
