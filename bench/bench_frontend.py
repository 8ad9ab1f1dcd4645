"""Front-end speed against widl, the anchor (DESIGN.md section 6). Prints a markdown table.

    python bench/bench_frontend.py [--repeat N]

Two questions, each measured `--repeat` times (median reported):

- Whole corpus: widl run once per file it accepts, one after the other, as a build
  system would; against idlgen compiling the same files in *one* process through
  `idlgen.compile` to Python, the job `widl -h` does for C headers (the child's compile
  loop is timed, interpreter start-up and `import idlgen` are not: they are paid once,
  and the next row measures them).
- One file from cold: `objidl.idl` (the heaviest common import) with a fresh widl
  process against a fresh `python -c "import idlgen; idlgen.compile(...)"`.
- The `idlgen` command (whole processes, interpreter start included), each
  repetition running widl and idlgen one after the other so load on a shared machine
  hits both: the corpus as a clean build (`--no-cache`) and as a rebuild (result cache
  warm, nothing changed), on one core (widl once per file, serially; `idlgen -j1`) and on
  every core (widl N at a time; `idlgen -jN`), and `objidl.idl` cold.
- `--emit json`: the old `indent=2` encoding against the compact default.

Before measuring, idlgen's bytecode is compiled (`compileall`), as `pip install` does:
otherwise, with PYTHONDONTWRITEBYTECODE set, every cold process would compile the
package's source first and the cold rows would time that instead of idlgen.

Everything runs pinned to one CPU (children inherit the affinity), so the numbers do
not depend on how many cores the machine has or on widl's runs overlapping. Peak RSS
is the idlgen corpus child's own `ru_maxrss`. If idlgen cannot compile yet, its rows
say so instead of failing.

The corpus is found like the tests find it: `IDLGEN_WINE_IDL_DIR`, else
/tmp/winedev/usr/include/wine/wine/windows (see .ci/run for how to unpack it).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WINE_IDL_DIR_ENV = "IDLGEN_WINE_IDL_DIR"
WINE_IDL_DIR_FALLBACK = Path("/tmp/winedev/usr/include/wine/wine/windows")
WIDL = "x86_64-w64-mingw32-widl"
COLD_FILE = "objidl.idl"

# Runs in a fresh interpreter: compile every path read from stdin, report timing,
# failures and peak memory as one JSON line. Failures are counted, not fatal, so a
# partly working front end still gets a number.
CORPUS_CHILD = """
import json, resource, sys, time
job = json.load(sys.stdin)
import idlgen
failures = []
start = time.perf_counter()
for path in job["paths"]:
    try:
        idlgen.compile(path, include_dirs=job["include_dirs"])
    except Exception as error:
        failures.append(f"{path}: {type(error).__name__}: {error}".splitlines()[0])
elapsed = time.perf_counter() - start
peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": elapsed, "peak_kib": peak_kib, "failures": failures}))
"""

COLD_CHILD = """
import json, sys
import idlgen
idlgen.compile(sys.argv[1], include_dirs=json.loads(sys.argv[2]))
"""


@dataclass(frozen=True)
class Corpus:
    windows_dir: Path
    files: list[Path]
    include_dirs: list[Path]


@dataclass
class Row:
    name: str
    widl: list[float]
    idlgen: list[float] | None
    note: str = ""

    def markdown(self) -> str:
        widl = statistics.median(self.widl)
        if not self.idlgen:
            return f"| {self.name} | {widl:.3f} s | n/a | n/a | {self.note} |"
        ours = statistics.median(self.idlgen)
        return f"| {self.name} | {widl:.3f} s | {ours:.3f} s | {ours / widl:.2f}x | {self.note} |"


@dataclass(frozen=True)
class CorpusRun:
    """What the idlgen corpus child reports."""

    seconds: float
    peak_kib: int
    failures: list[str]


class ChildFailed(Exception):
    """The idlgen child process could not run at all (import error, crash)."""


def pin_to_one_cpu() -> str:
    try:
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
    except (AttributeError, OSError) as error:
        return f"not pinned ({error})"
    return f"pinned to CPU {cpu} (children inherit it)"


def compile_bytecode() -> None:
    """What an installed idlgen has: .pyc files next to the sources."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "idlgen")], check=True)


def find_corpus() -> Corpus:
    configured = os.environ.get(WINE_IDL_DIR_ENV)
    windows_dir = Path(configured) if configured else WINE_IDL_DIR_FALLBACK
    if not windows_dir.is_dir():
        raise SystemExit(f"Wine IDL corpus not found at {windows_dir}; set {WINE_IDL_DIR_ENV}")
    files = sorted(windows_dir.glob("*.idl")) + sorted(windows_dir.parent.glob("*.idl"))
    return Corpus(windows_dir, files, [windows_dir, windows_dir.parent])


