"""One job of the `idlgen` command: compile one IDL file with the command's options and
write (or check) its output; and the make rules for --depfile.

Below both `cli` (which parses the options) and `batch` (which runs many jobs), so neither
has to import the other's caller. Exit codes are the command's (docs/cli.md).
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

from idlgen.limits import DEFAULT_LIMITS, Limits
from idlgen.module_map import ModuleMap
from idlgen.printable import printable

if TYPE_CHECKING:
    from idlgen.api import CompileResult
    from idlgen.diagnostics import Diagnostic

EXIT_OK, EXIT_IDL_ERROR, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


class Options(NamedTuple):
    """The command's settings. This and the other records of the command are named
    tuples, not dataclasses: a run served from the result cache builds them all, and
    never needs to import `dataclasses` (about a tenth of such a run)."""

    inputs: tuple[str, ...]
    output_dir: str | None
    include_dirs: tuple[str, ...]
    defines: dict[str, str]
    undefines: tuple[str, ...]
    emit: str
    stdout: bool
    quiet: bool
    verbose: bool
    check: bool = False
    diff: bool = False
    depfile: str | None = None
    pyi: bool = False
    limits: Limits = DEFAULT_LIMITS
    with_imports: bool = False
    module_map: ModuleMap = ModuleMap()
    json_indent: int | None = None
    jobs: int | None = None  # worker processes; None: idlgen.batch decides
    use_cache: bool = True  # idlgen.result_cache
    warnings: tuple[str, ...] = ()


def output_path(options: Options, source: str, module_name: str) -> str:
    suffix = ".json" if options.emit == "json" else ".pyi" if options.pyi else ".py"
    # No "./" prefix for an input in the current folder: make compares target names
    # as strings, and the depfile must name the target the makefile names.
    folder = options.output_dir or os.path.dirname(source)
    return os.path.join(folder, module_name + suffix)


def write_if_changed(path: str, text: str) -> bool:
    """Write atomically, and not at all when the content is unchanged (keeps mtime)."""
    try:
        with open(path, encoding="utf-8", newline="") as existing:
            if existing.read() == text:
                return False
    except OSError:
        pass
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, exist_ok=True)
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        with open(temporary, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return True


def _print_diagnostics(diagnostics: Sequence[Diagnostic], quiet: bool) -> None:
    for diagnostic in diagnostics:
        if quiet and diagnostic.severity.value == "warning":
            continue  # notes stay: they explain errors (a missing import, errors cut off)
        print(diagnostic.format(), file=sys.stderr)


class Outcome(NamedTuple):
    """What one input did: its exit status and, when it compiled, the output path,
    the files it was built from (for --depfile), what became of the output (for the
    batch summary) and the IDL files it imports (for --with-imports)."""

    status: int
    target: str | None = None
    files_read: tuple[str, ...] = ()
    state: str = "failed"  # "written", "unchanged", "stale" or "printed" when it compiled
    imports: tuple[str, ...] = ()


def read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError):
        return None


def compare_output(options: Options, target: str, text: str) -> int:
    """--check / --diff: report a stale or missing output, never write it."""
    current = read_text(target)
    if current == text:
        return EXIT_OK
    if options.diff:
        import difflib  # not for --check, which a CI runs served from the cache

        old = (current or "").splitlines(keepends=True)
        new = text.splitlines(keepends=True)
        label = target if current is not None else "/dev/null"
        sys.stdout.writelines(difflib.unified_diff(old, new, label, target))
    if options.check or not options.diff:
        state = "missing" if current is None else "stale"
        print(f"idlgen: {state}: {printable(target)}", file=sys.stderr)
        return EXIT_IDL_ERROR
    return EXIT_OK


class DepfileError(Exception):
    """A file name make cannot express: a line break ends the rule, `;` starts a recipe
    and `=` makes a variable assignment whatever the escaping."""


_MAKE_UNEXPRESSIBLE = ("\n", "\r", ";", "=")
# Patterns, compiled (and cached by `re`) on the first --depfile, not at every start.
_MAKE_SPECIAL = r"(\\*)([ \t#|:*?\[])"
_TRAILING_BACKSLASHES = r"(\\+)$"


def make_escape(path: str) -> str:
    """A path as GNU make reads a target or prerequisite.

    Blanks, `#`, `|` (order-only), `:` and the wildcard characters get a backslash, and
    the backslashes before them are doubled so they stay backslashes; `$` becomes `$$`;
    backslashes at the end are doubled so they cannot escape the separator after them.
    A name make cannot express raises `DepfileError`, never a half-escaped rule.
    """
    refused = [char for char in _MAKE_UNEXPRESSIBLE if char in path]
    if refused:
        raise DepfileError(f"file name {path!r} holds {refused[0]!r}, which make cannot express")
    path = re.sub(_MAKE_SPECIAL, lambda m: m.group(1) * 2 + "\\" + m.group(2), path)
    path = re.sub(_TRAILING_BACKSLASHES, lambda m: m.group(1) * 2, path)
    return path.replace("$", "$$")


def depfile_text(outcomes: Sequence[Outcome]) -> str:
    """One make rule per output, each name escaped by `make_escape`."""
    rules = []
    for outcome in outcomes:
        if outcome.target is None:
            continue
        deps = " \\\n  ".join(make_escape(p) for p in outcome.files_read)
        rules.append(f"{make_escape(outcome.target)}: \\\n  {deps}\n")
    return "".join(rules)


def _compile_now(options: Options, source: str) -> CompileResult:
    """The compiler itself, imported only when the result cache cannot answer: a
    cached run never loads the parser, the model or the code generator."""
    from idlgen.api import compile
    from idlgen.result_cache import enabled
    from idlgen.semantics.parse_store import default_folder

    return compile(
        source,
        include_dirs=options.include_dirs,
        defines=options.defines,
        undefines=options.undefines,
        emit="json" if options.emit == "json" else "python",
        module_map=options.module_map,
        json_indent=options.json_indent,
        warnings=options.warnings,
        limits=options.limits,
        parse_cache_dir=default_folder() if enabled(options) else None,
    )


def compile_one(options: Options, source: str) -> Outcome:
    from idlgen.result_cache import cached_compile

    if not os.path.exists(source):
        print(f"idlgen: error: cannot open '{printable(source)}': no such file", file=sys.stderr)
        return Outcome(EXIT_IDL_ERROR)
    try:
        result = cached_compile(options, source, lambda: _compile_now(options, source))
    except Exception as error:
        from idlgen.diagnostics import IdlError  # loaded by the compile that raised it

        if not isinstance(error, IdlError):
            raise
        _print_diagnostics(error.diagnostics, options.quiet)
        return Outcome(EXIT_IDL_ERROR)
    _print_diagnostics(result.diagnostics, options.quiet)
    assert result.output is not None
    if options.stdout:
        sys.stdout.write(result.output)
        return Outcome(EXIT_OK, state="printed")
    target = output_path(options, source, result.module_name)
    files_read = tuple(os.path.abspath(p) for p in result.files_read)
    if options.check or options.diff:
        status = compare_output(options, target, result.output)
        fresh = read_text(target) == result.output
        state = "unchanged" if fresh else "stale"
        return Outcome(status, target, files_read, state, result.imports)
    try:
        changed = write_if_changed(target, result.output)
    except OSError as error:
        print(
            f"idlgen: error: cannot write '{printable(target)}': {_reason(error)}", file=sys.stderr
        )
        return Outcome(EXIT_IDL_ERROR)
    if options.verbose:
        print(f"{'wrote' if changed else 'unchanged'} {printable(target)}", file=sys.stderr)
    state = "written" if changed else "unchanged"
    return Outcome(EXIT_OK, target, files_read, state, result.imports)


def _reason(error: OSError) -> str:
    return error.strerror or type(error).__name__
