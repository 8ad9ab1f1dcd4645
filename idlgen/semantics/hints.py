"""Hints for a type name nobody declared: most often an import is missing.

When the parser meets an unknown type name (or an interface's parent is unknown),
this looks through the IDL files on the search path (the -I folders, then the bundled
base IDL) for one that declares it, so the note can say which file to import. The
search runs only when there is an error to explain, and reads each file once per
compile.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from idlgen.frontend.sources import RefusedSource, read_source
from idlgen.limits import DEFAULT_LIMITS

_MAX_FILES = 5000  # a search path is folders of headers; this only bounds a mistake


@dataclass
class DeclarationFinder:
    search_path: tuple[str, ...]
    # Files are read as sources are (frontend/sources.py): a FIFO or a device named
    # `*.idl` in an -I folder must not hang or flood the search.
    max_bytes: int = DEFAULT_LIMITS.file_bytes
    _texts: dict[str, str] | None = None
    _answers: dict[str, str | None] = field(default_factory=dict)

    def hint(self, name: str) -> str:
        """A note for an unknown type `name`: the file that declares it, if one does."""
        found = self.declared_in(name)
        if found is not None:
            return f"'{name}' is declared in {found}: did you forget 'import \"{found}\";'?"
        return f"'{name}' is declared neither here nor in any import: did you forget an import?"

    def declared_in(self, name: str) -> str | None:
        if name not in self._answers:
            self._answers[name] = self._search(name)
        return self._answers[name]

    def _search(self, name: str) -> str | None:
        word = re.escape(name)
        pattern = re.compile(
            rf"\b(?:interface|dispinterface|coclass|struct|union|enum|runtimeclass|delegate)"
            rf"\s+{word}\b|\btypedef\b[^;{{}}]*?[\s*]{word}\s*[;,\[]|\}}\s*{word}\s*[;,]"
        )
        for path, text in self._files().items():
            if name in text and pattern.search(text):
                return os.path.basename(path)
        return None

    def _files(self) -> dict[str, str]:
        if self._texts is None:
            self._texts = {}
            for folder in self.search_path:
                try:
                    names = sorted(os.listdir(folder))
                except OSError:
                    continue
                for entry in names:
                    if not entry.endswith(".idl") or len(self._texts) >= _MAX_FILES:
                        continue
                    path = os.path.join(folder, entry)
                    try:
                        self._texts.setdefault(path, read_source(path, self.max_bytes))
                    except (OSError, RefusedSource):
                        continue
        return self._texts
