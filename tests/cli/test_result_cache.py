"""The command's result cache: a rebuild reuses compiles, and never a stale one.

Whether an output came from the cache is observed by breaking the compiler after the
first run: a served entry still produces the output, a compile fails loudly.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import idlgen.api
from idlgen import result_cache
from idlgen.cli import main

MAIN_IDL = """\
import "dep.idl";
#include "part.h"
const int MAIN = DEP + PART;
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("IDLGEN_CACHE_DIR", raising=False)
    monkeypatch.delenv("IDLGEN_NO_CACHE", raising=False)
    (tmp_path / "src").mkdir()
    (tmp_path / "inc").mkdir()
    (tmp_path / "src" / "main.idl").write_text(MAIN_IDL)
    (tmp_path / "inc" / "dep.idl").write_text("const int DEP = 1;\n")
    (tmp_path / "inc" / "part.h").write_text("#define PART 10\n")
    return tmp_path


def argv(project: Path, *extra: str) -> list[str]:
    main_idl = str(project / "src" / "main.idl")
    return ["-I", str(project / "inc"), "-o", str(project / "out"), *extra, main_idl]


def output(project: Path) -> str:
    return (project / "out" / "main_idl.py").read_text()


@pytest.fixture
def broken_compiler(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    def breaking() -> None:
        def refuse(*args: object, **kwargs: object) -> None:
            raise RuntimeError("compiled although the cache should have served")

        monkeypatch.setattr(idlgen.api, "compile", refuse)

    return breaking


def test_an_unchanged_file_is_served_from_the_cache(
    project: Path, broken_compiler: Callable[[], None]
) -> None:
    assert main(argv(project)) == 0
    first = output(project)
    (project / "out" / "main_idl.py").unlink()
    broken_compiler()
    assert main(argv(project)) == 0
    assert output(project) == first
    assert (project / "src" / "__pycache__" / "main.idl.idlgen-result").is_file()


@pytest.mark.parametrize("switch", ["--no-cache", "IDLGEN_NO_CACHE"])
def test_the_cache_can_be_turned_off(
    project: Path,
    broken_compiler: Callable[[], None],
    monkeypatch: pytest.MonkeyPatch,
    switch: str,
) -> None:
    assert main(argv(project)) == 0
    broken_compiler()
    if switch == "IDLGEN_NO_CACHE":
        monkeypatch.setenv("IDLGEN_NO_CACHE", "1")
        assert main(argv(project)) == 3
    else:
        assert main(argv(project, switch)) == 3


def _edit_main(project: Path) -> None:
    (project / "src" / "main.idl").write_text(MAIN_IDL.replace("DEP + PART", "DEP + PART + 100"))


def _edit_import(project: Path) -> None:
    (project / "inc" / "dep.idl").write_text("const int DEP = 2;\n")


def _edit_include(project: Path) -> None:
    (project / "inc" / "part.h").write_text("#define PART 20\n")


def _shadow_import(project: Path) -> None:
    """The importer's own folder is searched before -I: a new dep.idl there wins."""
    (project / "src" / "dep.idl").write_text("const int DEP = 3;\n")


def _shadow_include(project: Path) -> None:
    (project / "src" / "part.h").write_text("#define PART 30\n")


MUTATIONS: dict[str, Callable[[Path], None]] = {
    "main file edited": _edit_main,
    "imported file edited": _edit_import,
    "included file edited": _edit_include,
    "import shadowed": _shadow_import,
    "include shadowed": _shadow_include,
}


@pytest.mark.parametrize("mutate", MUTATIONS.values(), ids=MUTATIONS.keys())
def test_any_change_to_what_a_compile_read_or_would_find_invalidates_it(
    project: Path, mutate: Callable[[Path], None]
) -> None:
    assert main(argv(project)) == 0
    before = output(project)
    mutate(project)
    assert main(argv(project)) == 0
    assert output(project) != before
    served = output(project)
    assert main(argv(project, "--no-cache")) == 0
    assert output(project) == served  # what a fresh compile gives


def test_a_file_appearing_earlier_on_the_include_path_invalidates(project: Path) -> None:
    (project / "inc0").mkdir()
    two_folders = ["-I", str(project / "inc0"), *argv(project)]  # inc0 searched first
    assert main(two_folders) == 0
    before = output(project)
    (project / "inc0" / "dep.idl").write_text("const int DEP = 4;\n")  # hides inc/dep.idl
    assert main(two_folders) == 0
    assert output(project) != before
    assert "MAIN = 14" in output(project)


@pytest.mark.parametrize(
    "changed",
    [["-D", "EXTRA"], ["--module-map", "dep.idl=pkg.dep_idl"], ["-U", "__WIDL__"]],
    ids=["define", "module map", "undefine"],
)
def test_settings_are_part_of_the_key(
    project: Path, broken_compiler: Callable[[], None], changed: list[str]
) -> None:
    assert main(argv(project)) == 0
    broken_compiler()
    assert main(argv(project, *changed)) == 3  # a miss: it had to compile


def test_a_new_idlgen_invalidates_every_entry(
    project: Path, broken_compiler: Callable[[], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(argv(project)) == 0
    broken_compiler()
    monkeypatch.setattr(result_cache, "idlgen_fingerprint", lambda: "another idlgen")
    assert main(argv(project)) == 3


def test_warnings_are_shown_again_when_served(
    project: Path, broken_compiler: Callable[[], None], capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "src" / "main.idl").write_text(MAIN_IDL + "#define TWICE 1\n#define TWICE 2\n")
    assert main(argv(project)) == 0
    first = capsys.readouterr().err
    assert "warning" in first
    broken_compiler()
    assert main(argv(project)) == 0
    assert capsys.readouterr().err == first


def test_failed_compiles_are_not_cached(project: Path) -> None:
    (project / "inc" / "dep.idl").write_text("const int DEP = NOPE;\n")
    assert main(argv(project)) == 1
    assert not (project / "src" / "__pycache__").exists()


def test_cache_dir_moves_the_entries_and_a_corrupt_entry_is_a_miss(
    project: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("IDLGEN_CACHE_DIR", str(tmp_path / "cache"))
    assert main(argv(project)) == 0
    assert not (project / "src" / "__pycache__").exists()
    (entry,) = (tmp_path / "cache").glob("*.idlgen-result")  # parses/ beside it
    entry.write_bytes(b"\x80garbage")
    assert main(argv(project)) == 0
    assert "MAIN = 11" in output(project)


@pytest.mark.parametrize("shadow", [_shadow_import, _shadow_include], ids=["import", "include"])
def test_the_in_process_parse_cache_sees_a_file_that_now_shadows(
    project: Path, shadow: Callable[[Path], None]
) -> None:
    """The same holds in one process (API users, the import hook): a parse kept in
    memory is not reused when a search would now find another file."""
    source = project / "src" / "main.idl"
    before = idlgen.api.compile(source, include_dirs=[project / "inc"]).output
    shadow(project)
    after = idlgen.api.compile(source, include_dirs=[project / "inc"]).output
    assert after != before


def test_relative_search_folders_from_another_working_folder_are_a_miss(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`-I inc` names another folder when run from elsewhere."""
    (project / "elsewhere" / "inc").mkdir(parents=True)
    (project / "elsewhere" / "inc" / "dep.idl").write_text("const int DEP = 5;\n")
    (project / "elsewhere" / "inc" / "part.h").write_text("#define PART 50\n")
    relative = ["-I", "inc", "-o", str(project / "out"), str(project / "src" / "main.idl")]
    monkeypatch.chdir(project)
    assert main(relative) == 0
    assert "MAIN = 11" in output(project)
    monkeypatch.chdir(project / "elsewhere")
    assert main(relative) == 0
    assert "MAIN = 55" in output(project)
