"""Parses of imported files kept on disk between processes, as `__pycache__` keeps bytecode.

Most of a compile is parsing, and most of what a file parses is its imports: a user's
`foo.idl` importing `objidl.idl` parses five system headers for each edit of `foo.idl`,
and each worker of `idlgen -j2` parses the shared imports again. The in-process parse
cache (loader.py) cannot help a new process; this store can. An entry is one file's
parse with its imports replaced by `ImportRef`s (their path, content digest and the
type names they gave the parse), so each file is stored once, not inside every file
that imports it. A stored parse is used only after the same checks as an in-memory one
(its `#include`s unchanged and not shadowed, each import still found at the same path
and, loaded now, giving the same type names), so it is never stale.

Entries live under the user's cache folder (`$IDLGEN_CACHE_DIR/parses`, else
`$XDG_CACHE_HOME/idlgen/parses` or `~/.cache/idlgen/parses`), named by a hash of the
file's path and content, the preprocessor settings and idlgen's own fingerprint.
They are pickles, trusted as `.pyc` files are: the folder must be private to the user.
A folder that cannot be written means no store; an unreadable entry is a miss.

Entries are never stale, but they can be dead: a changed file, other `-D` settings or a
new idlgen (its fingerprint is in every name) leave the old ones behind, about 20 MB per
idlgen version for the Wine corpus. So the store is bounded like ccache's: a use
refreshes an entry's modification time, and a process that writes entries keeps the
folder under `MAX_BYTES` by deleting the least recently used ones (checked at its first
write and every `PRUNE_EVERY` writes after, since a check lists the folder).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import pickle
import time
from pathlib import Path
from typing import TYPE_CHECKING

from idlgen.fingerprint import idlgen_fingerprint
from idlgen.records import record

if TYPE_CHECKING:
    from idlgen.semantics.loader import LoadedFile, Settings

__all__ = ["ImportRef", "ParseStore", "StoredParse", "default_folder"]

_FORMAT = 1
_KEPT = 4  # parses of one file under different importer contexts
_SUFFIX = ".idlgen-parse"
MAX_BYTES = 256 << 20
PRUNE_TO = 0.75  # of MAX_BYTES: one prune makes room for many writes
PRUNE_EVERY = 64  # writes between two checks of the folder's size, per process
_ORPHAN_SECONDS = 3600  # a temporary file this old lost its writer
_writes: dict[Path, int] = {}  # per folder, writes by this process since its last check


@record
class ImportRef:
    """What a stored parse took from one import: only its type names shape the parse."""

    path: str
    digest: str
    type_names: frozenset[str]

    def matches(self, loaded: LoadedFile) -> bool:
        return loaded.digest == self.digest and loaded.type_names() == self.type_names


# A parse without its imports (`imports` is empty) and what they were.
StoredParse = tuple["LoadedFile", tuple[ImportRef, ...]]


def default_folder() -> Path:
    configured = os.environ.get("IDLGEN_CACHE_DIR")
    if configured:
        return Path(configured) / "parses"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "idlgen" / "parses"


class ParseStore:
    def __init__(self, folder: Path, max_bytes: int | None = None) -> None:
        self.folder = folder
        self.max_bytes = MAX_BYTES if max_bytes is None else max_bytes

    def load(self, path: str, digest: str, settings: Settings) -> list[StoredParse]:
        where = self._where(path, digest, settings)
        try:
            stored = pickle.loads(where.read_bytes())
        except Exception:  # missing, truncated or foreign: a miss, never an error
            return []
        if not isinstance(stored, list):
            return []
        with contextlib.suppress(OSError):  # a use makes it the most recently used
            os.utime(where)
        return stored

    def save(self, loaded: LoadedFile, settings: Settings) -> None:
        """Adds `loaded` to its file's entry (atomic, best effort)."""
        refs = tuple(ImportRef(i.path, i.digest, i.type_names()) for i in loaded.imports)
        loaded.type_names()  # computed with the imports, kept in the copy
        bare = dataclasses.replace(loaded, imports=[], resolution=None, copies=None)
        kept = self.load(loaded.path, loaded.digest, settings)[-(_KEPT - 1) :]
        where = self._where(loaded.path, loaded.digest, settings)
        temporary = where.with_name(f"{where.name}.{os.getpid()}.tmp")
        try:
            where.parent.mkdir(parents=True, exist_ok=True)
            data = pickle.dumps([*kept, (bare, refs)], protocol=pickle.HIGHEST_PROTOCOL)
            temporary.write_bytes(data)
            os.replace(temporary, where)
        except (OSError, RecursionError, pickle.PicklingError):
            temporary.unlink(missing_ok=True)
            return
        self._prune_if_due()

    def _prune_if_due(self) -> None:
        count = _writes.get(self.folder, 0)
        _writes[self.folder] = (count + 1) % PRUNE_EVERY
        if count == 0:
            prune(self.folder, self.max_bytes)

    def _where(self, path: str, digest: str, settings: Settings) -> Path:
        # A relative path names another file from another working folder, and the
        # parse's positions keep the name as written.
        place = path if os.path.isabs(path) else (os.getcwd(), path)
        key = repr((_FORMAT, idlgen_fingerprint(), place, digest, settings))
        name = hashlib.blake2b(key.encode("utf-8", "surrogateescape"), digest_size=20)
        return self.folder / f"{name.hexdigest()}{_SUFFIX}"


def prune(folder: Path, max_bytes: int) -> None:
    """Deletes the least recently used entries until the folder holds at most
    `PRUNE_TO` of `max_bytes`, if it holds more than `max_bytes`; and temporary files
    their writer left behind. Best effort: another process may be pruning too."""
    entries: list[tuple[float, int, str]] = []
    now = time.time()
    try:
        with os.scandir(folder) as listing:
            for item in listing:
                try:
                    info = item.stat()
                except OSError:
                    continue
                if item.name.endswith(_SUFFIX):
                    entries.append((info.st_mtime, info.st_size, item.path))
                elif item.name.endswith(".tmp") and now - info.st_mtime > _ORPHAN_SECONDS:
                    _remove(item.path)
    except OSError:
        return
    total = sum(size for _, size, _ in entries)
    if total <= max_bytes:
        return
    for _, size, path in sorted(entries):
        if total <= max_bytes * PRUNE_TO:
            break
        _remove(path)
        total -= size


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):  # gone already: another process pruned it
        os.unlink(path)
