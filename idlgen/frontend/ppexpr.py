"""Evaluation of `#if` / `#elif` expressions with C's integer rules.

The caller has already replaced `defined X` and expanded macros; what remains is a
list of pp-tokens where any identifier counts as 0. Arithmetic happens in 64 bits
(intmax_t / uintmax_t) with C's usual conversions: one unsigned operand makes the
operation unsigned, which is why `-1 > 0u` is true. Errors raise `PPExprError`, which
the preprocessor turns into a diagnostic; an operand that is never evaluated
(`0 && 1/0`) cannot raise.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from idlgen.records import record

_BITS = 64
_MASK = (1 << _BITS) - 1
_SIGN = 1 << (_BITS - 1)

_INT_RE = re.compile(r"(0[xX][0-9a-fA-F]+|0[bB][01]+|0[0-7]*|[1-9]\d*)([uUlL]*)")
_SUFFIXES = {"", "u", "l", "ul", "lu", "ll", "ull", "llu"}
_ESCAPES = {
    "n": 10, "t": 9, "r": 13, "a": 7, "b": 8, "f": 12, "v": 11,
    "\\": 92, "'": 39, '"': 34, "?": 63, "e": 27,
}  # fmt: skip

# Binary operators by precedence (higher binds tighter), as in C.
_BINARY = {
    "*": 10, "/": 10, "%": 10,
    "+": 9, "-": 9,
    "<<": 8, ">>": 8,
    "<": 7, ">": 7, "<=": 7, ">=": 7,
    "==": 6, "!=": 6,
    "&": 5, "^": 4, "|": 3, "&&": 2, "||": 1,
}  # fmt: skip


class PPExprError(Exception):
    """A malformed or invalid `#if` expression; the message is for the user."""


@record
class Value:
    """A C integer: the bit pattern's meaning depends on whether it is unsigned."""

    value: int
    unsigned: bool = False

    @staticmethod
    def make(value: int, unsigned: bool) -> Value:
        value &= _MASK
        if not unsigned and value & _SIGN:
            value -= 1 << _BITS
        return Value(value, unsigned)


def evaluate(tokens: Sequence[str]) -> int:
    """The value of the expression in `tokens` (white space already removed)."""
    if not tokens:
        raise PPExprError("#if with no expression")
    parser = _Parser(list(tokens))
    result = parser.conditional(evaluating=True)
    if parser.pos < len(parser.tokens):
        raise PPExprError(f'missing binary operator before token "{parser.peek()}"')
    return result.value


class _Parser:
    """Precedence climbing over the token list, evaluating as it goes."""

    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise PPExprError("#if expression ends unexpectedly")
        self.pos += 1
        return token

    def expect(self, token: str) -> None:
        got = self.peek()
        if got != token:
            found = f'"{got}"' if got is not None else "end of expression"
            raise PPExprError(f'expected "{token}" in #if expression, found {found}')
        self.pos += 1

    def conditional(self, evaluating: bool) -> Value:
        cond = self.binary(1, evaluating)
        if self.peek() != "?":
            return cond
        self.pos += 1
        chosen = cond.value != 0
        yes = self.conditional(evaluating and chosen)
        self.expect(":")
        no = self.conditional(evaluating and not chosen)
        unsigned = yes.unsigned or no.unsigned
        return Value.make((yes if chosen else no).value, unsigned)

    def binary(self, min_prec: int, evaluating: bool) -> Value:
        left = self.unary(evaluating)
        while True:
            op = self.peek()
            prec = _BINARY.get(op or "")
            if op is None or prec is None or prec < min_prec:
                return left
            self.pos += 1
            if op == "&&":
                right = self.binary(prec + 1, evaluating and left.value != 0)
                left = Value(int(left.value != 0 and right.value != 0))
            elif op == "||":
                right = self.binary(prec + 1, evaluating and left.value == 0)
                left = Value(int(left.value != 0 or right.value != 0))
            else:
                right = self.binary(prec + 1, evaluating)
                left = _apply(op, left, right, evaluating)

    def unary(self, evaluating: bool) -> Value:
        token = self.take()
        if token in ("+", "-", "~", "!"):
            operand = self.unary(evaluating)
            if token == "+":
                return operand
            if token == "-":
                return Value.make(-operand.value, operand.unsigned)
            if token == "~":
                return Value.make(~operand.value, operand.unsigned)
            return Value(int(operand.value == 0))
        if token == "(":
            inner = self.comma(evaluating)
            self.expect(")")
            return inner
        return _primary(token)

    def comma(self, evaluating: bool) -> Value:
        value = self.conditional(evaluating)
        while self.peek() == ",":
            self.pos += 1
            value = self.conditional(evaluating)
        return value


