"""What hostile inputs cost the compiler now that limits stop them (issue 11, items 13-14).

    python bench/bench_bombs.py [--repeat N]

Each bomb is compiled in a fresh child process, pinned to CPU 0, after a warm-up
compile; the child reports the CPU time of the bomb's compile (until its diagnostic)
and how much it grew its peak RSS. The anchor, in the same run, is an ordinary
compile: the bundled objidl.idl with its imports. Medians of `--repeat` runs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "security"))

import bombs  # noqa: E402  (the tests' bomb generators)

CHILD = r"""
import json, resource, sys, time
import idlgen
from idlgen import IdlError
idlgen.compile(text="const int X = 1;", filename="warm.idl")
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.process_time()
try:
    idlgen.compile(sys.argv[1])
    outcome = "compiled"
except IdlError as error:
    outcome = error.errors[0].message[:60]
seconds = time.process_time() - start
growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(json.dumps({"seconds": seconds, "growth_kb": growth, "outcome": outcome}))
"""


def bomb_texts() -> dict[str, str]:
    texts = {
        "30 levels of doubling macros": bombs.doubling_macros(30),
        "30 levels of doubling arguments": bombs.doubling_arguments(30),
        '#include "/dev/zero"': '#include "/dev/zero"\n',
        '#include "/dev/urandom"': '#include "/dev/urandom"\n',
        "1 MB string literal": 'const char *S = "' + "a" * 1_000_000 + '";\n',
        "100,000 constants (2.3 MB)": "".join(f"const int C{i} = {i};\n" for i in range(100_000)),
    }
    for nesting in bombs.NESTINGS:
        label = f"{nesting.name} at widl's maximum ({nesting.widl_maximum:,})"
        texts[label] = nesting.build(nesting.widl_maximum)  # type: ignore[operator]
    return texts


def measure(path: Path) -> dict[str, object]:
    run = subprocess.run(
        ["taskset", "-c", "0", sys.executable, "-c", CHILD, str(path)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=True,
    )
    return json.loads(run.stdout)  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3, help="runs per bomb (median)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        cases = {
            "anchor: objidl.idl (bundled), an ordinary compile": REPO
            / "idlgen"
            / "base_idl"
            / "objidl.idl"
        }
        for index, (label, text) in enumerate(bomb_texts().items()):
            path = Path(folder) / f"bomb{index}.idl"
            path.write_text(text)
            cases[label] = path
        print(f"Median of {args.repeat} runs, each in a fresh process pinned to CPU 0.\n")
        print("| input | CPU time | peak RSS growth | outcome |")
        print("|---|---:|---:|---|")
        for label, path in cases.items():
            runs = [measure(path) for _ in range(args.repeat)]
            seconds = statistics.median(float(r["seconds"]) for r in runs)  # type: ignore[arg-type]
            growth = statistics.median(int(r["growth_kb"]) for r in runs)  # type: ignore[call-overload]
            print(f"| {label} | {seconds:.2f} s | {growth / 1024:.1f} MiB | {runs[0]['outcome']} |")


if __name__ == "__main__":
    main()
