"""Small helpers shared by the parser tests."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from idlgen.diagnostics import DiagnosticSink
from idlgen.frontend import syntax as s
from idlgen.frontend.parser import parse

# Type names most snippets use, as if imported from wtypes.idl/unknwn.idl.
BASE_TYPES = ("HRESULT", "DWORD", "ULONG", "LONG", "BSTR", "VARIANT", "IUnknown", "REFIID")


def parse_ok(text: str, known: Iterable[str] = BASE_TYPES, winrt: bool = False) -> s.File:
    """Parses `text`, asserting it produced no diagnostics at all."""
    sink = DiagnosticSink()
    result = parse(text, "test.idl", sink=sink, known_types=known, winrt=winrt)
    assert [d.format() for d in sink.diagnostics] == []
    return result


def parse_errors(text: str, known: Iterable[str] = BASE_TYPES) -> tuple[s.File, list[Any]]:
    """Parses `text`; returns the file and its diagnostics as (message, line, column)."""
    sink = DiagnosticSink()
    result = parse(text, "test.idl", sink=sink, known_types=known)
    found = [
        (d.message, d.position.line if d.position else 0, d.position.column if d.position else 0)
        for d in sink.diagnostics
    ]
    return result, found


def only(text: str, known: Iterable[str] = BASE_TYPES, winrt: bool = False) -> Any:
    """The single item `text` declares."""
    items = parse_ok(text, known, winrt).items
    assert len(items) == 1, items
    return items[0]


def attribute(attributes: s.Attributes, name: str) -> s.Attribute:
    matches = [a for a in attributes if a.name == name]
    assert len(matches) == 1, attributes
    return matches[0]
