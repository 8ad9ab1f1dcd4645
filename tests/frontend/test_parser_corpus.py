"""The Wine corpus: every file widl accepts parses with zero diagnostics.

Input is `widl -E` output (widl's own preprocessor), so this tests the parser alone.
Imports are parsed the same way, once each, and hand their type names (transitively)
to the importing file, as the resolver will. Files widl rejects must still parse
without a traceback.
"""

from __future__ import annotations

import bisect
import re
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from idlgen.diagnostics import Diagnostic, DiagnosticSink, Position
from idlgen.frontend import syntax
from idlgen.frontend.parser import declared_type_names, parse

if TYPE_CHECKING:
    from shared_fixtures import WineCorpus

_LINE_MARKER = re.compile(r'^# (\d+) "([^"]*)"', re.MULTILINE)


def line_marker_position(text: str) -> Callable[[int, int], Position]:
    """Maps lines of `cpp`-style output back to their files through `# N "file"` lines."""
    marker_lines: list[int] = []
    targets: list[tuple[str, int]] = []
    for match in _LINE_MARKER.finditer(text):
        marker_lines.append(text.count("\n", 0, match.start()) + 1)
        targets.append((match.group(2), int(match.group(1))))

    def position(line: int, column: int) -> Position:
        index = bisect.bisect_right(marker_lines, line - 1) - 1
        if index < 0:
            return Position("<preprocessed>", line, column)
        name, first = targets[index]
        return Position(name, first + line - marker_lines[index] - 1, column)

    return position


@dataclass
class CorpusParser:
    """Preprocesses with widl, parses, and remembers each file's type names."""

    widl: str
    include_dirs: list[Path]
    names: dict[str, set[str]] = field(default_factory=dict)
    in_progress: set[str] = field(default_factory=set)

    def _flags(self) -> list[str]:
        return [f"-I{d}" for d in self.include_dirs]

    def accepts(self, path: Path) -> bool:
        # Never `-o /dev/null`: widl deletes its output file when it fails.
        with tempfile.TemporaryDirectory() as scratch:
            run = subprocess.run(
                [self.widl, *self._flags(), "-h", "-o", str(Path(scratch) / "out.h"), str(path)],
                capture_output=True,
                cwd=path.parent,
            )
        return run.returncode == 0

    def parse(self, path: Path) -> tuple[syntax.File | None, list[Diagnostic]]:
        run = subprocess.run(
            [self.widl, "-E", *self._flags(), path.name],
            capture_output=True,
            text=True,
            cwd=path.parent,
        )
        if run.returncode != 0:
            return None, []
        sink = DiagnosticSink()
        imported: set[str] = set()

        def on_import(name: str, pos: Position) -> set[str]:
            found = self.type_names(name)
            imported.update(found)
            return found

        result = parse(
            run.stdout,
            path.name,
            sink=sink,
            position=line_marker_position(run.stdout),
            on_import=on_import,
        )
        self.names[path.name] = imported | declared_type_names(result)
        return result, sink.diagnostics

    def type_names(self, name: str) -> set[str]:
        if name in self.names:
            return self.names[name]
        if name in self.in_progress:
            return set()  # an import cycle: widl ignores a file already being imported
        path = next((d / name for d in self.include_dirs if (d / name).is_file()), None)
        if path is None:
            return set()
        self.in_progress.add(name)
        try:
            self.parse(path)
        finally:
            self.in_progress.discard(name)
        return self.names.get(name, set())


@pytest.fixture(scope="session")
def corpus_parser(wine_corpus: WineCorpus, widl: str) -> CorpusParser:
    return CorpusParser(widl, wine_corpus.include_dirs)


def test_widl_accepted_file_parses_without_errors(
    wine_idl_file: Path, corpus_parser: CorpusParser
) -> None:
    result, diagnostics = corpus_parser.parse(wine_idl_file)
    if corpus_parser.accepts(wine_idl_file):
        assert result is not None, "widl -E failed on a file widl accepts"
        assert [d.format() for d in diagnostics] == []
        assert result.items, "a file widl accepts declares something"
    else:
        # widl rejects it: we may report errors too, but as diagnostics with positions
        assert all(d.position is not None for d in diagnostics)


def test_line_markers_map_back_to_the_included_file() -> None:
    text = '# 1 "a.idl"\nx\n# 10 "b.h" 1\ny\nz\n# 3 "a.idl" 2\nw\n'
    position = line_marker_position(text)
    assert position(2, 1) == Position("a.idl", 1, 1)
    assert position(5, 4) == Position("b.h", 11, 4)
    assert position(7, 1) == Position("a.idl", 3, 1)
