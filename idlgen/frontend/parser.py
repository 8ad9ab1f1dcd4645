"""The MIDL parser: preprocessed text in, a `syntax.File` out, errors into the sink.

Lark only builds the LALR(1) tables (from grammars/midl.lark, at development time); this
module drives them itself, token by token, for three reasons:
- the lexer must see type names declared by the rules just reduced (see lexer.py);
- a syntax error must not end the parse: we report it, skip to the next `;` or to the
  `}` closing the current block, pop the parser stack back to a state that expects a
  new list element (top-level item, interface member, struct field...) and go on;
- speed: no parse tree, the transformer runs as rules are reduced, and the tables are
  re-keyed (tables.py) so the inner loop does plain dict and list look-ups; they are
  shipped ready-made, so a normal start neither imports Lark nor analyses the grammar.
"""

from __future__ import annotations

import gc
import itertools
import re
import sys
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator
from functools import cache
from typing import Any

from idlgen.diagnostics import DiagnosticSink, Position
from idlgen.frontend import syntax
from idlgen.frontend.lexer import Lexer, Token, describe_terminal, describe_token
from idlgen.frontend.member_memo import MEMBERS, PREFIX, Member, MemberMemo, moved, names
from idlgen.frontend.reductions import (
    Callback,
    Plan,
    RuleShape,
    make_callback,
    passthrough_index,
    plan,
)
from idlgen.frontend.tables import grammar_path, load_tables
from idlgen.frontend.transform import RETURNS_ITS_ONLY_CHILD, OnImport, SyntaxBuilder
from idlgen.limits import DEFAULT_LIMITS, Limits

__all__ = ["declared_type_names", "grammar_path", "parse"]

_MAX_EXPECTED = 5  # list what was expected only when the list is short enough to help
_QUIET_SHIFTS = 1  # an error on the very token recovery resumed at is a cascade: not reported
_WINRT_PRAGMA = re.compile(r"^[ \t]*#[ \t]*pragma[ \t]+winrt\b", re.MULTILINE)


def parse(
    text: str,
    filename: str,
    *,
    sink: DiagnosticSink,
    position: Callable[[int, int], Position] | None = None,
    on_import: OnImport | None = None,
    known_types: Iterable[str] = (),
    winrt: bool = False,
    explain_unknown_type: Callable[[str], str] | None = None,
    limits: Limits = DEFAULT_LIMITS,
    copies: dict[int, object] | None = None,
) -> syntax.File:
    """Parses one preprocessed file. Never raises for bad input: problems go to `sink`.

    `position` maps (line, column) in `text` to the real place (the preprocessor's
    line map: it maps lines and keeps the column); `on_import(path, pos)` is called
    at each `import "path";` and returns the type names that file declares,
    transitively (it must report its own problems to the sink, not raise). A `#pragma
    winrt` line left in the text switches WinRT mode on, as in widl.
    `explain_unknown_type(name)` makes the note that follows an unknown type name's
    error (which file declares it). `copies`, if given, receives for each member
    rebuilt rather than parsed (member_memo.py) `id(copy)` -> the member it copies.
    """
    # The substring test first: the pattern alone tries every line start of the
    # text (20 ms for mshtml.idl), and nearly no file names winrt at all.
    if not winrt and "winrt" in text and _WINRT_PRAGMA.search(text):
        winrt = True
    where = position or (lambda line, column: Position(filename, line, column))
    # A set passed in is used (and grown) in place, so an `on_import` callback can see
    # every type name declared so far, as widl's global scope does.
    type_names = known_types if isinstance(known_types, set) else set(known_types)
    lexer = Lexer(text, type_names, winrt)
    lexer.max_nesting, lexer.max_operators = limits.brace_nesting, limits.operator_chain

    place = _placer(lexer.line_starts, where)

    lexer.report = lambda message, offset: sink.error(message, place(offset))
    try:  # one step: another thread may take the last kit between a look and a take
        kit = _KITS.pop()
    except IndexError:
        kit = _Kit()
    kit.builder.start_parse(type_names, place, on_import, sink.error)
    # The parse allocates millions of small objects and frees none of them: the cyclic
    # GC would rescan them over and over (measured: half the run time), for nothing.
    collecting = gc.isenabled()
    gc.disable()
    try:
        driver = _Driver(lexer, kit, sink, place)
        driver.explain_unknown_type = explain_unknown_type
        driver.copies = copies
        items = driver.run()
    except Exception as error:  # a bug of ours, not bad input: report it, no traceback
        sink.error(f"internal error in the IDL parser ({type(error).__name__}: {error})")
        items = ()
    finally:
        kit.release()
        _KITS.append(kit)
        if collecting:
            gc.enable()
    pragmas = tuple(syntax.MidlPragma(text, place(offset)) for text, offset in lexer.pragmas)
    return syntax.File(filename, items, winrt, pragmas)


