"""The `idlgen` command's view of `[tool.idlgen]`: the build's settings, flags on top.

The table is read by the same parser the build hooks use (`integrations.settings`), so
`idlgen --check` in CI compiles exactly as the build does. Which pyproject.toml: the
nearest one at or above the folder holding the inputs (the current folder when there
are none), as black finds its own; `--config FILE` names one, `--no-config` ignores it.
Command-line flags win: `-I` folders come before the table's, `-D`/`-U` override the
table's macros name by name, `--module-map` entries override its keys, `-o` its
`output-dir`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from typing import NamedTuple

from idlgen.integrations.settings import (
    IdlgenSettings,
    SettingsError,
    find_pyproject,
    make_settings,
    read_tool_table,
)
from idlgen.module_map import ModuleMap

# Folders never searched for a project's IDL files: tool caches, VCS data, virtualenvs.
_SKIPPED_FOLDERS = frozenset({"__pycache__", "node_modules"})


class ProjectConfig(NamedTuple):
    """What the command takes from a pyproject.toml (empty when there is none)."""

    pyproject: Path | None = None
    include_dirs: tuple[str, ...] = ()
    defines: Mapping[str, str] = MappingProxyType({})
    undefines: tuple[str, ...] = ()
    module_map: ModuleMap = ModuleMap()
    output_dir: str | None = None
    settings: IdlgenSettings | None = None


def load_project_config(
    inputs: Sequence[str], config: str | None, no_config: bool
) -> ProjectConfig:
    """The `[tool.idlgen]` table that applies to this run; raises SettingsError."""
    if no_config:
        return ProjectConfig()
    pyproject = Path(config) if config is not None else find_pyproject(_common_folder(inputs))
    if config is not None and not Path(config).is_file():
        raise SettingsError(f"--config {config}: no such file")
    if pyproject is None:
        return ProjectConfig()
    root = pyproject.resolve().parent
    table = _read_table(pyproject)
    if table is None:
        return ProjectConfig()
    settings = make_settings(root, table)
    return ProjectConfig(
        pyproject=pyproject,
        include_dirs=settings.include_dirs,
        defines=dict(settings.defines),
        undefines=settings.undefines,
        module_map=settings.module_map,
        output_dir=settings.output_dir,
        settings=settings,
    )


def _read_table(pyproject: Path) -> dict[str, object] | None:
    if pyproject.name == "pyproject.toml":
        return read_tool_table(pyproject.parent)
    # --config may name a file by another name; the table is read the same way.
    import tomllib

    try:
        with pyproject.open("rb") as handle:
            document = tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"{pyproject}: {error}") from None
    table = document.get("tool", {}).get("idlgen")
    return table if isinstance(table, dict) else None


def _common_folder(inputs: Sequence[str]) -> str:
    if not inputs:
        return os.getcwd()
    folders = [os.path.dirname(os.path.abspath(path)) for path in inputs]
    return os.path.commonpath(folders)


def merged_macros(
    config: ProjectConfig, defines: dict[str, str], undefines: Sequence[str]
) -> tuple[dict[str, str], tuple[str, ...]]:
    """The table's macros with the command line's winning name by name."""
    merged = {k: v for k, v in config.defines.items() if k not in undefines}
    merged.update(defines)
    kept = tuple(name for name in config.undefines if name not in defines)
    return merged, kept + tuple(name for name in undefines if name not in kept)


def project_idl_files(settings: IdlgenSettings) -> list[str]:
    """The IDL files the table's `files`/`exclude` select under the project root, for a
    run given no inputs. Hidden folders, virtualenvs and caches are not searched."""
    found: list[str] = []
    for folder, subfolders, files in os.walk(settings.root):
        subfolders[:] = sorted(
            name
            for name in subfolders
            if not name.startswith(".")
            and name not in _SKIPPED_FOLDERS
            and not os.path.isfile(os.path.join(folder, name, "pyvenv.cfg"))
        )
        for name in sorted(files):
            path = os.path.join(folder, name)
            relative = PurePosixPath(*Path(path).relative_to(settings.root).parts)
            if settings.selects(str(relative)):
                found.append(path)
    return found
