"""Attribute arguments and array sizes that must be constants are (`id(DISPID_X)`).

widl's grammar takes `id`, `helpcontext`, `lcid`, `range`, `defaultvalue`, `entry` and
`custom`'s value as constant expressions and refuses a name that is no constant
(`expression is not an integer constant`); the shape check in the front end cannot
tell a misspelt `DISPID_NAVIGATErCOMPLETE` from a constant, so this runs after
resolution, with every constant and enum value known. An array's size is the same
story (`ULONG a[zz]`: widl's `array dimension is not a positive integer constant`);
the generator would otherwise leave the type out as not marshalable. Only the main
file is checked: imported files were checked when they were compiled themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

from idlgen.diagnostics import DiagnosticSink
from idlgen.frontend import syntax
from idlgen.frontend.attribute_args import SHAPES, VALUES, Kind
from idlgen.frontend.attributes import AttributeWalker
from idlgen.semantics.consteval import ConstError, Evaluator

_CONSTANT_KINDS = (Kind.INTEGER, Kind.CONSTANT, Kind.DEFAULT)


def check_values(
    file: syntax.File,
    evaluator: Evaluator,
    sink: DiagnosticSink,
    visit_list: Callable[[tuple[syntax.Attribute, ...]], None] | None = None,
    copies: Mapping[int, object] | None = None,
) -> None:
    """`visit_list`: another check that sees each attribute list, in the same walk.
    `copies`: the members the parser rebuilt, by `id`, each to the member it copies
    (`LoadedFile.copies`)."""

    def visit(attribute: syntax.Attribute, place: str | None) -> None:
        shape = SHAPES.get(attribute.name)
        if shape is None:
            return
        kinds, _ = shape
        for index, arg in enumerate(attribute.args):
            kind = kinds[min(index, len(kinds) - 1)]
            if kind in _CONSTANT_KINDS and isinstance(arg, VALUES):
                _check(evaluator, arg, kind, sink)

    def visit_array(array: syntax.Array) -> None:
        if array.size is None or isinstance(array.size, syntax.Empty):
            return
        try:
            size = evaluator.evaluate_int(array.size)
        except ConstError:
            size = 0
        if size <= 0:
            sink.error("array dimension is not a positive integer constant", array.size.pos)

    if copies:
        _SkippingCopies(visit, visit_array, visit_list, copies, sink).items(file.items)
    else:
        AttributeWalker(visit, visit_array, visit_list).items(file.items)


class _SkippingCopies(AttributeWalker):
    """Passes over a rebuilt member whose original was found clean: a copy has the
    original's attributes and types at other positions, and these checks read no
    position unless they report, while every name is looked up in the finished
    scope, so a copy comes out as its original did. `mshtml.idl` repeats 14,000 of
    its 18,000 dispinterface members, each with an `id(DISPID_...)` of a dozen
    nodes: evaluating them was four fifths of its resolution."""

    def __init__(
        self,
        visit: Callable[[syntax.Attribute, str | None], None],
        visit_array: Callable[[syntax.Array], None],
        visit_list: Callable[[tuple[syntax.Attribute, ...]], None] | None,
        copies: Mapping[int, object],
        sink: DiagnosticSink,
    ) -> None:
        super().__init__(visit, visit_array, visit_list)
        self.copies = copies
        self.sink = sink
        self.clean: set[int] = set()  # ids of originals that reported nothing

    def method(self, method: syntax.Method) -> None:
        self._checked(method, super().method)

    def field(self, field: syntax.Field) -> None:
        self._checked(field, super().field)

    def _checked(self, member: _Member, check: Callable[[_Member], None]) -> None:
        original = self.copies.get(id(member))
        if original is not None and id(original) in self.clean:
            return
        sink = self.sink
        # Past max_errors, errors are dropped; a duplicate attribute only warns.
        before = (sink.error_count, sink.dropped_errors, len(sink.raw_warnings))
        check(member)
        if (sink.error_count, sink.dropped_errors, len(sink.raw_warnings)) == before:
            self.clean.add(id(member if original is None else original))


_Member = TypeVar("_Member", syntax.Method, syntax.Field)


def _check(evaluator: Evaluator, arg: syntax.Expr, kind: Kind, sink: DiagnosticSink) -> None:
    try:
        if kind is Kind.INTEGER:
            evaluator.evaluate_int(arg)
        else:
            evaluator.evaluate(arg)
    except ConstError as error:
        sink.error(error.message, error.pos)
