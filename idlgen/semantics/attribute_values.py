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

from idlgen.diagnostics import DiagnosticSink
from idlgen.frontend import syntax
from idlgen.frontend.attribute_args import SHAPES, VALUES, Kind
from idlgen.frontend.attributes import AttributeWalker, SkippingCopies
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
        SkippingCopies(visit, copies, sink, visit_array, visit_list).items(file.items)
    else:
        AttributeWalker(visit, visit_array, visit_list).items(file.items)


def _check(evaluator: Evaluator, arg: syntax.Expr, kind: Kind, sink: DiagnosticSink) -> None:
    try:
        if kind is Kind.INTEGER:
            evaluator.evaluate_int(arg)
        else:
            evaluator.evaluate(arg)
    except ConstError as error:
        sink.error(error.message, error.pos)
