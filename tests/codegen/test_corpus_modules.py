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
