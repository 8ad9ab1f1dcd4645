"""widl must accept every bundled base IDL file with nothing but the bundle on -I."""

from __future__ import annotations

from pathlib import Path

import pytest
from base_idl_widl import BASE_IDL_DIR, bundled_files, parse_header, run_widl

REQUIRED_FILES = (
    "wtypesbase.idl",
    "wtypes.idl",
    "unknwn.idl",
    "objidlbase.idl",
    "objidl.idl",
    "oaidl.idl",
    "wbemcli.idl",
)


def test_every_required_file_is_bundled() -> None:
    names = {p.name for p in bundled_files()}
    missing = [name for name in REQUIRED_FILES if name not in names]
    assert not missing, f"base IDL files missing: {missing}"


@pytest.mark.parametrize("idl", bundled_files(), ids=lambda p: p.name)
def test_widl_accepts_bundled_file(widl: str, idl: Path, tmp_path: Path) -> None:
    out = tmp_path / (idl.stem + ".h")
    result = run_widl(widl, idl, [BASE_IDL_DIR], out)
    assert result.returncode == 0, result.stderr
    assert out.stat().st_size > 0


def test_every_interface_has_an_iid(bundled_headers: dict[str, str]) -> None:
    """An interface without an IID could never be marshaled (OBJREF carries it)."""
    for file_name, text in bundled_headers.items():
        for iface in parse_header(text).values():
            assert iface.iid is not None, f"{iface.name} in {file_name} has no IID"


def test_readme_names_every_interface(bundled_headers: dict[str, str]) -> None:
    """The provenance README has to account for each interface we ship."""
    readme = (BASE_IDL_DIR / "README.md").read_text()
    for text in bundled_headers.values():
        for name in parse_header(text):
            assert f"`{name}`" in readme, f"README.md does not mention {name}"
