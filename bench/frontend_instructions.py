"""Instructions the compiler executes on a set of Wine corpus files, by phase, counted by callgrind.

    python bench/frontend_instructions.py [--tree DIR] [--files a.idl b.idl ...]

Wall and CPU time of a compile move with the machine's load; instruction counts do not,
so an A/B comparison of two trees holds on a busy machine. One process compiles the
files in order, in-process, as one `idlgen` run does (an import parsed for an earlier
file is reused). Start-up cancels out: each figure is a run that also compiles the set
minus a run that only imports idlgen and compiles `unknwn.idl` (which warms the parser
tables, the templates and the base imports). Three runs give three phases:

- load: preprocess and parse each file and its imports (`Loader.load_main`), with
  the collector paused as a compile pauses it;
- model: load, then resolve (`idlgen.compile(..., emit="model")`);
- python: the whole compile to Python source (`emit="python"`).

So resolve = model - load and generate = python - model. About a minute per run with
the default files (the four run side by side); `--tree` measures another checkout (its `idlgen`);
`--quick` counts the load phase only.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from callgrind import instructions_of

HERE = Path(__file__).resolve()
WINE_IDL_DIR_ENV = "IDLGEN_WINE_IDL_DIR"
WINE_IDL_DIR_FALLBACK = Path("/root/.cache/idlgen-ci/wine/usr/include/wine/wine/windows")
DEFAULT_FILES = (
    "objidl.idl",
    "oaidl.idl",
    "ocidl.idl",
    "urlmon.idl",
    "d3d11.idl",
    "shobjidl.idl",
    "strmif.idl",
    "msxml2.idl",
)
PHASES = ("baseline", "load", "model", "python")


def corpus_dir() -> Path:
    configured = os.environ.get(WINE_IDL_DIR_ENV)
    folder = Path(configured) if configured else WINE_IDL_DIR_FALLBACK
    if not folder.is_dir():
        raise SystemExit(f"Wine IDL corpus not found at {folder}; set {WINE_IDL_DIR_ENV}")
    return folder


def loop(tree: Path, phase: str, names: list[str]) -> None:
    """The measured process: warm up, then compile `names` up to `phase`."""
    sys.path.insert(0, str(tree))
    import idlgen
    from idlgen.diagnostics import DiagnosticSink
    from idlgen.semantics.loader import Loader, make_settings

    folder = corpus_dir()
    include_dirs = [str(folder), str(folder.parent)]
    idlgen.compile(folder / "unknwn.idl", include_dirs=include_dirs)
    if phase == "baseline":
        return
    if phase == "load":
        # `idlgen.compile` pauses the collector for the whole compile (api.py); so
        # does this phase, else it counts collections over the trees just built that
        # no compile makes (callgrind: 1 % of the default files' load, 3 % of mshtml.idl's).
        gc.disable()
    for name in names:
        path = str(folder / name)
        if phase == "load":
            Loader(make_settings(include_dirs), DiagnosticSink()).load_main(path)
        else:
            idlgen.compile(path, include_dirs=include_dirs, emit=phase)  # type: ignore[arg-type]


def instructions(tree: Path, phase: str, names: list[str]) -> int:
    argv = [str(HERE), "--loop", phase, "--tree", str(tree), "--files", *names]
    return instructions_of(argv, tree)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tree", type=Path, default=HERE.parents[1], help="checkout to measure")
    parser.add_argument("--files", nargs="+", default=list(DEFAULT_FILES), help="corpus files")
    parser.add_argument("--quick", action="store_true", help="the load phase only (two runs)")
    parser.add_argument("--loop", choices=PHASES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    tree = args.tree.resolve()
    if args.loop:
        return loop(tree, args.loop, args.files)
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed")
    phases = PHASES[:2] if args.quick else PHASES
    with ThreadPoolExecutor(len(phases)) as pool:  # counts do not depend on the load
        runs = {phase: pool.submit(instructions, tree, phase, args.files) for phase in phases}
        counts = {phase: run.result() for phase, run in runs.items()}
    load = counts["load"] - counts["baseline"]
    if args.quick:
        print(f"{tree}: load (preprocess, parse), millions of instructions: {load / 1e6:,.0f}")
        return
    model = counts["model"] - counts["baseline"]
    python = counts["python"] - counts["baseline"]
    print(f"{tree}: instructions (callgrind, millions) for {' '.join(args.files)}")
    print(f"  load (preprocess, parse):  {load / 1e6:,.0f}")
    print(f"  resolve:                   {(model - load) / 1e6:,.0f}")
    print(f"  generate Python:           {(python - model) / 1e6:,.0f}")
    print(f"  whole compile:             {python / 1e6:,.0f}")


if __name__ == "__main__":
    main()
