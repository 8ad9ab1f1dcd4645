"""The preprocessor's text phases: line splicing, comment removal, and pp-token splitting.

Every phase here keeps the number of lines of the text it is given, so that a line of
the prepared text is the same line of the real file. That invariant is what lets the
preprocessor build an exact line map without tracking positions token by token.
Columns are kept too wherever possible: comments become spaces of the same length.
"""

from __future__ import annotations

import re

from idlgen.records import record

# One pp-token (or run of white space) at a time. Strings and character constants come
# before identifiers so that the `L` of `L"x"` belongs to the literal.
TOKEN_RE = re.compile(
    r"""
    (?P<ws>[ \t\f\v\r]+|\n)
  | (?P<str>L?"[^"\\\n]*(?:\\.[^"\\\n]*)*")
  | (?P<chr>L?'[^'\\\n]*(?:\\.[^'\\\n]*)*')
  | (?P<id>[A-Za-z_]\w*)
  | (?P<num>\.?\d(?:[eEpP][+-]|[\w.])*)
  | (?P<punct>\#\#|\.\.\.|<<=|>>=|->|\+\+|--|<<|>>|<=|>=|==|!=|&&|\|\||[-+*/%&|^]=|.)
    """,
    re.VERBOSE | re.DOTALL,
)

IDENT_RE = re.compile(r"[A-Za-z_]\w*")

# Comments and the literals that may contain comment-like text.
_COMMENT_RE = re.compile(
    r"""//[^\n]*|/\*(?:.*?\*/|.*)|"[^"\\\n]*(?:\\.[^"\\\n]*)*"|'[^'\\\n]*(?:\\.[^'\\\n]*)*'""",
    re.DOTALL,
)
_DIRECTIVE_LINE_RE = re.compile(r"[ \t]*#")
# lines ending in a backslash (group 1) and the line that ends the run (group 2)
_CONTINUED_RE = re.compile(r"^((?:[^\n]*\\\n)+)([^\n]*)", re.MULTILINE)


@record
class TextProblem:
    """A problem found while preparing text: where (1-based line and column) and what."""

    message: str
    line: int
    column: int


def normalize_newlines(text: str) -> str:
    """Use `\\n` only, and end with one, so every line is terminated the same way.

    A byte-order mark is dropped: it would hide a directive on the first line.
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    if text and not text.endswith("\n"):
        text += "\n"
    return text


def splice_lines(text: str) -> str:
    """Join backslash-continued lines, then pad with empty lines to keep the line count."""
    if "\\\n" not in text:
        return text
    return _CONTINUED_RE.sub(_join_continued, text)


def _join_continued(m: re.Match[str]) -> str:
    continued = m.group(1)
    return continued.replace("\\\n", "") + m.group(2) + "\n" * continued.count("\\\n")


def strip_comments(text: str) -> tuple[str, list[TextProblem]]:
    """Replace comments by spaces, keeping lines and columns.

    A block comment that spans lines inside a directive would otherwise cut the
    directive short, so there (and only there) it becomes one space and the lines it
    swallowed are re-added after the end of the directive's line.
    """
    if "/" not in text:
        return text, []
    problems: list[TextProblem] = []
    pieces: list[str] = []
    pending_newlines = 0
    last = 0
    for m in _COMMENT_RE.finditer(text):
        token = m.group()
        if token[0] != "/":
            continue
        start = m.start()
        pieces.append(_with_newlines(text[last:start], pending_newlines))
        if pending_newlines and "\n" in text[last:start]:
            pending_newlines = 0
        last = m.end()
        if token.startswith("/*") and (len(token) < 4 or not token.endswith("*/")):
            problems.append(_problem_at(text, start, "unterminated comment"))
        newlines = token.count("\n")
        if newlines and _starts_directive_line(text, start):
            pieces.append(" ")
            pending_newlines += newlines
        elif newlines:
            pieces.append(re.sub(r"[^\n]", " ", token))
        else:
            pieces.append(" " * len(token))
    tail = text[last:]
    pieces.append(_with_newlines(tail, pending_newlines))
    if pending_newlines and "\n" not in tail:  # the comment ran to the end of the file
        pieces.append("\n" * pending_newlines)
    return "".join(pieces), problems


def _with_newlines(segment: str, count: int) -> str:
    """Insert `count` newlines at the first line end of `segment` (if it has one)."""
    if not count:
        return segment
    cut = segment.find("\n")
    if cut < 0:
        return segment
    return segment[:cut] + "\n" * count + segment[cut:]


def _starts_directive_line(text: str, pos: int) -> bool:
    line_start = text.rfind("\n", 0, pos) + 1
    m = _DIRECTIVE_LINE_RE.match(text, line_start)
    return m is not None and m.end() <= pos


def _problem_at(text: str, pos: int, message: str) -> TextProblem:
    line_start = text.rfind("\n", 0, pos) + 1
    return TextProblem(message, text.count("\n", 0, pos) + 1, pos - line_start + 1)


def prepare(text: str) -> tuple[str, list[TextProblem]]:
    """All text phases in order: newlines, splicing, comments."""
    return strip_comments(splice_lines(normalize_newlines(text)))


def tokenize(text: str) -> list[str]:
    """Split text into pp-tokens, white space included (runs of blanks and each newline)."""
    return [m.group() for m in TOKEN_RE.finditer(text)]


def is_identifier(token: str) -> bool:
    return IDENT_RE.fullmatch(token) is not None
