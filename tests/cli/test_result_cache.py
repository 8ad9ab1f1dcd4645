"""The command's result cache: a rebuild reuses compiles, and never a stale one.

Whether an output came from the cache is observed by breaking the compiler after the
first run: a served entry still produces the output, a compile fails loudly.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import idlgen.api
from idlgen import result_cache
from idlgen.cli import main
from idlgen.job import Options

REPO = Path(__file__).resolve().parents[2]

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


# For every Options field in the cache key: command-line arguments of a first run,
# and those of a second run that differs in that setting only.
SETTING_CHANGES: dict[str, tuple[list[str], list[str]]] = {
    "include_dirs": ([], ["-I", "{project}/src"]),
    "defines": ([], ["-D", "EXTRA=2"]),
    "undefines": ([], ["-U", "__WIDL__"]),
    "emit": ([], ["--emit", "json"]),
    "pyi": ([], ["--pyi"]),
    "limits": ([], ["--limit", "file-bytes=1M"]),
    "module_map": ([], ["--module-map", "dep.idl=pkg.dep_idl"]),
    "json_indent": (["--emit", "json"], ["--emit", "json", "--indent", "2"]),
    "warnings": ([], ["-Wno-cpp"]),
}


def test_every_setting_that_reaches_the_compiler_is_swept() -> None:
    """A new Options field is either in the key (and in the sweep) or listed as not
    changing what a compile produces."""
    in_key = set(Options._fields) - result_cache._NOT_IN_KEY
    assert in_key == set(SETTING_CHANGES)


@pytest.mark.parametrize("name", sorted(SETTING_CHANGES))
def test_a_change_in_any_setting_misses(
    project: Path, broken_compiler: Callable[[], None], name: str
) -> None:
    first, second = (
        [arg.format(project=project) for arg in args] for args in SETTING_CHANGES[name]
    )
    assert main(argv(project, *first)) == 0
    broken_compiler()
    assert main(argv(project, *first)) == 0  # served
    assert main(argv(project, *second)) == 3  # a miss: it had to compile


def test_a_new_idlgen_invalidates_every_entry(
    project: Path, broken_compiler: Callable[[], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(argv(project)) == 0
    broken_compiler()
    monkeypatch.setattr(result_cache, "idlgen_fingerprint", lambda: "another idlgen")
    assert main(argv(project)) == 3


def test_a_new_idlgen_version_misses(
    project: Path, broken_compiler: Callable[[], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    from idlgen import fingerprint

    assert main(argv(project)) == 0
    broken_compiler()
    monkeypatch.setattr(fingerprint, "__version__", "99.0")
    fingerprint.idlgen_fingerprint.cache_clear()
    try:
        assert main(argv(project)) == 3
    finally:
        monkeypatch.undo()
        fingerprint.idlgen_fingerprint.cache_clear()


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


FINGERPRINT_CHILD = "from idlgen.fingerprint import idlgen_fingerprint; print(idlgen_fingerprint())"


def _installed_copy(root: Path) -> Path:
    """idlgen's code and data as an installed wheel lays them out (templates and
    grammars inside the package), under `root`."""
    package = root / "idlgen"
    shutil.copytree(
        REPO / "idlgen", package, ignore=shutil.ignore_patterns("__pycache__", "runtime")
    )
    (package / "runtime").mkdir()
    (package / "runtime" / "__init__.py").write_text("")
    shutil.copytree(REPO / "templates", package / "templates")
    shutil.copytree(REPO / "grammars", package / "grammars")
    return package


def _fingerprint(site: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-c", FINGERPRINT_CHILD],
        capture_output=True,
        text=True,
        cwd=site,
        env={**os.environ, "PYTHONPATH": str(site)},
        check=True,
    )
    return done.stdout.strip()


def test_every_file_that_shapes_the_output_is_in_the_fingerprint(tmp_path: Path) -> None:
    """Wherever idlgen is installed (here below a folder named `runtime`, which an
    earlier version took for idlgen's own runtime and skipped, so nothing was read):
    a changed byte in its code, templates, grammar, parser tables or bundled IDL
    misses; its runtime and bytecode do not count."""
    site = tmp_path / "runtime" / "site-packages"
    package = _installed_copy(site)
    before = _fingerprint(site)
    shaping = [
        package / "codegen" / "view.py",
        package / "templates" / "module.py.j2",
        package / "grammars" / "midl.lark",
        package / "grammars" / "midl.tables.json",
        package / "base_idl" / "unknwn.idl",
    ]
    for path in shaping:
        original = path.read_bytes()
        path.write_bytes(original + b" ")
        assert _fingerprint(site) != before, f"{path.relative_to(site)} is not fingerprinted"
        path.write_bytes(original)
    (package / "runtime" / "__init__.py").write_text("# the runtime shapes no output\n")
    (package / "__pycache__").mkdir(exist_ok=True)
    (package / "__pycache__" / "stray.py").write_text("x = 1\n")
    assert _fingerprint(site) == before


# A run served from the cache must not load the compiler at all (issue 10: a cold
# `idlgen objidl.idl` within 10x of widl). What it imports is checked as module names
# in a child process, never as time.
# Modules a served run must not import (prefixes: their submodules too).
NOT_ON_THE_CACHED_PATH = (
    "idlgen.api",
    "idlgen.model",
    "idlgen.frontend",
    "idlgen.semantics",
    "idlgen.codegen",
    "idlgen.emit_json",
    "idlgen.diagnostics",  # nothing to report: the entry holds no diagnostics
    "jinja2",
    "lark",
    "dataclasses",
    "tomllib",  # no pyproject.toml above the project
    "concurrent",
    "hashlib",  # blake2b comes without OpenSSL (idlgen/fingerprint.py)
    "difflib",  # --diff only
)

CHILD = """
import json, sys
before = set(sys.modules)
from idlgen.cli import main
status = main(sys.argv[1:])
print(json.dumps({"status": status, "imported": sorted(set(sys.modules) - before)}))
"""


def run_child(project: Path, *args: str) -> tuple[int, list[str]]:
    """`idlgen ARGS` in a fresh interpreter: its exit status and the modules it loaded."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-c", CHILD, *args],
        capture_output=True,
        text=True,
        cwd=project,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return report["status"], report["imported"]


def loaded(imported: list[str], prefix: str) -> list[str]:
    return [name for name in imported if name == prefix or name.startswith(prefix + ".")]


@pytest.mark.parametrize("mode", [[], ["--check"], ["--with-imports"]], ids=repr)
def test_a_run_served_from_the_cache_loads_no_compiler(project: Path, mode: list[str]) -> None:
    first_mode = [arg for arg in mode if arg != "--check"]  # --check needs the output
    status, first = run_child(project, *argv(project, *first_mode))
    assert status == 0
    assert loaded(first, "idlgen.api"), "the first run compiles"
    written = (project / "out" / "main_idl.py").read_text()
    if "--check" not in mode:
        (project / "out" / "main_idl.py").unlink()
    status, served = run_child(project, *argv(project, *mode))
    assert status == 0
    assert (project / "out" / "main_idl.py").read_text() == written
    if "--with-imports" in mode:
        assert (project / "out" / "dep_idl.py").is_file()
    for prefix in NOT_ON_THE_CACHED_PATH:
        assert not loaded(served, prefix), f"a served run imported {loaded(served, prefix)}"