def run_widl(widl: str, idl: Path, corpus: Corpus, out_dir: Path) -> bool:
    header = out_dir / f"{idl.parent.name}__{idl.stem}.h"
    includes = [f"-I{d}" for d in corpus.include_dirs]
    command = [widl, "-h", *includes, "-o", str(header), str(idl)]
    return subprocess.run(command, capture_output=True, check=False).returncode == 0


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def widl_corpus_seconds(widl: str, files: Sequence[Path], corpus: Corpus, out: Path) -> float:
    return timed(lambda: [run_widl(widl, idl, corpus, out) for idl in files])


def idlgen_corpus_run(files: Sequence[Path], corpus: Corpus) -> CorpusRun:
    job = {"paths": [str(f) for f in files], "include_dirs": [str(d) for d in corpus.include_dirs]}
    done = subprocess.run(
        [sys.executable, "-c", CORPUS_CHILD],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    if done.returncode != 0:
        raise ChildFailed(_last_line(done.stderr))
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return CorpusRun(float(report["seconds"]), int(report["peak_kib"]), list(report["failures"]))


def idlgen_cold_seconds(idl: Path, corpus: Corpus) -> float:
    includes = json.dumps([str(d) for d in corpus.include_dirs])
    command = [sys.executable, "-c", COLD_CHILD, str(idl), includes]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise ChildFailed(_last_line(done.stderr))
    return elapsed


def _last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else "no output"


def corpus_row(widl: str, accepted: list[Path], corpus: Corpus, out: Path, repeat: int) -> Row:
    widl_times = [widl_corpus_seconds(widl, accepted, corpus, out) for _ in range(repeat)]
    name = f"corpus: {len(accepted)} files widl accepts"
    try:
        runs = [idlgen_corpus_run(accepted, corpus) for _ in range(repeat)]
    except ChildFailed as error:
        return Row(name, widl_times, None, f"idlgen did not run: {error}")
    failures = runs[-1].failures
    if len(failures) == len(accepted):
        return Row(name, widl_times, None, f"idlgen compiled none: {failures[0]}")
    note = f"idlgen peak RSS {max(r.peak_kib for r in runs) / 1024:.0f} MiB"
    if failures:
        first = failures[0] if len(failures[0]) <= 120 else failures[0][:117] + "..."
        note += f"; idlgen failed on {len(failures)} files, timed anyway (first: {first})"
    return Row(name, widl_times, [r.seconds for r in runs], note)


def cold_row(widl: str, corpus: Corpus, out: Path, repeat: int) -> Row:
    idl = corpus.windows_dir / COLD_FILE
    widl_times = [timed(lambda: run_widl(widl, idl, corpus, out)) for _ in range(repeat)]
    name = f"cold process: {COLD_FILE}"
    try:
        ours = [idlgen_cold_seconds(idl, corpus) for _ in range(repeat)]
    except ChildFailed as error:
        return Row(name, widl_times, None, f"idlgen did not run: {error}")
    return Row(name, widl_times, ours, "includes interpreter start and imports")


# -- the `idlgen` command, interleaved with widl (issue 10) ------------------------


def idlgen_command(files: Sequence[Path], corpus: Corpus, out: Path, *options: str) -> float:
    """One whole `python -m idlgen` process (interpreter start included) over `files`."""
    includes = [arg for d in corpus.include_dirs for arg in ("-I", str(d))]
    command = [sys.executable, "-m", "idlgen", "-q", "-o", str(out), *options, *includes]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    start = time.perf_counter()
    subprocess.run([*command, *map(str, files)], capture_output=True, env=env, check=False)
    return time.perf_counter() - start


def widl_parallel_seconds(
    widl: str, files: Sequence[Path], corpus: Corpus, out: Path, workers: int
) -> float:
    """widl once per file, `workers` processes at a time (what `make -jN` does)."""
    from concurrent.futures import ThreadPoolExecutor

    def run(idl: Path) -> bool:
        return run_widl(widl, idl, corpus, out)

    with ThreadPoolExecutor(workers) as pool:
        return timed(lambda: list(pool.map(run, files)))


def interleaved(repeat: int, anchor: Callable[[], float], ours: Callable[[], float]) -> Row:
    """Anchor and idlgen alternate within each repetition, so load changes on the
    shared machine hit both alike."""
    widl_times, idlgen_times = [], []
    for _ in range(repeat):
        widl_times.append(anchor())
        idlgen_times.append(ours())
    return Row("", widl_times, idlgen_times)


def command_rows(
    widl: str, accepted: list[Path], corpus: Corpus, out: Path, repeat: int
) -> list[Row]:
    """Clean builds and rebuilds with the `idlgen` command, on one core and on two."""
    all_cpus = os.sched_getaffinity(0)
    one_cpu = {min(all_cpus)}
    cache = out / "idlgen-cache"
    rows = []

    def clean(jobs: str) -> Callable[[], float]:
        def run() -> float:
            shutil.rmtree(out / "gen", ignore_errors=True)
            return idlgen_command(accepted, corpus, out / "gen", "--no-cache", jobs)

        return run

    def rebuild(jobs: str) -> float:
        return idlgen_command(accepted, corpus, out / "gen", jobs)

    os.environ["IDLGEN_CACHE_DIR"] = str(cache)
    try:
        os.sched_setaffinity(0, one_cpu)
        serial = lambda: widl_corpus_seconds(widl, accepted, corpus, out)  # noqa: E731
        row = interleaved(repeat, serial, clean("-j1"))
        row.name, row.note = "corpus, clean build, one core: widl per file vs idlgen -j1", ""
        rows.append(row)
        idlgen_command(accepted, corpus, out / "gen", "-j1")  # fill the cache
        row = interleaved(repeat, serial, lambda: rebuild("-j1"))
        row.name = "corpus, rebuild (nothing changed), one core: widl per file vs idlgen -j1"
        row.note = "idlgen serves every file from its result cache"
        rows.append(row)
        if len(all_cpus) >= 2:
            os.sched_setaffinity(0, all_cpus)
            cores = len(all_cpus)

            def parallel() -> float:
                return widl_parallel_seconds(widl, accepted, corpus, out, cores)

            row = interleaved(repeat, parallel, clean(f"-j{cores}"))
            row.name = (
                f"corpus, clean build, {cores} cores: widl {cores} at a time vs idlgen -j{cores}"
            )
            rows.append(row)
            row = interleaved(repeat, parallel, lambda: rebuild(f"-j{cores}"))
            row.name = f"corpus, rebuild, {cores} cores: widl {cores} at a time vs idlgen -j{cores}"
            rows.append(row)
        os.sched_setaffinity(0, one_cpu)
        idl = corpus.windows_dir / COLD_FILE
        cold_widl = lambda: timed(lambda: run_widl(widl, idl, corpus, out))  # noqa: E731
        row = interleaved(
            repeat, cold_widl, lambda: idlgen_command([idl], corpus, out, "--no-cache")
        )
        row.name, row.note = f"cold `idlgen {COLD_FILE}` (no result cache)", "whole process"
        rows.append(row)
        row = interleaved(repeat, cold_widl, lambda: idlgen_command([idl], corpus, out))
        row.name, row.note = f"cold `idlgen {COLD_FILE}`, result cached", "whole process"
        rows.append(row)
    finally:
        os.environ.pop("IDLGEN_CACHE_DIR", None)
        os.sched_setaffinity(0, all_cpus)
    return rows


def json_row(corpus: Corpus, repeat: int) -> Row:
    """`--emit json` of objidl.idl: the old indented encoding (anchor) vs compact."""
    script = """
import json, sys, time
import idlgen
from idlgen.emit_json import document_to_json
path, includes = sys.argv[1], json.loads(sys.argv[2])
document = idlgen.compile(path, include_dirs=includes, emit="model").document
def best(run):
    times = []
    for _ in range(5):
        start = time.perf_counter(); run(); times.append(time.perf_counter() - start)
    return min(times)
indented = best(lambda: json.dumps(document_to_json(document), indent=2))
compact = best(lambda: json.dumps(document_to_json(document), separators=(",", ":")))
print(json.dumps([indented, compact]))
"""
    idl = corpus.windows_dir / COLD_FILE
    includes = json.dumps([str(d) for d in corpus.include_dirs])
    anchors, ours = [], []
    for _ in range(repeat):
        done = subprocess.run(
            [sys.executable, "-c", script, str(idl), includes],
            capture_output=True,
            text=True,
            cwd=REPO,
            check=True,
        )
        indented, compact = json.loads(done.stdout)
        anchors.append(indented)
        ours.append(compact)
    row = Row(f"JSON text of {COLD_FILE}: indent=2 (column 2) vs compact (column 3)", anchors, ours)
    row.note = "model to text only"
    return row


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per measurement (median)")
    args = parser.parse_args(argv)
    widl = shutil.which(WIDL)
    if widl is None:
        raise SystemExit(f"{WIDL} not found: install mingw-w64-tools")
    corpus = find_corpus()
    compile_bytecode()
    with tempfile.TemporaryDirectory(prefix="bench-widl-") as tmp:
        out = Path(tmp)
        accepted = [idl for idl in corpus.files if run_widl(widl, idl, corpus, out)]
        command = command_rows(widl, accepted, corpus, out, args.repeat)
        pinning = pin_to_one_cpu()
        rows = [
            corpus_row(widl, accepted, corpus, out, args.repeat),
            cold_row(widl, corpus, out, args.repeat),
            json_row(corpus, args.repeat),
        ]
    print(f"Front end vs widl: median of {args.repeat} runs; load {os.getloadavg()[0]:.1f}.")
    print(f"Corpus: {corpus.windows_dir} ({len(corpus.files)} files, widl accepts {len(accepted)})")
    print()
    print("The `idlgen` command, interleaved with widl (pinned as each row says):")
    print()
    print("| benchmark | widl | idlgen | idlgen / widl | notes |")
    print("|---|---:|---:|---:|---|")
    for row in command:
        print(row.markdown())
    print()
    print(f"In-process rows, {pinning}:")
    print()
    print("| benchmark | widl | idlgen | idlgen / widl | notes |")
    print("|---|---:|---:|---:|---|")
    for row in rows:
        print(row.markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
