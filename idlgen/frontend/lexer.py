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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field


class Token:
    """A token: lighter than Lark's (a str subclass with a dozen fields) and all the
    parser and transformer need."""

    __slots__ = ("column", "line", "type", "value")

    def __init__(self, type_: str, value: str, line: int, column: int) -> None:
        self.type = type_
        self.value = value
        self.line = line
        self.column = column

    def __repr__(self) -> str:
        return f"Token({self.type!r}, {self.value!r}, {self.line}, {self.column})"


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
    "__inline": "INLINE",
    "signed": "SIGNED",
    "unsigned": "UNSIGNED",
    "TRUE": "TRUE",
    "FALSE": "FALSE",
    "int": "INT",
    "short": "SHORT",
    "long": "LONG",
    "small": "SMALL",
    "hyper": "HYPER",
    "char": "CHAR_KW",
    "__int8": "INT8",
    "__int16": "INT16",
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

# Calling conventions widl accepts in declarators, plus the Windows macros that expand
# to them in C headers (IDL files write them without a preprocessor definition).
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
        "WINAPI",
        "WINAPIV",
        "APIENTRY",
        "CALLBACK",
        "STDMETHODCALLTYPE",
        "STDAPICALLTYPE",
        "RPC_ENTRY",
        "__RPC_API",
        "__RPC_USER",
        "__RPC_STUB",
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


def _master(winrt: bool) -> re.Pattern[str]:
    name = rf"{_NAME}(?:\.{_NAME})*" if winrt else _NAME
    return re.compile(
        rf"""
        (?P<SKIP>[ \t\r\f\v]+|/\*.*?\*/|//[^\n]*)
      | (?P<NL>\n)
      | (?P<DIRECTIVE>\#[^\n]*)
      | (?P<UUID>{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}(?![\w-]))
      | (?P<FLOAT>(?:\d+\.\d*|\.\d+)(?:[eE][+-]?\d+)?[fFlL]?|\d+[eE][+-]?\d+[fFlL]?)
      | (?P<NUMBER>0[xX]{_HEX}+[uUlL]*|\d+[uUlL]*)
      | (?P<WSTRING>L"(?:[^"\\\n]|\\.)*")
      | (?P<STRING>"(?:[^"\\\n]|\\.)*")
      | (?P<WCHAR>L'(?:[^'\\\n]|\\.)*')
      | (?P<CHAR>'(?:[^'\\\n]|\\.)*')
      | (?P<MIDL_PRAGMA>midl_pragma\s+warning\s*\([^)\n]*\))
      | (?P<SAFEARRAY>SAFEARRAY(?=\s*\())
      | (?P<DISPSECTION>(?:properties|methods)(?=\s*:(?!:)))
      | (?P<NAME>{name})
      | (?P<OP>\.\.\.|<<|>>|<=|>=|==|!=|&&|\|\||->|[{{}}()\[\];,:=*&+\-/%~!^|?.<>])
      | (?P<BAD>.)
        """,
        re.VERBOSE | re.DOTALL,
    )


_PATTERNS = {False: _master(False), True: _master(True)}
_PRAGMA = re.compile(r"#\s*pragma\b\s*(.*)")


@dataclass
class Lexer:
    """Tokenizes one preprocessed text; `type_names` is shared with (and grown by) the parser.

    `pragmas` collects `#pragma` lines as (text, line, column): the preprocessor
    normally reports them itself, but text preprocessed elsewhere (`widl -E`) still
    carries them. Other `#` lines (line markers) are skipped.
    """

    text: str
    type_names: set[str]
    winrt: bool = False
    report: Callable[[str, int, int], None] = lambda message, line, column: None
    pragmas: list[tuple[str, int, int]] = field(default_factory=list)
    line: int = 1
    line_start: int = 0

    def tokens(self) -> Iterator[Token]:
        keywords = dict(KEYWORDS)
        if self.winrt:
            keywords.update(WINRT_KEYWORDS)
        type_names = self.type_names
        punctuation = PUNCTUATION
        callconvs = CALLING_CONVENTIONS
        angle_depth = 0  # open `Type<` argument lists, where `>>` means `> >`
        previous = ""
        for match in _PATTERNS[self.winrt].finditer(self.text):
            kind = match.lastgroup or "BAD"
            value = match.group()
            start = match.start()
            if kind == "NAME":
                if value in keywords:
                    kind = keywords[value]
                elif value in type_names or (
                    "." in value and value.rpartition(".")[2] in type_names
                ):
                    kind = "TYPENAME"
                elif value in callconvs:
                    kind = "CALLCONV"
                else:
                    kind = "IDENT"
            elif kind == "OP":
                kind = punctuation[value]
                if kind == "LT":
                    if previous == "TYPENAME":
                        angle_depth += 1
                elif angle_depth and kind == "GT":
                    angle_depth -= 1
                elif angle_depth and kind == "SHR":
                    angle_depth = max(angle_depth - 2, 0)
                    column = start - self.line_start + 1
                    yield Token("GT", ">", self.line, column)
                    yield Token("GT", ">", self.line, column + 1)
                    previous = "GT"
                    continue
            elif kind == "SKIP":
                self._count_lines(value, start)
                continue
            elif kind == "NL":
                self.line += 1
                self.line_start = start + 1
                continue
            elif kind == "DIRECTIVE":
                self._directive(value, start)
                continue
            elif kind == "DISPSECTION":
                kind = value.upper()
            elif kind == "BAD":
                self.report(f"invalid character {value!r}", self.line, start - self.line_start + 1)
                continue
            previous = kind
            yield Token(kind, value, self.line, start - self.line_start + 1)

    def end_position(self) -> tuple[int, int]:
        """Line and column just after the last character, where `end of file` is reported."""
        return self.line, len(self.text) - self.line_start + 1

    def _count_lines(self, value: str, start: int) -> None:
        newlines = value.count("\n")
        if newlines:
            self.line += newlines
            self.line_start = start + value.rindex("\n") + 1

    def _directive(self, value: str, start: int) -> None:
        pragma = _PRAGMA.match(value)
        if pragma:
            self.pragmas.append((pragma.group(1).strip(), self.line, start - self.line_start + 1))
