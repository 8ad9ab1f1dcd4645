"""Build hook for idlgen's own wheel: the runtime is another distribution.

A standard wheel of the compiler leaves `idlgen/runtime` out (pyproject.toml excludes
it) and depends on `idlgen-runtime` of the same version, built from `runtime/`. An
editable install points at this source tree, which holds the runtime too, so it adds no
such dependency: `pip install -e .` works without an index serving `idlgen-runtime`.
"""

from __future__ import annotations

from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class RuntimeDependency(BuildHookInterface):  # type: ignore[type-arg]
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name == "wheel" and version == "standard":
            build_data["dependencies"].append(f"idlgen-runtime=={self.metadata.version}")
