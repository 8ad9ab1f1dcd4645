"""Every Wine IDL file idlgen compiles yields a module that byte-compiles and imports.

The modules import each other (`import "objidl.idl"` becomes a sibling import), so
the whole corpus is generated into one folder by one `idlgen --with-imports` run, then
each module is imported. Files idlgen rejects are the differential test's business
(tests/corpus); here a large, fixed share of the corpus must compile, and the run must
write a module for every imported file that compiles.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import re
import sys
from pathlib import Path

import pytest

from idlgen.api import module_name_for
from idlgen.cli import main

MINIMUM_MODULES = 230
IMPORT = re.compile(r'^\s*import\s+"([^"]+)"', re.MULTILINE)


def unimported_files(files: list[Path]) -> list[Path]:
    imported: set[str] = set()
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        imported.update(Path(name).name for name in IMPORT.findall(text))
    roots = [path for path in files if path.name not in imported]
    assert len(roots) < len(files)  # else the run would not exercise --with-imports
    return roots


@pytest.fixture(scope="module")
def corpus_run(
    wine_corpus: object, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, list[str], str]:
    """One `idlgen --with-imports` run over the whole corpus, as a user would run it:
    the output folder, the modules written and what the run printed. The inputs are
    the files no other corpus file imports; `--with-imports` must find the rest."""
    out = tmp_path_factory.mktemp("wine_modules")
    include = [arg for d in wine_corpus.include_dirs for arg in ("-I", str(d))]  # type: ignore[attr-defined]
    files = [str(path) for path in unimported_files(wine_corpus.files)]  # type: ignore[attr-defined]
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        status = main(["--with-imports", "--no-cache", "-o", str(out), *include, *files])
    assert status in (0, 1), stderr.getvalue()[-4000:]  # IDL errors, never a crash
    names = sorted(path.stem for path in out.glob("*.py"))
    return out, names, stderr.getvalue()


@pytest.fixture(scope="module")
def corpus_modules(corpus_run: tuple[Path, list[str], str]) -> tuple[Path, list[str]]:
    return corpus_run[0], corpus_run[1]


def complete_modules(folder: Path, names: list[str]) -> list[str]:
    """The modules whose sibling imports were all generated (a file idlgen rejected, as
    widl does, leaves its importers incomplete), transitively."""
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


def test_one_with_imports_run_writes_every_sibling_the_modules_import(
    corpus_run: tuple[Path, list[str], str], wine_corpus: object
) -> None:
    """A sibling import names a module the run wrote, or a corpus file idlgen rejects
    (whose error the run printed); the summary counts every file once."""
    folder, names, stderr = corpus_run
    corpus = {module_name_for(path.name) for path in wine_corpus.files}  # type: ignore[attr-defined]
    unwritten = []
    for name in names:
        for imported in re.findall(r"from \. import (\w+) as", (folder / f"{name}.py").read_text()):
            if imported not in names and imported not in corpus:
                unwritten.append(f"{name} imports {imported}")
    assert not unwritten, "\n".join(unwritten[:20])
    rejected = sorted(corpus - set(names))
    for module in rejected:
        source = module.removesuffix("_idl") + ".idl"
        assert f"/{source}:" in stderr, f"{source} wrote no module and printed no error"
    summary = stderr.splitlines()[-1]
    assert summary == f"idlgen: {len(names)} written, 0 unchanged, {len(rejected)} failed"


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
