"""Macros: parsing `#define`, and expanding macro uses the way C does.

Expansion follows Prosser's algorithm (the one the C standard's rules were written
from): every token carries a "hide set" of macro names it came out of, and a name in
its own hide set is never expanded again. That is the recursion guard for
`#define R R + 1` and for mutually recursive macros, and it is exact where a simple
"currently expanding" stack is not.

Expansion pulls tokens lazily from the source text, so the preprocessor only
tokenizes where a macro is actually used; a function-like macro's arguments may run
over several lines, and a macro that expands to a function-like macro's name takes
its arguments from the text that follows, as in C.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from operator import itemgetter

from idlgen.diagnostics import Position
from idlgen.frontend.pptext import TOKEN_RE, is_identifier
from idlgen.records import record

Tok = tuple[str, frozenset[str]]  # text and hide set
_NO_HIDE: frozenset[str] = frozenset()
_PLACEMARKER = ""  # stands for an empty argument next to `##`
_MAX_STEPS = 200_000  # expansion steps per macro use before we call it runaway


class MacroError(Exception):
    """A malformed `#define`; `offset` is where in the directive's text it was found."""

    def __init__(self, message: str, offset: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


@record
class Macro:
    """One definition. `params` is None for object-like macros."""

    name: str
    body: tuple[str, ...] = ()
    params: tuple[str, ...] | None = None
    variadic: bool = False  # the last parameter takes the remaining arguments
    position: Position | None = None
    builtin: bool = False  # value computed at each use (__LINE__, __FILE__)

    def same_definition(self, other: Macro) -> bool:
        return (self.body, self.params, self.variadic) == (other.body, other.params, other.variadic)


def parse_define(text: str, position: Position | None = None) -> Macro:
    """Parse what follows `#define`: a name, optional parameters, and the body."""
    tokens = [(m.group(), m.start()) for m in TOKEN_RE.finditer(text)]
    i = _skip_ws(tokens, 0)
    if i >= len(tokens):
        raise MacroError("no macro name given in #define directive", len(text))
    name, offset = tokens[i]
    if not is_identifier(name):
        raise MacroError("macro names must be identifiers", offset)
    if name == "defined":
        raise MacroError('"defined" cannot be used as a macro name', offset)
    i += 1
    params: tuple[str, ...] | None = None
    variadic = False
    if i < len(tokens) and tokens[i][0] == "(":
        params, variadic, i = _parse_params(tokens, i + 1, len(text))
    elif i < len(tokens) and not tokens[i][0].isspace():
        raise MacroError(f'missing white space after the macro name "{name}"', tokens[i][1])
    body = _normalize_body(tokens[i:])
    _check_body(body, params, tokens[i:])
    return Macro(name, body, params, variadic, position)


def _skip_ws(tokens: list[tuple[str, int]], i: int) -> int:
    while i < len(tokens) and tokens[i][0].isspace():
        i += 1
    return i


def _parse_params(
    tokens: list[tuple[str, int]], i: int, end: int
) -> tuple[tuple[str, ...], bool, int]:
    params: list[str] = []
    variadic = False
    expect_name = True
    while True:
        i = _skip_ws(tokens, i)
        if i >= len(tokens):
            raise MacroError("missing ')' in macro parameter list", end)
        tok, offset = tokens[i]
        i += 1
        if tok == ")":
            if expect_name and params:
                raise MacroError('expected parameter name, found ")"', offset)
            return tuple(params), variadic, i
        if variadic:
            raise MacroError("missing ')' after \"...\" in macro parameter list", offset)
        if expect_name and tok == "...":
            params.append("__VA_ARGS__")
            variadic, expect_name = True, False
        elif expect_name and is_identifier(tok):
            if tok in params:
                raise MacroError(f'duplicate macro parameter "{tok}"', offset)
            params.append(tok)
            expect_name = False
            j = _skip_ws(tokens, i)
            if j < len(tokens) and tokens[j][0] == "...":  # GNU named variadic: args...
                variadic, i = True, j + 1
        elif not expect_name and tok == ",":
            expect_name = True
        else:
            raise MacroError(f'"{tok}" may not appear in macro parameter list', offset)


def _normalize_body(tokens: list[tuple[str, int]]) -> tuple[str, ...]:
    """Body tokens with white space runs as one space and none at either end."""
    out: list[str] = []
    for tok, _ in tokens:
        if tok.isspace():
            if out and out[-1] != " ":
                out.append(" ")
        else:
            out.append(tok)
    if out and out[-1] == " ":
        out.pop()
    return tuple(out)


def _check_body(
    body: tuple[str, ...], params: tuple[str, ...] | None, tokens: list[tuple[str, int]]
) -> None:
    offsets = [offset for tok, offset in tokens if not tok.isspace()]
    solid = [tok for tok in body if tok != " "]
    if solid and (solid[0] == "##" or solid[-1] == "##"):
        at = offsets[0] if solid[0] == "##" else offsets[-1]
        raise MacroError('"##" cannot appear at either end of a macro expansion', at)
    if params is None:
        return
    for k, tok in enumerate(solid):
        if tok == "#" and (k + 1 >= len(solid) or solid[k + 1] not in params):
            raise MacroError('"#" is not followed by a macro parameter', offsets[k])


def stringize(arg: list[Tok]) -> str:
    """The `#x` operator: the argument's spelling as a string literal."""
    parts: list[str] = []
    for text, _ in arg:
        if text.isspace():
            if parts and parts[-1] != " ":
                parts.append(" ")
        elif text[:1] in "\"'" or text[:2] in ('L"', "L'"):
            parts.append(text.replace("\\", "\\\\").replace('"', '\\"'))
        elif text:
            parts.append(text)
    return '"' + "".join(parts).strip() + '"'


_Final = tuple[tuple[Tok, ...], frozenset[str]]  # a remembered expansion and its macros


_text = itemgetter(0)


class _Runaway(Exception):
    pass


class _TooLarge(Exception):
    """One macro use, or all of them together, produced more tokens than allowed."""

    def __init__(self, total: bool) -> None:
        super().__init__()
        self.total = total


# Tokens all remembered expansions may hold together (see _final_expansion): one
# pointer each, as a remembered token is a shared (text, no hide set) pair. A bound on
# the sum, not on each expansion: mshtml.idl expands macros of 45,000 tokens a dozen
# times each, and a per-expansion bound made every use expand them again.
_MAX_REMEMBERED = 1_000_000


class _Source:
    """The text after a macro use, tokenized only as far as expansion needs."""

    __slots__ = ("end", "pos", "text")

    def __init__(self, text: str, pos: int, end: int) -> None:
        self.text, self.pos, self.end = text, pos, end

    def next(self) -> str | None:
        if self.pos >= self.end:
            return None
        m = TOKEN_RE.match(self.text, self.pos, self.end)
        assert m is not None  # the last alternative matches any character
        self.pos = m.end()
        return m.group()


class Expander:
    """Expands macro uses against a macro table; reports problems through `report`.

    `builtins` computes the value of __LINE__ and __FILE__ (whatever names the table
    marks as builtin) at the moment of use.
    """

    def __init__(
        self,
        macros: dict[str, Macro],
        report: Callable[[str], None],
        builtins: Callable[[str], str],
        max_tokens: int = 1_000_000,
        max_total_tokens: int = 16_000_000,
    ) -> None:
        self.macros = macros
        self.report = report
        self.builtins = builtins
        self._steps = 0
        # Tokens one use has produced so far, through substitution or a remembered
        # expansion: the step count alone misses both (`#define A2 A1 A1` chains double
        # at each level for one step each).
        self.max_tokens = max_tokens
        self._volume = 0
        self.max_total_tokens = max_total_tokens
        self._total_volume = 0
        # object-like macro -> (its expansion, the macros that expansion went through),
        # or None when the expansion depends on where it is used; see _final_expansion
        self._final: dict[str, _Final | None] = {}
        # name -> remembered expansions that go through it or output it: what a
        # (re)definition or #undef of that name makes stale; see forget_name
        self._dependents: dict[str, set[str]] = {}
        self._remembered = 0  # tokens held by self._final
        self._plain: dict[str, Tok] = {}  # one shared (text, no hide set) pair per text
        self._contextual = False  # the current expansion used __LINE__ or __FILE__
        self._visited: set[str] = set()  # macros the current expansion went through
        self._depth = 0

    def forget(self) -> None:
        """Drop remembered expansions; call whenever the macro table changes wholesale."""
        self._final.clear()
        self._dependents.clear()
        self._remembered = 0

    def forget_name(self, name: str) -> None:
        """Drop the remembered expansions `name` matters to; call when it is (re)defined
        or undefined. Those are the ones that went through it and the ones whose result
        holds it as a plain name (it would expand now). Every other one stays exact:
        its expansion looked up no other name. Headers define thousands of macros
        between two uses of a big one, so forgetting everything made each use expand
        it again."""
        for dependent in self._dependents.pop(name, ()):
            final = self._final.pop(dependent, None)
            if final is not None:
                self._remembered -= len(final[0])

    def expand_at(self, text: str, pos: int, end: int) -> tuple[str, int]:
        """Expand the macro use starting at `pos`; returns the replacement and where it ends.

        The replacement keeps the line count of the text it replaces: if the use
        spanned lines, the newlines follow the expansion.
        """
        source = _Source(text, pos, end)
        first = source.next()
        assert first is not None
        out: list[Tok] = []
        self._steps = self._volume = 0
        try:
            self._run([(first, _NO_HIDE)], source, out)
        except _Runaway:
            self.report(f'expansion of macro "{first}" does not terminate')
            return first, pos + len(first)
        except _TooLarge as error:
            # The whole use goes (arguments included): expanding what is left of it
            # would cross the limit again, once per nested use.
            self._report_too_large(f'expansion of macro "{first}"', error.total)
            return " " + "\n" * text.count("\n", pos, source.pos), source.pos
        replacement = "".join(map(_text, out))
        newlines = text.count("\n", pos, source.pos)
        if newlines:
            replacement = replacement.replace("\n", " ") + "\n" * newlines
        return replacement, source.pos

    def expand_tokens(self, tokens: list[str]) -> list[str]:
        """Fully expand a token list on its own (the text of an #if or #include)."""
        out: list[Tok] = []
        self._steps = self._volume = 0
        try:
            self._run([(tok, _NO_HIDE) for tok in reversed(tokens)], None, out)
        except _Runaway:
            self.report("macro expansion does not terminate")
            return tokens
        except _TooLarge as error:
            self._report_too_large("macro expansion", error.total)
            return tokens
        return [tok for tok, _ in out]

    def _report_too_large(self, what: str, total: bool) -> None:
        from idlgen.limits import exceeded

        if total:
            what = "macro expansion in this input (in tokens, all uses together)"
            self.report(exceeded(what, "macro_tokens_total", self.max_total_tokens))
        else:
            self.report(exceeded(f"{what} (in tokens)", "macro_tokens", self.max_tokens))

    def _produced(self, count: int) -> None:
        self._volume += count
        self._total_volume += count
        if self._volume > self.max_tokens:
            raise _TooLarge(total=False)
        if self._total_volume > self.max_total_tokens:
            raise _TooLarge(total=True)

    def _run(self, stack: list[Tok], source: _Source | None, out: list[Tok]) -> None:
        """Rescan: pop tokens, output plain ones, push back the expansion of macro uses."""
        macros = self.macros
        while stack:
            tok = stack.pop()
            text, hide = tok
            macro = macros.get(text)
            if macro is None or text in hide:
                out.append(tok)
                continue
            self._steps += 1
            if self._steps > _MAX_STEPS:
                raise _Runaway
            self._visited.add(text)
            if macro.builtin:
                self._contextual = True
                out.append((self.builtins(text), hide))
            elif macro.params is None:
                final = self._final_expansion(macro)
                if final is not None and hide.isdisjoint(final[1]):
                    self._produced(len(final[0]))
                    out.extend(final[0])
                    self._visited |= final[1]
                else:
                    stack.extend(reversed(self._subst(macro, [], hide | {text})))
            elif not self._paren_follows(stack, source):
                out.append(tok)
            else:
                collected = self._collect_args(stack, source, macro)
                if collected is not None:
                    args, rparen_hide = collected
                    hide = (hide & rparen_hide) | {text}
                    stack.extend(reversed(self._subst(macro, args, hide)))

    def _final_expansion(self, macro: Macro) -> _Final | None:
        """The expansion of an object-like macro on its own, if it can stand for any use.

        Chains like `#define DISPID_X (DISPID_BASE + 1)` are common (mshtml.idl uses
        thousands); remembering each link's result makes expansion linear. A result is
        kept only if it has no macro names left, so rescanning it beside the following
        tokens changes nothing, and if it used no __LINE__ or __FILE__. The caller may
        use it only where the hide set holds none of the macros it went through: only
        then is the expansion in place the same as the expansion on its own.
        """
        name = macro.name
        if name in self._final:
            return self._final[name]
        if self._depth > 64:
            return None
        saved_contextual, self._contextual = self._contextual, False
        saved_visited, self._visited = self._visited, {name}
        self._depth += 1
        out: list[Tok] = []
        try:
            self._run(list(reversed(self._subst(macro, [], frozenset((name,))))), None, out)
        finally:
            self._depth -= 1
            visited = frozenset(self._visited)
            usable = not self._contextual and self.macros.keys().isdisjoint(map(_text, out))
            self._contextual, self._visited = saved_contextual, saved_visited
        # Whatever is remembered, usable or not, is forgotten when a name it looked up
        # changes: the macros it went through and the names it output.
        dependents = self._dependents
        for looked_up in visited.union(filter(is_identifier, set(map(_text, out)))):
            dependents.setdefault(looked_up, set()).add(name)
        # Past the budget a result is not kept: uses expand in place, as without it.
        usable = usable and len(out) <= _MAX_REMEMBERED - self._remembered
        result: _Final | None = None
        if usable:
            # hide sets of the result no longer matter: none of its tokens is a macro
            # name, so its tokens can be shared pairs with none
            plain = self._plain
            tokens = tuple(  # a list first: no generator resumed per token
                [plain.get(text) or plain.setdefault(text, (text, _NO_HIDE)) for text, _ in out]
            )
            self._remembered += len(tokens)
            result = (tokens, visited)
        self._final[name] = result
        return result

    @staticmethod
    def _next(stack: list[Tok], source: _Source | None) -> Tok | None:
        if stack:
            return stack.pop()
        if source is not None:
            text = source.next()
            if text is not None:
                return (text, _NO_HIDE)
        return None

    def _paren_follows(self, stack: list[Tok], source: _Source | None) -> bool:
        """Consume white space and a `(` if one comes next; otherwise consume nothing."""
        skipped: list[Tok] = []
        saved_pos = source.pos if source is not None else 0
        while True:
            from_stack = bool(stack)
            tok = self._next(stack, source)
            if tok is not None and tok[0].isspace():
                if from_stack:
                    skipped.append(tok)
                continue
            if tok is not None and tok[0] == "(":
                stack.append(tok)  # _collect_args reads it again
                return True
            if tok is not None and from_stack:
                stack.append(tok)
            if source is not None and not from_stack:
                source.pos = saved_pos
            stack.extend(reversed(skipped))
            return False

    def _collect_args(
        self, stack: list[Tok], source: _Source | None, macro: Macro
    ) -> tuple[list[list[Tok]], frozenset[str]] | None:
        """Read `( args )`; None (with a diagnostic) when they are unterminated or miscounted."""
        opening = self._next(stack, source)
        assert opening is not None and opening[0] == "("
        params = macro.params or ()
        args: list[list[Tok]] = [[]]
        depth = 0
        while True:
            tok = self._next(stack, source)
            if tok is None:
                self.report(f'unterminated argument list invoking macro "{macro.name}"')
                return None
            text = tok[0]
            if text == "(":
                depth += 1
            elif text == ")":
                if depth == 0:
                    break
                depth -= 1
            elif text == "," and depth == 0 and not (macro.variadic and len(args) >= len(params)):
                args.append([])
                continue
            args[-1].append(tok)
        args = [_trim(arg) for arg in args]
        if not params and args == [[]]:
            args = []
        elif macro.variadic and len(args) == len(params) - 1:
            args.append([])
        if len(args) != len(params):
            self.report(
                f'macro "{macro.name}" takes {len(params)} argument(s) but {len(args)} given'
            )
            return None
        return args, tok[1]

    def _subst(self, macro: Macro, args: list[list[Tok]], hide: frozenset[str]) -> list[Tok]:
        """The body with parameters replaced and `#`/`##` applied, hide set added."""
        body = macro.body
        if macro.params is None and "##" not in body:
            self._produced(len(body))
            return [(tok, hide) for tok in body]  # the common case, made cheap
        index = {p: k for k, p in enumerate(macro.params or ())}
        expanded: dict[int, list[Tok]] = {}
        out: list[Tok] = []
        i = 0
        while i < len(body):
            tok = body[i]
            if tok == "#" and index:
                j = _next_solid(body, i + 1)
                out.append((stringize(args[index[body[j]]]), _NO_HIDE))
                i = j + 1
            elif tok == "##":
                i = self._paste(body, i, index, args, macro, out)
            elif tok in index:
                k = index[tok]
                j = _next_solid(body, i + 1)
                if j < len(body) and body[j] == "##":
                    out.extend(args[k] or [(_PLACEMARKER, _NO_HIDE)])
                else:
                    if k not in expanded:
                        expanded[k] = self._expand_arg(args[k])
                    out.extend(expanded[k])
                i += 1
            else:
                out.append((tok, _NO_HIDE))
                i += 1
        self._produced(len(out))
        return [(text, own | hide if own else hide) for text, own in out if text != _PLACEMARKER]

    def _paste(
        self,
        body: tuple[str, ...],
        i: int,
        index: dict[str, int],
        args: list[list[Tok]],
        macro: Macro,
        out: list[Tok],
    ) -> int:
        """Apply the `##` at body[i] to the last output token; returns the next body index."""
        while out and out[-1][0].isspace():
            out.pop()
        j = _next_solid(body, i + 1)
        operand = body[j]
        right = list(args[index[operand]]) if operand in index else [(operand, _NO_HIDE)]
        is_rest = macro.variadic and index.get(operand) == len(index) - 1
        if not right and is_rest and out and out[-1][0] == ",":
            out.pop()  # GNU: `, ## __VA_ARGS__` drops the comma when there is nothing
            return j + 1
        if not right:
            return j + 1
        left = out.pop() if out else (_PLACEMARKER, _NO_HIDE)
        pasted = left[0] + right[0][0]
        out.extend((m.group(), _NO_HIDE) for m in TOKEN_RE.finditer(pasted))
        out.extend(right[1:])
        return j + 1

    def _expand_arg(self, arg: list[Tok]) -> list[Tok]:
        out: list[Tok] = []
        self._run(list(reversed(arg)), None, out)
        return out


def _next_solid(body: tuple[str, ...], i: int) -> int:
    while i < len(body) and body[i] == " ":
        i += 1
    return i


def _trim(arg: list[Tok]) -> list[Tok]:
    start, end = 0, len(arg)
    while start < end and arg[start][0].isspace():
        start += 1
    while end > start and arg[end - 1][0].isspace():
        end -= 1
    return arg[start:end]


_LITERAL_OR_NAME = r"""L?"[^"\\\n]*(?:\\.[^"\\\n]*)*"|L?'[^'\\\n]*(?:\\.[^'\\\n]*)*'|\b(?P<name>"""
ANY_NAME_RE = re.compile(_LITERAL_OR_NAME + r"[A-Za-z_]\w*)")


def names_pattern(names: frozenset[str]) -> re.Pattern[str]:
    """A regex finding uses of `names` outside string and character literals.

    Literals are matched (and skipped by the caller, group `name` unset) so that a
    name inside quotes, including cpp_quote's text, is never expanded. For many
    names, one big alternation is slower to build and run than finding every
    identifier (`ANY_NAME_RE`) and looking it up, so the caller picks.
    """
    alternation = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    return re.compile(_LITERAL_OR_NAME + alternation + r")\b")
