"""What each attribute's arguments must look like, as widl's grammar has it.

idlgen's grammar reads any attribute's arguments as generic expressions, types or
uuids; widl's grammar gives each attribute its own: `helpstring` a string,
`pointer_default` one of `ptr`, `ref`, `unique`, `switch_type` a type, `id` a number.
Without this check a misspelt `pointer_default(unqiue)` or a `helpstring(1)` compiled
without a word where widl stops with a syntax error; differential mutation testing
(tests/corpus/mutation.py) found them. The table covers every attribute of widl's
grammar that takes arguments; `tests/frontend/test_attribute_args_widl.py` tries
each with arguments of every kind against widl.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum, unique

from idlgen.frontend import syntax

# widl reads an integer literal as a 32-bit unsigned number and refuses a larger one
# (consteval.py lets a 64-bit `const` have one, as MIDL's `const hyper` does).
NARROW_LITERAL_LIMIT = 0xFFFFFFFF


def _too_large(value: float) -> bool:
    return isinstance(value, int) and value > NARROW_LITERAL_LIMIT


@unique  # an Enum member with another's value would silently be an alias of it
class Kind(Enum):
    STRING = "a string"
    INTEGER = "an integer constant"
    CONSTANT = "a constant"  # a string or an integer
    # A string or any number: MIDL takes `defaultvalue(1.5)`.
    DEFAULT = "a constant or a floating-point number"
    EXPRESSION = "an expression"  # may name parameters and fields
    IDENTIFIER = "a name"
    TYPE = "a type"
    VERSION = "a version number"
    ANY = "anything"  # checked elsewhere (uuids) or not at all


_NOT_INTEGER = (syntax.String, syntax.Uuid, syntax.Param, syntax.Empty)

# name -> (the kind of each argument, whether the last kind repeats, keywords allowed)
_KEYWORDS = {
    "pointer_default": frozenset({"ptr", "ref", "unique"}),
    "threading": frozenset({"apartment", "neutral", "single", "free", "both", "mta"}),
    "marshaling_behavior": frozenset({"agile", "none", "standard"}),
}

SHAPES: dict[str, tuple[tuple[Kind, ...], bool]] = {
    "annotation": ((Kind.STRING,), False),
    "call_as": ((Kind.IDENTIFIER,), False),
    "first_is": ((Kind.EXPRESSION,), True),
    "case": ((Kind.INTEGER,), True),
    "defaultvalue": ((Kind.DEFAULT,), False),
    "dllname": ((Kind.STRING,), False),
    "endpoint": ((Kind.STRING,), True),
    "entry": ((Kind.CONSTANT,), False),
    "helpcontext": ((Kind.INTEGER,), False),
    "helpfile": ((Kind.STRING,), False),
    "helpstring": ((Kind.STRING,), False),
    "helpstringcontext": ((Kind.INTEGER,), False),
    "helpstringdll": ((Kind.STRING,), False),
    "id": ((Kind.INTEGER,), False),
    "iid_is": ((Kind.EXPRESSION,), False),
    "last_is": ((Kind.EXPRESSION,), True),
    "length_is": ((Kind.EXPRESSION,), True),
    "lcid": ((Kind.INTEGER,), False),
    "max_is": ((Kind.EXPRESSION,), True),
    "min_is": ((Kind.EXPRESSION,), True),
    "optimize": ((Kind.STRING,), False),
    "overload": ((Kind.STRING,), False),
    "progid": ((Kind.STRING,), False),
    "range": ((Kind.INTEGER, Kind.INTEGER), False),
    "represent_as": ((Kind.TYPE,), False),
    "size_is": ((Kind.EXPRESSION,), True),
    "switch_is": ((Kind.EXPRESSION,), False),
    "switch_type": ((Kind.TYPE,), False),
    "transmit_as": ((Kind.TYPE,), False),
    "user_marshal": ((Kind.TYPE,), False),
    "uuid": ((Kind.ANY,), False),
    "async_uuid": ((Kind.ANY,), False),
    "custom": ((Kind.ANY, Kind.CONSTANT), False),
    "version": ((Kind.VERSION,), False),
    "vi_progid": ((Kind.STRING,), False),
    "wire_marshal": ((Kind.TYPE,), False),
}


def problem(attribute: syntax.Attribute) -> tuple[str, object] | None:
    """The first argument of `attribute` that does not fit its shape, with the thing
    to point at; None when all fit or the attribute's shape is not in the table."""
    args = attribute.args
    keywords = _KEYWORDS.get(attribute.name)
    if keywords is not None:
        return _keyword_problem(attribute.name, args, keywords, attribute)
    shape = SHAPES.get(attribute.name)
    if shape is None or not args:
        return None
    kinds, repeats = shape
    if (len(args) > len(kinds) and not repeats) or len(args) < len(kinds):
        count = f"{len(kinds)}{' or more' if repeats else ''}"
        return f"attribute '{attribute.name}' takes {count} argument(s), not {len(args)}", attribute
    for index, arg in enumerate(args):
        kind = kinds[min(index, len(kinds) - 1)]
        if not fits(kind, arg):
            return f"argument of attribute '{attribute.name}' must be {kind.value}", arg
        large = _first_large_number(arg)
        if large is not None:
            return f"integer constant {large.text} is too large", large
    return None