def _placer(
    line_starts: list[int], where: Callable[[int, int], Position]
) -> Callable[[int], Position]:
    """Offset to position, for every node: the line map is asked once per line (the
    column passes through it unchanged), as most lines hold several nodes; and two
    nodes in three lie on the line of the node placed before them, found with no search."""
    lines: dict[int, Position] = {}
    start = end = -1  # the offsets the line last placed spans (none yet)
    file, line = "", 0  # where that line really is

    def place(offset: int) -> Position:
        nonlocal start, end, file, line
        if not start <= offset < end:
            number = bisect_right(line_starts, offset)
            first = lines.get(number)
            if first is None:
                first = lines[number] = where(number, 1)
            start = line_starts[number - 1]
            end = line_starts[number] if number < len(line_starts) else sys.maxsize
            file, line = first.file, first.line
        # What `Position(file, line, column)` makes, without the call of its Python
        # `__init__` (a third of the cost, for every node); tests check it sets no more.
        made: Any = _new_object(Position)
        made.file = file
        made.line = line
        made.column = offset - start + 1
        return made  # type: ignore[no-any-return]

    return place


_new_object = object.__new__


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


@cache
def _rule_plans() -> list[tuple[RuleShape, Plan, int, str, int | None]]:
    """Per rule: its shape and callback plan, values popped, nonterminal, and the
    child a `?rule` hands over untouched (None: it needs a callback). The same for
    every parse."""
    tables = load_tables()
    rules = zip(tables.rules, tables.sizes, tables.origins, strict=True)
    return [
        (shape, plan(shape), size, origin, passthrough_index(shape, RETURNS_ITS_ONLY_CHILD))
        for shape, size, origin in rules
    ]


@cache
def _gotos_by_origin() -> dict[str, dict[int, int]]:
    """Per nonterminal: state -> the state after reducing to it there. A reduction
    then finds its next state with one look-up (`gotos[state][origin]` takes two)."""
    by_origin: dict[str, dict[int, int]] = {}
    for state, row in enumerate(load_tables().gotos):
        for origin, target in row.items():
            by_origin.setdefault(origin, {})[state] = target
    return by_origin


@cache
def _member_starts() -> list[bool]:
    """Per state: a remembered member may begin here (see member_memo.py)."""
    return [any(name in row for name in MEMBERS) for row in load_tables().gotos]


def _marked_actions(starts: list[bool]) -> list[dict[str, int]]:
    """The actions, with each shift in a state where a member may begin (`starts`)
    written as a reduction by a pseudo-rule past the grammar's (see `_Kit`): the hot
    loop then finds those few shifts without a test on every other shift."""
    cached = _MARKED[0]
    if cached is not None and cached[0] is starts:
        return cached[1]
    tables = load_tables()
    base = len(tables.rules)
    marked = [
        {kind: ~(base + action) if action >= 0 else action for kind, action in row.items()}
        if start
        else row
        for row, start in zip(tables.actions, starts, strict=True)
    ]
    _MARKED[0] = (starts, marked)
    return marked


# The starts `_marked_actions` last marked, and the actions it made of them.
_MARKED: list[tuple[list[bool], list[dict[str, int]]] | None] = [None]


# (state the member began in, stack height then, its offset, its first terminal, marks)
_Recording = tuple[int, int, int, str, tuple[int, ...]]
# Per rule: (values popped, the nonterminal's gotos (state -> state), callback or None,
# child kept): with no callback the reduction keeps one child as the rule's value.
_Reduction = tuple[int, dict[int, int], Callback | None, int]


