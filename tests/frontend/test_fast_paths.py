"""The front end's fast paths give what its general paths give.

Each shortcut taken for speed (a reduction callback specialised to its rule's shape, a
grammar rule for the one-operator expression, memoised number literals, the lexer's
order of alternatives, the attribute check's literal walk) is checked here against the
general code it stands in for."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from parse_helpers import only

from idlgen.diagnostics import Position
from idlgen.frontend import parser
from idlgen.frontend import syntax as s
from idlgen.frontend.attribute_args import NARROW_LITERAL_LIMIT, _first_large_number
from idlgen.frontend.lexer import OPERATOR, PUNCTUATION, PUNCTUATION_ROLES, Lexer, _master
from idlgen.frontend.reductions import _method, general_callback, make_callback
from idlgen.frontend.tables import load_tables
from idlgen.frontend.transform import (
    RETURNS_ITS_ONLY_CHILD,
    SyntaxBuilder,
    _known_number,
    number_value,
)

BINARY_OPERATORS = sorted(s.BINARY_PRECEDENCE)


class _Recorder:
    """A transformer whose every method says which it was and what it was given."""

    def __getattr__(self, name: str) -> Any:
        return lambda children: (name, list(children))


def _children(shape_include: tuple[tuple[int, bool, int], ...], size: int) -> list[Any]:
    """Stack values for a reduction: lists where the rule splices a helper's list."""
    spliced = {index for index, splice, _ in shape_include if splice}
    return [[f"s{i}a", f"s{i}b"] if i in spliced else f"v{i}" for i in range(size)]


def test_every_rule_callback_matches_the_general_reduction() -> None:
    tables = load_tables()
    recorder = _Recorder()
    for shape, size in zip(tables.rules, tables.sizes, strict=True):
        fast = make_callback(shape, recorder)
        general = general_callback(shape, _method(shape, recorder))
        assert fast(_children(shape.include, size)) == general(_children(shape.include, size)), (
            shape
        )


def _builder() -> SyntaxBuilder:
    return SyntaxBuilder(
        type_names=set(), position=lambda offset: Position("t.idl", 1, offset + 1), on_import=None
    )


@given(st.sampled_from(BINARY_OPERATORS), st.integers(0, 99), st.integers(0, 99))
def test_one_operator_rule_builds_what_the_chain_builds(operator: str, a: int, b: int) -> None:
    builder = _builder()
    kind = PUNCTUATION[operator]
    left = s.Number(a, str(a), Position("t.idl", 1, 1))
    right = s.Number(b, str(b), Position("t.idl", 1, 9))
    token = Lexer(operator, set()).tokens().__next__()
    assert token.type == kind
    assert builder.binary([left, token, right]) == builder.binary_chain([left, token, right])


@given(st.lists(st.tuples(st.sampled_from(BINARY_OPERATORS), st.integers(0, 9)), max_size=4))
def test_expressions_parse_by_precedence_whatever_their_length(
    rest: list[tuple[str, int]],
) -> None:
    """One operator takes the `binary` rule, more the chain: both must group as C does."""
    text = "1" + "".join(f" {operator} {value}" for operator, value in rest)
    const = only(f"const int x = {text};")
    assert _shape(const.value) == _grouped(text.split())


def _shape(expr: s.Expr) -> Any:
    """The tree without positions: a number, or (operator, left, right)."""
    if isinstance(expr, s.Number):
        return expr.value
    assert isinstance(expr, s.Binary)
    return (expr.op, _shape(expr.left), _shape(expr.right))


def _grouped(words: list[str]) -> Any:
    """Precedence climbing over the written tokens, by C's table: an independent
    account of how `a op b op c ...` groups (every binary operator is left-associative)."""
    operands: list[Any] = [int(words[0])]
    pending: list[str] = []

    def combine() -> None:
        right = operands.pop()
        operands.append((pending.pop(), operands.pop(), right))

    for operator, value in zip(words[1::2], words[2::2], strict=True):
        while pending and s.BINARY_PRECEDENCE[pending[-1]] >= s.BINARY_PRECEDENCE[operator]:
            combine()
        pending.append(operator)
        operands.append(int(value))
    while pending:
        combine()
    return operands[0]


