"""The shipped LALR tables (grammars/midl.tables.json) are the grammar's, and a normal
compile uses them instead of running Lark."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from idlgen.frontend import tables

REPO = Path(__file__).resolve().parents[2]


def test_shipped_tables_are_the_ones_the_grammar_builds() -> None:
    shipped = json.loads(tables.tables_path().read_text(encoding="utf-8"))
    assert shipped == tables.build_tables(), (
        "grammars/midl.tables.json is stale: run `python -m idlgen.frontend.tables`"
    )


def test_tables_come_from_the_shipped_file_when_it_matches_the_grammar(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_analysis() -> None:
        raise AssertionError("the LALR analysis ran although the shipped tables match")

    tables.load_tables.cache_clear()
    monkeypatch.setattr(tables, "build_tables", no_analysis)
    try:
        loaded = tables.load_tables()
    finally:
        tables.load_tables.cache_clear()
    assert loaded.actions[loaded.start_state]


def test_stale_or_missing_tables_are_rebuilt_from_the_grammar(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stale = json.loads(tables.tables_path().read_text(encoding="utf-8"))
    stale["grammar"] = "0" * 64
    stale["actions"] = [{} for _ in stale["actions"]]
    path = tmp_path / "midl.tables.json"
    path.write_text(json.dumps(stale), encoding="utf-8")
    monkeypatch.setattr(tables, "tables_path", lambda: path)
    tables.load_tables.cache_clear()
    try:
        rebuilt = tables.load_tables()
        path.unlink()
        tables.load_tables.cache_clear()
        without_file = tables.load_tables()
    finally:
        tables.load_tables.cache_clear()
    assert rebuilt.actions[rebuilt.start_state]
    assert rebuilt == without_file


def test_a_compile_does_not_import_lark(tmp_path: Path) -> None:
    idl = tmp_path / "one.idl"
    idl.write_text(
        'import "unknwn.idl";\n'
        "[object, uuid(12345678-1234-1234-1234-123456789abc)] interface I : IUnknown "
        "{ HRESULT F([in] int x); }\n",
        encoding="utf-8",
    )
    script = (
        "import sys, idlgen\n"
        f"idlgen.compile({str(idl)!r})\n"
        "print(sorted(m for m in sys.modules if m == 'lark' or m.startswith('lark.')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