class _Kit:
    """A syntax builder and the rule callbacks bound to it, made once and then lent to
    parse after parse: making the 477 callbacks cost about 0.7 ms a parse (0.17 s a
    corpus run). A parse borrows a kit of its own, since an import's parse runs inside
    its importer's (`on_import` is called from a reduction); the per-parse state (the
    builder's inputs, the driver that remembers members) is set when it is lent."""

    def __init__(self) -> None:
        self.builder = SyntaxBuilder(type_names=set(), position=_unplaced, on_import=None)
        self.driver: _Driver | None = None
        self.reductions: list[_Reduction] = []
        gotos = _gotos_by_origin()
        for rule, (shape, planned, size, origin, kept) in enumerate(_rule_plans()):
            goto = gotos.get(origin, {})  # none for the start rule: accepted, never shifted
            if kept is None:
                callback = make_callback(shape, self.builder, planned)
                if origin in MEMBERS:
                    callback = self._remembering(callback, size, origin, rule)
                self.reductions.append((size, goto, callback, 0))
            else:
                self.reductions.append((size, goto, None, kept - size))
        # Past the rules: a shift to each state, where a member may begin (`_marked_actions`).
        never: dict[int, int] = {}
        for state in range(len(load_tables().actions)):
            self.reductions.append((-1, never, _member_start, state))

    def release(self) -> None:
        """Drops what the last parse lent, so a kit waiting in the pool keeps no text."""
        self.builder.start_parse(set(), _unplaced, None, None)
        self.driver = None

    def _remembering(self, callback: Callback, size: int, origin: str, rule: int) -> Callback:
        """`callback`, for a member's rule, also remembering the member it completes."""

        def remember(children: list[Any]) -> Any:
            node = callback(children)
            driver = self.driver
            if driver is not None and driver.recording is not None:
                recording = driver.recording
                driver.recording = None
                driver.remember(recording, children, node, size, origin, rule)
            return node

        return remember


def _member_start(children: list[Any]) -> Any:
    raise AssertionError("a member start is a shift: the driver never calls it")


def _unplaced(offset: int) -> Position:
    raise LookupError("a syntax builder used outside a parse")


# Kits no parse is using (see `_Kit`); `pop` and `append` keep it safe across threads.
_KITS: list[_Kit] = []


class _SyntaxError(Exception):
    def __init__(self, token: Token, expected: Iterable[str]) -> None:
        super().__init__(token.type)
        self.token = token
        self.expected = expected


