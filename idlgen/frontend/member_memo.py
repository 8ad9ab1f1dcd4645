"""Members parsed once per text: a dispinterface member seen again is rebuilt, not parsed.

Wine's mshtml.idl expands three macros of about 45,000 tokens each (a dispinterface's
whole method list) into some thirty dispinterfaces: more than half of the file's tokens
are members the parser has already read, token for token. Parsing them costs the
LALR loop and the transformer per token; rebuilding the node the first parse made,
with its positions moved, costs a walk over the node.

A member is remembered when its parse was plain: it lay on one line of the
preprocessed text (all of a macro's expansion does), reported nothing, declared no
type name, and its rule ended on its own `;`. It is reused only where the same text
starts in the same LALR state, its tokens were cut and classified alike (type names
only grow, so an identifier may have become a type name since), and the token after
it makes the parser reduce the member exactly as the first parse did. Anything else
parses as before. The parse of such a member is a function of those inputs alone: the
transformer's only state is the type-name set and the sink, and the position of every
node it builds comes from a token of the member, so moving the positions to the new
place gives the tree a parse would give.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from operator import attrgetter
from typing import Any, NamedTuple

from idlgen.diagnostics import Position
from idlgen.frontend.lexer import (
    CLOSES,
    ENDS_CHAIN,
    OPENS,
    OPERATOR,
    PUNCTUATION_ROLES,
    Lexer,
    Token,
)

# Nonterminals whose members are remembered (see parser.py: their rules end on `;`).
MEMBERS = ("disp_method", "disp_prop")
PREFIX = 16  # shorter members cost little to parse: not remembered


class Member:
    """One remembered member: where it parsed, what it built, and, from its first
    candidate reuse on, what it read (`tokens`, `types`, `effects`; see `ready`)."""

    __slots__ = (
        "action",
        "column",
        "effects",
        "file",
        "first_type",
        "line",
        "node",
        "origin",
        "others",
        "rebuild",
        "text",
        "tokens",
        "type_names",
        "types",
        "usable",
    )

    def __init__(
        self,
        text: str,
        names: Names,
        first_type: str,
        node: Any,
        position: Position,
        origin: str,
        action: tuple[int, int],
    ) -> None:
        self.text = text
        # The names in the text that were type names when it parsed, and the others
        # (identifiers, calling conventions...): the same text cuts to the same
        # terminals while these are still type names and those still are not.
        self.type_names, self.others = names
        self.first_type = first_type  # the terminal the parser saw the member begin with
        self.node = node
        self.file, self.line, self.column = position.file, position.line, position.column
        self.origin = origin  # the nonterminal the member reduced to
        self.action = action  # (state after its `;`, the reduction it made there)
        self.rebuild: _Plan | None = None  # made at the first reuse (see `moved`)
        # Read at the first candidate reuse (most members are never met again): None
        # until then, then whether the text cut on its own is usable.
        self.usable: bool | None = None
        self.tokens: list[tuple[str, str, int]] = []  # (terminal, text, offset in `text`)
        self.types: list[str] = []
        self.effects: Effects | None = None

    def ready(self, type_names: set[str], winrt: bool) -> bool:
        """Reads the text on its own, once: `type_names` classify every name in it as
        they did when it parsed (the caller checked), so it cuts as it would have then."""
        if self.usable is None:
            tokens = read(self.text, type_names, winrt)
            self.usable = tokens is not None and tokens.tokens[0][0] == self.first_type
            if tokens is not None and self.usable:
                self.tokens = tokens.tokens
                self.types = [token[0] for token in tokens.tokens]
                self.effects = tokens.effects
        return self.usable


Key = tuple[int, str]  # (LALR state the member began in, its text up to the first `;`)


class MemberMemo:
    """The members of one parse, by the state they began in and their text."""

    def __init__(self) -> None:
        self.members: dict[Key, list[Member]] = {}

    def find(
        self, state: int, text: str, offset: int, type_names: set[str], winrt: bool
    ) -> Member | None:
        head = text.find(";", offset)
        if head < 0:
            return None
        candidates = self.members.get((state, text[offset : head + 1]))
        if candidates is not None:
            for member in candidates:
                if (
                    text.startswith(member.text, offset)
                    and type_names.isdisjoint(member.others)
                    and type_names.issuperset(member.type_names)
                    and member.ready(type_names, winrt)
                ):
                    return member
        return None

    def remember(self, state: int, member: Member) -> None:
        key = (state, member.text[: member.text.index(";") + 1])
        self.members.setdefault(key, []).append(member)


_new_object = object.__new__

# A member's plan (see `_plan`): the columns of its moved positions, the records and
# tuples to make in order (each: its class, its items, and which items to replace by
# what was made before: the positions first, then the earlier steps), what to return.
_Step = tuple[type, list[Any], tuple[tuple[int, int], ...]]
_Plan = tuple[list[int], list[_Step], int]


def moved(member: Member, position: Position) -> Any:
    """The member's node with its positions moved from where it first parsed to the
    line and column of `position` (where the same text begins now): the positions
    first, one per column, then each record and tuple that holds one, in one loop
    (no call per record but its class's own, none per position)."""
    plan = member.rebuild
    if plan is None:
        plan = member.rebuild = _plan(member.node, member.file, member.line)
    if plan is _SHARED:
        return member.node
    columns, steps, result = plan
    file, line, shift = position.file, position.line, position.column - member.column
    made: list[Any] = []
    append = made.append
    for column in columns:
        # `Position(file, line, column + shift)` without its Python `__init__`, as
        # the parser places nodes (parser._placer; tests check the slots).
        built: Any = _new_object(Position)
        built.file = file
        built.line = line
        built.column = column + shift
        append(built)
    for cls, items, fills in steps:
        parts = items.copy()
        for k, source in fills:
            parts[k] = made[source]
        append(tuple(parts) if cls is tuple else cls(*parts))
    return made[result]


_SHARED: _Plan = ([], [], -1)  # the node holds no position to move: shared


def _plan(node: Any, file: str, line: int) -> _Plan:
    """What `moved` makes of `node` at each reuse, worked out at its first: every
    record and tuple holding a position on `line` of `file` is made anew (each time
    it occurs, as a parse would), everything else is shared as it is."""
    columns: dict[int, int] = {}  # column -> its position's index among the columns
    steps: list[tuple[type, list[Any], list[tuple[int, int]]]] = []

    def visit(value: Any) -> int | None:
        """Where `value` made anew will be: >= 0 a column's position, < 0 ~step."""
        cls = value.__class__
        if cls is Position:
            if value.line != line or value.file != file:
                return None  # NOWHERE and the like: not from a token of the member
            return columns.setdefault(value.column, len(columns))
        if cls is tuple:
            items = list(value)
        else:
            try:
                fields = _FIELDS[cls]
            except KeyError:
                fields = _fields(cls)
            if fields is None:
                return None
            items = list(fields(value))
        fills: list[tuple[int, int]] = []
        for k, item in enumerate(items):
            if item.__class__ is Position:  # most records hold one: no call for it
                if item.line == line and item.file == file:
                    fills.append((k, columns.setdefault(item.column, len(columns))))
            elif item is not None and (at := visit(item)) is not None:
                fills.append((k, at))
        if not fills:
            return None
        steps.append((cls, items, fills))
        return ~(len(steps) - 1)

    root = visit(node)
    if root is None:
        return _SHARED
    count = len(columns)
    final = [
        (cls, items, tuple((k, at if at >= 0 else count + ~at) for k, at in fills))
        for cls, items, fills in steps
    ]
    return list(columns), final, root if root >= 0 else count + ~root


_FIELDS: dict[type, Callable[[Any], tuple[Any, ...]] | None] = {}


def _fields(cls: type) -> Callable[[Any], tuple[Any, ...]] | None:
    """The values of a record's fields in `__init__` order; None for leaf values
    (strings, numbers, enums, None)."""
    declared = getattr(cls, "__dataclass_fields__", None)
    getter: Callable[[Any], tuple[Any, ...]] | None = None
    if declared:
        names = list(declared)
        if not all(field.init for field in declared.values()):
            raise TypeError(f"{cls.__name__}: a field outside __init__ cannot be moved")
        if len(names) > 1:
            getter = attrgetter(*names)
        else:
            name = names[0]
            getter = lambda record: (getattr(record, name),)  # noqa: E731
    _FIELDS[cls] = getter
    return getter


class Read(NamedTuple):
    """A member's text cut on its own (see `read`)."""

    tokens: list[tuple[str, str, int]]
    type_names: frozenset[str]
    others: frozenset[str]
    effects: Effects | None


# What reading a member's tokens after its first does to the lexer's counts (the
# fields of lexer.Skip after `end`); None where the lexer must read them.
Effects = tuple[int, int, int, int, int, str]
_RELATIVE = frozenset("<>.#")  # what makes the lexer's cut depend on what came before


def read(text: str, type_names: set[str], winrt: bool) -> Read | None:
    """The tokens of `text` cut on its own; None if the lexer found a problem."""
    problems: list[str] = []
    lexer = Lexer(text, type_names, winrt, lambda message, offset: problems.append(message))
    tokens = [(token.type, token.value, token.offset) for token in lexer.tokens()]
    if problems or lexer.stopped or not tokens:
        return None
    names = {value: kind for kind, value, _ in tokens if kind in _NAME_KINDS}
    return Read(
        tokens,
        frozenset(value for value, kind in names.items() if kind == "TYPENAME"),
        frozenset(value for value, kind in names.items() if kind != "TYPENAME"),
        None if _RELATIVE.intersection(text) else _effects([kind for kind, _, _ in tokens[1:]]),
    )


_NAME_KINDS = frozenset({"TYPENAME", "IDENT", "CALLCONV"})

Names = tuple[frozenset[str], frozenset[str]]  # (type names, other names)
_WORD = re.compile(r"[A-Za-z_]\w*")
# Where the lexer may start a name inside a run of word characters (`0x1Fg`, `1.5e3x`,
# `1.e5x`: a number, then a name), which the words found by `_WORD` would miss: a run
# that begins with a digit and is not one whole integer (`0x80010000`, `10L`, as in
# mshtml.idl's ids), or a letter right after a number's dot.
_NAME_INSIDE_A_WORD = re.compile(
    r"(?<!\w)(?!0[xX][0-9A-Fa-f]+[uUlL]*(?!\w)|\d+[uUlL]*(?!\w))\d\w*[A-Za-z_]|\d\.[A-Za-z_]"
)


def names(text: str, type_names: set[str], winrt: bool) -> Names | None:
    """Every name the text's tokens hold, split by whether it is a type name now: its
    words, which are a superset of them (words in strings and comments, keywords, the
    `L` of `L"..."` come along, which only makes a reuse rarer). When a name may start
    inside a word, the tokens themselves are read (None: the lexer found a problem)."""
    if _NAME_INSIDE_A_WORD.search(text) is None:
        words = frozenset(_WORD.findall(text))
        kinds = words.intersection(type_names)
        return kinds, words.difference(kinds)
    tokens = read(text, type_names, winrt)
    if tokens is None:
        return None
    return tokens.type_names, tokens.others


def _effects(kinds: list[str]) -> Effects | None:
    """The lexer's counts over `kinds` (see lexer.Skip)."""
    depth = deepest = lowest = operators = most = 0
    head: int | None = None
    for kind in kinds:
        role = PUNCTUATION_ROLES.get(kind, 0)
        if role == OPERATOR:
            operators += 1
        elif role:
            if role & ENDS_CHAIN:
                if head is None:
                    head = operators
                else:
                    most = max(most, operators)
                operators = 0
            if role & OPENS:
                depth += 1
                deepest = max(deepest, depth)
            elif role & CLOSES:
                depth -= 1
                lowest = min(lowest, depth)
    if head is None or operators or not kinds:
        return None  # a member ends on `;`, which ends a run
    return deepest, lowest, head, most, depth, kinds[-1]


def same_types(tokens: list[Token], types: list[str]) -> bool:
    return [token.type for token in tokens] == types
