"""`_rt.import_sibling`: generated modules find each other at top level and in packages."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from idlgen import runtime as _rt


def test_import_sibling_prefers_the_package_then_top_level(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "pkg_rt_sib"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "rtsib_other_idl.py").write_text("WHERE = 'package'\n")
    (tmp_path / "rtsib_other_idl.py").write_text("WHERE = 'top'\n")
    (tmp_path / "rtsib_lonely_idl.py").write_text("WHERE = 'top only'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("pkg_rt_sib", "pkg_rt_sib.rtsib_other_idl", "rtsib_other_idl", "rtsib_lonely_idl"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    assert _rt.import_sibling("pkg_rt_sib.main_idl", "rtsib_other_idl").WHERE == "package"
    assert _rt.import_sibling("main_idl", "rtsib_other_idl").WHERE == "top"
    assert _rt.import_sibling("pkg_rt_sib.main_idl", "rtsib_lonely_idl").WHERE == "top only"
    with pytest.raises(ModuleNotFoundError):
        _rt.import_sibling("pkg_rt_sib.main_idl", "rtsib_missing_idl")
