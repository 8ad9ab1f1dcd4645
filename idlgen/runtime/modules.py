"""Imports between generated modules (`import "other.idl"` becomes `other_idl`).

A generated module must work both at top level and inside a package (DESIGN 4), so it
cannot hard-code absolute or relative imports: it asks the runtime for its sibling.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["import_sibling"]


def import_sibling(current: str, name: str) -> ModuleType:
    """Import module `name` from the package of module `current`, else from the top level."""
    package = current.rpartition(".")[0]
    if package:
        qualified = f"{package}.{name}"
        try:
            return importlib.import_module(qualified)
        except ModuleNotFoundError as exc:
            if exc.name != qualified:
                raise  # the sibling exists but one of its own imports is missing
    return importlib.import_module(name)
