"""A fresh `idlgen` process served from the result cache: light, and never stale.

Such a run answers from an entry on disk, so it must not load the compiler at all
(issue 10: a cold `idlgen objidl.idl` within 10x of widl). What it imports is checked
as module names in a child process, never as time. Lazy loading must not make the
answer wrong: every setting that reaches the compiler, and idlgen's own code and data
files wherever idlgen is installed, must miss the cache when they change.
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

USER_IDL = """\
import "dep.idl";
[object, uuid(0c1a5e10-0000-4000-8000-0000000000a1)]
interface IThing : IUnknown { HRESULT Get([out] DEP_T *value); }
"""

# Compiler modules a served run must not import (prefixes: their submodules too).
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


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("IDLGEN_CACHE_DIR", raising=False)
    monkeypatch.delenv("IDLGEN_NO_CACHE", raising=False)
    (tmp_path / "src").mkdir()
    (tmp_path / "inc").mkdir()
    (tmp_path / "src" / "thing.idl").write_text(USER_IDL)
    (tmp_path / "inc" / "dep.idl").write_text('import "unknwn.idl";\ntypedef LONG DEP_T;\n')
    return tmp_path


def argv(project: Path, *extra: str) -> list[str]:
    source = str(project / "src" / "thing.idl")
    return ["-I", str(project / "inc"), "-o", str(project / "out"), *extra, source]


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
    written = (project / "out" / "thing_idl.py").read_text()
    if "--check" not in mode:
        (project / "out" / "thing_idl.py").unlink()
    status, served = run_child(project, *argv(project, *mode))
    assert status == 0
    assert (project / "out" / "thing_idl.py").read_text() == written
    if "--with-imports" in mode:
        assert (project / "out" / "dep_idl.py").is_file()
    for prefix in NOT_ON_THE_CACHED_PATH:
        assert not loaded(served, prefix), f"a served run imported {loaded(served, prefix)}"


@pytest.fixture
def broken_compiler(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    def breaking() -> None:
        def refuse(*args: object, **kwargs: object) -> None:
            raise RuntimeError("compiled although the cache should have served")

        monkeypatch.setattr(idlgen.api, "compile", refuse)

    return breaking


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
