"""docs/behaviours.md names one existing test per behaviour, and no test twice."""

from __future__ import annotations

import ast
import re
from pathlib import Path

HERE = Path(__file__).parent
CATALOG = HERE.parents[1] / "docs" / "behaviours.md"
# A test named `test_x.py::name` is in tests/runtime; `wmi/test_x.py::name` in tests/wmi.
ROW = re.compile(
    r"^\| (B\d+) \|.*?`((?:[a-z]+/)?test_[a-z_]+\.py)::(test_[a-z0-9_]+)`", re.MULTILINE
)
TESTS = HERE.parent


def _tests_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}


def test_every_catalog_entry_names_one_existing_test() -> None:
    rows = ROW.findall(CATALOG.read_text(encoding="utf-8"))
    numbers = [number for number, _, _ in rows]
    assert numbers == [f"B{i}" for i in range(1, len(rows) + 1)]  # numbered, none skipped
    tests = [(module, name) for _, module, name in rows]
    assert len(set(tests)) == len(tests), "a test proves two entries"
    for module, name in tests:
        path = TESTS / module if "/" in module else HERE / module
        assert name in _tests_in(path), f"{module}::{name} does not exist"
