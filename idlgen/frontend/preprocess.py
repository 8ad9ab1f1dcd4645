"""The C preprocessor that runs over IDL before parsing, as widl's (wpp) does.

The output keeps the line structure of its input: every real line stays one line
(directives and skipped lines become empty lines, comments become spaces), and an
`#include` puts the included file's lines in place of the directive. A `LineMap`
records, for runs of output lines, which file and line they came from, so the parser
can report errors in the file the user wrote. `#pragma` lines are removed from the
text and handed to the parser separately, with the output line they stood on.

Where widl differs from the C standard and a test of widl showed it, we follow widl:
`__LINE__` and `__FILE__` name the physical line and file even after `#line`, and
`__WIDL__` is 0x70000. Where wpp fails (it cannot evaluate `'A'`, `%` or `~0 == -1`
in `#if`, and ignores variadic macros), we follow C. `#pragma once` is honoured,
which wpp does not do; a file that needs it would not compile under widl anyway.

Text between directives is passed through untouched unless it mentions a defined
macro, so plain IDL costs one identifier scan per block of lines.
"""

from __future__ import annotations

import os
import re
import time
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from idlgen.diagnostics import DiagnosticSink, Position
from idlgen.frontend.ppexpr import PPExprError, evaluate
from idlgen.frontend.ppmacro import (
    ANY_NAME_RE,
    Expander,
    Macro,
    MacroError,
    names_pattern,
    parse_define,
)
from idlgen.frontend.pptext import IDENT_RE, is_identifier, prepare, tokenize
from idlgen.frontend.sources import RefusedSource, is_idl_text_name, read_source
from idlgen.limits import DEFAULT_LIMITS, Limits, exceeded
from idlgen.records import record

WIDL_VERSION = "0x70000"  # what widl 7.0 defines __WIDL__ to
MAX_INCLUDE_DEPTH = 200
COMMAND_LINE = "<command line>"
_MAX_NAMES_IN_PATTERN = 40

_DIRECTIVE_RE = re.compile(r"^[ \t]*#", re.MULTILINE)
_DIRECTIVE_NAME_RE = re.compile(r"[ \t]*([A-Za-z_]\w*|\d+)?")
_CONDITIONALS = frozenset({"if", "ifdef", "ifndef", "elif", "else", "endif"})


@record
class Pragma:
    """A `#pragma` line, removed from the text but reported."""

    text: str  # everything after "#pragma", stripped
    position: Position  # where it was, in the original file
    out_line: int  # the line of the output text it stood on (1-based)


class LineMap:
    """Output line (1-based) -> position in the real file.

    Stored as runs: from output line `o` on, lines come from `file` starting at `line`,
    until the next run begins. A run starts at each include boundary and `#line`.
    """

    def __init__(self, runs: Sequence[tuple[int, str, int]], default_file: str) -> None:
        self._starts = [run[0] for run in runs]
        self._runs = list(runs)
        self._default_file = default_file

    def position(self, out_line: int, column: int = 1) -> Position:
        k = bisect_right(self._starts, out_line) - 1
        if k < 0:
            return Position(self._default_file, max(out_line, 1), column)
        start, file, line = self._runs[k]
        return Position(file, line + out_line - start, column)

    @property
    def runs(self) -> tuple[tuple[int, str, int], ...]:
        return tuple(self._runs)


@record
class PreprocessResult:
    text: str  # preprocessed text; directive lines become empty lines
    line_map: LineMap
    files_read: tuple[str, ...]  # the main file first, then #includes, for depfiles
    pragmas: tuple[Pragma, ...]
    winrt: bool  # True when `#pragma winrt` appeared, with or without ns_prefix (WinRT mode)
    ns_prefix: bool = False  # `#pragma winrt ns_prefix`: namespaces go under ABI::


