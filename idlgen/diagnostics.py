"""Diagnostics: how every layer reports a problem in the user's IDL.

Errors are values, collected in a `DiagnosticSink` while the front end keeps going
(so a run reports as many problems as recovery allows), and turned into an
`IdlError` only at the API boundary. Positions always name the file the problem is
in (an imported or `#include`d file), never the file the user passed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from idlgen.printable import printable
from idlgen.records import record


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


@record
class Position:
    """A place in a source file; `line` and `column` count from 1."""

    file: str
    line: int
    column: int = 1

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@record
class Diagnostic:
    severity: Severity
    message: str
    position: Position | None = None
    source_line: str | None = None
    # Where the file of `position` was #included or imported from, innermost first.
    included_from: tuple[Position, ...] = ()
    option: str | None = None  # the -W switch of a warning (`macro-redefined`)

    def format(self) -> str:
        """gcc's layout: the "In file included from" chain, `file:line:col: error:
        message [-Wswitch]`, then the source line and a caret.

        Control characters (a newline or a terminal escape in a file name, a macro
        body or a source line) are shown escaped: one diagnostic is one line plus
        its quote, and cannot pose as another or drive the terminal."""
        where = f"{printable(str(self.position))}: " if self.position else "idlgen: "
        text = _inclusion_lines(self.included_from)
        text += f"{where}{self.severity.value}: {printable(self.message)}"
        if self.option is not None:
            text += f" [-W{self.option}]"
        if self.source_line is not None and self.position is not None:
            line = printable(self.source_line.rstrip("\r\n").expandtabs(1))
            caret = " " * max(self.position.column - 1, 0) + "^"
            text += f"\n{line}\n{caret}"
        return text

    def __str__(self) -> str:
        return self.format()


def _inclusion_lines(chain: tuple[Position, ...]) -> str:
    lines = []
    for index, place in enumerate(chain):
        lead = "In file included from " if index == 0 else "                 from "
        end = ":" if index == len(chain) - 1 else ","
        lines.append(f"{lead}{printable(place.file)}:{place.line}{end}\n")
    return "".join(lines)


class IdlError(Exception):
    """Raised by the Python API when IDL input has errors; carries every diagnostic."""

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics: list[Diagnostic] = list(diagnostics)
        super().__init__("\n".join(d.format() for d in self.errors) or "IDL error")

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity is Severity.ERROR]


# Every warning idlgen gives, by the name of its -W switch (docs/cli.md).
WARNINGS: dict[str, str] = {
    "macro-redefined": "a macro is #defined again with a different body",
    "typedef-redefinition": "a typedef is declared again with a different type",
    "duplicate-attribute": "the same attribute is given twice on one declaration",
    "cpp": "a #warning directive",
}


@record
class WarningSettings:
    """gcc's -W switches: which warnings show, which are errors, and whether the
    system headers (files reached through -I folders and the bundled base IDL) may
    warn at all. Specific switches win over -Wall and -Werror, whatever their order."""

    disabled: frozenset[str] = frozenset()
    enabled: frozenset[str] = frozenset()
    all_errors: bool = False
    errors: frozenset[str] = frozenset()
    not_errors: frozenset[str] = frozenset()
    system_headers: bool = False

    @classmethod
    def parse(cls, switches: Iterable[str]) -> WarningSettings:
        """From switches as written after `-W` (`all`, `no-cpp`, `error=cpp`...);
        an unknown name is a ValueError, as gcc refuses it."""
        fields: dict[str, set[str]] = {
            "disabled": set(),
            "enabled": set(),
            "errors": set(),
            "not_errors": set(),
        }
        all_errors = system_headers = False
        for switch in switches:
            negative = switch.startswith("no-")
            name = switch[3:] if negative else switch
            if name == "all" or name == "extra":
                continue  # every warning is on unless switched off
            if name == "system-headers":
                system_headers = not negative
            elif name == "error":
                all_errors = not negative
            elif name.startswith("error="):
                target = _known(name.removeprefix("error="), switch)
                fields["not_errors" if negative else "errors"].add(target)
            else:
                fields["disabled" if negative else "enabled"].add(_known(name, switch))
        return cls(
            disabled=frozenset(fields["disabled"] - fields["enabled"]),
            enabled=frozenset(fields["enabled"]),
            all_errors=all_errors,
            errors=frozenset(fields["errors"]),
            not_errors=frozenset(fields["not_errors"]),
            system_headers=system_headers,
        )

    def shown(self, option: str) -> bool:
        return option not in self.disabled

    def is_error(self, option: str) -> bool:
        if option in self.not_errors:
            return False
        return self.all_errors or option in self.errors


def _known(name: str, switch: str) -> str:
    if name not in WARNINGS:
        raise ValueError(f"unknown warning option '-W{switch}'")
    return name


@dataclass
class DiagnosticSink:
    """Collects diagnostics; reads source lines lazily so carets cost nothing until shown.

    `sources` maps a file name to its text, filled by whoever reads files (the
    preprocessor), so a diagnostic can quote the line without reading the file again.
    `included_from` maps a file to the `#include` or `import` that brought it in (the
    first one), for gcc's "In file included from" chain. A file inside one of
    `system_dirs` (the -I folders and the bundled base IDL) is a system header, unless
    it is in `user_dir`, the main file's own folder.
    """

    diagnostics: list[Diagnostic] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    max_errors: int = 100
    # Files whose text must not appear in messages: an #include or import of something
    # that is not IDL (frontend/sources.py). Their diagnostics quote no line, and the
    # message stops before the first quoted piece of text.
    opaque: set[str] = field(default_factory=set)
    warnings: WarningSettings = field(default_factory=WarningSettings)
    included_from: dict[str, Position] = field(default_factory=dict)
    system_dirs: tuple[str, ...] = ()
    user_dir: str | None = None
    dropped_errors: int = 0
    # Every warning asked for, before the -W settings filter it: a parse reused from
    # the cache replays its own into a later compile, whose settings may differ.
    raw_warnings: list[tuple[str, Position | None, str]] = field(default_factory=list)
    _error_count: int = 0
    _system: dict[str, bool] = field(default_factory=dict)

    def error(self, message: str, position: Position | None = None) -> None:
        self._add(Severity.ERROR, message, position)

    def warning(self, message: str, position: Position | None = None, *, option: str) -> None:
        """A warning named by its -W switch; silent when switched off or when it is
        about a system header (unless -Wsystem-headers); an error under -Werror."""
        self.raw_warnings.append((message, position, option))
        settings = self.warnings
        if not settings.shown(option):
            return
        if position is not None and self.is_system(position.file) and not settings.system_headers:
            return
        if settings.is_error(option):
            self._add(Severity.ERROR, message, position, f"error={option}")
        else:
            self._add(Severity.WARNING, message, position, option)

    def note(self, message: str, position: Position | None = None) -> None:
        self._add(Severity.NOTE, message, position)

    def include(self, path: str, where: Position) -> None:
        """`path` was brought in by the #include or import at `where`."""
        if path != where.file:
            self.included_from.setdefault(path, where)

    def is_system(self, path: str) -> bool:
        found = self._system.get(path)
        if found is None:
            found = self._system[path] = _inside_any(path, self.system_dirs) and (
                self.user_dir is None or os.path.dirname(os.path.abspath(path)) != self.user_dir
            )
        return found

    @property
    def has_errors(self) -> bool:
        return self._error_count > 0

    @property
    def error_count(self) -> int:
        return self._error_count

    def raise_if_errors(self) -> None:
        if not self.has_errors:
            return
        if self.dropped_errors:
            more = "error was" if self.dropped_errors == 1 else "errors were"
            self.diagnostics.append(
                Diagnostic(
                    Severity.NOTE,
                    f"{self.dropped_errors} more {more} not shown "
                    f"(idlgen lists the first {self.max_errors})",
                )
            )
            self.dropped_errors = 0
        raise IdlError(self.diagnostics)

    def _add(
        self,
        severity: Severity,
        message: str,
        position: Position | None,
        option: str | None = None,
    ) -> None:
        if severity is Severity.ERROR and self._error_count >= self.max_errors:
            self.dropped_errors += 1
            return
        if position is not None and position.file in self.opaque:
            message = _without_quoted_text(message)
        key = (severity, message, position)
        if any((d.severity, d.message, d.position) == key for d in self.diagnostics[-8:]):
            return  # the same complaint twice in a row helps nobody
        if severity is Severity.ERROR:
            self._error_count += 1
        self.diagnostics.append(
            Diagnostic(
                severity,
                message,
                position,
                self._source_line(position),
                self._chain(position),
                option,
            )
        )

    def _chain(self, position: Position | None) -> tuple[Position, ...]:
        chain: list[Position] = []
        current = position.file if position is not None else None
        while current is not None and current in self.included_from and len(chain) < 200:
            where = self.included_from[current]
            if any(p.file == where.file for p in chain):
                break
            chain.append(where)
            current = where.file
        return tuple(chain)

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


def _inside_any(path: str, folders: tuple[str, ...]) -> bool:
    absolute = os.path.abspath(path)
    return any(absolute.startswith(folder.rstrip(os.sep) + os.sep) for folder in folders)