_LITERALS = st.one_of(
    st.integers(0, 2**64).map(str),
    st.integers(0, 2**32).map(hex),
    st.integers(0, 2**32).map(lambda n: "0" + oct(n)[2:]),
    st.tuples(st.integers(0, 999), st.sampled_from(["", "u", "U", "l", "L", "ul", "UL"])).map(
        lambda pair: f"{pair[0]}{pair[1]}"
    ),
    st.floats(0, 1e9, allow_nan=False).map(repr),
)


@given(_LITERALS)
def test_memoised_number_literals_mean_what_number_value_says(text: str) -> None:
    first = _known_number(text)
    expected = number_value(text)
    assert (first, type(first)) == (expected, type(expected))
    again = _known_number(text)
    assert (again, type(again)) == (expected, type(expected))


_PIECES = st.sampled_from(
    [
        *PUNCTUATION,
        ".5",
        "1.",
        "1.5e3",
        "0x1F",
        "12UL",
        "a",
        "a.b",
        'L"w"',
        '"s"',
        "'c'",
        "L'c'",
        "3050F1C5-98B5-11CF-BB82-00AA00BDCE0B",
        "#pragma x",
        "/* c */",
        "// c\n",
        "\n",
        " ",
        "@",
    ]
)


@given(st.lists(_PIECES, max_size=12), st.booleans())
def test_punctuation_first_cuts_the_text_as_the_natural_order_does(
    pieces: list[str], winrt: bool
) -> None:
    """The lexer tries punctuation first for speed: every match (kind, text, place)
    must be what the alternatives in their natural order give."""
    text = " ".join(pieces)
    assert _matches(_master(winrt), text) == _matches(_master(winrt, False), text)


# The blanks and comments before a token as first written: greedy, able to backtrack.
_BACKTRACKING_BLANKS = r"(?:\s+|/\*.*?\*/|//[^\n]*)*"
_POSSESSIVE_BLANKS = r"\s*+(?:(?:/\*.*?\*/|//[^\n]*+)\s*+)*+"


@given(
    st.lists(
        st.one_of(_PIECES, st.sampled_from(["/*", "*/", "//", "/", "*", "\t", "/**/"])), max_size=12
    ),
    st.booleans(),
)
def test_possessive_blanks_cut_the_text_as_backtracking_ones_do(
    pieces: list[str], winrt: bool
) -> None:
    """The blanks before a token never give back what they took (a token or BAD or EOF
    always follows), so matching them possessively, for speed, cuts any text alike:
    unterminated comments and lone `/` and `*` included."""
    fast = _master(winrt)
    assert _POSSESSIVE_BLANKS in fast.pattern
    slow = re.compile(fast.pattern.replace(_POSSESSIVE_BLANKS, _BACKTRACKING_BLANKS), fast.flags)
    for text in ("".join(pieces), " ".join(pieces)):
        assert _matches(fast, text) == _matches(slow, text)


def _matches(pattern: re.Pattern[str], text: str) -> list[tuple[str | None, str, int]]:
    found = []
    for match in pattern.finditer(text):
        kind = "OP" if match.lastgroup == "DOT" else match.lastgroup
        found.append((kind, match[0], match.start(match.lastgroup or 0)))
    return found


