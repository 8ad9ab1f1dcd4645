"""What identifies this idlgen for the on-disk caches (results and parses).

An entry made by another version, or by a checkout whose code, templates, grammar or
bundled base IDL differ in any byte, must never be served: both caches put this
digest in their keys.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from idlgen import __version__

__all__ = ["idlgen_fingerprint"]


@cache
def idlgen_fingerprint() -> str:
    """idlgen's version and the content of everything that shapes its output."""
    from idlgen.resources import data_dir

    package = Path(__file__).resolve().parent
    roots = [package, data_dir("templates"), data_dir("grammars")]
    digest = hashlib.blake2b(__version__.encode())
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.suffix in {".py", ".j2", ".lark", ".idl", ".h"} and "runtime" not in path.parts:
                digest.update(str(path.relative_to(root)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()
