"""The MIDL parser: preprocessed text in, a `syntax.File` out, errors into the sink.

Lark only builds the LALR(1) tables (from grammars/midl.lark, once per process); this
module drives them itself, token by token, for three reasons:
- the lexer must see type names declared by the rules just reduced (see lexer.py);
- a syntax error must not end the parse: we report it, skip to the next `;` or to the
  `}` closing the current block, pop the parser stack back to a state that expects a
  new list element (top-level item, interface member, struct field...) and go on;
- speed: no parse tree, the transformer runs as rules are reduced.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

from lark import Lark, Token
from lark.exceptions import UnexpectedToken
from lark.lexer import Lexer as LarkLexer
from lark.parsers.lalr_parser_state import ParseConf, ParserState

import idlgen
from idlgen.diagnostics import DiagnosticSink, Position
from idlgen.frontend import syntax
from idlgen.frontend.lexer import Lexer, describe_terminal, describe_token
from idlgen.frontend.transform import OnImport, SyntaxBuilder

__all__ = ["declared_type_names", "grammar_path", "parse"]

# Nonterminals that are elements of a list: after an error, parsing resumes in a state
# that expects one of these (a "boundary" state), so a bad method does not derail the
# interface around it.
_LIST_ELEMENTS = (
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
_MAX_EXPECTED = 5  # list what was expected only when the list is short enough to help
_QUIET_SHIFTS = 3  # errors within this many tokens of the last one are cascades: not reported
_WINRT_PRAGMA = re.compile(r"^[ \t]*#[ \t]*pragma[ \t]+winrt\b", re.MULTILINE)


def grammar_path() -> Path:
    """grammars/midl.lark: inside the package in a wheel, at the top level in a checkout."""
    package = Path(idlgen.__file__).parent
    for candidate in (package / "grammars", package.parent / "grammars"):
        path = candidate / "midl.lark"
        if path.is_file():
            return path
    raise FileNotFoundError("midl.lark not found next to the idlgen package")


class _NoLexer(LarkLexer):
    """Lark insists on a lexer; tokens really come from idlgen.frontend.lexer."""

    def __init__(self, lexer_conf: Any) -> None:
        pass

    def lex(self, lexer_state: Any, parser_state: Any) -> Iterator[Token]:
        raise NotImplementedError("tokens come from idlgen.frontend.lexer")


@cache
def _lark() -> Lark:
    # cache=True stores the analysed tables in the temp directory, keyed by the grammar's
    # hash: building them takes ~0.6 s, loading them ~0.1 s.
    return Lark(
        grammar_path().read_text(encoding="utf-8"),
        parser="lalr",
        lexer=_NoLexer,
        maybe_placeholders=True,
        cache=True,
    )


def parse(
    text: str,
    filename: str,
    *,
    sink: DiagnosticSink,
    position: Callable[[int, int], Position] | None = None,
    on_import: OnImport | None = None,
    known_types: Iterable[str] = (),
    winrt: bool = False,
) -> syntax.File:
    """Parses one preprocessed file. Never raises for bad input: problems go to `sink`.

    `position` maps (line, column) in `text` to the real place (the preprocessor's
    line map); `on_import(path, pos)` is called at each `import "path";` and returns
    the type names that file declares, transitively. A `#pragma winrt` line left in
    the text switches WinRT mode on, as in widl.
    """
    if not winrt and _WINRT_PRAGMA.search(text):
        winrt = True
    where = position or (lambda line, column: Position(filename, line, column))
    type_names = set(known_types)
    lexer = Lexer(text, type_names, winrt, lambda msg, ln, col: sink.error(msg, where(ln, col)))
    builder = SyntaxBuilder(type_names=type_names, position=where, sink=sink, on_import=on_import)
    items = _Driver(lexer, builder, sink, where).run()
    pragmas = tuple(syntax.MidlPragma(t, where(ln, col)) for t, ln, col in lexer.pragmas)
    return syntax.File(filename, items, winrt, pragmas)


def declared_type_names(file: syntax.File) -> set[str]:
    """Names `file` makes type names for the files that import it (widl's rules)."""
    names: set[str] = set()
    _collect_names(file.items, names)
    return names


_NAMED_TYPES = (
    syntax.Interface,
    syntax.Coclass,
    syntax.RuntimeClass,
    syntax.ApiContract,
    syntax.Delegate,
    syntax.Typedef,
)


def _collect_names(items: Iterable[Any], names: set[str]) -> None:
    for item in items:
        if isinstance(item, _NAMED_TYPES):
            names.add(item.name)
            if isinstance(item, syntax.Interface):
                _collect_names(item.members, names)
        elif isinstance(item, syntax.Library | syntax.ModuleDecl | syntax.Namespace):
            _collect_names(item.items, names)


class _Driver:
    """Feeds tokens to Lark's LALR state machine and recovers from syntax errors."""

    def __init__(
        self,
        lexer: Lexer,
        builder: SyntaxBuilder,
        sink: DiagnosticSink,
        where: Callable[[int, int], Position],
    ) -> None:
        lark = _lark()
        frontend: Any = lark.parser
        table = frontend.parser.parser.parse_table
        callbacks = lark._parse_tree_builder.create_callback(builder)
        self.conf = ParseConf(table, callbacks, "start")
        self.states = table.states
        self.lexer = lexer
        self.tokens = lexer.tokens()
        self.pushed_back: list[Token] = []
        self.sink = sink
        self.where = where
        self.shifted_since_error = _QUIET_SHIFTS
        self.last_error_token: Token | None = None

    def run(self) -> tuple[syntax.Item, ...]:
        state = ParserState(self.conf, None)  # type: ignore[arg-type]
        while (token := self._next()) is not None:
            try:
                state.feed_token(token)
                self.shifted_since_error += 1
            except UnexpectedToken as error:
                self._recover(state, token, error)
        return self._finish(state)

    def _finish(self, state: ParserState[Any]) -> tuple[syntax.Item, ...]:
        for _ in range(3):
            end = self._end_token()
            try:
                return tuple(state.feed_token(end, True))
            except UnexpectedToken as error:
                self._report(end, error)
                if not self._pop_to_boundary(state, end):
                    break
        return ()

    def _next(self) -> Token | None:
        if self.pushed_back:
            return self.pushed_back.pop()
        return next(self.tokens, None)

    def _end_token(self) -> Token:
        line, column = self.lexer.end_position()
        return Token("$END", "", len(self.lexer.text), line, column)

    def _report(self, token: Token, error: UnexpectedToken) -> None:
        if self.shifted_since_error < _QUIET_SHIFTS:
            return
        message = f"syntax error, unexpected {describe_token(token)}"
        expected = sorted({describe_terminal(name) for name in error.expected})
        if 0 < len(expected) <= _MAX_EXPECTED:
            message += ", expecting " + " or ".join(expected)
        self.sink.error(message, self.where(token.line, token.column))  # type: ignore[arg-type]

    def _recover(self, state: ParserState[Any], token: Token, error: UnexpectedToken) -> None:
        self._report(token, error)
        repeated = token is self.last_error_token
        self.last_error_token = token
        self.shifted_since_error = 0
        self._skip_to_sync_point(token, keep_closing_brace=not repeated)
        while True:
            following = self._next() or self._end_token()
            if self._pop_to_boundary(state, following):
                if following.type != "$END":
                    self.pushed_back.append(following)
                return
            if following.type == "$END":
                return
            # nothing on the stack can continue with this token: drop it too

    def _skip_to_sync_point(self, token: Token | None, keep_closing_brace: bool) -> None:
        """Skips the rest of the broken construct: through the next `;` at this nesting
        level, or a balanced `{...}` block (and a `;` right after it), or up to (not
        through) a `}` closing the block the error is in."""
        depth = 0
        while token is not None:
            if token.type == "_LBRACE":
                depth += 1
            elif token.type == "_RBRACE":
                if depth == 0:
                    if keep_closing_brace:
                        self.pushed_back.append(token)
                    return
                depth -= 1
                if depth == 0:
                    self._skip_optional_semicolon()
                    return
            elif token.type == "_SEMI" and depth == 0:
                return
            token = self._next()

    def _skip_optional_semicolon(self) -> None:
        following = self._next()
        if following is not None and following.type != "_SEMI":
            self.pushed_back.append(following)

    def _pop_to_boundary(self, state: ParserState[Any], token: Token) -> bool:
        """Pops the stack down to the nearest state that expects a list element and
        accepts `token`; leaves the stack alone (and says False) if there is none."""
        states = self.states
        stack = state.state_stack
        for depth in range(len(stack) - 1, -1, -1):
            row = states[stack[depth]]
            if token.type in row and any(name in row for name in _LIST_ELEMENTS):
                del stack[depth + 1 :]
                del state.value_stack[depth:]
                return True
        return False
