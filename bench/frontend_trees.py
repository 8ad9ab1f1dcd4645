"""Checks that two checkouts parse the Wine corpus to the same syntax trees and messages.

    python bench/frontend_trees.py --base DIR [--tree DIR] [--files a.idl ...]

A change meant to make the front end faster must not change what it builds. Each
checkout loads every corpus file (and, through it, its imports) in a process of its
own and pickles the syntax tree of every file it parsed, positions included, with each
file's formatted diagnostics; then the two dumps are compared with `==`. Prints the
first differences and exits 1 if there are any. Both checkouts must share the syntax
classes (idlgen/frontend/syntax.py), which the comparing process imports from `--tree`.
"""

from __future__ import annotations

import argparse
import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from frontend_instructions import corpus_dir  # this folder is on sys.path

HERE = Path(__file__).resolve()
_SHOWN = 10  # differences printed before giving up


def dump(tree: Path, names: list[str], out: Path) -> None:
    """The child: parse each file with a fresh loader and sink, pickle what came out."""
    sys.path.insert(0, str(tree))
    from idlgen.diagnostics import DiagnosticSink
    from idlgen.semantics.loader import Loader, make_settings

    folder = corpus_dir()
    include_dirs = [str(folder), str(folder.parent)]
    trees: dict[str, Any] = {}
    messages: dict[str, list[str]] = {}
    for name in names:
        sink = DiagnosticSink()
        pending = [Loader(make_settings(include_dirs), sink).load_main(str(folder / name))]
        while pending:
            loaded = pending.pop()
            trees.setdefault(loaded.path, loaded.tree)
            pending.extend(loaded.imports)
        messages[name] = [d.format() for d in sink.diagnostics]
    out.write_bytes(pickle.dumps((trees, messages), protocol=pickle.HIGHEST_PROTOCOL))


def differences(base: Any, new: Any) -> list[str]:
    base_trees, base_messages = base
    trees, messages = new
    found = [f"{name}: files parsed differ" for name in sorted(set(base_trees) ^ set(trees))]
    for path in sorted(set(base_trees) & set(trees)):
        if base_trees[path] != trees[path]:
            found.append(f"{path}: syntax trees differ")
    for name in sorted(base_messages):
        if base_messages[name] != messages.get(name):
            found.append(f"{name}: diagnostics differ")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", type=Path, help="checkout to compare against")
    parser.add_argument("--tree", type=Path, default=HERE.parents[1], help="checkout checked")
    parser.add_argument("--files", nargs="+", help="corpus files (default: every .idl)")
    parser.add_argument("--dump", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    names = args.files or sorted(p.name for p in corpus_dir().glob("*.idl"))
    if args.dump:
        return dump(args.tree.resolve(), names, args.dump)
    if args.base is None:
        raise SystemExit("--base is required")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for index, tree in enumerate((args.base.resolve(), args.tree.resolve())):
            out = Path(tmp) / f"{index}.pickle"
            command = [sys.executable, str(HERE), "--tree", str(tree), "--dump", str(out)]
            env = {**os.environ, "PYTHONPATH": str(tree)}
            subprocess.run([*command, "--files", *names], env=env, check=True)
            results.append(out.read_bytes())
    sys.path.insert(0, str(args.tree.resolve()))
    base, new = (pickle.loads(data) for data in results)
    found = differences(base, new)
    print(f"{len(base[0])} files parsed from {len(names)} corpus files: {len(found)} differ")
    for line in found[:_SHOWN]:
        print("  " + line)
    if found:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
