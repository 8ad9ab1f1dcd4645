"""Correlation expressions: size_is / length_is / first_is / max_is / switch_is / iid_is.

IDL lets these attributes hold C expressions over sibling fields or parameters (`cb * 2`,
`*pcbRead`, `max - 1`).  The generator instantiates the small tree below; `parse_expr` reads the
C text too, which keeps tests and hand-written descriptors short.  Pointers are transparent in the
Python mapping (a top-level `[out] ULONG *pcb` is just an int), so unary `*` is the identity.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


class ExprError(Exception):
    """An expression that cannot be evaluated in the given scope (unknown name, division by 0)."""


@dataclass(frozen=True, slots=True)
class Name:
    name: str


@dataclass(frozen=True, slots=True)
class Const:
    value: int


@dataclass(frozen=True, slots=True)
class Unary:
    op: str  # one of - + ~ ! *
    operand: Expr


@dataclass(frozen=True, slots=True)
class Binary:
    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Cond:
    test: Expr
    then: Expr
    otherwise: Expr


Expr = Name | Const | Unary | Binary | Cond


def _c_div(a: int, b: int) -> int:
    if b == 0:
        raise ExprError("division by zero")
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _c_mod(a: int, b: int) -> int:
    return a - b * _c_div(a, b)


_BINARY: dict[str, Callable[[int, int], int]] = {
    "*": lambda a, b: a * b,
    "/": _c_div,
    "%": _c_mod,
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "<<": lambda a, b: a << b if 0 <= b < 64 else _raise("bad shift"),
    ">>": lambda a, b: a >> b if 0 <= b < 64 else _raise("bad shift"),
    "<": lambda a, b: int(a < b),
    ">": lambda a, b: int(a > b),
    "<=": lambda a, b: int(a <= b),
    ">=": lambda a, b: int(a >= b),
    "==": lambda a, b: int(a == b),
    "!=": lambda a, b: int(a != b),
    "&": lambda a, b: a & b,
    "^": lambda a, b: a ^ b,
    "|": lambda a, b: a | b,
    "&&": lambda a, b: int(bool(a) and bool(b)),
    "||": lambda a, b: int(bool(a) or bool(b)),
}
_UNARY: dict[str, Callable[[int], int]] = {
    "-": lambda a: -a,
    "+": lambda a: a,
    "~": lambda a: ~a,
    "!": lambda a: int(not a),
}


def _raise(message: str) -> int:
    raise ExprError(message)


def evaluate(expr: Expr, scope: Mapping[str, Any]) -> int:
    """Evaluate with C integer semantics (truncating division); names come from `scope`."""
    if isinstance(expr, Const):
        return expr.value
    if isinstance(expr, Name):
        try:
            value = scope[expr.name]
        except KeyError:
            raise ExprError(f"name {expr.name!r} is not in scope") from None
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, bool):
                return int(value)
            raise ExprError(f"{expr.name!r} is not an integer")
        return value
    if isinstance(expr, Unary):
        inner = evaluate(expr.operand, scope)
        return inner if expr.op == "*" else _UNARY[expr.op](inner)
    if isinstance(expr, Binary):
        return _BINARY[expr.op](evaluate(expr.left, scope), evaluate(expr.right, scope))
    return evaluate(expr.then if evaluate(expr.test, scope) else expr.otherwise, scope)


def names(expr: Expr) -> frozenset[str]:
    """The scope names an expression reads (lets the generator check them at build time)."""
    if isinstance(expr, Name):
        return frozenset({expr.name})
    if isinstance(expr, Unary):
        return names(expr.operand)
    if isinstance(expr, Binary):
        return names(expr.left) | names(expr.right)
    if isinstance(expr, Cond):
        return names(expr.test) | names(expr.then) | names(expr.otherwise)
    return frozenset()


# --- a small precedence-climbing parser for the C subset IDL uses ---------------------------

_TOKEN = re.compile(
    r"\s*(?:(0[xX][0-9a-fA-F]+|\d+)[uUlL]*|([A-Za-z_][A-Za-z_0-9]*(?:\.[A-Za-z_][A-Za-z_0-9]*)*)"
    r"|(<<|>>|<=|>=|==|!=|&&|\|\||->|[-+*/%<>&^|~!?:()]))"
)
_LEVELS = [["||"], ["&&"], ["|"], ["^"], ["&"], ["==", "!="], ["<", ">", "<=", ">="],
           ["<<", ">>"], ["+", "-"], ["*", "/", "%"]]  # fmt: skip


def parse_expr(text: str) -> Expr:
    """Parse a correlation expression such as ``cb * 2`` or ``*pcbRead``."""
    tokens = _tokenize(text)
    expr, pos = _parse_cond(tokens, 0)
    if pos != len(tokens):
        raise ExprError(f"unexpected {tokens[pos][1]!r} in {text!r}")
    return expr


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match:
            raise ExprError(f"cannot read {text[pos:]!r}")
        number, ident, op = match.groups()
        if number is not None:
            base = (
                16
                if number[:2].lower() == "0x"
                else 8
                if len(number) > 1 and number[0] == "0"
                else 10
            )
            tokens.append(("num", str(int(number, base))))
        elif ident is not None:
            tokens.append(("name", ident))
        else:
            tokens.append(("op", op))
        pos = match.end()
    return tokens


def _parse_cond(tokens: list[tuple[str, str]], pos: int) -> tuple[Expr, int]:
    test, pos = _parse_binary(tokens, pos, 0)
    if pos < len(tokens) and tokens[pos] == ("op", "?"):
        then, pos = _parse_cond(tokens, pos + 1)
        if pos >= len(tokens) or tokens[pos] != ("op", ":"):
            raise ExprError("expected ':'")
        otherwise, pos = _parse_cond(tokens, pos + 1)
        return Cond(test, then, otherwise), pos
    return test, pos


def _parse_binary(tokens: list[tuple[str, str]], pos: int, level: int) -> tuple[Expr, int]:
    if level == len(_LEVELS):
        return _parse_unary(tokens, pos)
    left, pos = _parse_binary(tokens, pos, level + 1)
    while pos < len(tokens) and tokens[pos][0] == "op" and tokens[pos][1] in _LEVELS[level]:
        op = tokens[pos][1]
        right, pos = _parse_binary(tokens, pos + 1, level + 1)
        left = Binary(op, left, right)
    return left, pos


def _parse_unary(tokens: list[tuple[str, str]], pos: int) -> tuple[Expr, int]:
    if pos >= len(tokens):
        raise ExprError("unexpected end of expression")
    kind, text = tokens[pos]
    if kind == "op" and text in ("-", "+", "~", "!", "*"):
        operand, pos = _parse_unary(tokens, pos + 1)
        return Unary(text, operand), pos
    if kind == "op" and text == "(":
        inner, pos = _parse_cond(tokens, pos + 1)
        if pos >= len(tokens) or tokens[pos] != ("op", ")"):
            raise ExprError("expected ')'")
        return inner, pos + 1
    if kind == "num":
        return Const(int(text)), pos + 1
    if kind == "name":
        return Name(text), pos + 1
    raise ExprError(f"unexpected {text!r}")
