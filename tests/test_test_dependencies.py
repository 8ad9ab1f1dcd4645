"""A fresh clone passes the README's `pip install -e '.[test]' && pytest`.

That holds only if every third-party package the package or its tests import is a
dependency or in the `test` extra: a package that merely happens to be installed here
would make tests pass on this machine and fail (or skip) on a clean one.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCANNED = ("idlgen", "tests")


def _imported_top_level_names(folder: Path) -> set[str]:
    names: set[str] = set()
    for path in folder.rglob("*.py"):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except SyntaxError:
            continue  # test data that is deliberately not Python
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def _local_names() -> set[str]:
    """Modules and packages of this repository (test helpers import each other and the
    samples)."""
    local = {"idlgen"}
    for folder in (*SCANNED, "samples"):
        for path in (REPO / folder).rglob("*"):
            if path.suffix == ".py" or (path.is_dir() and "__pycache__" not in path.parts):
                local.add(path.stem if path.suffix == ".py" else path.name)
    return local


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> set[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = project["dependencies"] + project["optional-dependencies"]["test"]
    return {_normalized(re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0]) for r in requirements}


def _distributions(module: str) -> list[str]:
    """The distribution(s) providing a top-level module; its own name when not installed
    (then the assertion below names it, which is what a clean machine would hit)."""
    return metadata.packages_distributions().get(module, [module])


def test_every_third_party_import_is_a_dependency_or_in_the_test_extra() -> None:
    imported = set().union(*(_imported_top_level_names(REPO / f) for f in SCANNED))
    third_party = imported - set(sys.stdlib_module_names) - _local_names()
    declared = _declared()
    missing = {
        module: _distributions(module)
        for module in sorted(third_party)
        if not any(_normalized(d) in declared for d in _distributions(module))
    }
    assert not missing, f"imported but not declared in pyproject.toml [test] extra: {missing}"
