"""Parses of imported files kept on disk (idlgen/semantics/parse_store.py): a later
process reuses them, and never one that no longer matches its files.

A new process is simulated by emptying the in-process parse cache; whether a file was
parsed again is observed by counting the loader's parses.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from idl_snippets import count_parses, write

import idlgen
from idlgen.semantics import loader as loader_module
from idlgen.semantics import parse_store
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


# -- the store's size: dead entries do not pile up forever ---------------------------

DAY = 86_400.0


@pytest.fixture
def small_store(monkeypatch: pytest.MonkeyPatch) -> int:
    """A store capped at 1 MB whose every write checks the folder's size."""
    cap = 1_000_000
    monkeypatch.setattr(parse_store, "MAX_BYTES", cap)
    monkeypatch.setattr(parse_store, "PRUNE_EVERY", 1)
    return cap


def dead_entries(store: Path, count: int, size: int) -> list[Path]:
    """Entries left by other contents or idlgen versions, the first the oldest."""
    store.mkdir(parents=True, exist_ok=True)
    now = time.time()
    made = []
    for age in range(count):
        entry = store / f"dead{age:02}.idlgen-parse"
        entry.write_bytes(bytes(size))
        os.utime(entry, (now - (count - age) * DAY, now - (count - age) * DAY))
        made.append(entry)
    return made


def sizes(store: Path) -> int:
    return sum(entry.stat().st_size for entry in store.iterdir())


def test_a_store_over_its_size_loses_its_least_recently_used_entries(
    tmp_path: Path, parsed: Parsed, small_store: int
) -> None:
    write(tmp_path, "dep.idl", "const long DEP = 3;\n")
    store = tmp_path / "store"
    dead = dead_entries(store, 10, 200_000)  # 2 MB, twice the cap
    parsed()
    first = compile_main(tmp_path, store)  # stores dep.idl's parse, then prunes
    assert sizes(store) <= small_store * parse_store.PRUNE_TO
    kept = [entry.exists() for entry in dead]
    assert kept == sorted(kept), "an older entry outlived a newer one"
    assert not kept[0] and kept[-1]
    names = parsed()  # the entry just written survived the prune
    assert compile_main(tmp_path, store) == first
    assert names == ["main.idl"]


def test_using_a_stored_parse_keeps_it_over_entries_used_less_recently(
    tmp_path: Path, parsed: Parsed, small_store: int
) -> None:
    write(tmp_path, "dep.idl", "const long DEP = 3;\n")
    store = tmp_path / "store"
    parsed()
    compile_main(tmp_path, store)
    (used,) = store.iterdir()
    long_ago = time.time() - 100 * DAY
    os.utime(used, (long_ago, long_ago))
    names = parsed()
    compile_main(tmp_path, store)  # a later process reuses it
    assert names == ["main.idl"]
    dead_entries(store, 6, 200_000)  # all used more recently than 100 days ago
    write(tmp_path, "other.idl", "const long OTHER = 4;\n")
    other = write(tmp_path, "second.idl", 'import "other.idl";\n')
    idlgen.compile(other, parse_cache_dir=store)  # a write: the store is pruned
    assert used.exists()


def test_temporary_files_their_writer_left_behind_are_removed(
    tmp_path: Path, parsed: Parsed, small_store: int
) -> None:
    write(tmp_path, "dep.idl", "const long DEP = 3;\n")
    store = tmp_path / "store"
    store.mkdir()
    orphan, busy = store / "x.idlgen-parse.1.tmp", store / "y.idlgen-parse.2.tmp"
    orphan.write_bytes(b"half")
    busy.write_bytes(b"being written")
    hours_ago = time.time() - 2 * 3600
    os.utime(orphan, (hours_ago, hours_ago))
    parsed()
    compile_main(tmp_path, store)
    assert not orphan.exists()
    assert busy.exists()