def _first_large_number(arg: object) -> syntax.Number | None:
    """The first literal of an argument, left to right, that widl's lexer refuses (it
    reads none above 32 bits anywhere). A loop over an explicit stack: the DISPIDs of
    mshtml.idl are sums nested ten deep, and nested generators handed every literal up
    through each level (a million resumptions for one file)."""
    pending = [arg]
    while pending:
        node = pending.pop()
        if isinstance(node, syntax.Number):
            if _too_large(node.value):
                return node
        elif isinstance(node, syntax.Binary):
            pending += (node.right, node.left)
        elif isinstance(node, syntax.Unary | syntax.Cast):
            pending.append(node.operand)
        elif isinstance(node, syntax.Conditional):
            pending += (node.otherwise, node.then, node.condition)
    return None


def _keyword_problem(
    name: str, args: Sequence[object], keywords: frozenset[str], attribute: syntax.Attribute
) -> tuple[str, object] | None:
    if len(args) == 1 and _word(args[0]) in keywords:
        return None
    expected = ", ".join(sorted(keywords))
    culprit = args[0] if args else attribute
    return f"argument of attribute '{name}' must be one of: {expected}", culprit


def _word(arg: object) -> str | None:
    """A bare word: a name, or a type named by one (`ptr` and friends may be typedefs)."""
    if isinstance(arg, syntax.Name):
        return arg.name
    if isinstance(arg, syntax.NamedType) and not arg.const:
        return arg.name
    return None


def fits(kind: Kind, arg: object) -> bool:
    """Whether `arg` may stand where widl's grammar wants `kind`. Only the arrays'
    bounds may be left out (`size_is(, n)`: the first dimension has none)."""
    if kind is Kind.EXPRESSION:
        return _is_expression(arg) and not isinstance(arg, syntax.String) and not _is_float(arg)
    if isinstance(arg, syntax.Empty):
        return False
    if kind is Kind.ANY:
        return True
    if kind is Kind.STRING:
        return isinstance(arg, syntax.String)
    if kind is Kind.INTEGER:
        return _is_expression(arg) and not isinstance(arg, _NOT_INTEGER) and not _is_float(arg)
    if kind is Kind.CONSTANT:
        return _is_expression(arg) and not _is_float(arg)
    if kind is Kind.DEFAULT:
        return _is_expression(arg)
    if kind is Kind.IDENTIFIER:
        return _word(arg) is not None
    if kind is Kind.VERSION:
        return isinstance(arg, syntax.Number)
    return isinstance(arg, _TYPES)


# An expression that was written; `Empty` is a left-out bound (`size_is(, n)`).
VALUES = (
    syntax.Number,
    syntax.Name,
    syntax.String,
    syntax.Char,
    syntax.Unary,
    syntax.Binary,
    syntax.Conditional,
    syntax.Cast,
    syntax.SizeOf,
    syntax.Member,
    syntax.Index,
)
_EXPRESSIONS = (*VALUES, syntax.Empty)
_TYPES = (
    syntax.BaseType,
    syntax.NamedType,
    syntax.ParameterizedType,
    syntax.SafeArrayType,
    syntax.StructType,
    syntax.UnionType,
    syntax.EnumType,
)


def _is_expression(arg: object) -> bool:
    return isinstance(arg, _EXPRESSIONS)


def _is_float(arg: object) -> bool:
    """A floating literal, also negated (`-1.5`): never an integer constant."""
    while isinstance(arg, syntax.Unary):
        arg = arg.operand
    return isinstance(arg, syntax.Number) and isinstance(arg.value, float)
