"""Setuptools integration: `[tool.idlgen]` or `setup(idl_modules=[...])` compiles IDL.

Two entry points hook into every setuptools build once idlgen is installed:

- `setuptools.finalize_distribution_options` -> `finalize_distribution_options`: if the
  project configures idlgen, swap in a `build_py` that also compiles IDL, and ship the
  `.idl` files as package data (so the sdist carries them). Otherwise return at once,
  having imported nothing but `tomllib`.
- `distutils.setup_keywords` -> `validate_idl_modules`: checks `idl_modules`.

A configured project also gets `idlgen-runtime` among its install requirements: what
the generated modules need at run time (the compiler is a build requirement only).

`build_py` writes `<name>_idl.py` into the build folder beside the package's other
modules; in editable mode (setuptools >= 64 runs `build_py` with `editable_mode`)
it writes beside the sources instead, where the editable install finds them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from idlgen.integrations.settings import IdlgenSettings, make_settings, read_tool_table


def validate_idl_modules(dist: Any, attr: str, value: Any) -> None:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        # setuptools ships type hints only from 71.1 on, so these ignores may go unused.
        from setuptools.errors import SetupError  # type: ignore[import-untyped, unused-ignore]

        raise SetupError(f"{attr} must be a list of .idl paths relative to setup.py")


def finalize_distribution_options(dist: Any) -> None:
    table = read_tool_table(os.getcwd())  # PEP 517 backends run in the project root
    if table is None and not getattr(dist, "idl_modules", None):
        return
    from setuptools.command.build_py import (  # type: ignore[import-untyped, unused-ignore]
        build_py as default_build_py,
    )

    base = dist.cmdclass.get("build_py", default_build_py)
    if not getattr(base, "_idlgen", False):
        dist.cmdclass["build_py"] = make_build_py(base)
    _require_runtime(dist)
    package_data = dist.package_data if dist.package_data is not None else {}
    package_data.setdefault("", []).append("*.idl")
    dist.package_data = package_data


def _require_runtime(dist: Any) -> None:
    from idlgen.integrations.requirement import RUNTIME_DISTRIBUTION, runtime_requirement

    requires = list(dist.install_requires or [])
    if not any(str(r).replace("_", "-").startswith(RUNTIME_DISTRIBUTION) for r in requires):
        dist.install_requires = [*requires, runtime_requirement()]


# Run after setuptools' own hooks so a cmdclass they install is the one we wrap.
finalize_distribution_options.order = 100  # type: ignore[attr-defined]


def make_build_py(base: type) -> type:
    class build_py(base):  # type: ignore[misc]  # the base is whatever build_py is installed
        _idlgen = True

        def run(self) -> None:
            super().run()
            self._compile_idl()

        def _compile_idl(self) -> None:
            root = Path.cwd()
            settings = make_settings(root, read_tool_table(root))
            placements = self._placements(settings)
            if not placements:
                return
            from idlgen.integrations.generate import compile_file, write_beside_sources

            if getattr(self, "editable_mode", False):
                write_beside_sources(settings, list(placements))
                return
            from idlgen.job import write_if_changed

            for relative, package in placements.items():
                generated = compile_file(settings, relative)
                name = Path(generated.module).name
                target = Path(self.build_lib, *package.split("."), name)
                write_if_changed(str(target), generated.text)

        def _placements(self, settings: IdlgenSettings) -> dict[str, str]:
            """IDL path relative to the root -> the package that owns it."""
            folders = {Path(self.get_package_dir(p)).resolve(): p for p in (self.packages or ())}
            explicit = getattr(self.distribution, "idl_modules", None)
            if explicit:
                candidates = [Path(p) for p in explicit]
            else:
                candidates = [
                    idl.relative_to(settings.root)
                    for folder in folders
                    for idl in sorted(folder.glob("*.idl"))
                    if settings.selects(idl.relative_to(settings.root).as_posix())
                ]
            return {path.as_posix(): _owner(settings, path, folders) for path in candidates}

    return build_py


def _owner(settings: IdlgenSettings, relative: Path, folders: dict[Path, str]) -> str:
    folder = (settings.root / relative).resolve().parent
    if folder not in folders:
        from setuptools.errors import SetupError

        raise SetupError(f"idlgen: {relative} is not inside a package being built")
    return folders[folder]
