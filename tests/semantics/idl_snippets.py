"""Compile IDL snippets written to a temporary folder, for the semantics tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import idlgen
from idlgen.diagnostics import IdlError
from idlgen.semantics import loader as loader_module

PRELUDE = 'import "unknwn.idl";\n'


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def compile_text(folder: Path, text: str, name: str = "test.idl", **kwargs: Any) -> dict[str, Any]:
    return idlgen.compile_json(write(folder, name, text), **kwargs)


def errors_of(folder: Path, text: str, name: str = "test.idl", **kwargs: Any) -> list[str]:
    """The formatted errors compiling `text` produces (each its `file:line:col: error:`
    line, without the "In file included from" chain); fails the test if it compiles."""
    with pytest.raises(IdlError) as caught:
        compile_text(folder, text, name, **kwargs)
    return [message_line(d.format()) for d in caught.value.errors]


def message_line(formatted: str) -> str:
    """The line of a formatted diagnostic that says what is wrong."""
    lines = formatted.splitlines()
    index = 0
    while lines[index].startswith(("In file included from ", " " * 17 + "from ")):
        index += 1
    return lines[index]


def interface(document: dict[str, Any], name: str) -> dict[str, Any]:
    for item in document["interfaces"]:
        if item["name"] == name:
            return item
    raise AssertionError(f"no interface {name}: {[i['name'] for i in document['interfaces']]}")


def method_names(iface: dict[str, Any]) -> list[str]:
    return [m["name"] for m in iface["methods"]]


def params(method: dict[str, Any]) -> list[tuple[str, str]]:
    return [(p["name"], p["direction"]) for p in method["params"]]


def count_parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the files the loader parses from now on (parse cache misses)."""
    parsed: list[str] = []
    original = loader_module.Loader._parse

    def counting(
        self: loader_module.Loader, path: str, text: str, seed: frozenset[str]
    ) -> loader_module.LoadedFile:
        parsed.append(Path(path).name)
        return original(self, path, text, seed)

    monkeypatch.setattr(loader_module.Loader, "_parse", counting)
    return parsed
