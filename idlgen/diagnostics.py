"""Diagnostics: how every layer reports a problem in the user's IDL.

Errors are values, collected in a `DiagnosticSink` while the front end keeps going
(so a run reports as many problems as recovery allows), and turned into an
`IdlError` only at the API boundary. Positions always name the file the problem is
in (an imported or `#include`d file), never the file the user passed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


@dataclass(frozen=True, slots=True)
class Position:
    """A place in a source file; `line` and `column` count from 1."""

    file: str
    line: int
    column: int = 1

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    severity: Severity
    message: str
    position: Position | None = None
    source_line: str | None = None

    def format(self) -> str:
        """`file:line:col: error: message`, then the source line and a caret.

        Control characters (a newline or a terminal escape in a file name, a macro
        body or a source line) are shown escaped: one diagnostic is one line plus
        its quote, and cannot pose as another or drive the terminal."""
        where = f"{printable(str(self.position))}: " if self.position else "idlgen: "
        text = f"{where}{self.severity.value}: {printable(self.message)}"
        if self.source_line is not None and self.position is not None:
            line = printable(self.source_line.rstrip("\r\n").expandtabs(1))
            caret = " " * max(self.position.column - 1, 0) + "^"
            text += f"\n{line}\n{caret}"
        return text

    def __str__(self) -> str:
        return self.format()


def printable(text: str) -> str:
    """`text` with every non-printable character as its Python escape (`\\n`, `\\x1b`)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class IdlError(Exception):
    """Raised by the Python API when IDL input has errors; carries every diagnostic."""

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics: list[Diagnostic] = list(diagnostics)
        super().__init__("\n".join(d.format() for d in self.errors) or "IDL error")

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity is Severity.ERROR]


@dataclass
class DiagnosticSink:
    """Collects diagnostics; reads source lines lazily so carets cost nothing until shown.

    `sources` maps a file name to its text, filled by whoever reads files (the
    preprocessor), so a diagnostic can quote the line without reading the file again.
    """

    diagnostics: list[Diagnostic] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    max_errors: int = 100
    # Files whose text must not appear in messages: an #include or import of something
    # that is not IDL (frontend/sources.py). Their diagnostics quote no line, and the
    # message stops before the first quoted piece of text.
    opaque: set[str] = field(default_factory=set)

    def error(self, message: str, position: Position | None = None) -> None:
        self._add(Severity.ERROR, message, position)

    def warning(self, message: str, position: Position | None = None) -> None:
        self._add(Severity.WARNING, message, position)

    def note(self, message: str, position: Position | None = None) -> None:
        self._add(Severity.NOTE, message, position)

    @property
    def has_errors(self) -> bool:
        return any(d.severity is Severity.ERROR for d in self.diagnostics)

    @property
    def error_count(self) -> int:
        return sum(d.severity is Severity.ERROR for d in self.diagnostics)

    def raise_if_errors(self) -> None:
        if self.has_errors:
            raise IdlError(self.diagnostics)

    def _add(self, severity: Severity, message: str, position: Position | None) -> None:
        if severity is Severity.ERROR and self.error_count >= self.max_errors:
            return
        if position is not None and position.file in self.opaque:
            message = _without_quoted_text(message)
        key = (severity, message, position)
        if any((d.severity, d.message, d.position) == key for d in self.diagnostics[-8:]):
            return  # the same complaint twice in a row helps nobody
        self.diagnostics.append(
            Diagnostic(severity, message, position, self._source_line(position))
        )

    def _source_line(self, position: Position | None) -> str | None:
        if position is None:
            return None
        text = self.sources.get(position.file)
        if text is None or position.file in self.opaque:
            return None
        lines = text.split("\n")  # the line breaks line numbers count, not U+2028
        if 1 <= position.line <= len(lines):
            return lines[position.line - 1]
        return None


_QUOTED_TEXT = re.compile(r"""['"#]""")


def _without_quoted_text(message: str) -> str:
    """A message about a file that is not IDL, cut before the first piece of its text."""
    cut = _QUOTED_TEXT.search(message)
    kept = message[: cut.start()].rstrip(" ,:") if cut else message
    return f"{kept} (in a file that is not IDL text: its contents are not shown)"
