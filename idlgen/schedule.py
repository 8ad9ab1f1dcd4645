"""How `idlgen -jN` hands its inputs to worker processes: inputs that import one large
file go to the same worker, and the largest pieces of work go first.

Each worker keeps its own parse cache, so two workers compiling two importers of the
same large file both parse it: in the Wine corpus `dhtmled.idl` and
`docobjectservice.idl` both import `mshtml.idl` (1.1 MB, about 2 s to parse), and with
the inputs handed out in order the two workers parsed it side by side, a sixth of the
whole run's CPU spent twice. Knowing what a file imports takes preprocessing; a look
for `import "..."` in the raw bytes is close enough for a schedule. A wrong guess
(an import inside `#if 0`, a name the search finds elsewhere) costs time only: every
job compiles exactly as it would on its own, so the outputs cannot change.
"""

from __future__ import annotations

import os
import re
import stat
from collections import Counter
from collections.abc import Sequence

# `import "a.idl", "b.idl";`: without a leading `\b`, so the regex engine can skip to
# each literal "import" (a file that mentions the word elsewhere costs a failed match).
_IMPORT = re.compile(rb'import\s*("[^"\n]*"(?:\s*,\s*"[^"\n]*")*)')
_NAME = re.compile(rb'"([^"\n]*)"')
# An import worth keeping to one worker: at least this share of a worker's part of
# all the bytes to read (the corpus: mshtml.idl alone, 1.1 of 4.4 MB over 2 workers).
HEAVY_SHARE = 4


class _Scan:
    """Sizes and imports of the files reached from the inputs, each file read once."""

    def __init__(self, search_path: Sequence[str], max_bytes: int) -> None:
        self.search_path = tuple(search_path)
        self.max_bytes = max_bytes
        self.sizes: dict[str, int] = {}
        self.imports: dict[str, tuple[str, ...]] = {}

    def closure(self, source: str) -> set[str]:
        """`source` and every file it imports, directly or not."""
        reached: set[str] = set()
        pending = [os.path.normpath(source)]
        while pending:
            path = pending.pop()
            if path in reached:
                continue
            reached.add(path)
            pending.extend(self._imports_of(path))
        return reached

    def _imports_of(self, path: str) -> tuple[str, ...]:
        known = self.imports.get(path)
        if known is not None:
            return known
        # Only regular files within the size limit: reading a pipe or a device here
        # would take its text from the worker that compiles it.
        data = b""
        try:
            status = os.stat(path)
            if stat.S_ISREG(status.st_mode) and status.st_size <= self.max_bytes:
                with open(path, "rb") as handle:
                    data = handle.read(self.max_bytes)
        except OSError:
            pass
        self.sizes[path] = len(data)
        found = []
        for match in _IMPORT.finditer(data):
            for name in _NAME.findall(match.group(1)):
                located = self._find(os.fsdecode(name), path)
                if located is not None:
                    found.append(located)
        self.imports[path] = result = tuple(found)
        return result

    def _find(self, name: str, importer: str) -> str | None:
        """The loader's search order: the importer's folder, then the search path."""
        for folder in (os.path.dirname(importer) or ".", *self.search_path):
            candidate = os.path.join(folder, name)
            if os.path.isfile(candidate):
                return os.path.normpath(candidate)
        return None


def plan(
    sources: Sequence[str], search_path: Sequence[str], workers: int, max_bytes: int
) -> list[list[str]]:
    """`sources` in groups, each for one worker to compile in order, largest first;
    files above `max_bytes` (the compiler's own limit) are not read.

    Inputs sharing a heavy import form one group unless it would outgrow both a
    worker's share of the work and twice its heavy imports: then the import is parsed
    twice rather than a core left idle (split in two, such a group would cost each
    worker its heavy imports and half the rest, at most the group's cost again).
    A group's cost is the bytes it reads once its worker holds the small imports every
    input shares: its inputs' own bytes and its heavy imports' bytes.
    """
    scan = _Scan(search_path, max_bytes)
    closures = [scan.closure(source) for source in sources]
    total = sum(scan.sizes.values())
    threshold = total // (HEAVY_SHARE * max(workers, 1))
    readers = Counter(path for closure in closures for path in closure)
    heavy = {path for path, size in scan.sizes.items() if size >= threshold > 0}
    heavy = {path for path in heavy if readers[path] > 1}  # else nothing to share
    cap = total // max(workers, 1)
    groups: list[list[int]] = []
    group_files: list[set[str]] = []
    holder: dict[str, int] = {}  # heavy file -> the group that reads it
    for index, source in enumerate(sources):
        mine = closures[index] & heavy
        target = next((holder[path] for path in sorted(mine) if path in holder), None)
        own = os.path.normpath(source)
        if target is not None:
            merged = group_files[target] | mine | {own}
            shared = sum(scan.sizes.get(path, 0) for path in merged & heavy)
            if sum(scan.sizes.get(path, 0) for path in merged) <= max(cap, 2 * shared):
                groups[target].append(index)
                group_files[target] = merged
                for path in mine:
                    holder.setdefault(path, target)
                continue
        groups.append([index])
        group_files.append(mine | {own})
        for path in mine:
            holder.setdefault(path, len(groups) - 1)

    def cost(number: int) -> int:
        return sum(scan.sizes.get(path, 0) for path in group_files[number])

    # Largest first, so the run does not end on one core with a big group left; a
    # stable sort keeps the inputs' order among equals.
    order = sorted(range(len(groups)), key=cost, reverse=True)
    return [[sources[index] for index in groups[number]] for number in order]