class _Driver:
    """Runs the LALR state machine over the lexer's tokens and recovers from errors."""

    def __init__(
        self,
        lexer: Lexer,
        kit: _Kit,
        sink: DiagnosticSink,
        place: Callable[[int], Position],
    ) -> None:
        self.tables = load_tables()
        self.reductions = kit.reductions
        self.memo = MemberMemo()
        self.recording: _Recording | None = None
        self.seekable = False
        self.copies: dict[int, object] | None = None
        kit.driver = self
        self.lexer = lexer
        self.tokens = lexer.tokens()
        self.pushed_back: list[Token] = []
        self.sink = sink
        self.place = place
        self.state_stack = [self.tables.start_state]
        self.value_stack: list[Any] = []
        self.shifted_since_error = _QUIET_SHIFTS
        self.last_error_token: Token | None = None
        self.explain_unknown_type: Callable[[str], str] | None = None

    def run(self) -> tuple[syntax.Item, ...]:
        while True:
            try:
                self._feed_all()
                break
            except _SyntaxError as error:
                self._recover(error)
        if self.lexer.stopped:  # a limit cut the input short; it said so
            return ()
        return self._finish()

    def _feed_all(self, pulled: Iterator[Token] | None = None) -> None:
        """The hot loop: shifts and reductions for every token until the input ends.

        `pulled`: tokens a member's reuse read but could not use (see `_reuse`),
        fed here with no reuse before the loop goes on with the lexer."""
        reductions = self.reductions
        state_stack = self.state_stack
        value_stack = self.value_stack
        if pulled is None:
            actions = _marked_actions(_member_starts())
            source: Iterator[Token] = self.tokens  # no chain to pass through per token
            if self.pushed_back:
                source = itertools.chain(reversed(self.pushed_back), self.tokens)
            # Every token comes from the lexer itself, so it can be asked to skip.
            self.seekable = not self.pushed_back
            self.pushed_back = []
        else:
            actions = self.tables.actions  # no member begins among these
            source = pulled
        memo = self.memo
        lexer = self.lexer
        text = lexer.text
        shifted = self.shifted_since_error  # this loop restarts after each recovery
        state = state_stack[-1]
        for token in source:
            kind = token.type
            while True:
                try:  # a subscript, not `.get`: no method call per action
                    action = actions[state][kind]
                except KeyError:
                    self.shifted_since_error = shifted
                    raise _SyntaxError(token, actions[state]) from None
                if action >= 0:
                    state = action
                    state_stack.append(state)
                    value_stack.append(token)
                    shifted += 1
                    break
                size, goto, callback, kept = reductions[~action]
                if size == 1:  # a third of all reductions: both stacks keep their height
                    if callback is not None:  # else the kept child is already on top
                        value_stack[-1] = callback(value_stack[-1:])
                    state = goto[state_stack[-2]]
                    state_stack[-1] = state
                    continue
                if callback is None:
                    value = value_stack[kept]
                    del value_stack[-size:]
                    value_stack.append(value)
                    del state_stack[-size:]
                elif size > 0:  # the state stack still holds the rule's states in the callback
                    children = value_stack[-size:]
                    del value_stack[-size:]
                    value_stack.append(callback(children))
                    del state_stack[-size:]
                elif not size:
                    value_stack.append(callback([]))
                else:  # a shift (to `kept`) where a dispinterface member may begin
                    member = memo.find(state, text, token.offset, lexer.type_names, lexer.winrt)
                    if member is None:
                        marks = self._marks()
                        self.recording = (state, len(state_stack), token.offset, kind, marks)
                    else:
                        self.shifted_since_error = shifted
                        following = self._reuse(member, token, state, source)
                        state = state_stack[-1]
                        shifted = self.shifted_since_error
                        if following is None:  # fed as usual instead
                            break
                        token, kind = following, following.type
                        continue
                    state = kept
                    state_stack.append(state)
                    value_stack.append(token)
                    shifted += 1
                    break
                state = goto[state_stack[-1]]
                state_stack.append(state)
        self.shifted_since_error = shifted

    def _reduce(self, action: int) -> None:
        """One reduction outside the hot loop (at the end of the input)."""
        size, goto, callback, kept = self.reductions[~action]
        state_stack = self.state_stack
        value_stack = self.value_stack
        children = value_stack[-size:] if size else []
        if size:
            del value_stack[-size:]
        value_stack.append(children[kept] if callback is None else callback(children))
        if size:
            del state_stack[-size:]
        state_stack.append(goto[state_stack[-1]])

    def _feed_end(self, token: Token) -> Any:
        actions = self.tables.actions
        state_stack = self.state_stack
        while True:
            action = actions[state_stack[-1]].get("$END")
            if action is None or action >= 0:
                raise _SyntaxError(token, actions[state_stack[-1]])
            self._reduce(action)
            if state_stack[-1] == self.tables.end_state:
                return self.value_stack[-1]

    def _finish(self) -> tuple[syntax.Item, ...]:
        end = self._end_token()
        for _ in range(3):
            try:
                return tuple(self._feed_end(end))
            except _SyntaxError as error:
                self._report(error)
                if not self._pop_to_boundary(end):
                    break
        return ()

    # ----- remembered members (member_memo.py)

    def _marks(self) -> tuple[int, ...]:
        """What a member's parse must leave as it was to be remembered: no message,
        no new type name."""
        sink = self.sink
        return (
            len(sink.diagnostics),
            len(sink.raw_warnings),
            sink.dropped_errors,
            len(self.lexer.type_names),
        )

    def remember(
        self,
        recording: _Recording,
        children: list[Any],
        node: Any,
        size: int,
        origin: str,
        rule: int,
    ) -> None:
        state, height, offset, first_type, marks = recording
        stack = self.state_stack  # the rule's states are still on it
        last = children[-1] if children else None
        if len(stack) != height + size or stack[height - 1] != state:
            return  # the recording was of something else (a `}`, a broken member)
        if not isinstance(last, Token) or last.type != "_SEMI" or marks != self._marks():
            return
        text = self.lexer.text[offset : last.offset + 1]
        # One line, so a move keeps every position on the line; no `>>`, which the
        # lexer cuts by what came before the member.
        if len(text) < PREFIX or "\n" in text or ">>" in text:
            return
        # Read at its first candidate reuse (`Member.ready`), most members never
        # having one; for now only its names, as the type names classify them now.
        found = names(text, self.lexer.type_names, self.lexer.winrt)
        if found is None:
            return
        position = self.place(offset)
        member = Member(text, found, first_type, node, position, origin, (stack[-1], ~rule))
        self.memo.remember(state, member)

    def _reuse(
        self, member: Member, first: Token, state: int, source: Iterator[Token]
    ) -> Token | None:
        """At `first`, in `state`, the text of a remembered member begins: read its
        tokens and, if they and the token after them are what the member was parsed
        with, push its node moved here and return that next token, to be fed as usual.
        Otherwise feed what was read as usual and return None."""
        count = len(member.types)
        end = first.offset + len(member.text)
        pulled = [first]
        following: Token | None = None
        skipped = False
        if member.effects is not None and self.seekable:
            lexer = self.lexer
            lexer.skipped = False
            try:
                following = self.tokens.send((end, *member.effects))
            except StopIteration:
                following = None
            skipped = lexer.skipped
            if not skipped and following is not None:
                pulled.append(following)
        if not skipped:
            pulled.extend(itertools.islice(source, count - len(pulled)))
            following = next(source, None) if len(pulled) == count else None
        reducing, reduction = member.action
        if (
            following is not None
            and (skipped or (pulled[-1].offset == end - 1 and self._same_types(pulled, member)))
            and self.tables.actions[reducing].get(following.type) == reduction
        ):
            self.state_stack.append(self.tables.gotos[state][member.origin])
            node = moved(member, self.place(first.offset))
            self.value_stack.append(node)
            if self.copies is not None:
                self.copies[id(node)] = member.node
            self.shifted_since_error += count
            return following
        if skipped:  # the tokens the lexer did not cut are the member's, as the text is
            offset = first.offset
            pulled.extend(
                Token.of(kind, value, offset + at) for kind, value, at in member.tokens[1:]
            )
        if following is not None:
            pulled.append(following)
        rest = iter(pulled)
        try:
            self._feed_all(rest)
        except _SyntaxError:
            self.pushed_back.extend(reversed(list(rest)))
            raise
        return None

    @staticmethod
    def _same_types(tokens: list[Token], member: Member) -> bool:
        return [token.type for token in tokens] == member.types

    def _next(self) -> Token | None:
        if self.pushed_back:
            return self.pushed_back.pop()
        return next(self.tokens, None)

    def _end_token(self) -> Token:
        return Token.of("$END", "", len(self.lexer.text))

    def _report(self, error: _SyntaxError) -> None:
        if self.shifted_since_error < _QUIET_SHIFTS:
            return
        token = error.token
        message = f"syntax error, unexpected {describe_token(token)}"
        viable = self._viable(error.expected)
        expected = sorted({describe_terminal(t) for t in viable})
        unknown_type = token.type == "IDENT" and "TYPENAME" in viable
        if unknown_type:
            message += " (not a known type name)"
        elif 0 < len(expected) <= _MAX_EXPECTED:
            message += ", expecting " + " or ".join(expected)
        self.sink.error(message, self.place(token.offset))
        if unknown_type and self.explain_unknown_type is not None:
            self.sink.note(self.explain_unknown_type(token.value), self.place(token.offset))

    def _viable(self, candidates: Iterable[str]) -> list[str]:
        """The terminals the parser could really shift next. An LALR row also lists
        terminals that only trigger a reduction and then fail; simulating the
        reductions (on a copy of the state stack) weeds them out."""
        return [t for t in candidates if t.isupper() and self._would_shift(t)]

    def _would_shift(self, terminal: str) -> bool:
        actions = self.tables.actions
        stack = list(self.state_stack)
        for _ in range(10_000):  # a reduction chain is short; this only bounds a bug
            action = actions[stack[-1]].get(terminal)
            if action is None:
                return False
            if action >= 0:
                return True
            size, goto, _, _ = self.reductions[~action]
            if size:
                del stack[-size:]
            if not stack:
                return False
            stack.append(goto[stack[-1]])
            if stack[-1] == self.tables.end_state:
                return terminal == "$END"
        return False

    def _recover(self, error: _SyntaxError) -> None:
        self.recording = None
        self._report(error)
        token = error.token
        repeated = token is self.last_error_token
        self.last_error_token = token
        self.shifted_since_error = 0
        self._skip_to_sync_point(token, keep_closing_brace=not repeated)
        while True:
            following = self._next() or self._end_token()
            if self._pop_to_boundary(following):
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

    def _pop_to_boundary(self, token: Token) -> bool:
        """Pops the stack down to the nearest state that expects a list element and
        accepts `token`; leaves the stack alone (and says False) if there is none."""
        actions = self.tables.actions
        boundary = self.tables.boundary
        stack = self.state_stack
        for depth in range(len(stack) - 1, -1, -1):
            state = stack[depth]
            if boundary[state] and token.type in actions[state]:
                del stack[depth + 1 :]
                del self.value_stack[depth:]
                return True
        return False
