"""The `[tool.idlgen]` table of a user's pyproject.toml, shared by every integration.

One reader for all build backends, so a setting means the same thing under hatchling,
setuptools and the editable import hook. Keys (all optional)::

    [tool.idlgen]
    include-dirs = ["idl/include"]        # relative to the project root
    defines = { DEBUG = "1" }             # or ["DEBUG", "LEVEL=2"]
    undefines = ["NDEBUG"]
    files = ["src/**/*.idl"]              # globs relative to the root; default: every .idl
    exclude = ["**/private/*.idl"]
    editable = "generate"                 # or "import-hook"
    module-map = { "base.idl" = "otherpkg.base_idl" }  # imports served by existing modules
    output-dir = "build/gen"              # the `idlgen` command's -o (builds ignore it)

A backend's own table (e.g. `[tool.hatch.build.hooks.idlgen]`) uses the same keys and
wins key by key over `[tool.idlgen]`. The `idlgen` command reads the same table through
`find_pyproject` and `make_settings`, so a CI check compiles as the build does.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from typing import Any, NamedTuple

from idlgen.module_map import ModuleMap, ModuleMapError, make_module_map

EDITABLE_MODES = ("generate", "import-hook")
_KNOWN_KEYS = frozenset(
    {
        "include-dirs",
        "defines",
        "undefines",
        "files",
        "exclude",
        "editable",
        "module-map",
        "output-dir",
    }
)


class SettingsError(ValueError):
    """A `[tool.idlgen]` value has the wrong shape; the message names the key."""


class IdlgenSettings(NamedTuple):
    """A named tuple, not a dataclass: the `idlgen` command reads these on every run,
    one served from its result cache included, which never imports `dataclasses`."""

    root: Path
    include_dirs: tuple[str, ...] = ()
    defines: Mapping[str, str] = MappingProxyType({})
    undefines: tuple[str, ...] = ()
    files: tuple[str, ...] = ("**/*.idl",)
    exclude: tuple[str, ...] = ()
    editable: str = "generate"
    module_map: ModuleMap = ModuleMap()
    output_dir: str | None = None  # absolute; only the `idlgen` command uses it

    def selects(self, relative_path: str) -> bool:
        """Whether a project file (POSIX path relative to the root) is one to compile."""
        path = PurePosixPath(relative_path)
        if path.suffix != ".idl":
            return False
        wanted = any(_glob_match(path, pattern) for pattern in self.files)
        return wanted and not any(_glob_match(path, pattern) for pattern in self.exclude)

    def compile_options(self) -> dict[str, Any]:
        """Keyword arguments for `idlgen.api.compile`."""
        return {
            "include_dirs": self.include_dirs,
            "defines": dict(self.defines),
            "undefines": self.undefines,
            "module_map": self.module_map,
        }


def _glob_match(path: PurePosixPath, pattern: str) -> bool:
    """`**/` also matches zero folders, as users expect from `**/*.idl`."""
    text = str(path)
    if fnmatch.fnmatchcase(text, pattern):
        return True
    return pattern.startswith("**/") and fnmatch.fnmatchcase(text, pattern[3:])


def read_tool_table(root: str | os.PathLike[str], name: str = "idlgen") -> dict[str, Any] | None:
    """`[tool.<name>]` of root/pyproject.toml, or None when the file or table is absent."""
    import tomllib  # not imported by a run that finds no pyproject.toml

    pyproject = Path(root) / "pyproject.toml"
    try:
        with pyproject.open("rb") as handle:
            document = tomllib.load(handle)
    except FileNotFoundError:
        return None
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"{pyproject}: {error}") from None
    table = document.get("tool", {}).get(name)
    return table if isinstance(table, dict) else None


def make_settings(
    root: str | os.PathLike[str], *tables: Mapping[str, Any] | None
) -> IdlgenSettings:
    """Merge tables left to right (later keys win) into validated settings."""
    merged: dict[str, Any] = {}
    for table in tables:
        merged.update(table or {})
    unknown = sorted(set(merged) - _KNOWN_KEYS)
    if unknown:
        raise SettingsError(f"[tool.idlgen]: unknown key(s) {', '.join(unknown)}")
    base = Path(root).resolve()
    editable = merged.get("editable", "generate")
    if editable not in EDITABLE_MODES:
        raise SettingsError(f"[tool.idlgen] editable: expected one of {EDITABLE_MODES}")
    output_dir = merged.get("output-dir")
    if output_dir is not None and not isinstance(output_dir, str):
        raise SettingsError("[tool.idlgen] output-dir: expected a string")
    return IdlgenSettings(
        root=base,
        include_dirs=tuple(str(base / d) for d in _strings(merged, "include-dirs")),
        defines=_defines(merged.get("defines", {})),
        undefines=_strings(merged, "undefines"),
        files=_strings(merged, "files") or ("**/*.idl",),
        exclude=_strings(merged, "exclude"),
        editable=editable,
        module_map=_module_map(merged.get("module-map", {}), base),
        output_dir=str(base / output_dir) if output_dir is not None else None,
    )


def _module_map(value: Any, base: Path) -> ModuleMap:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise SettingsError('[tool.idlgen] module-map: expected a table of "FILE.idl" = "module"')
    try:
        return make_module_map(value, str(base))
    except ModuleMapError as error:
        raise SettingsError(f"[tool.idlgen] module-map: {error}") from None


def find_pyproject(start: str | os.PathLike[str]) -> Path | None:
    """The nearest pyproject.toml in `start` or a folder above it, as black and ruff
    look for theirs; the first one found ends the search, with or without a table."""
    folder = Path(start).resolve()
    for candidate in (folder, *folder.parents):
        pyproject = candidate / "pyproject.toml"
        if pyproject.is_file():
            return pyproject
    return None


def _strings(table: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise SettingsError(f"[tool.idlgen] {key}: expected a list of strings")
    return tuple(value)


def _defines(value: Any) -> dict[str, str]:
    if isinstance(value, dict):
        return {str(name): str(text) for name, text in value.items()}
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        pairs = (item.partition("=") for item in value)
        return {name: text if sep else "1" for name, sep, text in pairs}
    raise SettingsError("[tool.idlgen] defines: expected a table or a list of NAME[=VALUE]")


def find_idl_files(settings: IdlgenSettings, candidates: Iterable[str]) -> list[str]:
    """The candidates (POSIX paths relative to the root) that the settings select."""
    return sorted(path for path in candidates if settings.selects(path))
