"""idlgen: Microsoft IDL in, Python out.

The public API is small on purpose: `compile` is the one entry point the CLI, the
build plugins and the import hook all wrap (DESIGN.md section 1). Generated modules
import `idlgen.runtime`, which imports this package first, so nothing here may be
heavy: the compiler is imported only when one of its names is used, and the
diagnostics (dataclasses and all) only when `Diagnostic` or `IdlError` is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from idlgen.api import CompileResult, compile, compile_json
    from idlgen.diagnostics import Diagnostic, IdlError
    from idlgen.integrations.import_hook import install_import_hook, load
    from idlgen.limits import Limits

_LAZY = {
    "compile": "idlgen.api",
    "compile_json": "idlgen.api",
    "CompileResult": "idlgen.api",
    "Diagnostic": "idlgen.diagnostics",
    "IdlError": "idlgen.diagnostics",
    "Limits": "idlgen.limits",
    "load": "idlgen.integrations.import_hook",
    "install_import_hook": "idlgen.integrations.import_hook",
}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'idlgen' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module_name), name)


__all__ = [
    "CompileResult",
    "Diagnostic",
    "IdlError",
    "Limits",
    "__version__",
    "compile",
    "compile_json",
    "install_import_hook",
    "load",
]
