"""Where the files that ship beside the code are: `templates/` and `grammars/`.

They live at the repository's top level (DESIGN.md section 2) and inside the wheel
under `idlgen/` (hatchling's force-include); a source checkout or an editable install
finds the first, an installed wheel the second.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


@cache
def data_dir(name: str) -> Path:
    for candidate in (_PACKAGE_DIR / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"idlgen's {name}/ folder is missing from this installation")
