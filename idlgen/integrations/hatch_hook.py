"""Hatchling build hook `idlgen`: compile the IDL files of the packages being built.

Enabled by a `[tool.hatch.build.hooks.idlgen]` table. Hatchling imports this module
for every project once idlgen is installed, so it imports no part of the compiler.

- wheel (standard): each selected `.idl` among the files hatchling puts in the wheel
  compiles into a temporary folder and is force-included as `<name>_idl.py` beside
  the `.idl`, so the source tree stays clean;
- wheel (editable): the modules are written beside the sources (the install points at
  them), or, with `editable = "import-hook"`, a `.pth` file installs the import hook;
- sdist: nothing to do, the `.idl` files travel as ordinary project files.

A standard wheel also gets `idlgen-runtime` among its dependencies: what the generated
modules need at run time (the compiler is a build requirement only).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import PurePosixPath
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface
from hatchling.plugin import hookimpl

from idlgen.integrations.editable import pth_line, top_level_packages
from idlgen.integrations.requirement import runtime_requirement
from idlgen.integrations.settings import IdlgenSettings, make_settings, read_tool_table

# Keys hatchling itself reads from every hook table; they are not idlgen settings.
_HATCH_KEYS = frozenset({"dependencies", "require-runtime-dependencies", "enable-by-default"})


class IdlgenBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "idlgen"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return
        settings = self._settings()
        files = self._idl_files(settings)
        if not files:
            return
        if version == "editable":
            self._editable(settings, files, build_data)
        else:
            self._standard(settings, files, build_data)

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        folder = getattr(self, "_temporary", None)
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)

    def _own_table(self) -> dict[str, Any]:
        return {k: v for k, v in self.config.items() if k not in _HATCH_KEYS}

    def _settings(self) -> IdlgenSettings:
        return make_settings(self.root, read_tool_table(self.root), self._own_table())

    def _idl_files(self, settings: IdlgenSettings) -> dict[str, str]:
        """Selected `.idl` files: path relative to the root -> path inside the wheel."""
        builder = self.build_config.builder
        found: dict[str, str] = {}
        for included in builder.recurse_selected_project_files():
            relative = PurePosixPath(*included.relative_path.split(os.sep)).as_posix()
            if settings.selects(relative):
                found[relative] = PurePosixPath(
                    *included.distribution_path.split(os.sep)
                ).as_posix()
        return dict(sorted(found.items()))

    def _standard(
        self, settings: IdlgenSettings, files: dict[str, str], build_data: dict[str, Any]
    ) -> None:
        from idlgen.integrations.generate import compile_file, generated_path

        build_data["dependencies"].append(runtime_requirement())
        self._temporary = tempfile.mkdtemp(prefix="idlgen-hatch-")
        for relative, in_wheel in files.items():
            generated = compile_file(settings, relative)
            target = os.path.join(self._temporary, generated.module)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "w", encoding="utf-8", newline="") as handle:
                handle.write(generated.text)
            build_data["force_include"][target] = generated_path(in_wheel)

    def _editable(
        self, settings: IdlgenSettings, files: dict[str, str], build_data: dict[str, Any]
    ) -> None:
        if settings.editable == "import-hook":
            self._temporary = tempfile.mkdtemp(prefix="idlgen-hatch-")
            packages = top_level_packages(files.values())
            pth = os.path.join(self._temporary, "idlgen-hook.pth")
            with open(pth, "w", encoding="utf-8") as handle:
                handle.write(pth_line(settings.root, packages, self._own_table()) + "\n")
            name = self.metadata.core.name.replace("-", "_")
            # Setting this replaces the configured force-include map for editable
            # wheels, so carry that map over.
            editable_map = build_data.setdefault("force_include_editable", {})
            editable_map.update(self.build_config.get_force_include())
            editable_map[pth] = f"_idlgen_{name}.pth"
            return
        from idlgen.integrations.generate import write_beside_sources

        write_beside_sources(settings, list(files))


@hookimpl
def hatch_register_build_hook() -> type[BuildHookInterface]:  # type: ignore[type-arg]
    return IdlgenBuildHook
