"""The `idlgen` command: a thin layer over `idlgen.api.compile`.

Exit codes: 0 success, 1 errors in the IDL, 2 usage errors (argparse's own code).
Nothing the user can feed it produces a traceback; an internal failure prints one
line (set IDLGEN_DEBUG=1 to see the traceback) and exits 3.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from typing import NamedTuple

from idlgen import __version__
from idlgen.batch import run_batch
from idlgen.job import Options
from idlgen.limits import DEFAULT_LIMITS, limit_names, parse_limit
from idlgen.module_map import ModuleMap


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="idlgen",
        description="Compile Microsoft IDL (MIDL/widl dialect) to Python modules.",
    )
    parser.add_argument(
        "inputs",
        nargs="*",
        metavar="FILE.idl",
        help="IDL files to compile (none: the files [tool.idlgen] selects)",
    )
    parser.add_argument("-o", "--output-dir", metavar="DIR", help="write outputs to DIR")
    parser.add_argument(
        "-I",
        dest="include_dirs",
        action="append",
        default=[],
        metavar="DIR",
        help="add DIR to the import and #include search path (before the bundled base IDL)",
    )
    parser.add_argument(
        "-D",
        dest="defines",
        action="append",
        default=[],
        metavar="NAME[=VALUE]",
        help="define a preprocessor macro",
    )
    parser.add_argument(
        "-U",
        dest="undefines",
        action="append",
        default=[],
        metavar="NAME",
        help="undefine a preprocessor macro",
    )
    parser.add_argument(
        "--emit",
        choices=("python", "json"),
        default="python",
        help="what to produce: a Python module (default) or the resolved model as JSON",
    )
    parser.add_argument(
        "--pyi",
        action="store_true",
        help="write the module as a .pyi stub (for IDEs when the import hook serves the .idl)",
    )
    parser.add_argument(
        "--indent",
        type=int,
        metavar="N",
        help="--emit json: indent by N spaces, one value a line (default: compact)",
    )
    parser.add_argument("--stdout", action="store_true", help="print the output (one input)")
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 naming every output that is missing or stale",
    )
    parser.add_argument(
        "--diff", action="store_true", help="write nothing; print a unified diff per stale output"
    )
    parser.add_argument(
        "--depfile",
        metavar="FILE",
        help="write a make-style dependency file listing every file each output was built from",
    )
    add_project_arguments(parser)
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="compile every file, without reading or writing the result cache",
    )
    parser.add_argument(
        "-j",
        "--jobs",
        type=int,
        metavar="N",
        help="compile in N worker processes (default: one per CPU for 8 or more inputs)",
    )
    parser.add_argument(
        "--limit",
        dest="limits",
        action="append",
        default=[],
        metavar="NAME=N",
        help="change a resource limit (K, M, G suffixes allowed); NAME is one of "
        + ", ".join(limit_names())
        + " (docs/security.md)",
    )
    parser.add_argument(
        "-W",
        dest="warnings",
        action="append",
        default=[],
        metavar="NAME",
        help="warnings as in gcc: -Wall, -Wno-NAME, -Werror, -Werror=NAME, "
        "-Wsystem-headers (see docs/cli.md)",
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="print errors (and their notes) only"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="say what is written")
    parser.add_argument("--version", action="version", version=f"idlgen {__version__}")
    return parser


def parse_options(argv: Sequence[str] | None) -> Options:
    parser = build_parser()
    args = parser.parse_args(argv)
    defines: dict[str, str] = {}
    for item in args.defines:
        name, _, value = item.partition("=")
        if not name.isidentifier():
            parser.error(f"-D {item}: '{name}' is not a macro name")
        defines[name] = value if "=" in item else "1"
    limits = DEFAULT_LIMITS
    for item in args.limits:
        try:
            name, value = parse_limit(item)
        except ValueError as error:
            parser.error(f"--limit {item}: {error}")
        limits = limits.replace(**{name: value})
    project = project_settings(parser, args, defines)
    stdout = args.stdout or (args.emit == "json" and args.output_dir is None)
    if stdout and len(args.inputs) > 1:
        parser.error("printing to standard output takes exactly one input file")
    if args.pyi and args.emit == "json":
        parser.error("--pyi writes Python stubs: drop --emit json")
    if stdout and (args.check or args.diff or args.depfile):
        parser.error("--check, --diff and --depfile compare or name output files: drop --stdout")
    if args.warnings:  # checked here, so a bad -W is a usage error before any compile
        from idlgen.diagnostics import WarningSettings

        try:
            WarningSettings.parse(args.warnings)
        except ValueError as error:
            parser.error(str(error))
    if args.indent is not None and (args.emit != "json" or args.indent < 0):
        parser.error("--indent N takes --emit json and N >= 0")
    if args.jobs is not None and args.jobs < 1:
        parser.error("-j N takes N >= 1")
    if stdout and args.with_imports:
        parser.error("--with-imports writes several modules: drop --stdout")
    return Options(
        inputs=tuple(args.inputs),
        output_dir=args.output_dir,
        include_dirs=project.include_dirs,
        defines=project.defines,
        undefines=project.undefines,
        emit=args.emit,
        stdout=stdout,
        quiet=args.quiet,
        verbose=args.verbose,
        check=args.check,
        diff=args.diff,
        depfile=args.depfile,
        pyi=args.pyi,
        limits=limits,
        warnings=tuple(args.warnings),
        with_imports=args.with_imports,
        module_map=project.module_map,
        json_indent=args.indent,
        jobs=args.jobs,
        use_cache=not args.no_cache,
    )


def add_project_arguments(parser: argparse.ArgumentParser) -> None:
    """Whole import trees and the pyproject.toml settings (idlgen.project_config)."""
    parser.add_argument(
        "--with-imports",
        action="store_true",
        help="also write the module of every IDL file the inputs import, transitively",
    )
    parser.add_argument(
        "--module-map",
        action="append",
        default=[],
        metavar="FILE.idl=MODULE",
        help="import FILE.idl's declarations from the existing module MODULE",
    )
    parser.add_argument("--config", metavar="PYPROJECT", help="read [tool.idlgen] from this file")
    parser.add_argument(
        "--no-config", action="store_true", help="ignore [tool.idlgen] in pyproject.toml"
    )


class ProjectSettings(NamedTuple):
    include_dirs: tuple[str, ...]
    defines: dict[str, str]
    undefines: tuple[str, ...]
    module_map: ModuleMap


def project_settings(
    parser: argparse.ArgumentParser, args: argparse.Namespace, defines: dict[str, str]
) -> ProjectSettings:
    """Merge `[tool.idlgen]` under the flags; fill in the inputs and output folder the
    table gives when the command line does not (updates `args`)."""
    from idlgen.integrations.settings import SettingsError
    from idlgen.module_map import ModuleMapError, make_module_map, parse_entry
    from idlgen.project_config import load_project_config, merged_macros, project_idl_files

    try:
        config = load_project_config(args.inputs, args.config, args.no_config)
        flags_map = make_module_map([parse_entry(e) for e in args.module_map], os.getcwd())
    except (SettingsError, ModuleMapError) as error:
        parser.error(str(error))
    if not args.inputs:
        if config.settings is None:
            parser.error("no input files (and no [tool.idlgen] table selecting any)")
        args.inputs = project_idl_files(config.settings)
        if not args.inputs:
            parser.error(f"[tool.idlgen] in {config.pyproject} selects no IDL files")
    if args.output_dir is None:
        args.output_dir = config.output_dir
    if args.with_imports and args.output_dir is None:
        folders = {os.path.dirname(os.path.abspath(path)) for path in args.inputs}
        if len(folders) > 1:
            parser.error("--with-imports: give -o DIR (the inputs are in several folders)")
        args.output_dir = os.path.dirname(args.inputs[0])
    merged_defines, undefines = merged_macros(config, defines, args.undefines)
    return ProjectSettings(
        include_dirs=tuple(args.include_dirs) + config.include_dirs,
        defines=merged_defines,
        undefines=undefines,
        module_map=config.module_map.merged(flags_map),
    )


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    return run_batch(options)
