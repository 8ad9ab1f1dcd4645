"""The parser's LALR(1) tables: built by Lark from grammars/midl.lark, shipped as JSON.

Lark's analysis of the grammar takes about 0.6 s, and even loading its own cached
tables means importing Lark (~30 ms) and unpickling its objects (~50 ms): too much for
a one-file compile that widl does in 10 ms. So the tables the driver needs (plain
dicts and lists) are written once, at development time, to grammars/midl.tables.json,
stamped with the grammar's SHA-256. A normal start reads that file and never imports
Lark. If the grammar was edited and the file not regenerated, the tables are built from
the grammar as before (correct, only slow) and a test fails until someone runs

    python -m idlgen.frontend.tables

States are numbered in a canonical order (breadth first from the start state, symbols
sorted), so the file does not change with Python's string hashing from run to run.
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from functools import cache
from pathlib import Path
from typing import Any

import idlgen
from idlgen.frontend.reductions import RuleShape
from idlgen.records import record

__all__ = ["Tables", "build_tables", "grammar_path", "load_tables", "tables_path"]

FORMAT = 2

# Nonterminals that are elements of a list: after an error, parsing resumes in a state
# that expects one of these (a "boundary" state), so a bad method does not derail the
# interface around it.
LIST_ELEMENTS = (
    "item",
    "int_item",
    "field",
    "union_case",
    "coclass_member",
    "rc_member",
    "declare_item",
    "disp_prop",
    "disp_method",
)


@record
class Tables:
    """Lark's LALR tables, re-keyed for speed.

    `actions[state][terminal]` is one int, so the driver's hot loop tests a sign
    instead of unpacking a list: the next state (>= 0) for a shift, or `~rule_index`
    (< 0) for a reduction, which pops `sizes[rule_index]` values and goes to
    `gotos[state][origins[rule_index]]` (`rules[rule_index]` says what the reduction
    hands to the transformer). `boundary[state]` says the state expects a list element.
    """

    actions: list[dict[str, int]]
    gotos: list[dict[str, int]]
    boundary: list[bool]
    rules: list[RuleShape]
    sizes: list[int]
    origins: list[str]
    start_state: int
    end_state: int


def grammar_path() -> Path:
    """grammars/midl.lark: inside the package in a wheel, at the top level in a checkout."""
    package = Path(idlgen.__file__).parent
    for candidate in (package / "grammars", package.parent / "grammars"):
        path = candidate / "midl.lark"
        if path.is_file():
            return path
    raise FileNotFoundError("midl.lark not found next to the idlgen package")


def tables_path() -> Path:
    return grammar_path().with_name("midl.tables.json")


@cache
def load_tables() -> Tables:
    """The shipped tables if they belong to the grammar as it is, else fresh ones."""
    digest = hashlib.sha256(grammar_path().read_bytes()).hexdigest()
    try:
        data = json.loads(tables_path().read_bytes())
    except (OSError, ValueError):
        data = None
    if isinstance(data, dict) and data.get("format") == FORMAT and data.get("grammar") == digest:
        return _from_json(data)
    return _from_json(build_tables())


def build_tables() -> dict[str, Any]:
    """Runs Lark's analysis and returns the tables as the JSON document to ship."""
    from lark.parsers.lalr_analysis import Shift

    from idlgen.frontend.reductions import rule_shape

    grammar = grammar_path().read_bytes()
    table = _lark(grammar.decode("utf-8")).parser.parser.parser.parse_table
    start = table.start_states["start"]
    numbers = _canonical_numbers(table.states, start, Shift)
    order = sorted(table.states, key=numbers.__getitem__)
    rules: list[Any] = []
    rule_index: dict[Any, int] = {}
    actions: list[dict[str, int]] = []
    gotos: list[dict[str, int]] = []
    for state in order:
        row_actions: dict[str, int] = {}
        row_gotos: dict[str, int] = {}
        for symbol, (action, arg) in sorted(table.states[state].items()):
            if action is Shift:
                target = numbers[arg]
                if symbol.isupper() or (symbol.startswith(("_", "$")) and symbol != "$root_start"):
                    row_actions[symbol] = target
                if not symbol.isupper():
                    row_gotos[symbol] = target
            else:
                if arg not in rule_index:
                    rule_index[arg] = len(rules)
                    rules.append(arg)
                row_actions[symbol] = ~rule_index[arg]
        actions.append(row_actions)
        gotos.append(row_gotos)
    boundary = [any(name in row for name in LIST_ELEMENTS) for row in gotos]
    shapes = [rule_shape(rule) for rule in rules]
    return {
        "format": FORMAT,
        "grammar": hashlib.sha256(grammar).hexdigest(),
        "start": numbers[start],
        "end": numbers[table.end_states["start"]],
        "actions": actions,
        "gotos": gotos,
        "boundary": boundary,
        "rules": [
            [s.method, [list(i) for i in s.include], s.trailing_nones, s.inline_single, s.identity]
            for s in shapes
        ],
        "sizes": [len(rule.expansion) for rule in rules],
        "origins": [rule.origin.name for rule in rules],
    }


def _canonical_numbers(states: dict[Any, Any], start: Any, shift: Any) -> dict[Any, int]:
    numbers = {start: 0}
    queue = deque([start])
    while queue:
        state = queue.popleft()
        for _symbol, (action, arg) in sorted(states[state].items()):
            if action is shift and arg not in numbers:
                numbers[arg] = len(numbers)
                queue.append(arg)
    if len(numbers) != len(states):
        raise AssertionError("LALR states unreachable from the start state")
    return numbers


def _lark(grammar: str) -> Any:
    from lark import Lark
    from lark.lexer import Lexer as LarkLexer

    class NoLexer(LarkLexer):
        """Lark insists on a lexer; tokens really come from idlgen.frontend.lexer."""

        def __init__(self, lexer_conf: Any) -> None:
            pass

        def lex(self, lexer_state: Any, parser_state: Any) -> Any:
            raise NotImplementedError("tokens come from idlgen.frontend.lexer")

    return Lark(grammar, parser="lalr", lexer=NoLexer, maybe_placeholders=True)


def _from_json(data: dict[str, Any]) -> Tables:
    rules = [
        RuleShape(method, tuple((i, s, n) for i, s, n in include), trailing, inline, identity)
        for method, include, trailing, inline, identity in data["rules"]
    ]
    return Tables(
        data["actions"],
        data["gotos"],
        data["boundary"],
        rules,
        data["sizes"],
        data["origins"],
        data["start"],
        data["end"],
    )


def main() -> None:
    """Regenerates grammars/midl.tables.json from grammars/midl.lark."""
    text = json.dumps(build_tables(), separators=(",", ":"), sort_keys=False)
    tables_path().write_text(text + "\n", encoding="utf-8")
    print(f"wrote {tables_path()}")


if __name__ == "__main__":
    main()
