"""Constant expressions, evaluated the way a C compiler targeting Windows would.

IDL constants and enum values are C integer expressions: division truncates toward
zero, `long` is 32 bits (LLP64), casts wrap to the target width. Python's unbounded
integers do the arithmetic; widths are applied only where C would apply them (casts
and the declared type of a `const`).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from idlgen.diagnostics import Position
from idlgen.frontend import syntax
from idlgen.frontend.attribute_args import NARROW_LITERAL_LIMIT
from idlgen.records import record

Value = int | float | str


class ConstError(Exception):
    """A constant expression that cannot be evaluated; `pos` says where."""

    def __init__(self, message: str, pos: Position) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos


@record
class IntegerKind:
    bits: int
    signed: bool

    def wrap(self, value: int) -> int:
        value &= (1 << self.bits) - 1
        if self.signed and value >= 1 << (self.bits - 1):
            value -= 1 << self.bits
        return value


# Sizes as MIDL and widl lay them out for 64-bit Windows (LLP64).
INTEGER_KINDS: dict[str, IntegerKind] = {
    "char": IntegerKind(8, True),
    "signed char": IntegerKind(8, True),
    "unsigned char": IntegerKind(8, False),
    "small": IntegerKind(8, True),
    "unsigned small": IntegerKind(8, False),
    "byte": IntegerKind(8, False),
    "boolean": IntegerKind(8, False),
    "short": IntegerKind(16, True),
    "unsigned short": IntegerKind(16, False),
    "wchar_t": IntegerKind(16, False),
    "int": IntegerKind(32, True),
    "signed int": IntegerKind(32, True),
    "unsigned int": IntegerKind(32, False),
    "unsigned": IntegerKind(32, False),
    "long": IntegerKind(32, True),
    "unsigned long": IntegerKind(32, False),
    "error_status_t": IntegerKind(32, False),
    "__int32": IntegerKind(32, True),
    "unsigned __int32": IntegerKind(32, False),
    "hyper": IntegerKind(64, True),
    "unsigned hyper": IntegerKind(64, False),
    "__int64": IntegerKind(64, True),
    "unsigned __int64": IntegerKind(64, False),
    "__int3264": IntegerKind(64, True),
    "unsigned __int3264": IntegerKind(64, False),
    "int8": IntegerKind(8, True),
    "uint8": IntegerKind(8, False),
    "int16": IntegerKind(16, True),
    "uint16": IntegerKind(16, False),
    "int32": IntegerKind(32, True),
    "uint32": IntegerKind(32, False),
    "int64": IntegerKind(64, True),
    "uint64": IntegerKind(64, False),
}

SIZES: dict[str, int] = {name: kind.bits // 8 for name, kind in INTEGER_KINDS.items()}
SIZES.update({"float": 4, "double": 8, "handle_t": 8, "void": 1})
POINTER_SIZE = 8


# Only a 64-bit `const` (MIDL's `const hyper`) may be written with a literal above
# widl's 32 bits (NARROW_LITERAL_LIMIT).
_KEYWORD_VALUES = {"TRUE": 1, "FALSE": 0, "NULL": 0}
WIDE_LITERAL_LIMIT = 0xFFFFFFFFFFFFFFFF


class Evaluator:
    """Evaluates expressions; `lookup_name` supplies constants and enum members,
    `resolve_type` turns a type into the base type it stands for (through typedefs)
    so casts and sizeof can find a width. A literal above `literal_limit` is an
    error: wrapped to the target's width it would be another number without a word."""

    def __init__(
        self,
        lookup_name: Callable[[str], Value | None],
        resolve_type: Callable[[syntax.Type], syntax.Type],
        literal_limit: int = NARROW_LITERAL_LIMIT,
    ) -> None:
        self._lookup_name = lookup_name
        self._resolve_type = resolve_type
        self.literal_limit = literal_limit

    def evaluate(self, expr: syntax.Expr) -> Value:
        # One dict lookup by class, not a method name built and looked up per node:
        # attribute values nest macro expansions (`id(DISPID_X)`), and resolution
        # evaluated about 300,000 nodes over the corpus, a tenth of its time.
        method = _METHODS.get(expr.__class__)
        if method is None:
            raise ConstError("expression is not a constant", expr.pos)
        result: Value = method(self, expr)
        return result

    def evaluate_int(self, expr: syntax.Expr) -> int:
        value = self.evaluate(expr)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConstError("expression is not an integer constant", expr.pos)
        return value

    def integer_kind(self, type_: syntax.Type) -> IntegerKind | None:
        resolved = self._resolve_type(type_)
        if isinstance(resolved, syntax.BaseType):
            return INTEGER_KINDS.get(resolved.name)
        if isinstance(resolved, syntax.EnumType):
            return INTEGER_KINDS["int"]
        return None

    def _eval_Number(self, expr: syntax.Number) -> Value:
        if isinstance(expr.value, int) and expr.value > self.literal_limit:
            raise ConstError(f"integer constant {expr.text} is too large", expr.pos)
        return expr.value

    def _eval_String(self, expr: syntax.String) -> Value:
        return expr.value

    def _eval_Char(self, expr: syntax.Char) -> Value:
        return ord(expr.value) if expr.value else 0

    def _eval_Name(self, expr: syntax.Name) -> Value:
        if expr.name in _KEYWORD_VALUES and self._lookup_name(expr.name) is None:
            return _KEYWORD_VALUES[expr.name]  # widl's expression keywords
        value = self._lookup_name(expr.name)
        if value is None:
            raise ConstError(f"identifier '{expr.name}' is not a constant", expr.pos)
        return value

    def _eval_Unary(self, expr: syntax.Unary) -> Value:
        operand = self.evaluate(expr.operand)
        if expr.op == "+":
            return self._number(operand, expr)
        if expr.op == "-":
            return -self._number(operand, expr)
        if expr.op == "~":
            return ~self._int(operand, expr)
        if expr.op == "!":
            return int(not operand)
        raise ConstError(f"operator '{expr.op}' is not allowed in a constant", expr.pos)

    def _eval_Binary(self, expr: syntax.Binary) -> Value:
        if expr.op == "&&":
            return int(bool(self.evaluate(expr.left)) and bool(self.evaluate(expr.right)))
        if expr.op == "||":
            return int(bool(self.evaluate(expr.left)) or bool(self.evaluate(expr.right)))
        left = self._number(self.evaluate(expr.left), expr)
        right = self._number(self.evaluate(expr.right), expr)
        return _binary(expr, left, right)

    def _eval_Conditional(self, expr: syntax.Conditional) -> Value:
        branch = expr.then if self.evaluate(expr.condition) else expr.otherwise
        return self.evaluate(branch)

    def _eval_Cast(self, expr: syntax.Cast) -> Value:
        value = self.evaluate(expr.operand)
        kind = self.integer_kind(expr.type)
        if kind is not None and isinstance(value, int):
            return kind.wrap(value)
        return value

    def _eval_SizeOf(self, expr: syntax.SizeOf) -> Value:
        resolved = self._resolve_type(expr.type)
        if isinstance(resolved, syntax.Pointer):
            return POINTER_SIZE
        if isinstance(resolved, syntax.BaseType) and resolved.name in SIZES:
            return SIZES[resolved.name]
        raise ConstError("sizeof of this type is not supported in a constant", expr.pos)

    @staticmethod
    def _number(value: Value, expr: syntax.Expr) -> int | float:
        if isinstance(value, str):
            raise ConstError("a string is not allowed in arithmetic", expr.pos)
        return value

    @staticmethod
    def _int(value: Value, expr: syntax.Expr) -> int:
        if not isinstance(value, int):
            raise ConstError("operand must be an integer", expr.pos)
        return value


