"""idlgen: Microsoft IDL in, Python out.

The public API is small on purpose: `compile` is the one entry point the CLI, the
build plugins and the import hook all wrap (DESIGN.md section 1).
"""

from __future__ import annotations

__version__ = "0.1.0"

from idlgen.diagnostics import Diagnostic, IdlError

__all__ = ["Diagnostic", "IdlError", "__version__"]
