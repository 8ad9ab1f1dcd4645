"""idlgen's import graph has no circles and its arrows point down the layers.

Every module of idlgen/ is parsed with `ast`; an edge is any import of an idlgen module,
at module level (inside `try`, `if`, `with` and class bodies too) or inside a function:
an import moved into a function to dodge a circle is still a circle. Only imports under
`if TYPE_CHECKING:` are left out, since they never run. The layer order is the one
docs/runtime.md ("Layers") draws.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "idlgen"

# Bottom first; a module belongs to the longest prefix that names it. `idlgen.runtime`
# itself is the facade generated code imports (`from idlgen import runtime as _rt`), so it
# sits above what it re-exports and below the generated modules and the rpc layer, whose
# generated protocol modules import it.
RUNTIME_LAYERS = (
    "idlgen.runtime.com",
    "idlgen.runtime.ndr",
    "idlgen.runtime.apartments",
    "idlgen.runtime",
    "idlgen.runtime.base",
    "idlgen.runtime.rpc",
    "idlgen.runtime.rpc.dcerpc",
    "idlgen.runtime.rpc.orpc",
    "idlgen.runtime.rpc.dcom",
    "idlgen.runtime.wmi",
    "idlgen.runtime.__main__",
)

# The compiler: each package may import only what is listed before it (and the modules
# outside these packages, which are shared helpers such as model and diagnostics).
COMPILER_LAYERS = (
    "idlgen.frontend",
    "idlgen.semantics",
    "idlgen.codegen",
    "idlgen.api",
    "idlgen.batch",
    "idlgen.cli",
)


def module_names() -> dict[str, tuple[Path, bool]]:
    """Dotted name -> (file, is package) for every module under idlgen/."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        found[".".join(parts)] = (path, is_package)
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def import_statements(body: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import that can run, skipping `if TYPE_CHECKING:` bodies (not their `else`)."""
    for stmt in body:
        if isinstance(stmt, ast.Import | ast.ImportFrom):
            yield stmt
        elif isinstance(stmt, ast.If):
            if not _is_type_checking(stmt.test):
                yield from import_statements(stmt.body)
            yield from import_statements(stmt.orelse)
        elif isinstance(stmt, ast.Try | ast.TryStar):
            for block in (stmt.body, stmt.orelse, stmt.finalbody):
                yield from import_statements(block)
            for handler in stmt.handlers:
                yield from import_statements(handler.body)
        elif isinstance(stmt, ast.Match):
            for case in stmt.cases:
                yield from import_statements(case.body)
        else:
            for field in ("body", "orelse"):
                block = getattr(stmt, field, None)
                if isinstance(block, list):
                    yield from import_statements(block)


def _targets(
    stmt: ast.Import | ast.ImportFrom, name: str, is_package: bool, modules: dict
) -> Iterator[str]:
    if isinstance(stmt, ast.Import):
        yield from (alias.name for alias in stmt.names if alias.name in modules)
        return
    base = stmt.module or ""
    if stmt.level:
        package = name.split(".") if is_package else name.split(".")[:-1]
        package = package[: len(package) - (stmt.level - 1)]
        base = ".".join([*package, *([stmt.module] if stmt.module else [])])
    for alias in stmt.names:
        if f"{base}.{alias.name}" in modules:
            yield f"{base}.{alias.name}"
        elif base in modules:
            yield base


def import_graph() -> dict[str, set[str]]:
    """Importer -> the idlgen modules it imports (itself excluded)."""
    modules = module_names()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, (path, is_package) in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for stmt in import_statements(tree.body):
            graph[name].update(_targets(stmt, name, is_package, modules))
        graph[name].discard(name)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One circle (as a path that returns to its start) per strongly connected component."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(_circle_in(graph, component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _circle_in(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """A shortest circle through the component's smallest member, for the message."""
    start = min(component)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(graph[node] & component):
                if nxt == start:
                    return [*paths[node], start]
                if nxt not in paths:
                    paths[nxt] = [*paths[node], nxt]
                    following.append(nxt)
        frontier = following
    raise AssertionError(f"{sorted(component)} is not strongly connected")


def layer_of(module: str, layers: tuple[str, ...]) -> int | None:
    """Position of the longest prefix in `layers` that names `module`; None if none does."""
    best: tuple[int, int] | None = None
    for rank, prefix in enumerate(layers):
        named = module == prefix or module.startswith(prefix + ".")
        if named and (best is None or len(prefix) > best[0]):
            best = (len(prefix), rank)
    return None if best is None else best[1]


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """Imports that point up a layer order, or out of the runtime into the compiler."""
    wrong = []
    for importer, imported in sorted((a, b) for a, targets in graph.items() for b in targets):
        low = layer_of(importer, RUNTIME_LAYERS)
        if low is not None:
            high = layer_of(imported, RUNTIME_LAYERS)
            if high is None:
                wrong.append(f"{importer} -> {imported} (the runtime imports the compiler)")
            elif high > low:
                wrong.append(f"{importer} -> {imported} ({RUNTIME_LAYERS[high]} is above)")
            continue
        low, high = layer_of(importer, COMPILER_LAYERS), layer_of(imported, COMPILER_LAYERS)
        if low is not None and high is not None and high > low:
            wrong.append(f"{importer} -> {imported} ({COMPILER_LAYERS[high]} is above)")
    return wrong


def test_no_module_of_idlgen_takes_part_in_an_import_circle():
    found = cycles(import_graph())
    assert not found, "import circles:\n" + "\n".join(" -> ".join(c) for c in found)


def test_every_import_points_down_the_layers():
    wrong = upward_imports(import_graph())
    assert not wrong, "imports against the layer order:\n" + "\n".join(wrong)


def test_every_runtime_module_belongs_to_a_layer():
    """A new runtime folder must be placed in the order, or nothing above is checked."""
    loose = [
        name
        for name in module_names()
        if name.startswith("idlgen.runtime.")
        and layer_of(name, RUNTIME_LAYERS) == RUNTIME_LAYERS.index("idlgen.runtime")
    ]
    assert loose == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import idlgen.b\n", {"idlgen.b"}),
        ("from idlgen import b\n", {"idlgen.b"}),
        ("from . import b\n", {"idlgen.b"}),
        ("try:\n    from idlgen.b import x\nexcept ImportError:\n    pass\n", {"idlgen.b"}),
        ("def f():\n    from idlgen.b import x\n", {"idlgen.b"}),
        ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import idlgen.b\n", set()),
    ],
)
def test_the_graph_sees_every_import_that_runs(source, expected, tmp_path):
    """The checks above are only as good as the graph: each kind of import is an edge."""
    tree = ast.parse(source)
    modules = {"idlgen": None, "idlgen.a": None, "idlgen.b": None}
    edges = {
        t for s in import_statements(tree.body) for t in _targets(s, "idlgen.a", False, modules)
    }
    assert edges == expected


def test_a_circle_is_named_from_start_to_start():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c", "a"]]


@pytest.mark.parametrize("package", ["dcerpc", "orpc", "dcom"])
def test_the_old_spelling_of_an_rpc_package_names_the_new_one(package):
    """The facade keeps no upward alias; a user's old import says how to write it now."""
    with pytest.raises(ImportError, match=rf"from idlgen\.runtime\.rpc import {package}"):
        exec(f"from idlgen.runtime import {package}", {})
