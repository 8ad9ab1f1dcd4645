"""Every Wine IDL file idlgen compiles yields a module that byte-compiles and imports.

The modules import each other (`import "objidl.idl"` becomes a sibling import), so
the whole corpus is generated into one folder first, then each module is imported
in a fresh interpreter state. Files idlgen rejects are the differential test's
business (tests/corpus); here a large, fixed share of the corpus must compile.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

import idlgen
from idlgen.diagnostics import IdlError

MINIMUM_MODULES = 230


@pytest.fixture(scope="module")
def corpus_modules(
    wine_corpus: object, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, list[str]]:
    out = tmp_path_factory.mktemp("wine_modules")
    names: list[str] = []
    for path in wine_corpus.files:  # type: ignore[attr-defined]
        try:
            result = idlgen.compile(path, include_dirs=wine_corpus.include_dirs)  # type: ignore[attr-defined]
        except IdlError:
            continue
        assert result.output is not None
        (out / f"{result.module_name}.py").write_text(result.output, encoding="utf-8")
        names.append(result.module_name)
    return out, names


def complete_modules(folder: Path, names: list[str]) -> list[str]:
    """The modules whose sibling imports were all generated (a file idlgen rejected, as
    widl does, leaves its importers incomplete), transitively."""
    import re

    imports = {
        name: set(re.findall(r"from \. import (\w+) as", (folder / f"{name}.py").read_text()))
        for name in names
    }
    complete = set(names)
    changed = True
    while changed:
        changed = False
        for name in list(complete):
            if not imports[name] <= complete:
                complete.discard(name)
                changed = True
    return sorted(complete)


def test_enough_of_the_corpus_generates(corpus_modules: tuple[Path, list[str]]) -> None:
    _, names = corpus_modules
    assert len(names) >= MINIMUM_MODULES


def test_every_generated_module_byte_compiles(corpus_modules: tuple[Path, list[str]]) -> None:
    folder, names = corpus_modules
    failures = []
    for name in names:
        source = (folder / f"{name}.py").read_text(encoding="utf-8")
        try:
            compile(source, name, "exec")
        except SyntaxError as error:
            failures.append(f"{name}: {error}")
    assert not failures, "\n".join(failures)


def test_every_generated_module_imports(corpus_modules: tuple[Path, list[str]]) -> None:
    folder, names = corpus_modules
    sys.path.insert(0, str(folder))
    failures = []
    try:
        for name in names:
            try:
                importlib.import_module(name)
            except ModuleNotFoundError as error:
                if error.name in names:
                    failures.append(f"{name}: {error}")
                # else: it imports a file idlgen rejected; tests/corpus reports those
            except Exception as error:  # any failure is a finding: collect them all
                failures.append(f"{name}: {type(error).__name__}: {error}")
    finally:
        sys.path.remove(str(folder))
        for name in names:
            sys.modules.pop(name, None)
    assert not failures, f"{len(failures)} modules fail to import:\n" + "\n".join(failures[:40])


def test_generated_corpus_passes_mypy_strict(
    corpus_modules: tuple[Path, list[str]], tmp_path: Path
) -> None:
    """The whole generated corpus, as one package, type-checks under mypy --strict.

    Generated modules import their siblings relatively when they are in a package, which
    is where a type checker can follow them (docs/python-mapping.md)."""
    import shutil
    import subprocess

    folder, names = corpus_modules
    package = tmp_path / "winepkg"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    checkable = complete_modules(folder, names)
    assert len(checkable) >= MINIMUM_MODULES
    for name in checkable:
        shutil.copy(folder / f"{name}.py", package / f"{name}.py")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--follow-imports=silent",
            "--no-incremental",
            "winepkg",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-6000:]


def test_generated_corpus_is_ruff_clean(corpus_modules: tuple[Path, list[str]]) -> None:
    """Every generated module passes ruff's default rules and is formatted as ruff would."""
    import subprocess

    folder, _ = corpus_modules
    ruff = [sys.executable, "-m", "ruff"]
    check = subprocess.run(
        [*ruff, "check", "--isolated", "--quiet", folder], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout[-4000:]
    fmt = subprocess.run(
        [*ruff, "format", "--isolated", "--check", folder], capture_output=True, text=True
    )
    assert fmt.returncode == 0, fmt.stdout[-4000:]