def preprocess(
    text: str,
    filename: str,
    *,
    include_dirs: Sequence[str] = (),
    defines: Mapping[str, str] | None = None,
    undefines: Sequence[str] = (),
    sink: DiagnosticSink,
    read_file: Callable[[str], str] | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> PreprocessResult:
    """Preprocess `text` (the contents of `filename`); problems go to `sink`.

    `read_file` reads an `#include`d file; the default refuses devices, pseudo files,
    binary files and files over `limits.file_bytes` (frontend/sources.py)."""
    read = read_file or (lambda path: read_source(path, limits.file_bytes))
    pp = _Preprocessor(sink, tuple(include_dirs), read, limits)
    pp.define_initial(defines or {}, undefines)
    return pp.run(text, filename)


class _OutputTooLarge(Exception):
    """The preprocessed text crossed `limits.preprocessed_chars`; reported already."""


def _nesting(tokens: Sequence[str]) -> int:
    """The deepest parenthesis nesting of a token list."""
    depth = deepest = 0
    for token in tokens:
        if token == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif token == ")":
            depth -= 1
    return deepest


def c_string_literal(text: str) -> str:
    """`text` as a C string literal on one line: `__FILE__` names a file, and a file name
    may hold quotes, backslashes, newlines or other control characters. Three-digit
    octal escapes cannot run into the characters after them, as `\\x` escapes can."""
    body = []
    for char in text:
        if char in '"\\':
            body.append("\\" + char)
        elif ord(char) < 0o400 and not (char.isprintable() or char == " "):
            body.append(f"\\{ord(char):03o}")
        else:  # U+2028 and the like end no line in IDL text; they stay
            body.append(char)
    return '"' + "".join(body) + '"'


def predefined_macros() -> dict[str, str]:
    """The object-like macros widl defines before reading a file."""
    now = time.gmtime(int(os.environ.get("SOURCE_DATE_EPOCH", time.time())))
    return {
        "__WIDL__": WIDL_VERSION,
        "_WIN32": "1",
        "__DATE__": time.strftime('"%b %e %Y"', now),
        "__TIME__": time.strftime('"%H:%M:%S"', now),
    }


@dataclass
class _Cond:
    """One open #if group."""

    kind: str  # "if", "ifdef" or "ifndef", for messages
    position: Position
    parent_active: bool
    taking: bool  # lines of the current branch are kept
    taken: bool = False  # some branch was already kept
    seen_else: bool = False


@dataclass
class _Frame:
    """The file being read, with its own #if stack (groups cannot span files)."""

    path: str
    map_file: str  # the file name the line map reports; `#line` changes it
    line_delta: int = 0  # `#line` shifts reported lines by this much
    conds: list[_Cond] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return not self.conds or self.conds[-1].taking


class _Preprocessor:
    def __init__(
        self,
        sink: DiagnosticSink,
        include_dirs: tuple[str, ...],
        read: Callable[[str], str],
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self.sink = sink
        self.include_dirs = include_dirs
        self.read = read
        self.limits = limits
        self.out_chars = 0
        self.macros: dict[str, Macro] = {}
        self.expander = Expander(
            self.macros,
            self._report_expansion,
            self._builtin_value,
            limits.macro_tokens,
            limits.macro_tokens_total,
        )
        self.patterns: dict[frozenset[str], re.Pattern[str]] = {}
        self.pieces: list[str] = []
        self.out_line = 1
        self.runs: list[tuple[int, str, int]] = []
        self.files_read: list[str] = []
        self.pragmas: list[Pragma] = []
        self.winrt = False
        self.ns_prefix = False
        self.once: set[str] = set()
        self.frames: list[_Frame] = []
        # where the macro being expanded stands, for __LINE__ and diagnostics
        self.here: tuple[str, int, int] = ("", 1, 1)

    # ----- setup and driving

    def define_initial(self, defines: Mapping[str, str], undefines: Sequence[str]) -> None:
        for name, value in predefined_macros().items():
            self.macros[name] = Macro(name, tuple(tokenize(value)))
        for name in ("__FILE__", "__LINE__"):
            self.macros[name] = Macro(name, builtin=True)
        where = Position(COMMAND_LINE, 1, 1)
        for name, value in defines.items():
            try:
                macro = parse_define(f"{name} {value}", where)
            except MacroError as err:
                self.sink.error(f"-D{name}: {err.message}", where)
                continue
            self.macros[macro.name] = macro
        for name in undefines:
            self.macros.pop(name, None)
        self.expander.forget()

    def run(self, text: str, filename: str) -> PreprocessResult:
        self.files_read.append(filename)
        try:
            self._process_file(text, filename)
        except _OutputTooLarge:
            self.pieces = []  # nothing half-expanded reaches the parser
        return PreprocessResult(
            text="".join(self.pieces),
            line_map=LineMap(self.runs, filename),
            files_read=tuple(self.files_read),
            pragmas=tuple(self.pragmas),
            winrt=self.winrt,
            ns_prefix=self.ns_prefix,
        )

    def _process_file(self, raw: str, path: str) -> None:
        self.sink.sources.setdefault(path, raw)
        text, problems = prepare(raw)
        for problem in problems:
            self.sink.error(problem.message, Position(path, problem.line, problem.column))
        frame = _Frame(path, path)
        self.frames.append(frame)
        pos, line = 0, 1
        for m in _DIRECTIVE_RE.finditer(text):
            start = m.start()
            chunk = text[pos:start]
            self._emit_chunk(frame, chunk, line)
            line += chunk.count("\n")
            eol = text.index("\n", m.end())
            self._directive(frame, text[m.end() : eol], line, m.end() - start)
            pos, line = eol + 1, line + 1
        self._emit_chunk(frame, text[pos:], line)
        for cond in reversed(frame.conds):
            self.sink.error(f"unterminated #{cond.kind}", cond.position)
        self.frames.pop()

    # ----- output and line map

    def _emit(self, frame: _Frame, block: str, src_line: int) -> None:
        """Append whole lines that came from `src_line` on in `frame`'s file."""
        count = block.count("\n")
        if not count:
            return
        mapped = src_line + frame.line_delta
        if self.runs:
            start, file, line = self.runs[-1]
            continues = file == frame.map_file and line + self.out_line - start == mapped
        else:
            continues = False
        if not continues:
            self.runs.append((self.out_line, frame.map_file, mapped))
        self.out_chars += len(block)
        if self.out_chars > self.limits.preprocessed_chars:
            limit = self.limits.preprocessed_chars
            message = exceeded("the preprocessed text", "preprocessed_chars", limit)
            self.sink.error(message, Position(frame.path, src_line))
            raise _OutputTooLarge
        self.pieces.append(block)
        self.out_line += count

    def _emit_chunk(self, frame: _Frame, chunk: str, src_line: int) -> None:
        if not chunk:
            return
        if frame.active:
            self._emit(frame, self._expand_chunk(frame, chunk, src_line), src_line)
        else:
            self._emit(frame, "\n" * chunk.count("\n"), src_line)

    # ----- macro expansion in text

    def _expand_chunk(self, frame: _Frame, chunk: str, first_line: int) -> str:
        found = self.macros.keys() & set(IDENT_RE.findall(chunk))
        if not found:
            return chunk
        pattern = self._pattern(found)
        macros = self.macros
        pieces: list[str] = []
        pos = 0  # the text before `pos` is in `pieces`
        line, counted_to = first_line, 0
        while True:
            # With many macros the pattern finds every name and literal, most of them
            # kept as they are: they are passed over here, copied later with the
            # text around them in one slice.
            for m in pattern.finditer(chunk, pos):
                if m.group("name") in macros:  # None for a literal: kept
                    break
            else:
                break
            start = m.start()
            line += chunk.count("\n", counted_to, start)
            counted_to = start
            column = start - chunk.rfind("\n", 0, start)
            self.here = (frame.path, line, column)
            replacement, end = self.expander.expand_at(chunk, start, len(chunk))
            pieces.append(chunk[pos:start])
            pieces.append(replacement)
            pos = end
        pieces.append(chunk[pos:])
        return "".join(pieces)

    def _pattern(self, names: set[str]) -> re.Pattern[str]:
        if len(names) > _MAX_NAMES_IN_PATTERN:
            return ANY_NAME_RE
        key = frozenset(names)
        pattern = self.patterns.get(key)
        if pattern is None:
            pattern = self.patterns[key] = names_pattern(key)
        return pattern

    def _report_expansion(self, message: str) -> None:
        self.sink.error(message, Position(*self.here))

    def _builtin_value(self, name: str) -> str:
        file, line, _ = self.here
        if name == "__LINE__":
            return str(line)
        return c_string_literal(file)

    # ----- directives

    def _directive(self, frame: _Frame, body: str, line: int, hash_column: int) -> None:
        """Handle the directive whose text after `#` is `body`; emits its output line."""
        m = _DIRECTIVE_NAME_RE.match(body)
        assert m is not None
        name = m.group(1) or ""
        rest = body[m.end() :]
        name_column = hash_column + 1 + (m.start(1) if name else m.end())
        rest_column = hash_column + 1 + m.end() + len(rest) - len(rest.lstrip(" \t"))
        where = Position(frame.path, line, name_column)
        rest_where = Position(frame.path, line, rest_column)
        self.here = (frame.path, line, rest_column)
        if name in _CONDITIONALS:
            self._conditional(frame, name, rest, where, rest_where)
        elif frame.active:
            if name == "include":
                self._include(frame, rest, rest_where)
                return
            self._active_directive(frame, name, rest, where, rest_where, hash_column)
        self._emit(frame, "\n", line)

    def _active_directive(
        self,
        frame: _Frame,
        name: str,
        rest: str,
        where: Position,
        rest_where: Position,
        hash_column: int,
    ) -> None:
        line = where.line
        if name == "define":
            self._define(rest, rest_where)
        elif name == "undef":
            self._undef(rest, rest_where)
        elif name == "pragma":
            self._pragma(rest, Position(frame.path, line, hash_column))
        elif name == "line" or name.isdigit():
            self._line(frame, rest if name == "line" else name + rest, line, rest_where)
        elif name == "error":
            self.sink.error(f"#error {rest.strip()}".rstrip(), where)
        elif name == "warning":
            self.sink.warning(f"#warning {rest.strip()}".rstrip(), where, option="cpp")
        elif name or rest.strip():
            shown = name or rest.strip().split()[0]
            self.sink.error(f"invalid preprocessing directive #{shown}", where)

    def _conditional(
        self, frame: _Frame, name: str, rest: str, where: Position, rest_where: Position
    ) -> None:
        conds = frame.conds
        if name in ("if", "ifdef", "ifndef"):
            parent = frame.active
            value = parent and self._condition(name, rest, rest_where)
            conds.append(_Cond(name, where, parent, taking=value, taken=value))
            return
        if not conds:
            self.sink.error(f"#{name} without #if", where)
            return
        cond = conds[-1]
        if name == "endif":
            conds.pop()
        elif cond.seen_else:
            self.sink.error(f"#{name} after #else", where)
            cond.taking = False
        elif name == "else":
            cond.taking = cond.parent_active and not cond.taken
            cond.taken = cond.seen_else = True
        else:  # elif
            live = cond.parent_active and not cond.taken
            cond.taking = live and self._condition("elif", rest, rest_where)
            cond.taken = cond.taken or cond.taking

    def _condition(self, kind: str, rest: str, where: Position) -> bool:
        if kind == "ifdef" or kind == "ifndef":
            name = self._macro_name(rest, kind, where)
            if name is None:
                return False
            return (name in self.macros) == (kind == "ifdef")
        return self._evaluate(rest, kind, where)

    def _macro_name(self, rest: str, kind: str, where: Position) -> str | None:
        words = rest.split()
        if not words:
            self.sink.error(f"no macro name given in #{kind} directive", where)
            return None
        m = IDENT_RE.match(words[0])
        if m is None or m.end() != len(words[0]):
            self.sink.error("macro names must be identifiers", where)
            return None
        return m.group()

    def _evaluate(self, rest: str, kind: str, where: Position) -> bool:
        tokens = self._replace_defined(tokenize(rest), where)
        if tokens is None:
            return False
        expanded = self.expander.expand_tokens(tokens)
        solid = [tok for tok in expanded if not tok.isspace()]
        if not solid:
            self.sink.error(f"#{kind} with no expression", where)
            return False
        if _nesting(solid) > self.limits.if_nesting:
            what = f"parenthesis nesting in #{kind}"
            self.sink.error(exceeded(what, "if_nesting", self.limits.if_nesting), where)
            return False
        try:
            return evaluate(solid) != 0
        except PPExprError as err:
            self.sink.error(str(err), where)
            return False

    def _replace_defined(self, tokens: list[str], where: Position) -> list[str] | None:
        """`defined X` and `defined(X)` become 1 or 0 before macros are expanded."""
        out: list[str] = []
        solid = [tok for tok in tokens if not tok.isspace()]
        i = 0
        while i < len(solid):
            tok = solid[i]
            if tok != "defined":
                out.append(tok)
                i += 1
                continue
            paren = i + 1 < len(solid) and solid[i + 1] == "("
            k = i + 2 if paren else i + 1
            if k >= len(solid) or not is_identifier(solid[k]):
                self.sink.error('operator "defined" requires an identifier', where)
                return None
            if paren and (k + 1 >= len(solid) or solid[k + 1] != ")"):
                self.sink.error('missing ")" after "defined"', where)
                return None
            out.append("1" if solid[k] in self.macros else "0")
            i = k + 2 if paren else k + 1
        return [part for tok in out for part in (tok, " ")]

    def _define(self, rest: str, where: Position) -> None:
        try:
            macro = parse_define(rest.lstrip(" \t"), where)
        except MacroError as err:
            at = Position(where.file, where.line, where.column + err.offset)
            self.sink.error(err.message, at)
            return
        old = self.macros.get(macro.name)
        if old is not None and not old.same_definition(macro):
            self.sink.warning(f'"{macro.name}" redefined', where, option="macro-redefined")
        self.macros[macro.name] = macro
        self.expander.forget_name(macro.name)

    def _undef(self, rest: str, where: Position) -> None:
        name = self._macro_name(rest, "undef", where)
        if name is not None and self.macros.pop(name, None) is not None:
            self.expander.forget_name(name)

    def _pragma(self, rest: str, where: Position) -> None:
        text = rest.strip()
        self.pragmas.append(Pragma(text, where, self.out_line))
        words = text.split()
        if words[:1] == ["winrt"]:  # widl: any `#pragma winrt` turns WinRT mode on
            self.winrt = True
            self.ns_prefix = self.ns_prefix or words[1:2] == ["ns_prefix"]
        elif words == ["once"]:
            self.once.add(where.file)

    def _line(self, frame: _Frame, rest: str, line: int, where: Position) -> None:
        tokens = [t for t in self.expander.expand_tokens(tokenize(rest)) if not t.isspace()]
        if not tokens or not tokens[0].isdigit():
            shown = tokens[0] if tokens else ""
            self.sink.error(f'"{shown}" after #line is not a positive integer', where)
            return
        if len(tokens) > 1:
            if not tokens[1].startswith('"'):
                self.sink.error(f'invalid filename "{tokens[1]}" in #line', where)
                return
            frame.map_file = tokens[1][1:-1].replace('\\"', '"').replace("\\\\", "\\")
        frame.line_delta = int(tokens[0]) - (line + 1)

    # ----- #include

    def _include(self, frame: _Frame, rest: str, where: Position) -> None:
        line = where.line
        spec = self._include_spec(rest.strip())
        if spec is None:
            expanded = "".join(self.expander.expand_tokens(tokenize(rest))).strip()
            spec = self._include_spec(expanded)
        if spec is None:
            self.sink.error('#include expects "FILENAME" or <FILENAME>', where)
            self._emit(frame, "\n", line)
            return
        name, quoted = spec
        found = self._find_include(frame.path, name, quoted)
        if isinstance(found, RefusedSource):
            self.sink.error(f'cannot include "{name}": {found.reason}', where)
            found = None
        elif found is None:
            self.sink.error(f'cannot open include file "{name}"', where)
        elif len(self.frames) > MAX_INCLUDE_DEPTH:
            self.sink.error("#include nested too deeply", where)
            found = None
        if found is None or found[0] in self.once:
            self._emit(frame, "\n", line)
            return
        path, content = found
        if path not in self.files_read:
            self.files_read.append(path)
        self.sink.include(path, where)
        if not is_idl_text_name(path):
            self.sink.opaque.add(path)
        self._process_file(content, path)

    @staticmethod
    def _include_spec(text: str) -> tuple[str, bool] | None:
        """(name, quoted) from `"name"` or `<name>` and nothing else after it."""
        if len(text) >= 2 and text[0] == '"':
            end = text.find('"', 1)
        elif len(text) >= 2 and text[0] == "<":
            end = text.find(">", 1)
        else:
            return None
        if end < 1 or text[end + 1 :].strip():
            return None
        return text[1:end], text[0] == '"'

    def _find_include(
        self, current: str, name: str, quoted: bool
    ) -> tuple[str, str] | RefusedSource | None:
        """The path and text of the first match: the includer's folder (for "x"), then -I.
        A match that is no IDL text (a device, a binary file...) ends the search refused."""
        folders = [os.path.dirname(current)] if quoted else []
        folders.extend(self.include_dirs)
        candidates = [name] if os.path.isabs(name) else [os.path.join(d, name) for d in folders]
        for path in candidates:
            try:
                return path, self.read(path)
            except (OSError, UnicodeDecodeError):
                continue
            except RefusedSource as refused:
                return refused
        return None
