"""The one core API every entry point wraps (DESIGN.md section 1).

`compile` takes a path (or text) and settings and returns the generated source, the
resolved document and every file read; the CLI, the build plugins, the import hook
and `load` are thin layers over it.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from idlgen import model
from idlgen.deepstack import run_deep
from idlgen.diagnostics import Diagnostic, DiagnosticSink, IdlError, Position, WarningSettings
from idlgen.limits import DEFAULT_LIMITS, Limits
from idlgen.module_map import ModuleMap, module_name_for
from idlgen.records import record
from idlgen.semantics.loader import LoadedFile, Loader, make_settings, walk
from idlgen.semantics.parse_store import ParseStore
from idlgen.semantics.resolve import resolve

Emit = Literal["python", "json", "model"]


@record
class CompileResult:
    output: str | None  # Python source or JSON text; None for emit="model"
    document: model.Document
    files_read: tuple[str, ...]
    diagnostics: tuple[Diagnostic, ...]
    module_name: str
    # Every IDL file the main file imports, directly or not, imports first (`.h`
    # imports included): what `idlgen --with-imports` compiles as well.
    imports: tuple[str, ...] = ()


def compile(
    path: str | os.PathLike[str] | None = None,
    *,
    text: str | None = None,
    filename: str | None = None,
    include_dirs: Sequence[str | os.PathLike[str]] = (),
    defines: Mapping[str, str] | None = None,
    undefines: Sequence[str] = (),
    emit: Emit = "python",
    limits: Limits = DEFAULT_LIMITS,
    warnings: Sequence[str] = (),
    module_map: ModuleMap | None = None,
    json_indent: int | None = None,
    parse_cache_dir: str | os.PathLike[str] | None = None,
) -> CompileResult:
    """Compile one IDL file; raise `IdlError` (carrying every diagnostic) on errors.

    Give `path`, or `text` with an optional `filename` used in diagnostics and to
    search imports relative to. `warnings` are gcc's -W switches without the `-W`
    (`"all"`, `"error"`, `"no-macro-redefined"`, `"system-headers"`; docs/cli.md);
    an unknown one is a ValueError. `module_map` names existing modules that serve
    imported files (see `idlgen.module_map`). JSON is compact unless `json_indent`
    asks for indented lines (`json.dumps(indent=...)` runs the pure-Python encoder,
    which made it 60 % of a `--emit json` run). `limits` bounds what one input may
    cost (file sizes, macro expansion, nesting: idlgen/limits.py, docs/security.md).
    `parse_cache_dir` keeps the parses of imported files there for later processes
    (idlgen/semantics/parse_store.py); without it they last as long as this process.
    """
    if path is None and text is None:
        raise ValueError("compile() needs a path or text")
    source = os.fspath(path) if path is not None else (filename or "<string>")
    settings = make_settings(
        [os.fspath(d) for d in include_dirs], defines, undefines, limits=limits
    )
    sink = DiagnosticSink(
        warnings=WarningSettings.parse(warnings),
        system_dirs=tuple(os.path.abspath(d) for d in settings.search_path),
        user_dir=os.path.dirname(os.path.abspath(source)),
    )

    def run() -> tuple[LoadedFile, model.Document, str | None]:
        with _collector_paused():
            loader = Loader(settings, sink)
            if parse_cache_dir is not None:
                loader.store = ParseStore(Path(parse_cache_dir))
            main = loader.load_main(source, text)
            document = resolve(main, sink, loader.finder.hint, limits)
            sink.raise_if_errors()
            return main, document, _emit(document, source, emit, module_map, json_indent)

    try:
        main, document, output = run_deep(run)
    except RecursionError:  # deeper than this interpreter goes, under the limits
        sink.error(_TOO_DEEP, Position(source, 1, 1))
        raise IdlError(sink.diagnostics) from None
    return CompileResult(
        output=output,
        document=document,
        files_read=document.files_read,
        diagnostics=tuple(sink.diagnostics),
        module_name=module_name_for(source),
        imports=tuple(loaded.path for loaded in walk([main]) if loaded is not main),
    )


_TOO_DEEP = (
    "declarations nest too deeply for this Python interpreter's stack "
    "(lower the nesting limits: --limit brace-nesting=N, operator-chain=N, typedef-chain=N)"
)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Compiling allocates millions of small acyclic objects; with the parse cache
    holding earlier trees, each full collection would walk all of them again (it
    halves the corpus time to pause it). Nothing compiled here forms cycles that
    must be freed before the compile ends."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _emit(
    document: model.Document,
    source: str,
    emit: Emit,
    module_map: ModuleMap | None,
    json_indent: int | None = None,
) -> str | None:
    if emit == "model":
        return None
    if emit == "json":
        import json

        from idlgen.emit_json import document_to_json

        data = document_to_json(document)
        if json_indent is None:
            return json.dumps(data, separators=(",", ":")) + "\n"
        return json.dumps(data, indent=json_indent) + "\n"
    from idlgen.codegen import generate_module

    return generate_module(document, module_name_for(source), module_map)


def compile_json(
    path: str | os.PathLike[str],
    *,
    include_dirs: Sequence[str | os.PathLike[str]] = (),
    defines: Mapping[str, str] | None = None,
    undefines: Sequence[str] = (),
    warnings: Sequence[str] = (),
) -> dict[str, Any]:
    """The `--emit json` document as a dict (used by tests and tools)."""
    from idlgen.emit_json import document_to_json

    result = compile(
        path,
        include_dirs=include_dirs,
        defines=defines,
        undefines=undefines,
        emit="model",
        warnings=warnings,
    )
    return document_to_json(result.document)


__all__ = [
    "CompileResult",
    "IdlError",
    "Limits",
    "ModuleMap",
    "compile",
    "compile_json",
    "module_name_for",
]
