"""The runtime's modules generated from the bundled base IDL are current and work."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

import idlgen

REPO = Path(__file__).resolve().parents[2]
BASE_IDL = REPO / "idlgen" / "base_idl"
BASE_MODULES = REPO / "idlgen" / "runtime" / "base"
NAMES = sorted(p.stem for p in BASE_IDL.glob("*.idl"))


@pytest.mark.parametrize("name", NAMES)
def test_base_module_is_up_to_date(name: str) -> None:
    expected = idlgen.compile(BASE_IDL / f"{name}.idl").output
    committed = (BASE_MODULES / f"{name}_idl.py").read_text(encoding="utf-8")
    assert committed == expected, (
        f"idlgen/runtime/base/{name}_idl.py is stale: run "
        "`idlgen -o idlgen/runtime/base idlgen/base_idl/*.idl`"
    )


@pytest.mark.parametrize("name", NAMES)
def test_base_module_imports(name: str) -> None:
    module = importlib.import_module(f"idlgen.runtime.base.{name}_idl")
    assert module.__all__


def test_runtime_interfaces_are_aliased_not_redeclared() -> None:
    from idlgen import runtime as rt
    from idlgen.runtime.base import objidlbase_idl, unknwn_idl

    assert unknwn_idl.IUnknown is rt.IUnknown
    assert objidlbase_idl.ICallFactory is rt.ICallFactory
    assert objidlbase_idl.ISynchronize is rt.ISynchronize


def test_wmi_sink_vtable_matches_the_specification() -> None:
    from idlgen.runtime.base import wbemcli_idl

    names = [m.name for m in wbemcli_idl.IWbemObjectSink._vtable_]
    assert names == ["QueryInterface", "AddRef", "Release", "Indicate", "SetStatus"]
    assert wbemcli_idl.WBEM_FLAG_SEND_STATUS == 0x80
    assert wbemcli_idl.WBEMSTATUS.WBEM_E_CALL_CANCELLED == 0x80041032
