"""Shared test plumbing: external tools and the Wine IDL corpus.

House rule: a test that needs something from outside the repository (widl, Wine's IDL
files, tshark, ...) skips with a reason on a developer machine but *fails* in CI
(`CI=true`), where `.ci/run` installs everything. `skip_or_fail` is that rule;
`require_tool` applies it to a program on PATH.

The Wine corpus lives wherever `IDLGEN_WINE_IDL_DIR` points (`.ci/run` sets it);
without it we look at /tmp/winedev, where a developer may have unpacked libwine-dev.
`wine_idl_file` parametrizes a test over every `.idl` of the corpus (computed at
collection time, so each file is its own test).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

WINE_IDL_DIR_ENV = "IDLGEN_WINE_IDL_DIR"
WINE_IDL_DIR_FALLBACK = Path("/tmp/winedev/usr/include/wine/wine/windows")
WIDL = "x86_64-w64-mingw32-widl"
_NO_CORPUS_ID = "wine-corpus-missing"


@pytest.fixture(scope="session", autouse=True)
def private_cache_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The command keeps parses of imported files in the user's cache folder
    (idlgen/semantics/parse_store.py): tests keep theirs out of the real one."""
    folder = tmp_path_factory.mktemp("cache-home")
    previous = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = previous


def in_ci() -> bool:
    return os.environ.get("CI") == "true"


def skip_or_fail(reason: str) -> NoReturn:
    """Skip locally; in CI a missing prerequisite is a broken pipeline, so fail."""
    if in_ci():
        pytest.fail(f"{reason} (required because CI=true)", pytrace=False)
    pytest.skip(reason)


def require_tool(name: str, reason: str) -> str:
    """Path of program `name` (on PATH, or an absolute path), else skip/fail with `reason`."""
    found = shutil.which(name)
    if found is None:
        skip_or_fail(f"{name} not found: {reason}")
    return found


def wine_idl_dir_path() -> Path:
    """Where the Wine `windows/` IDL folder should be; it may not exist."""
    configured = os.environ.get(WINE_IDL_DIR_ENV)
    return Path(configured) if configured else WINE_IDL_DIR_FALLBACK


def wine_include_dirs(windows_dir: Path) -> list[Path]:
    """widl's `-I` list for the corpus: `windows/` and its parent (`wine/`)."""
    return [windows_dir, windows_dir.parent]


def wine_idl_files(windows_dir: Path) -> list[Path]:
    """Every corpus file: `windows/*.idl` plus the few in the parent folder."""
    return sorted(windows_dir.glob("*.idl")) + sorted(windows_dir.parent.glob("*.idl"))


@dataclass(frozen=True)
class WineCorpus:
    windows_dir: Path
    files: list[Path]
    include_dirs: list[Path]


@pytest.fixture(scope="session")
def wine_idl_dir() -> Path:
    path = wine_idl_dir_path()
    if not path.is_dir():
        skip_or_fail(
            f"Wine IDL corpus not found at {path}: unpack libwine-dev "
            f"(see .ci/run) and set {WINE_IDL_DIR_ENV}"
        )
    return path


@pytest.fixture(scope="session")
def wine_corpus(wine_idl_dir: Path) -> WineCorpus:
    """The corpus as widl and idlgen both see it: files plus the `-I` list."""
    return WineCorpus(wine_idl_dir, wine_idl_files(wine_idl_dir), wine_include_dirs(wine_idl_dir))


@pytest.fixture(scope="session")
def widl() -> str:
    return require_tool(WIDL, "install mingw-w64-tools for the widl differential tests")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One test per corpus file for tests taking `wine_idl_file`.

    When the corpus is missing there is a single placeholder parameter (None); the
    test should request the `wine_idl_dir` fixture, which skips or fails with the reason.
    """
    if "wine_idl_file" not in metafunc.fixturenames:
        return
    windows_dir = wine_idl_dir_path()
    files = wine_idl_files(windows_dir) if windows_dir.is_dir() else []
    if files:
        ids = [_corpus_id(f, windows_dir) for f in files]
        metafunc.parametrize("wine_idl_file", files, ids=ids)
    else:
        metafunc.parametrize("wine_idl_file", [None], ids=[_NO_CORPUS_ID])


def _corpus_id(path: Path, windows_dir: Path) -> str:
    return path.name if path.parent == windows_dir else f"../{path.name}"
