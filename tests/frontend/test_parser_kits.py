"""The parser's rule callbacks are made once per process and lent to each parse
(parser._Kit): a later parse makes none, and a parse run inside another (an import
parsed from the importer's `on_import`) gets callbacks of its own. Counted, not timed."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from idlgen.diagnostics import DiagnosticSink, Position
from idlgen.frontend import parser, syntax

IMPORTED = """
typedef struct tagPOINT { long x; long y; } POINT;
[object, uuid(00000000-0000-0000-c000-000000000046)]
interface IBase { HRESULT Ping([in] POINT where); }
"""

MAIN = """
import "base.idl";
[object, uuid(00000000-0000-0000-c000-000000000047)]
interface IUser : IBase { HRESULT Move([in] POINT *to, [out] long *moved); }
"""


BASE = ("HRESULT",)


def _alone(text: str, filename: str, known: Iterable[str] = ()) -> syntax.File:
    sink = DiagnosticSink()
    tree = parser.parse(text, filename, sink=sink, known_types={*BASE, *known})
    assert sink.diagnostics == []
    return tree


def test_a_later_parse_makes_no_callback(monkeypatch: pytest.MonkeyPatch) -> None:
    _alone(IMPORTED, "base.idl")  # at least one kit exists, back in the pool
    made: list[object] = []
    original = parser.make_callback

    def counting(*args: object) -> object:
        made.append(args)
        return original(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(parser, "make_callback", counting)
    tree = _alone(IMPORTED, "base.idl")
    assert made == []
    assert [type(item).__name__ for item in tree.items] == ["Typedef", "Interface"]


def test_an_import_parsed_inside_its_importer_builds_its_own_tree() -> None:
    inner: list[syntax.File] = []
    names = set(BASE)

    def on_import(path: str, pos: Position) -> set[str]:
        tree = _alone(IMPORTED, path)
        inner.append(tree)
        return parser.declared_type_names(tree)

    sink = DiagnosticSink()
    outer = parser.parse(MAIN, "main.idl", sink=sink, on_import=on_import, known_types=names)
    assert sink.diagnostics == []
    assert inner == [_alone(IMPORTED, "base.idl")]
    assert outer == _alone(MAIN, "main.idl", {"POINT", "IBase", "tagPOINT"})
    assert {"POINT", "IBase", "IUser"} <= names
    assert all(item.pos.file == "main.idl" for item in outer.items)


class _EmptiedMeanwhile(list):  # type: ignore[type-arg]
    """A pool that another thread empties between a parse's look at it and its take."""

    def __bool__(self) -> bool:
        return True

    def __len__(self) -> int:
        return 1


def test_a_parse_finds_a_kit_when_another_thread_took_the_last_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Taking a kit from the pool is one step: threads parsing at once never see the pool
    non-empty and then find nothing to take."""
    monkeypatch.setattr(parser, "_KITS", _EmptiedMeanwhile())
    tree = _alone(IMPORTED, "base.idl")
    assert [type(item).__name__ for item in tree.items][-1] == "Interface"
