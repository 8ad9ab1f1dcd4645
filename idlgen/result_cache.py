"""The `idlgen` command's on-disk cache: a rebuild does not compile unchanged files again.

Like CPython's `__pycache__`, an entry sits beside its source:
`__pycache__/foo.idl.idlgen-result` (or under `$IDLGEN_CACHE_DIR`, named by a hash of
the source's path). It holds what a compile produced (the output text, the
diagnostics, the files read and imported) and is served only when all of this is
unchanged, so it is never stale:

- idlgen itself: its version and the content of its code, templates, grammars and
  bundled base IDL (a developer's edit to idlgen invalidates every entry);
- every setting that reaches the compiler (every `Options` field but those that only
  say where output goes or how much is printed), and the working folder relative
  paths in them are read from;
- the content of every file the compile read: the input, its `#include`s, its imports
  and theirs, the bundled base IDL it used;
- which of those files' names exist in every folder an import or `#include` may have
  been searched in: a file that appears earlier on the search path, or disappears,
  would change what is read.

Failed compiles are not cached. `--no-cache` or `IDLGEN_NO_CACHE=1` turn the cache off
(`PYTHONDONTWRITEBYTECODE` does not: it is about `.pyc` files). A folder that cannot be
written just means no cache. Entries are pickles, trusted as `.pyc`
files are: the cache folder must be as private as the source folder.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from idlgen.fingerprint import blake2b, idlgen_fingerprint
from idlgen.resources import BASE_IDL_DIR

_FORMAT = 1
# Options fields that do not change what a compile produces.
_NOT_IN_KEY = frozenset(
    {
        "inputs",
        "output_dir",
        "stdout",
        "quiet",
        "verbose",
        "check",
        "diff",
        "depfile",
        "jobs",
        "with_imports",
        "use_cache",
    }
)


if TYPE_CHECKING:
    from idlgen.api import CompileResult
    from idlgen.diagnostics import Diagnostic
    from idlgen.job import Options


class CachedResult(NamedTuple):
    """The parts of a `CompileResult` the command uses. Named tuples here: serving an
    entry must not import `dataclasses` (nor the diagnostics, unless it holds some)."""

    output: str | None
    diagnostics: tuple[Diagnostic, ...]
    module_name: str
    files_read: tuple[str, ...]
    imports: tuple[str, ...]


class _Entry(NamedTuple):
    key: str
    dependencies: dict[str, str]  # absolute path -> content digest
    names: frozenset[str]  # the file names of the dependencies
    listings: dict[str, frozenset[str] | None]  # searched folder -> which of them it holds
    result: CachedResult


class _RunMemo:
    """Digests taken during one run: a file is hashed once per run, not per input."""

    def __init__(self) -> None:
        self.files: dict[str, str] = {}
        self.folders: dict[str, frozenset[str] | None] = {}

    def file(self, path: str) -> str:
        found = self.files.get(path)
        if found is None:
            try:
                found = blake2b(Path(path).read_bytes(), digest_size=20).hexdigest()
            except OSError:
                found = "missing"
            self.files[path] = found
        return found

    def folder(self, path: str) -> frozenset[str] | None:
        """The names in a folder; None when it does not exist."""
        if path not in self.folders:
            try:
                self.folders[path] = frozenset(os.listdir(path))
            except OSError:
                self.folders[path] = None
        return self.folders[path]

    def present(self, folder: str, names: frozenset[str]) -> frozenset[str] | None:
        """Which of `names` the folder holds (None: no such folder). Only these matter:
        a search finds a file by its name, so other files (outputs, caches) coming and
        going change nothing."""
        found = self.folder(folder)
        return None if found is None else names & found


_memo = _RunMemo()


def start_run() -> None:
    """Forget the digests of an earlier run (files may have changed since)."""
    global _memo
    _memo = _RunMemo()


def enabled(options: Options) -> bool:
    return options.use_cache and not os.environ.get("IDLGEN_NO_CACHE")


def cached_compile(
    options: Options, source: str, compile_now: Callable[[], CompileResult]
) -> CachedResult | CompileResult:
    """`compile_now()`'s result, or the cached one when nothing it depends on changed.
    Raises what `compile_now` raises (failures are never cached)."""
    if not enabled(options):
        return compile_now()
    source = os.path.abspath(source)
    key = _key(options, source)
    where = entry_path(source)
    entry = _read(where, key)
    if entry is not None:
        return entry.result
    result = compile_now()
    _write(where, _entry(key, options, result))
    return result


def entry_path(source: str) -> Path:
    folder = os.environ.get("IDLGEN_CACHE_DIR")
    if folder:
        digest = blake2b(source.encode("utf-8", "surrogateescape"), digest_size=16)
        return Path(folder) / f"{digest.hexdigest()}.idlgen-result"
    path = Path(source)
    return path.parent / "__pycache__" / f"{path.name}.idlgen-result"


def _key(options: Options, source: str) -> str:
    settings = [
        (name, repr(value))
        for name, value in zip(options._fields, options, strict=True)
        if name not in _NOT_IN_KEY
    ]
    # The working folder too: relative -I folders and paths mean other files elsewhere.
    place = (source, os.getcwd())
    text = repr((_FORMAT, idlgen_fingerprint(), place, _memo.file(source), settings))
    return blake2b(text.encode("utf-8", "surrogateescape")).hexdigest()


def _searched_folders(options: Options, files_read: Iterable[str]) -> set[str]:
    """Every folder an import or #include may have been looked up in: the folders of
    the files read, the -I folders and the bundled base IDL, and, for a file found in
    a subfolder of one of them (`#include "sub/x.h"`), that subfolder of each."""
    files = [os.path.abspath(p) for p in files_read]
    roots = {os.path.dirname(p) for p in files}
    roots |= {os.path.abspath(d) for d in options.include_dirs}
    roots.add(str(BASE_IDL_DIR))
    folders = set(roots)
    for path in files:
        for root in roots:
            relative = os.path.relpath(os.path.dirname(path), root)
            if relative != "." and not relative.startswith(".."):
                folders |= {os.path.join(other, relative) for other in roots}
    return folders


def _entry(key: str, options: Options, result: CompileResult) -> _Entry:
    files_read = tuple(result.files_read)
    dependencies = {os.path.abspath(p): _memo.file(os.path.abspath(p)) for p in files_read}
    names = frozenset(os.path.basename(p) for p in dependencies)
    folders = _searched_folders(options, files_read)
    listings = {folder: _memo.present(folder, names) for folder in folders}
    kept = CachedResult(
        result.output,
        tuple(result.diagnostics),
        result.module_name,
        files_read,
        tuple(result.imports),
    )
    return _Entry(key, dependencies, names, listings, kept)


def _read(where: Path, key: str) -> _Entry | None:
    try:
        entry = pickle.loads(where.read_bytes())
    except FileNotFoundError:
        return None
    except Exception:  # a truncated or foreign file is a miss, never an error
        return None
    if not isinstance(entry, _Entry) or entry.key != key:
        return None
    if any(_memo.file(path) != digest for path, digest in entry.dependencies.items()):
        return None
    for folder, present in entry.listings.items():
        if _memo.present(folder, entry.names) != present:
            return None
    return entry


def _write(where: Path, entry: _Entry) -> None:
    """Atomic and best effort."""
    temporary = where.with_name(f"{where.name}.{os.getpid()}.tmp")
    try:
        where.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_bytes(pickle.dumps(entry, protocol=pickle.HIGHEST_PROTOCOL))
        os.replace(temporary, where)
    except OSError:
        temporary.unlink(missing_ok=True)