def _apply(op: str, left: Value, right: Value, evaluating: bool) -> Value:
    unsigned = left.unsigned or right.unsigned
    a, b = (left.value & _MASK, right.value & _MASK) if unsigned else (left.value, right.value)
    if op in ("/", "%") and b == 0:
        if evaluating:
            raise PPExprError("division by zero in #if")
        return Value(0, unsigned)
    match op:
        case "*":
            result = a * b
        case "/":
            result = abs(a) // abs(b) * (1 if (a < 0) == (b < 0) else -1)
        case "%":
            result = a - b * (abs(a) // abs(b) * (1 if (a < 0) == (b < 0) else -1))
        case "+":
            result = a + b
        case "-":
            result = a - b
        case "<<":
            return Value.make(left.value << (right.value & 63), left.unsigned)
        case ">>":
            shifted = (left.value & _MASK if left.unsigned else left.value) >> (right.value & 63)
            return Value.make(shifted, left.unsigned)
        case "<":
            return Value(int(a < b))
        case ">":
            return Value(int(a > b))
        case "<=":
            return Value(int(a <= b))
        case ">=":
            return Value(int(a >= b))
        case "==":
            return Value(int(a == b))
        case "!=":
            return Value(int(a != b))
        case "&":
            result = a & b
        case "^":
            result = a ^ b
        case _:  # "|"
            result = a | b
    return Value.make(result, unsigned)


def _primary(token: str) -> Value:
    if token[0].isdigit() or (token[0] == "." and len(token) > 1):
        return parse_integer(token)
    if token.startswith(("'", "L'")):
        return parse_char(token)
    if token[0].isalpha() or token[0] == "_":
        return Value(0)  # an identifier left after macro expansion
    if token.startswith(('"', 'L"')):
        raise PPExprError(f"string literal {token} is not valid in #if expressions")
    raise PPExprError(f'token "{token}" is not valid in #if expressions')


def parse_integer(token: str) -> Value:
    """An integer constant with C's base prefixes and u/l suffixes."""
    m = _INT_RE.fullmatch(token)
    if m is None:
        if re.fullmatch(r"[\d.]+([eE][+-]?\d+)?[fFlL]?|\.\d.*", token):
            raise PPExprError(f"floating constant {token} in #if expression")
        raise PPExprError(f'invalid integer constant "{token}" in #if expression')
    digits, suffix = m.groups()
    if suffix.lower() not in _SUFFIXES:
        raise PPExprError(f'invalid suffix "{suffix}" on integer constant {token}')
    if digits[:2] in ("0x", "0X"):
        value = int(digits[2:], 16)
    elif digits[:2] in ("0b", "0B"):
        value = int(digits[2:], 2)
    elif digits.startswith("0"):
        value = int(digits, 8)
    else:
        value = int(digits)
    unsigned = "u" in suffix.lower() or value > _MASK >> 1
    if value > _MASK:
        raise PPExprError(f"integer constant {token} is too large")
    return Value.make(value, unsigned)


def parse_char(token: str) -> Value:
    """A character constant; several characters combine as GCC does (big-endian bytes)."""
    body = token[token.index("'") + 1 : -1]
    if not body:
        raise PPExprError("empty character constant in #if expression")
    codes = _char_codes(body)
    if len(codes) == 1:
        code = codes[0]
        # a plain char is signed, as on the targets widl knows
        return Value(code - 256 if not token.startswith("L") and code > 127 else code)
    value = 0
    for code in codes:
        value = ((value << 8) | (code & 0xFF)) & 0xFFFFFFFF
    return Value(value - (1 << 32) if value & 0x80000000 else value)  # an int, as in GCC


def _char_codes(body: str) -> list[int]:
    codes: list[int] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            codes.append(ord(ch))
            i += 1
            continue
        nxt = body[i + 1] if i + 1 < len(body) else ""
        if nxt in ("x", "X"):
            m = re.match(r"[0-9a-fA-F]+", body[i + 2 :])
            if m is None:
                raise PPExprError("\\x used with no following hex digits")
            codes.append(int(m.group(), 16))
            i += 2 + m.end()
        elif nxt and nxt in "01234567":
            m = re.match(r"[0-7]{1,3}", body[i + 1 :])
            assert m is not None
            codes.append(int(m.group(), 8))
            i += 1 + m.end()
        elif nxt in _ESCAPES:
            codes.append(_ESCAPES[nxt])
            i += 2
        else:
            codes.append(ord(nxt) if nxt else 92)
            i += 2
    return codes
