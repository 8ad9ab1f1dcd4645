"""Whether a sizing expression (`size_is(n)`, `switch_is(*pn)`) is an integer.

widl refuses a conformance or switch expression whose type is no integer (`expression
must resolve to integral type <= 32bits`): a `double`, a pointer (`size_is(pn)` for
`size_is(*pn)`) or a struct would be read as a count at run time. Only what an
expression's type is matters here, worked out as C does for the few forms sizing
expressions take; a form this does not follow (a member, an index) gives None and
is not guessed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import Enum

from idlgen import model
from idlgen.frontend import syntax


class Kind(Enum):
    INTEGER = "integer"
    OTHER = "other"  # a floating number, a pointer, a struct...


_FLOATING = frozenset({"float", "double"})
_ADDRESS_OPS = {"*": -1, "&": 1}
# (pointer and array levels, what is left) of a type through typedefs.
Unwrap = Callable[[syntax.Type], tuple[int, object]]


def kind_of(expr: object, params: Mapping[str, syntax.Type], unwrap: Unwrap) -> Kind | None:
    """The kind of `expr`'s value; names that are no parameter are constants."""
    levels = 0
    while isinstance(expr, syntax.Unary) and expr.op in _ADDRESS_OPS:
        levels += _ADDRESS_OPS[expr.op]
        expr = expr.operand
    if levels:
        kind = _pointed(expr, params, unwrap, levels)
    elif isinstance(expr, syntax.Unary):
        kind = kind_of(expr.operand, params, unwrap)
    elif isinstance(expr, syntax.Binary):
        kind = _binary(expr, params, unwrap)
    elif isinstance(expr, syntax.Conditional):
        kind = kind_of(expr.then, params, unwrap)
    elif isinstance(expr, syntax.Cast):
        kind = _type_kind(*unwrap(expr.type))
    elif isinstance(expr, syntax.Name):
        kind = _type_kind(*unwrap(params[expr.name])) if expr.name in params else Kind.INTEGER
    elif isinstance(expr, syntax.Number):
        kind = Kind.INTEGER if isinstance(expr.value, int) else Kind.OTHER
    else:
        kind = None
    return kind


def _pointed(
    expr: object, params: Mapping[str, syntax.Type], unwrap: Unwrap, more: int
) -> Kind | None:
    """`*pn` or `&n`: a parameter's type with pointer levels taken off or put on."""
    if not isinstance(expr, syntax.Name) or expr.name not in params:
        return None
    levels, left = unwrap(params[expr.name])
    return _type_kind(levels + more, left)


def _binary(expr: syntax.Binary, params: Mapping[str, syntax.Type], unwrap: Unwrap) -> Kind | None:
    sides = (kind_of(expr.left, params, unwrap), kind_of(expr.right, params, unwrap))
    if Kind.OTHER in sides:
        return Kind.OTHER
    return None if None in sides else Kind.INTEGER


def _type_kind(levels: int, left: object) -> Kind | None:
    if levels != 0:
        return Kind.OTHER
    if isinstance(left, syntax.BaseType):
        return Kind.OTHER if left.name in _FLOATING else Kind.INTEGER
    if isinstance(left, model.Enum | syntax.EnumType):
        return Kind.INTEGER
    if isinstance(left, model.Struct | model.Union | syntax.StructType | syntax.UnionType):
        return Kind.OTHER
    return None
