"""Where the files that ship beside the code are: `templates/`, `grammars/` and the
bundled base IDL.

`templates/` and `grammars/` live at the repository's top level (DESIGN.md section 2)
and inside the wheel under `idlgen/` (hatchling's force-include); a source checkout or
an editable install finds the first, an installed wheel the second. Light on purpose:
a run served from the result cache imports this, not the compiler.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
# idlgen's own IDL (unknwn.idl, wtypes.idl, ...), searched after every -I folder.
BASE_IDL_DIR = PACKAGE_DIR / "base_idl"


@cache
def data_dir(name: str) -> Path:
    for candidate in (PACKAGE_DIR / name, PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"idlgen's {name}/ folder is missing from this installation")
