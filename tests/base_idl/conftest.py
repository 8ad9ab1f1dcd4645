"""Fixtures: widl headers for the bundled base IDL and for Wine's, built once.

`widl` and `wine_idl_dir` come from tests/conftest.py (skip locally, fail in CI).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from base_idl_widl import BASE_IDL_DIR, Interface, bundled_files, parse_header, run_widl

# Wine's files that define the same interfaces as ours (objidl.idl includes
# objidlbase.idl there, so its header covers both).
WINE_FILES = ("unknwn.idl", "objidl.idl", "oaidl.idl", "wbemcli.idl")


@pytest.fixture(scope="session")
def bundled_headers(widl: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Header text per bundled file name; fails loudly if widl rejects one."""
    out_dir = tmp_path_factory.mktemp("bundled")
    headers: dict[str, str] = {}
    for idl in bundled_files():
        out = out_dir / (idl.stem + ".h")
        result = run_widl(widl, idl, [BASE_IDL_DIR], out)
        assert result.returncode == 0, f"widl rejected {idl.name}:\n{result.stderr}"
        headers[idl.name] = out.read_text()
    return headers


@pytest.fixture(scope="session")
def wine_header_text(
    widl: str, wine_idl_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """Wine's headers for the files that mirror ours, concatenated."""
    out_dir = tmp_path_factory.mktemp("wine")
    includes = [wine_idl_dir, wine_idl_dir.parent]
    texts: list[str] = []
    for name in WINE_FILES:
        out = out_dir / (Path(name).stem + ".h")
        result = run_widl(widl, wine_idl_dir / name, includes, out)
        assert result.returncode == 0, f"widl rejected Wine's {name}:\n{result.stderr}"
        texts.append(out.read_text())
    return "\n".join(texts)


@pytest.fixture(scope="session")
def wine_interfaces(wine_header_text: str) -> dict[str, Interface]:
    return parse_header(wine_header_text)