_HERE = Position("t.idl", 1, 1)
_EXPRESSIONS = st.recursive(
    st.one_of(
        st.sampled_from(
            [0, 7, NARROW_LITERAL_LIMIT, NARROW_LITERAL_LIMIT + 1, 2**40, 1.5e12]
        ).flatmap(lambda v: st.integers(0, 99).map(lambda tag: s.Number(v, f"{v}#{tag}", _HERE))),
        st.just(s.Name("x", _HERE)),
    ),
    lambda inner: st.one_of(
        st.tuples(inner, inner).map(lambda lr: s.Binary("+", lr[0], lr[1], _HERE)),
        inner.map(lambda operand: s.Unary("-", operand, _HERE)),
        inner.map(lambda operand: s.Cast(s.BaseType("long", pos=_HERE), operand, _HERE)),
        st.tuples(inner, inner, inner).map(lambda p: s.Conditional(p[0], p[1], p[2], _HERE)),
    ),
    max_leaves=12,
)


def _literals_in_order(expr: Any) -> list[s.Number]:
    """Every literal of an expression as written, left to right (the general rule)."""
    if isinstance(expr, s.Number):
        return [expr]
    if isinstance(expr, s.Binary):
        return _literals_in_order(expr.left) + _literals_in_order(expr.right)
    if isinstance(expr, s.Unary | s.Cast):
        return _literals_in_order(expr.operand)
    if isinstance(expr, s.Conditional):
        parts = (expr.condition, expr.then, expr.otherwise)
        return [n for part in parts for n in _literals_in_order(part)]
    return []


@given(_EXPRESSIONS)
def test_attribute_check_finds_the_first_literal_too_large_as_written(expr: s.Expr) -> None:
    """The walk for widl's 32-bit literal limit uses a stack, not recursion: it must
    find the first too-large literal in source order, as the recursive rule does."""
    expected = next(
        (
            n
            for n in _literals_in_order(expr)
            if isinstance(n.value, int) and n.value > NARROW_LITERAL_LIMIT
        ),
        None,
    )
    assert _first_large_number(expr) is expected


def test_angle_brackets_are_operators() -> None:
    """The lexer tests for `<`, `>` and `>>` (WinRT's `Type<...>`) only among operators."""
    assert {PUNCTUATION_ROLES[kind] for kind in ("LT", "GT", "SHR")} == {OPERATOR}


def test_methods_said_to_return_their_only_child_do() -> None:
    """The parser calls none of them for a rule keeping one child (RETURNS_ITS_ONLY_CHILD)."""
    builder = _builder()
    child = object()
    for name in sorted(RETURNS_ITS_ONLY_CHILD):
        assert getattr(builder, name)([child]) is child, name


def test_a_rule_keeping_one_child_for_such_a_method_makes_no_callback() -> None:
    kept = {
        origin
        for _, _, _, origin, index in parser._rule_plans()
        if index is not None and origin in RETURNS_ITS_ONLY_CHILD
    }
    assert {"attributes", "decl_name", "array", "import_stmt"} <= kept


def test_placed_positions_are_the_positions_built() -> None:
    """The parser makes a node's Position without calling `__init__` (parser._placer):
    right only while `__init__` sets the three slots and nothing else."""
    assert Position.__slots__ == ("file", "line", "column")
    assert list(Position.__dataclass_fields__) == ["file", "line", "column"]
    assert not hasattr(Position, "__post_init__")
    place = parser._placer([0, 10, 20], lambda line, column: Position("m.idl", line + 100, column))
    for offset in (0, 5, 9, 10, 15, 25, 3, 20, 19):
        line = 1 if offset < 10 else 2 if offset < 20 else 3
        column = offset - (line - 1) * 10 + 1
        placed = place(offset)
        assert type(placed) is Position
        assert placed == Position("m.idl", line + 100, column), offset
        assert repr(placed) == repr(Position("m.idl", line + 100, column))


@pytest.mark.parametrize("text", ["", "a", "\n", "a\nb", "a\n", "\n\n", "ab\ncd\n\nef\n", "x\r\ny"])
def test_line_starts_are_one_past_each_newline(text: str) -> None:
    """The lexer sums line lengths to find where lines start (the parser's positions)."""
    expected = [0, *(at + 1 for at, char in enumerate(text) if char == "\n")]
    assert Lexer(text, set()).line_starts == expected
