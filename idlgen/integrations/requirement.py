"""The requirement a package with generated modules has at run time: the runtime only.

Generated code imports `idlgen.runtime` and nothing else of idlgen, so the build hooks
add `idlgen-runtime` (not the compiler) to the wheels they build, pinned to the release
series of the idlgen that generated the modules.
"""

from __future__ import annotations

from idlgen import __version__

RUNTIME_DISTRIBUTION = "idlgen-runtime"


def runtime_requirement() -> str:
    """`idlgen-runtime~=X.Y.Z`: this version or a later patch release of the same series."""
    return f"{RUNTIME_DISTRIBUTION}~={__version__}"
