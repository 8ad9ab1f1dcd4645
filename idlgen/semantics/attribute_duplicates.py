"""An attribute written twice in one list, on any declaration of the main file.

widl warns about `duplicate attribute X` and keeps the last; idlgen keeps the first.
Twice alike changes nothing and stays widl's warning (`-Wduplicate-attribute`); twice
with different arguments (`uuid(A), uuid(B)` on a coclass, `entry(1), entry(2)` on a
module function) is an error, since either choice silently drops what someone wrote
(docs/dialect.md). `ref`, `unique` and `ptr` are one attribute for this (widl: the
duplicate `ref, unique or ptr`): a pointer has one kind, and two different ones
contradict each other. Each attribute list is checked once, wherever it stands.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable

from idlgen.diagnostics import DiagnosticSink
from idlgen.frontend import syntax
from idlgen.frontend.attributes import SDK_WINRT_ATTRIBUTES, WINRT_ATTRIBUTES

# Attributes a list may repeat: each `case(...)` adds labels, each `custom(...)` a value,
# each WinRT `static(...)`, `activatable(...)`... one more factory or version.
_REPEATABLE = frozenset({"case", "custom", *WINRT_ATTRIBUTES, *SDK_WINRT_ATTRIBUTES})
_POINTER_KINDS = frozenset({"ref", "unique", "ptr"})


def duplicates_checker(sink: DiagnosticSink) -> Callable[[tuple[syntax.Attribute, ...]], None]:
    """The check of one attribute list, for a walk over the file that visits every
    list (`check_values` makes one): a walk of its own would double the cost."""
    return functools.partial(_check, sink=sink)


def _check(attributes: tuple[syntax.Attribute, ...], sink: DiagnosticSink) -> None:
    if len(attributes) < 2:
        return  # most lists (`[in]`, `[out]`): nothing can repeat
    seen: dict[str, syntax.Attribute] = {}
    for attribute in attributes:
        key = "pointer kind" if attribute.name in _POINTER_KINDS else attribute.name
        first = seen.get(key)
        if first is not None and attribute.name not in _REPEATABLE:
            _report(first, attribute, sink)
        seen.setdefault(key, attribute)


def _report(first: syntax.Attribute, again: syntax.Attribute, sink: DiagnosticSink) -> None:
    if first.name != again.name:
        sink.error(
            f"pointer attributes {first.name} and {again.name} contradict each other",
            again.pos,
        )
    elif _arguments(first) != _arguments(again):
        sink.error(f"attribute {again.name} given twice with different arguments", again.pos)
    else:
        sink.warning(f"duplicate attribute {again.name}", again.pos, option="duplicate-attribute")


def _arguments(attribute: syntax.Attribute) -> object:
    """An attribute's arguments as written, wherever they were written."""
    return tuple(_without_positions(arg) for arg in attribute.args)


def _without_positions(node: object) -> object:
    if isinstance(node, tuple):
        return tuple(_without_positions(item) for item in node)
    if not dataclasses.is_dataclass(node):
        return node
    fields = [f.name for f in dataclasses.fields(node) if f.name != "pos"]
    return (type(node).__name__, *(_without_positions(getattr(node, f)) for f in fields))
