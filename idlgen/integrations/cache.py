"""The compiled-IDL cache in `__pycache__`, beside the source like CPython's `.pyc`.

An entry is valid while the IDL text, every file the compile read (imports, #includes,
the bundled base IDL), the settings and idlgen's version are unchanged. The files read
are only known after compiling, so the entry records them with their hashes and a
lookup rehashes them: a change in an imported file invalidates the entry.
"""

from __future__ import annotations

import hashlib
import json
import marshal
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import CodeType

from idlgen import __version__

_FORMAT = 1


@dataclass(frozen=True, slots=True)
class CacheEntry:
    key: str  # hash of version, settings and the main file's content
    dependencies: dict[str, str]  # path -> sha256 of every file read
    source: str  # the generated Python module
    code: CodeType


def file_hash(path: str | os.PathLike[str]) -> str | None:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


def cache_path(idl: Path) -> Path:
    tag = sys.implementation.cache_tag or "python"
    return idl.parent / "__pycache__" / f"{idl.name}.{tag}.idlgen"


def entry_key(
    idl_text_hash: str,
    include_dirs: Sequence[str],
    defines: Mapping[str, str],
    undefines: Sequence[str],
    module_map: str = "",
) -> str:
    settings = json.dumps(
        [
            _FORMAT,
            __version__,
            idl_text_hash,
            list(include_dirs),
            sorted(defines.items()),
            list(undefines),
            module_map,
        ]
    )
    return hashlib.sha256(settings.encode()).hexdigest()


def read_entry(path: Path, key: str) -> CacheEntry | None:
    """The entry if it exists, matches `key` and no file it depends on changed."""
    try:
        key_found, dependencies, source, code = marshal.loads(path.read_bytes())
    except (OSError, EOFError, ValueError, TypeError):
        return None
    if key_found != key or not isinstance(code, CodeType):
        return None
    if any(file_hash(dep) != digest for dep, digest in dependencies.items()):
        return None
    return CacheEntry(key, dependencies, source, code)


def write_entry(path: Path, entry: CacheEntry) -> None:
    """Atomic, best effort (a read-only tree just means no cache), off when
    `sys.dont_write_bytecode` is set, as for `.pyc` files."""
    if sys.dont_write_bytecode:
        return
    data = marshal.dumps((entry.key, entry.dependencies, entry.source, entry.code))
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(exist_ok=True)
        temporary.write_bytes(data)
        os.replace(temporary, path)
    except OSError:
        temporary.unlink(missing_ok=True)
