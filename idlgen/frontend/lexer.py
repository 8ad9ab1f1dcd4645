"""The MIDL tokenizer: one master regular expression, feeding Lark's LALR parser.

Lark's own lexer cannot do what IDL needs: whether `DWORD` is a type name or a plain
identifier depends on the declarations parsed so far (widl's lexer asks its symbol
table the same question). So the parser drives this tokenizer lazily, one token at a
time, and the grammar's declaring rules add names to `type_names` before the next
token is read. It is also several times faster than Lark's generic lexer.

Two more context-dependent decisions live here rather than in the grammar:
`>>` closing two `Type<...>` argument lists becomes two `GT` tokens, and WinRT dotted
names (`Windows.Foundation.IClosable`) become one token.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from itertools import accumulate

from idlgen.limits import DEFAULT_LIMITS, exceeded


class Token:
    """A token: lighter than Lark's (a str subclass with a dozen fields) and all the
    parser and transformer need. `offset` indexes the text; the parser turns it
    into a line and column only for the tokens that end up in a node or a message."""

    __slots__ = ("offset", "type", "value")
    # No `__init__`: the lexer makes about a million tokens for a large file, and a
    # Python `__init__` made creating one a third of the lexer's own time; it sets
    # the slots of a bare `Token()` in place (`Token.of` does the same elsewhere).
    type: str
    value: str
    offset: int

    @staticmethod
    def of(type_: str, value: str, offset: int) -> Token:
        token = Token()
        token.type = type_
        token.value = value
        token.offset = offset
        return token

    def __repr__(self) -> str:
        return f"Token({self.type!r}, {self.value!r}, {self.offset})"


KEYWORDS: dict[str, str] = {
    "import": "IMPORT",
    "importlib": "IMPORTLIB",
    "cpp_quote": "CPP_QUOTE",
    "interface": "INTERFACE",
    "dispinterface": "DISPINTERFACE",
    "coclass": "COCLASS",
    "library": "LIBRARY",
    "module": "MODULE",
    "typedef": "TYPEDEF",
    "struct": "STRUCT",
    "union": "UNION",
    "enum": "ENUM",
    "const": "CONST",
    "switch": "SWITCH",
    "case": "CASE",
    "default": "DEFAULT",
    "sizeof": "SIZEOF",
    "extern": "EXTERN",
    "static": "STATIC",
    "register": "REGISTER",
    "inline": "INLINE",
    "signed": "SIGNED",
    "unsigned": "UNSIGNED",
    "TRUE": "TRUE",
    "FALSE": "FALSE",
    "NULL": "NULL",
    "int": "INT",
    "short": "SHORT",
    "long": "LONG",
    "small": "SMALL",
    "hyper": "HYPER",
    "char": "CHAR_KW",
    "__int32": "INT32",
    "__int64": "INT64",
    "__int3264": "INT3264",
    "byte": "BYTE",
    "boolean": "BOOLEAN",
    "float": "FLOAT_KW",
    "double": "DOUBLE",
    "void": "VOID",
    "wchar_t": "WCHAR_T",
    "handle_t": "HANDLE_T",
    "error_status_t": "ERROR_STATUS_T",
    # widl reserves these everywhere, not only before the `:` of a dispinterface.
    "properties": "PROPERTIES",
    "methods": "METHODS",
}

# Keywords only in WinRT mode (widl's --winrt, or `#pragma winrt`): elsewhere they are
# ordinary identifiers, and older IDL files do use some of them as names.
WINRT_KEYWORDS: dict[str, str] = {
    "namespace": "NAMESPACE",
    "runtimeclass": "RUNTIMECLASS",
    "apicontract": "APICONTRACT",
    "delegate": "DELEGATE",
    "declare": "DECLARE",
    "requires": "REQUIRES",
}

# Calling conventions widl accepts in declarators. The Windows macros that expand to
# them in C headers (`WINAPI`, `CALLBACK`, `__RPC_USER`...) are ordinary names to
# widl 7, like `__int8`, `__int16` and `__inline`: a field may be called `WINAPI`.
CALLING_CONVENTIONS = frozenset(
    {
        "__cdecl",
        "_cdecl",
        "cdecl",
        "__stdcall",
        "_stdcall",
        "stdcall",
        "__fastcall",
        "_fastcall",
        "__pascal",
        "_pascal",
        "pascal",
    }
)

PUNCTUATION: dict[str, str] = {
    "{": "_LBRACE",
    "}": "_RBRACE",
    "(": "_LPAR",
    ")": "_RPAR",
    "[": "_LBRACK",
    "]": "_RBRACK",
    ";": "_SEMI",
    ",": "_COMMA",
    ":": "_COLON",
    "=": "_EQ",
    "...": "ELLIPSIS",
    "*": "STAR",
    "&": "AMP",
    "+": "PLUS",
    "-": "MINUS",
    "/": "SLASH",
    "%": "PERCENT",
    "~": "TILDE",
    "!": "BANG",
    "^": "CARET",
    "|": "PIPE",
    "?": "QUESTION",
    ".": "DOT",
    "->": "ARROW",
    "<": "LT",
    ">": "GT",
    "<=": "LE",
    ">=": "GE",
    "==": "EQEQ",
    "!=": "NE",
    "<<": "SHL",
    ">>": "SHR",
    "&&": "ANDAND",
    "||": "OROR",
}

_TOKEN_WORDS: dict[str, str] = {
    "IDENT": "identifier",
    "TYPENAME": "type name",
    "NUMBER": "number",
    "FLOAT": "number",
    "STRING": "string",
    "WSTRING": "string",
    "CHAR": "character constant",
    "WCHAR": "character constant",
    "UUID": "uuid",
    "MIDL_PRAGMA": "'midl_pragma'",
    "CALLCONV": "calling convention",
    "PROPERTIES": "'properties'",
    "METHODS": "'methods'",
    "SAFEARRAY": "'SAFEARRAY'",
    "$END": "end of file",
}


def describe_terminal(name: str) -> str:
    """How a terminal is named in a syntax error: `';'`, `'typedef'`, `identifier`."""
    if name in _TOKEN_WORDS:
        return _TOKEN_WORDS[name]
    for table in (KEYWORDS, WINRT_KEYWORDS, PUNCTUATION):
        for text, terminal in table.items():
            if terminal == name:
                return f"'{text}'"
    return name


def describe_token(token: Token) -> str:
    """The unexpected token of a syntax error, with its text when that helps."""
    word = describe_terminal(token.type)
    if token.type in ("IDENT", "TYPENAME", "NUMBER", "FLOAT", "CALLCONV"):
        return f"{word} '{token.value}'"
    if token.type in ("STRING", "WSTRING"):
        text = token.value if len(token.value) <= 40 else token.value[:37] + '..."'
        return f"{word} {text}"
    return word


_HEX = "[0-9A-Fa-f]"
_NAME = r"[A-Za-z_]\w*"


# The characters no longer operator begins with are tried first, in one class: the
# brackets, `,` `;` `+` `*` are nine punctuation tokens in ten.
_OPERATORS = r"[{}()\[\];,*+~^?:]|\.\.\.|<<|>>|<=|>=|==|!=|&&|\|\||->|[=&\-/%!|<>]"


def _master(winrt: bool, punctuation_first: bool = True) -> re.Pattern[str]:
    """One match per token, with the blanks and comments before it folded in (half as
    many matches as treating them as tokens of their own). Some alternative always
    matches after the blanks (BAD, or EOF at the end), so they never need to give back
    what they took: they are possessive (`*+`), which spares the engine the marks it
    keeps to backtrack (about a tenth of its work), and white space is a run of its
    own outside the group of comments, which most matches never enter.

    The engine tries alternatives in order, so the frequent ones come first. Punctuation,
    two tokens in three in Wine's headers, is tried first: this takes a third off the
    engine's time. No earlier alternative can start with those characters; only `.`
    waits its turn (`.5` is a number), as the DOT group. Names, most of the rest, come
    right after the few alternatives that take text a name would (uuids, `L"..."`,
    `midl_pragma`, `SAFEARRAY(`): what follows them starts with `#`, a digit, `.` or
    a quote, which no name does. Numbers follow, then `#` lines, rare in parsed text.
    `punctuation_first=False` gives the natural order (the
    tests check both orders cut the text alike)."""
    name = rf"{_NAME}(?:\.{_NAME})*" if winrt else _NAME
    uuid = rf"(?P<UUID>{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}(?![\w-]))"
    wstring, wchar = (
        r"""(?P<WSTRING>L"[^"\\\n]*(?:\\.[^"\\\n]*)*")""",
        r"""(?P<WCHAR>L'[^'\\\n]*(?:\\.[^'\\\n]*)*')""",
    )
    string, char = (
        r"""(?P<STRING>"[^"\\\n]*(?:\\.[^"\\\n]*)*")""",
        r"""(?P<CHAR>'[^'\\\n]*(?:\\.[^'\\\n]*)*')""",
    )
    words = rf"""(?P<MIDL_PRAGMA>midl_pragma\s+warning\s*\([^)\n]*\))
        | (?P<SAFEARRAY>SAFEARRAY(?=\s*\())
        | (?P<NAME>{name})"""
    directive = r"(?P<DIRECTIVE>\#[^\n]*)"
    # A number form that can end inside a run of word characters (a new suffix, say) must
    # also be known to member_memo._NAME_INSIDE_A_WORD, which finds where a name may
    # start inside a word without running this lexer.
    numbers = rf"""(?P<FLOAT>(?:\d+\.\d*|\.\d+)(?:[eE][+-]?\d+)?[fFlL]?|\d+[eE][+-]?\d+[fFlL]?)
        | (?P<NUMBER>0[xX]{_HEX}+[uUlL]*|\d+[uUlL]*)"""
    order = [directive, uuid, numbers, wstring, string, wchar, char, words]
    if punctuation_first:
        order = [rf"(?P<OP>{_OPERATORS})", uuid, wstring, wchar, words, numbers, directive]
        order += [string, char, r"(?P<DOT>\.)"]
    else:
        order.append(rf"(?P<OP>{_OPERATORS}|\.)")
    alternatives = "\n        | ".join(order)
    return re.compile(
        rf"""
        \s*+(?:(?:/\*.*?\*/|//[^\n]*+)\s*+)*+
        (?:
          {alternatives}
        | (?P<BAD>.)
        | (?P<EOF>\Z)
        )
        """,
        re.VERBOSE | re.DOTALL,
    )


_PATTERNS = {False: _master(False), True: _master(True)}
# What each punctuation token does to the nesting and operator-run counts (bit flags;
# one lookup per token keeps the lexer's hot loop fast).
OPERATOR, OPENS, CLOSES, ENDS_CHAIN = 1, 2, 4, 8
_OPERATOR, _OPENS, _CLOSES, _ENDS_CHAIN = OPERATOR, OPENS, CLOSES, ENDS_CHAIN
_NEUTRAL = {"_COLON", "_EQ", "ELLIPSIS", "DOT", "ARROW"}
_PUNCTUATION_ROLES = {kind: _OPERATOR for kind in PUNCTUATION.values()} | {
    kind: 0 for kind in _NEUTRAL
}
_PUNCTUATION_ROLES |= {
    "_LPAR": _OPENS,
    "_LBRACK": _OPENS,
    "_LBRACE": _OPENS | _ENDS_CHAIN,
    "_RPAR": _CLOSES,
    "_RBRACK": _CLOSES,
    "_RBRACE": _CLOSES | _ENDS_CHAIN,
    "_SEMI": _ENDS_CHAIN,
    "_COMMA": _ENDS_CHAIN,
}
PUNCTUATION_ROLES: dict[str, int] = _PUNCTUATION_ROLES
# Each punctuation token's terminal and role: one look-up per token. In the lexer's
# own copy the angle brackets are also marked `_ANGLE`, so the tests for `Type<...>`
# are made for them alone, not for every operator.
_ANGLE = 16
_PUNCTUATION_KINDS = {
    text: (kind, _PUNCTUATION_ROLES[kind] | (_ANGLE if kind in ("LT", "GT", "SHR") else 0))
    for text, kind in PUNCTUATION.items()
}
# What the parser sends to skip text it has parsed before (see `Lexer.tokens`): where
# the text ends, the deepest and the shallowest bracket nesting inside it (relative),
# the operators before its first `; , { }`, the most in any later run, the nesting it
# leaves (relative) and its last terminal.
Skip = tuple[int, int, int, int, int, int, str]
_PRAGMA = re.compile(r"#\s*pragma\b\s*(.*)")
_PLUS_ONE = (1).__add__


@dataclass
class Lexer:
    """Tokenizes one preprocessed text; `type_names` is shared with (and grown by) the parser.

    `pragmas` collects `#pragma` lines as (text, offset): the preprocessor normally
    reports them itself, but text preprocessed elsewhere (`widl -E`) still carries
    them. Other `#` lines (line markers) are skipped. `report(message, offset)`
    receives lexical errors.
    """

    text: str
    type_names: set[str]
    winrt: bool = False
    report: Callable[[str, int], None] = lambda message, offset: None
    # Every later stage walks nested declarations and expressions recursively, so the
    # token stream ends (`stopped`) where brackets nest deeper than `max_nesting` or
    # more than `max_operators` operators (pointer stars included) chain between two
    # of `; , { }`; idlgen/limits.py has the defaults.
    max_nesting: int = DEFAULT_LIMITS.brace_nesting
    max_operators: int = DEFAULT_LIMITS.operator_chain
    stopped: bool = False
    skipped: bool = False  # the last `send` of a skip was honoured (see `tokens`)
    pragmas: list[tuple[str, int]] = field(default_factory=list)
    line_starts: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Each line starts one past the end of the line before it; summed in C (a
        # generator over the newlines resumed once per line).
        lines = self.text.split("\n")
        lines.pop()  # the text after the last newline starts a line but ends none
        self.line_starts = [0, *accumulate(map(_PLUS_ONE, map(len, lines)))]

    def _stop(self, what: str, limit: str, value: int, offset: int) -> None:
        self.stopped = True
        self.report(exceeded(what, limit, value), offset)

    def tokens(self) -> Generator[Token, Skip | None, None]:
        """The tokens, read lazily.

        The parser may `send` a `Skip` right after receiving a token: the text up to
        `end` is then not read, as if its tokens had been read and handed out, and the
        token after it comes back (`skipped` set). That holds only where the counts of
        nesting and operator runs cannot cross their limits inside the skipped text
        (the parser skips only text without `<`, `>`, `.`, `#`, whose other effects
        it knows); otherwise the send is ignored and the next token comes back as usual
        (`skipped` clear)."""
        keywords = dict(KEYWORDS)
        if self.winrt:
            keywords.update(WINRT_KEYWORDS)
        type_names = self.type_names
        punctuation = _PUNCTUATION_KINDS
        callconvs = CALLING_CONVENTIONS
        dotted = self.winrt  # only WinRT names hold dots
        angle_depth = 0  # open `Type<` argument lists, where `>>` means `> >`
        nesting = operators = 0
        previous = ""
        pattern = _PATTERNS[self.winrt]
        # Groups by number: reading a match by number is cheaper than by name.
        groups: list[str | None] = [None] * (pattern.groups + 1)
        for name, number in pattern.groupindex.items():
            groups[number] = name
        text = self.text
        # The limits as locals: read for every operator and bracket.
        max_operators, max_nesting = self.max_operators, self.max_nesting
        position = 0
        while True:
            for match in pattern.finditer(text, position):
                index = match.lastindex or 0
                kind = groups[index]
                value = match[index]
                start = match.start(index)
                # Punctuation first, then names: together nine tokens in ten.
                if kind == "OP":
                    kind, role = punctuation[value]
                    # The roles one at a time, the most frequent first (`(` `)`, then
                    # `+` `*`, then `,` `;`); `{`, `}` and the angle brackets come last.
                    if role == _OPENS:
                        nesting += 1
                        if nesting > max_nesting:
                            what = "bracket nesting"
                            self._stop(what, "brace_nesting", max_nesting, start)
                            return
                    elif role == _CLOSES:
                        if nesting:
                            nesting -= 1
                    elif role & _OPERATOR:
                        operators += 1
                        if operators > max_operators:
                            what = "a run of pointer levels or operators"
                            self._stop(what, "operator_chain", max_operators, start)
                            return
                        if role & _ANGLE:  # `<`, `>` or `>>`
                            if kind == "LT":
                                if previous == "TYPENAME":
                                    angle_depth += 1
                            elif angle_depth and kind == "GT":
                                angle_depth -= 1
                            elif angle_depth and kind == "SHR":
                                angle_depth = max(angle_depth - 2, 0)
                                yield Token.of("GT", ">", start)
                                yield Token.of("GT", ">", start + 1)
                                previous = "GT"
                                continue
                    elif role:
                        if role & _ENDS_CHAIN:
                            operators = 0
                        if role & _OPENS:
                            nesting += 1
                            if nesting > max_nesting:
                                what = "bracket nesting"
                                self._stop(what, "brace_nesting", max_nesting, start)
                                return
                        elif role & _CLOSES and nesting:
                            nesting -= 1
                elif kind == "NAME":
                    kind = keywords.get(value)
                    if kind is None:
                        if value in type_names or (
                            dotted and "." in value and value.rpartition(".")[2] in type_names
                        ):
                            kind = "TYPENAME"
                        elif value in callconvs:
                            kind = "CALLCONV"
                        else:
                            kind = "IDENT"
                elif kind == "DIRECTIVE":
                    pragma = _PRAGMA.match(value)
                    if pragma:
                        self.pragmas.append((pragma.group(1).strip(), start))
                    continue
                elif kind == "BAD":
                    self.report(f"invalid character {value!r}", start)
                    continue
                elif kind is None or kind == "EOF":
                    continue  # blanks at the very end
                previous = kind
                token = Token()  # Token.of, without a call per token
                token.type = kind
                token.value = value
                token.offset = start
                skip = yield token
                if skip is not None:
                    end, deepest, lowest, head_operators, operators_after, depth_change, last = skip
                    if (
                        nesting + deepest <= max_nesting
                        and nesting + lowest >= 0  # a `)` at zero nesting leaves it at zero
                        and operators + head_operators <= max_operators
                        and operators_after <= max_operators
                    ):
                        nesting += depth_change
                        operators = 0  # the skipped text ends a run: it ends on `;`
                        previous = last
                        self.skipped = True
                        # Matches are contiguous (blanks fold into the next), so cutting
                        # from `end` on gives the tokens reading through would.
                        position = end
                        break
            else:
                return
