"""What identifies this idlgen for the on-disk caches (results and parses).

An entry made by another version, or by a checkout whose code, templates, grammar,
parser tables or bundled base IDL differ in any byte, must never be served: both
caches put this digest in their keys. Every run served from the result cache pays
for it, so the walk is a plain `os.scandir` over the few folders that matter (the
runtime, which the compiler never imports, is not read).
"""

from __future__ import annotations

import os
from functools import cache

from idlgen import __version__
from idlgen.resources import PACKAGE_DIR, data_dir

try:  # the very class hashlib hands out, without hashlib loading OpenSSL first (~3 ms)
    from _blake2 import blake2b
except ImportError:  # an interpreter without CPython's built-in module
    from hashlib import blake2b

__all__ = ["blake2b", "idlgen_fingerprint"]

# What shapes a compile's output: the compiler's code, the templates, the grammar and
# its ready-made tables, the bundled base and protocol IDL.
_SUFFIXES = (".py", ".j2", ".lark", ".json", ".idl", ".h")
_BYTECODE = frozenset({"__pycache__"})
_NOT_READ = _BYTECODE | {"runtime"}  # folder names directly in the package


@cache
def idlgen_fingerprint() -> str:
    """idlgen's version and the content of everything that shapes its output."""
    digest = blake2b(__version__.encode())
    roots = [str(PACKAGE_DIR), str(data_dir("templates")), str(data_dir("grammars"))]
    for index, root in enumerate(roots):
        skipped = _NOT_READ if index == 0 else _BYTECODE
        for relative, path in sorted(_files(root, "", skipped)):
            digest.update(f"{index}:{relative}\0".encode("utf-8", "surrogateescape"))
            with open(path, "rb") as handle:
                digest.update(handle.read())
    return digest.hexdigest()


def _files(folder: str, prefix: str, skipped: frozenset[str]) -> list[tuple[str, str]]:
    """(path relative to the root, path) of every file with one of `_SUFFIXES` under
    `folder`. Only names *inside* the root are compared with `skipped`: where idlgen is
    installed (a folder named `runtime` above it) changes nothing."""
    found: list[tuple[str, str]] = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_dir():
                if entry.name not in skipped:
                    found += _files(entry.path, f"{prefix}{entry.name}/", _BYTECODE)
            elif entry.name.endswith(_SUFFIXES):
                found.append((prefix + entry.name, entry.path))
    return found
