"""WinRT runtime classes: `runtimeclass X : Base { ... }` (runtime class inheritance).

The base is kept (JSON `parent`), may be named short, dotted or declared forward, and
must exist: a base nobody declares is an error at the base's name.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from idl_snippets import compile_text, errors_of

WINRT = """#pragma winrt ns_prefix
import "unknwn.idl";
namespace Demo {{
    [uuid(0c1a5e10-0000-4000-8000-000000000051)]
    interface IBase : IUnknown {{ HRESULT F(); }}
    [uuid(0c1a5e10-0000-4000-8000-000000000052)]
    interface IDerived : IUnknown {{ HRESULT G(); }}
    {before}
    [activatable(1.0)] runtimeclass Derived : {base} {{ [default] interface IDerived; }}
    {after}
}}
"""
BASE = "runtimeclass Base { [default] interface IBase; }"


@pytest.mark.parametrize(
    ("before", "base", "after"),
    [
        (BASE, "Base", ""),
        (BASE, "Demo.Base", ""),
        ("runtimeclass Base;", "Base", BASE),
    ],
    ids=["short", "dotted", "forward"],
)
def test_runtimeclass_inheritance_keeps_its_base(
    tmp_path: Path, before: str, base: str, after: str
) -> None:
    doc = compile_text(tmp_path, WINRT.format(before=before, base=base, after=after))
    classes = {c["name"]: c for c in doc["coclasses"]}
    assert classes["Derived"]["parent"] == base
    assert classes["Derived"]["kind"] == "runtimeclass"
    assert [m["name"] for m in classes["Derived"]["interfaces"]] == ["IDerived"]
    assert classes["Base"]["parent"] is None


def test_runtimeclass_base_must_exist(tmp_path: Path) -> None:
    errors = errors_of(tmp_path, WINRT.format(before="", base="Missing", after=""))
    assert any("runtimeclass 'Missing' not found" in e and ":9:" in e for e in errors), errors
