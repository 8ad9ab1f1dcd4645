"""Whether two checkouts generate the same bytes for every file of the Wine corpus.

    python bench/same_output.py --against /path/to/other/checkout [--files a.idl ...]

Work on the speed of the compiler must not change what it writes. Each checkout
compiles every corpus file (all of them, not only those widl accepts) in one process,
as one `idlgen` run does, to Python and to compact `--emit json`; a file that fails
records its diagnostics instead. The two sets of outputs are then compared byte for
byte, and every difference is named. Exit status 0 means identical.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from frontend_instructions import corpus_dir

HERE = Path(__file__).resolve()
EMITS = ("python", "json")


def write_outputs(out: Path, names: list[str]) -> None:
    """The child: compile `names` with the idlgen on sys.path, one file per output."""
    import idlgen
    from idlgen.diagnostics import IdlError

    folder = corpus_dir()
    include_dirs = [str(folder), str(folder.parent)]
    for name in names:
        for emit in EMITS:
            try:
                result = idlgen.compile(folder / name, include_dirs=include_dirs, emit=emit)  # type: ignore[arg-type]
                text = result.output or ""
            except IdlError as error:
                text = "FAILED\n" + "\n".join(str(d) for d in error.diagnostics) + "\n"
            (out / f"{name}.{emit}").write_text(text, encoding="utf-8", errors="surrogateescape")


def run_tree(tree: Path, out: Path, names: list[str]) -> None:
    out.mkdir(parents=True)
    subprocess.run(
        [sys.executable, str(HERE), "--child", str(out), "--files", *names],
        env={**os.environ, "PYTHONPATH": str(tree)},
        cwd=str(tree),
        check=True,
    )


def differences(first: Path, second: Path) -> list[str]:
    names = sorted({p.name for p in first.iterdir()} | {p.name for p in second.iterdir()})
    found: list[str] = []
    for name in names:
        a, b = first / name, second / name
        if not (a.exists() and b.exists()) or a.read_bytes() != b.read_bytes():
            found.append(name)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tree", type=Path, default=HERE.parents[1], help="checkout to check")
    parser.add_argument("--against", type=Path, help="checkout to compare with")
    parser.add_argument("--files", nargs="+", help="corpus files (default: every .idl)")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    names = args.files or sorted(p.name for p in corpus_dir().glob("*.idl"))
    if args.child:
        return write_outputs(args.child, names)
    if args.against is None:
        parser.error("--against is required")
    with tempfile.TemporaryDirectory() as tmp:
        trees = (args.tree.resolve(), args.against.resolve())
        outs = (Path(tmp) / "tree", Path(tmp) / "against")
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(run_tree, trees, outs, [names, names]))
        found = differences(*outs)
    print(f"{len(names)} files x {len(EMITS)} outputs compared: {len(found)} differ")
    for name in found:
        print(f"  differs: {name}")
    raise SystemExit(1 if found else 0)


if __name__ == "__main__":
    main()
