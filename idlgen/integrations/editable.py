"""Editable installs in import-hook mode: a `.pth` line that installs the import hook.

`site` runs the line at every interpreter start, so `activate` must stay cheap and
must never raise: it reads the project's `[tool.idlgen]` table (for include dirs and
macros) and registers a finder; nothing is compiled until a `*_idl` module is imported.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any


def top_level_packages(paths_in_wheel: Iterable[str]) -> list[str]:
    """Top-level package names owning the given wheel paths (`pkg/sub/a.idl` -> `pkg`)."""
    return sorted({PurePosixPath(path).parts[0] for path in paths_in_wheel if "/" in path})


def pth_line(
    root: str | os.PathLike[str], packages: Sequence[str], overrides: Mapping[str, Any]
) -> str:
    """One `.pth` line; `site` executes lines that start with `import`.

    `overrides` is the backend's own idlgen table (plain TOML values, so `repr` is a
    Python literal); `[tool.idlgen]` is read again at each start, so edits to it apply.
    """
    return (
        "import idlgen.integrations.editable as _idlgen_editable; "
        f"_idlgen_editable.activate({os.fspath(root)!r}, {list(packages)!r}, {dict(overrides)!r})"
    )


def activate(
    root: str, packages: Sequence[str], overrides: Mapping[str, Any] | None = None
) -> None:
    try:
        from idlgen.integrations.import_hook import install_import_hook
        from idlgen.integrations.settings import make_settings, read_tool_table

        settings = make_settings(root, read_tool_table(root), overrides)
        install_import_hook(packages, **settings.compile_options())
    except Exception as error:  # a broken pyproject.toml must not break every interpreter
        print(f"idlgen: editable import hook for {root} not installed: {error}", file=sys.stderr)
