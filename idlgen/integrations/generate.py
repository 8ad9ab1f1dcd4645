"""Compile a project's IDL files for a build backend: the step both plugins share.

Errors become `BuildError` carrying the formatted diagnostics, because a build backend
shows an exception's message to the user and that message must read like the CLI's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from idlgen.diagnostics import IdlError
from idlgen.integrations.settings import IdlgenSettings


class BuildError(RuntimeError):
    """The project's IDL does not compile; the message lists every diagnostic."""


@dataclass(frozen=True, slots=True)
class Generated:
    idl: str  # POSIX path of the source, relative to the project root
    module: str  # POSIX path of the generated module, relative to the same root
    text: str


def generated_path(relative_idl: str) -> str:
    """`pkg/foo.idl` -> `pkg/foo_idl.py`, with the API's module naming rule."""
    from idlgen.api import module_name_for

    path = PurePosixPath(relative_idl)
    return str(path.with_name(module_name_for(path.name) + ".py"))


def compile_file(settings: IdlgenSettings, relative_idl: str) -> Generated:
    from idlgen import api

    source = settings.root / relative_idl
    try:
        result = api.compile(source, **settings.compile_options())
    except IdlError as error:
        lines = [d.format() for d in error.diagnostics]
        raise BuildError(f"idlgen: {relative_idl} does not compile:\n" + "\n".join(lines)) from None
    assert result.output is not None
    return Generated(relative_idl, generated_path(relative_idl), result.output)


def write_beside_sources(settings: IdlgenSettings, files: list[str]) -> list[Generated]:
    """Editable builds: the module must exist in the source tree the install points at."""
    from idlgen.job import write_if_changed

    generated = [compile_file(settings, path) for path in files]
    for item in generated:
        write_if_changed(str(settings.root / item.module), item.text)
    return generated


def write_into(folder: str | os.PathLike[str], generated: Generated) -> Path:
    """Write one module under `folder` at its package path (for wheels)."""
    from idlgen.job import write_if_changed

    target = Path(folder) / generated.module
    write_if_changed(str(target), generated.text)
    return target
