"""Every kind of item the parser builds is read by the resolver: none is skipped.

A declaration the grammar accepts but nobody reads would vanish from the output
without a word (a dropped method shifts every later opnum). The resolver has one
handler per item type and reports an internal error for an item without one; this
checks that every member of `syntax.Item` has its handler.
"""

from __future__ import annotations

import typing

from idlgen.frontend import syntax
from idlgen.semantics.resolve import Resolver


def test_every_item_type_has_a_resolver_handler() -> None:
    item_types = typing.get_args(syntax.Item)
    assert len(item_types) > 10
    missing = [t.__name__ for t in item_types if not hasattr(Resolver, f"_item_{t.__name__}")]
    assert missing == []


def test_an_unhandled_item_is_an_internal_error_not_skipped() -> None:
    from idlgen.diagnostics import DiagnosticSink
    from idlgen.semantics.loader import LoadedFile

    class Stray:
        pos = None

    sink = DiagnosticSink()
    main = LoadedFile("x.idl", syntax.File("x.idl", ()), [], ("x.idl",), frozenset(), True)
    Resolver(main, sink)._items((Stray(),))
    assert [d.message for d in sink.diagnostics] == ["internal error: Stray is not handled"]
