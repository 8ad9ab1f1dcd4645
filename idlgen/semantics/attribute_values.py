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

from collections.abc import Callable, Iterable, Mapping

from idlgen.diagnostics import DiagnosticSink
from idlgen.frontend import syntax
from idlgen.frontend.attribute_args import SHAPES, VALUES, Kind
from idlgen.frontend.attributes import METHOD, PARAM, AttributeWalker, SkippingCopies
from idlgen.semantics.consteval import ConstError, Evaluator

_CONSTANT_KINDS = (Kind.INTEGER, Kind.CONSTANT, Kind.DEFAULT)


def check_values(
    file: syntax.File,
    evaluator: Evaluator,
    sink: DiagnosticSink,
    visit_list: Callable[[tuple[syntax.Attribute, ...]], None] | None = None,
    copies: Mapping[int, object] | None = None,
) -> None:
    """`visit_list`: another check that sees each list of two or more attributes, in
    the same walk (a shorter one repeats nothing). `copies`: the members the parser
    rebuilt, by `id`, each to the member it copies (`LoadedFile.copies`)."""
    if copies:
        _SkippingValueWalk(evaluator, sink, visit_list, copies).items(file.items)
    else:
        _ValueWalk(evaluator, sink, visit_list).items(file.items)


class _ValueWalk(AttributeWalker):
    """The front end's walk (same nodes, same order), with the three steps that run
    for every parameter done in place: an attribute list is read for the few names
    whose arguments are constants, and a parameter's named or built-in type, which
    holds no attribute and no array, is not walked. The generic walk called a visitor
    per attribute and a type walk per parameter: a third of the corpus's resolution."""

    def __init__(
        self,
        evaluator: Evaluator,
        sink: DiagnosticSink,
        visit_list: Callable[[tuple[syntax.Attribute, ...]], None] | None,
    ) -> None:
        # Not super(): in the skipping walk the next class is SkippingCopies.
        AttributeWalker.__init__(self, self._visit, self._visit_array, visit_list)
        self.evaluator = evaluator
        self.sink = sink

    def attributes(self, attributes: tuple[syntax.Attribute, ...], place: str | None) -> None:
        if len(attributes) > 1 and self.visit_list is not None:
            self.visit_list(attributes)
        for attribute in attributes:
            if attribute.name in _CHECKED:
                self._visit(attribute, place)

    def item(self, item: object) -> None:
        if item.__class__ is syntax.Method:  # most members: not the chain of tests
            self.method(item)
        else:
            super().item(item)

    def method(self, method: syntax.Method) -> None:
        if method.attributes:
            self.attributes(method.attributes, METHOD)
        if method.return_type.__class__ not in _LEAVES:
            self.type(method.return_type)
        self.params(method.params)

    def params(self, params: Iterable[syntax.Param]) -> None:
        for param in params:
            if param.attributes:
                self.attributes(param.attributes, PARAM)
            if param.type.__class__ not in _LEAVES:
                self.type(param.type)

    def type(self, type_: object) -> None:
        if type_.__class__ not in _LEAVES:
            super().type(type_)

    def _visit(self, attribute: syntax.Attribute, place: str | None) -> None:
        kinds = _CHECKED[attribute.name]
        last = len(kinds) - 1
        for index, arg in enumerate(attribute.args):
            kind = kinds[min(index, last)]
            if kind in _CONSTANT_KINDS and isinstance(arg, VALUES):
                _check(self.evaluator, arg, kind, self.sink)

    def _visit_array(self, array: syntax.Array) -> None:
        if array.size is None or isinstance(array.size, syntax.Empty):
            return
        try:
            size = self.evaluator.evaluate_int(array.size)
        except ConstError:
            size = 0
        if size <= 0:
            self.sink.error("array dimension is not a positive integer constant", array.size.pos)


class _SkippingValueWalk(SkippingCopies, _ValueWalk):
    """The same walk passing over members rebuilt from clean ones: `SkippingCopies`
    comes first, so its `method` and `field` decide and then hand over to this walk's."""

    def __init__(
        self,
        evaluator: Evaluator,
        sink: DiagnosticSink,
        visit_list: Callable[[tuple[syntax.Attribute, ...]], None] | None,
        copies: Mapping[int, object],
    ) -> None:
        _ValueWalk.__init__(self, evaluator, sink, visit_list)
        self.copies = copies
        self.clean = set()


# The attributes with an argument that must be a constant, with each argument's kind.
_CHECKED = {
    name: kinds
    for name, (kinds, _) in SHAPES.items()
    if any(kind in _CONSTANT_KINDS for kind in kinds)
}
# Types that hold no attribute and no array: most parameters' and return types.
_LEAVES = frozenset({syntax.NamedType, syntax.BaseType})


def _check(evaluator: Evaluator, arg: syntax.Expr, kind: Kind, sink: DiagnosticSink) -> None:
    try:
        if kind is Kind.INTEGER:
            evaluator.evaluate_int(arg)
        else:
            evaluator.evaluate(arg)
    except ConstError as error:
        sink.error(error.message, error.pos)