def _binary(expr: syntax.Binary, left: int | float, right: int | float) -> Value:
    op = expr.op
    if op in ("/", "%"):
        if right == 0:
            raise ConstError("division by zero in a constant expression", expr.pos)
        if isinstance(left, int) and isinstance(right, int):
            quotient = abs(left) // abs(right) * (1 if (left < 0) == (right < 0) else -1)
            return quotient if op == "/" else left - quotient * right
        return left / right if op == "/" else left % right
    bitwise = _BITWISE.get(op)
    if bitwise is not None:
        if not isinstance(left, int) or not isinstance(right, int):
            raise ConstError(f"operator '{op}' needs integers", expr.pos)
        if op in ("<<", ">>") and not 0 <= right < 128:
            raise ConstError("shift count out of range", expr.pos)
        return bitwise(left, right)
    arithmetic = _ARITHMETIC.get(op)
    if arithmetic is None:
        raise ConstError(f"operator '{op}' is not allowed in a constant", expr.pos)
    return arithmetic(left, right)


# Built once, not per operation (a dict of fresh lambdas per `+` was most of `_binary`).
_BITWISE: dict[str, Callable[[int, int], int]] = {
    "<<": operator.lshift,
    ">>": operator.rshift,
    "&": operator.and_,
    "|": operator.or_,
    "^": operator.xor,
}
_ARITHMETIC: dict[str, Callable[[Any, Any], Value]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "<": lambda left, right: int(left < right),
    ">": lambda left, right: int(left > right),
    "<=": lambda left, right: int(left <= right),
    ">=": lambda left, right: int(left >= right),
    "==": lambda left, right: int(left == right),
    "!=": lambda left, right: int(left != right),
}

# `Evaluator.evaluate`'s dispatch: each expression class to its `_eval_` method.
_METHODS: dict[type, Callable[[Evaluator, Any], Value]] = {
    getattr(syntax, name[len("_eval_") :]): method
    for name, method in vars(Evaluator).items()
    if name.startswith("_eval_")
}
