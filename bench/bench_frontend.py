"""Front-end speed against widl, the anchor (DESIGN.md section 6). Prints a markdown table.

    python bench/bench_frontend.py [--repeat N] [--quick | --cold [--against TREE]]

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
  hits both: the corpus as a clean build (`--no-cache`: no cache of any kind), with
  the parse store of imported files warm but every output rebuilt, and as a rebuild
  (result cache warm, nothing changed), on one core (widl once per file, serially;
  `idlgen -j1`) and on every core (widl N at a time; `idlgen -jN`); `objidl.idl` cold
  the same three ways; and a bare `python -c pass` (also with `-I` and `-I -S`) against
  widl, the interpreter's own start that any Python tool pays. Wall and CPU time (user
  + system of the child processes, steadier on a loaded machine) are both reported.
  `--quick` runs only these rows, twice each. `--cold` runs only the cold rows;
  `--against TREE` adds another idlgen source tree (say `git archive main` unpacked
  somewhere) to each of their repetitions, each tree with caches of its own: a
  before/after comparison under the same load.
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
import functools
import json
import os
import resource
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

USER_FILE = """import "objidl.idl";
[object, uuid(0c1a5e10-0000-4000-8000-0000000000b1)]
interface IMine : IUnknown { HRESULT Get([in] IStream *from, [out] DWORD *count); }
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


@dataclass(frozen=True)
class Tree:
    """An idlgen source tree to time, with a result cache and parse store of its own
    (two trees sharing one would overwrite each other's entries)."""

    label: str
    root: Path
    cache: Path


@dataclass
class Row:
    name: str
    widl: list[float]
    idlgen: list[float] | None
    note: str = ""
    cpu: tuple[list[float], list[float]] | None = None  # (anchor, idlgen) CPU seconds

    def markdown(self) -> str:
        widl = statistics.median(self.widl)
        if not self.idlgen:
            return f"| {self.name} | {widl:.3f} s | n/a | n/a | {self.note} |"
        ours = statistics.median(self.idlgen)
        cells = f"{widl:.3f} s | {ours:.3f} s | {ours / widl:.2f}x"
        if self.cpu is not None:
            anchor, mine = (statistics.median(times) for times in self.cpu)
            cells += f" | {anchor:.3f} s | {mine:.3f} s | {mine / max(anchor, 1e-9):.2f}x"
        return f"| {self.name} | {cells} | {self.note} |"


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


def compile_bytecode(root: Path = REPO) -> None:
    """What an installed idlgen has: .pyc files next to the sources."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(root / "idlgen")], check=True)


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
    return timed_cpu(action)[0]


def timed_cpu(action: Callable[[], object]) -> tuple[float, float]:
    """Wall time, and the CPU time (user + system) of the child processes it ran:
    on a loaded machine the CPU time is the steadier figure."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    action()
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu


def widl_corpus_seconds(widl: str, files: Sequence[Path], corpus: Corpus, out: Path) -> float:
    return widl_corpus_times(widl, files, corpus, out)[0]


def widl_corpus_times(
    widl: str, files: Sequence[Path], corpus: Corpus, out: Path
) -> tuple[float, float]:
    return timed_cpu(lambda: [run_widl(widl, idl, corpus, out) for idl in files])


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


def idlgen_command(
    files: Sequence[Path], corpus: Corpus, out: Path, *options: str, tree: Tree | None = None
) -> tuple[float, float]:
    """One whole `python -m idlgen` process (interpreter start included) over `files`:
    (wall, CPU) seconds. It runs in `out`: `-m` puts the working folder first on
    sys.path, so run from another checkout it would time that checkout's idlgen."""
    tree = tree or Tree("this", REPO, Path(os.environ.get("IDLGEN_CACHE_DIR", out)))
    includes = [arg for d in corpus.include_dirs for arg in ("-I", str(d))]
    command = [sys.executable, "-m", "idlgen", "-q", "-o", str(out), *options, *includes]
    env = {**os.environ, "PYTHONPATH": str(tree.root), "IDLGEN_CACHE_DIR": str(tree.cache)}
    out.mkdir(parents=True, exist_ok=True)
    return timed_cpu(
        lambda: subprocess.run(
            [*command, *map(str, files)], capture_output=True, env=env, cwd=out, check=False
        )
    )


def interpreter_start(*flags: str) -> tuple[float, float]:
    """A bare `python -c pass`: what any Python tool pays before its first line (on
    the development VM a site `.pth` file imports certifi, about 0.1 s)."""
    return timed_cpu(lambda: subprocess.run([sys.executable, *flags, "-c", "pass"], check=True))


def widl_parallel_seconds(
    widl: str, files: Sequence[Path], corpus: Corpus, out: Path, workers: int
) -> tuple[float, float]:
    """widl once per file, `workers` processes at a time (what `make -jN` does)."""
    from concurrent.futures import ThreadPoolExecutor

    def run(idl: Path) -> bool:
        return run_widl(widl, idl, corpus, out)

    with ThreadPoolExecutor(workers) as pool:
        return timed_cpu(lambda: list(pool.map(run, files)))


Timing = Callable[[], tuple[float, float]]


def interleaved(repeat: int, anchor: Timing, ours: Timing) -> Row:
    """Anchor and idlgen alternate within each repetition, so load changes on the
    shared machine hit both alike."""
    widl_times, idlgen_times, widl_cpu, idlgen_cpu = [], [], [], []
    for _ in range(repeat):
        wall, cpu = anchor()
        widl_times.append(wall)
        widl_cpu.append(cpu)
        wall, cpu = ours()
        idlgen_times.append(wall)
        idlgen_cpu.append(cpu)
    return Row("", widl_times, idlgen_times, cpu=(widl_cpu, idlgen_cpu))


def command_rows(
    widl: str, accepted: list[Path], corpus: Corpus, out: Path, repeat: int
) -> list[Row]:
    """Clean builds and rebuilds with the `idlgen` command, on one core and on two.

    A clean build (`--no-cache`) reads and writes no cache of any kind. "Parse store
    warm" rows are clean builds of the outputs (no result cache) in a project whose
    imported files were parsed by an earlier run (docs/cli.md): what editing the
    inputs, or building a second project on the same SDK headers, costs."""
    all_cpus = os.sched_getaffinity(0)
    one_cpu = {min(all_cpus)}
    cache = out / "idlgen-cache"
    rows = []

    def clean(jobs: str) -> Timing:
        def run() -> tuple[float, float]:
            shutil.rmtree(out / "gen", ignore_errors=True)
            return idlgen_command(accepted, corpus, out / "gen", "--no-cache", jobs)

        return run

    def outputs_only(files: Sequence[Path], *options: str) -> Timing:
        """Results dropped, parse store kept."""

        def run() -> tuple[float, float]:
            for entry in cache.glob("*.idlgen-result"):
                entry.unlink()
            shutil.rmtree(out / "gen", ignore_errors=True)
            return idlgen_command(files, corpus, out / "gen", *options)

        return run

    def rebuild(jobs: str) -> tuple[float, float]:
        return idlgen_command(accepted, corpus, out / "gen", jobs)

    def add(row: Row, name: str, note: str = "") -> None:
        row.name, row.note = name, note
        rows.append(row)

    os.environ["IDLGEN_CACHE_DIR"] = str(cache)
    try:
        os.sched_setaffinity(0, one_cpu)
        serial: Timing = lambda: widl_corpus_times(widl, accepted, corpus, out)  # noqa: E731
        row = interleaved(repeat, serial, clean("-j1"))
        add(row, "corpus, clean build, one core: widl per file vs idlgen -j1 --no-cache")
        idlgen_command(accepted, corpus, out / "gen", "-j1")  # fill the caches
        row = interleaved(repeat, serial, outputs_only(accepted, "-j1"))
        add(row, "corpus, outputs rebuilt, parse store warm, one core: idlgen -j1")
        row = interleaved(repeat, serial, lambda: rebuild("-j1"))
        name = "corpus, rebuild (nothing changed), one core: widl per file vs idlgen -j1"
        add(row, name, "idlgen serves every file from its result cache")
        if len(all_cpus) >= 2:
            os.sched_setaffinity(0, all_cpus)
            cores = len(all_cpus)

            def parallel() -> tuple[float, float]:
                return widl_parallel_seconds(widl, accepted, corpus, out, cores)

            row = interleaved(repeat, parallel, clean(f"-j{cores}"))
            add(row, f"corpus, clean build, {cores} cores: widl {cores} at a time vs -j{cores}")
            row = interleaved(repeat, parallel, outputs_only(accepted, f"-j{cores}"))
            add(row, f"corpus, outputs rebuilt, parse store warm, {cores} cores: -j{cores}")
            row = interleaved(repeat, parallel, lambda: rebuild(f"-j{cores}"))
            add(row, f"corpus, rebuild, {cores} cores: widl {cores} at a time vs -j{cores}")
        os.sched_setaffinity(0, one_cpu)
        rows += cold_rows(widl, corpus, out, repeat, [Tree("", REPO, cache)])
    finally:
        os.environ.pop("IDLGEN_CACHE_DIR", None)
        os.sched_setaffinity(0, all_cpus)
    return rows


def cold_rows(
    widl: str, corpus: Corpus, out: Path, repeat: int, trees: Sequence[Tree]
) -> list[Row]:
    """`idlgen objidl.idl` in a fresh process, three ways (no cache, parse store warm,
    result cached), and a user's file importing it; each repetition runs widl, then
    every tree, so load on a shared machine hits all alike. Several trees (`--against`)
    give before/after rows of the same runs."""
    idl = corpus.windows_dir / COLD_FILE
    mine = out / "mine.idl"
    mine.write_text(USER_FILE, encoding="utf-8")
    gen = out / "gen"

    def no_cache(files: list[Path]) -> Callable[[Tree], tuple[float, float]]:
        return lambda tree: idlgen_command(files, corpus, out, "--no-cache", tree=tree)

    def store_warm(files: list[Path]) -> Callable[[Tree], tuple[float, float]]:
        def run(tree: Tree) -> tuple[float, float]:
            for entry in tree.cache.glob("*.idlgen-result"):
                entry.unlink()
            shutil.rmtree(gen, ignore_errors=True)
            return idlgen_command(files, corpus, gen, tree=tree)

        return run

    def cached(tree: Tree) -> tuple[float, float]:
        return idlgen_command([idl], corpus, out, tree=tree)

    scenarios: list[tuple[str, str, Callable[[Tree], tuple[float, float]]]] = [
        (f"cold `idlgen {COLD_FILE}` --no-cache", "whole process", no_cache([idl])),
        (
            f"cold `idlgen {COLD_FILE}`, parse store warm",
            "its 4 imports not parsed",
            store_warm([idl]),
        ),
        (f"cold `idlgen {COLD_FILE}`, result cached", "whole process", cached),
        (
            "cold `idlgen mine.idl` (imports objidl.idl), --no-cache",
            "anchor: widl objidl",
            no_cache([mine]),
        ),
        (
            "cold `idlgen mine.idl` (imports objidl.idl), parse store warm",
            "edited file",
            store_warm([mine]),
        ),
    ]
    rows = []
    for name, note, run in scenarios:
        rows += interleaved_trees(
            repeat,
            lambda: timed_cpu(lambda: run_widl(widl, idl, corpus, out)),
            run,
            trees,
            name,
            note,
        )
    for flags in ((), ("-I",), ("-I", "-S")):
        row = interleaved(
            repeat,
            lambda: timed_cpu(lambda: run_widl(widl, idl, corpus, out)),
            functools.partial(interpreter_start, *flags),
        )
        row.name, row.note = f"`python {' '.join(flags)} -c pass` (no idlgen)", "interpreter start"
        rows.append(row)
    return rows


def interleaved_trees(
    repeat: int,
    anchor: Timing,
    run: Callable[[Tree], tuple[float, float]],
    trees: Sequence[Tree],
    name: str,
    note: str,
) -> list[Row]:
    """One row per tree; within each repetition widl runs, then each tree in turn. An
    untimed run first leaves what the row measures in place (the row before may have
    emptied the result cache the "result cached" row needs)."""
    rows = [Row(f"{name} {t.label}".rstrip(), [], [], note, ([], [])) for t in trees]
    for tree in trees:
        run(tree)
    for _ in range(repeat):
        wall, cpu = anchor()
        for tree, row in zip(trees, rows, strict=True):
            assert row.idlgen is not None and row.cpu is not None
            row.widl.append(wall)
            row.cpu[0].append(cpu)
            wall_ours, cpu_ours = run(tree)
            row.idlgen.append(wall_ours)
            row.cpu[1].append(cpu_ours)
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
    parser.add_argument(
        "--quick", action="store_true", help="the command rows only, 2 runs each (a few minutes)"
    )
    parser.add_argument(
        "--cold",
        action="store_true",
        help="the cold objidl.idl rows only (one CPU, widl interleaved): a minute or two",
    )
    parser.add_argument(
        "--against",
        metavar="TREE",
        type=Path,
        help="with --cold: also time the idlgen of another source tree (a checkout of the "
        "code before a change), interleaved in the same repetitions",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.repeat = 2
    widl = shutil.which(WIDL)
    if widl is None:
        raise SystemExit(f"{WIDL} not found: install mingw-w64-tools")
    corpus = find_corpus()
    compile_bytecode()
    if args.cold:
        return cold_main(widl, corpus, args.repeat, args.against)
    with tempfile.TemporaryDirectory(prefix="bench-widl-") as tmp:
        out = Path(tmp)
        accepted = [idl for idl in corpus.files if run_widl(widl, idl, corpus, out)]
        command = command_rows(widl, accepted, corpus, out, args.repeat)
        pinning = pin_to_one_cpu()
        rows = []
        if not args.quick:
            rows = [
                corpus_row(widl, accepted, corpus, out, args.repeat),
                cold_row(widl, corpus, out, args.repeat),
                json_row(corpus, args.repeat),
            ]
    print(f"Front end vs widl: median of {args.repeat} runs; load {os.getloadavg()[0]:.1f}.")
    print(f"Corpus: {corpus.windows_dir} ({len(corpus.files)} files, widl accepts {len(accepted)})")
    print()
    print("The `idlgen` command, interleaved with widl (pinned as each row says);")
    print_command_table(command)
    print()
    if not rows:
        return 0
    print(f"In-process rows, {pinning}:")
    print()
    print("| benchmark | widl | idlgen | idlgen / widl | notes |")
    print("|---|---:|---:|---:|---|")
    for row in rows:
        print(row.markdown())
    return 0


def print_command_table(rows: Sequence[Row]) -> None:
    print("wall time, then CPU time (user + system of the child processes):")
    print()
    print(
        "| benchmark | widl | idlgen | idlgen / widl | widl CPU | idlgen CPU | CPU ratio | notes |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for row in rows:
        print(row.markdown())


def cold_main(widl: str, corpus: Corpus, repeat: int, against: Path | None) -> int:
    """`--cold`: the cold rows on one CPU, for this tree (and `--against`'s, before it)."""
    with tempfile.TemporaryDirectory(prefix="bench-cold-") as tmp:
        out = Path(tmp)
        trees = [Tree("(this tree)" if against else "", REPO, out / "cache-this")]
        if against is not None:
            compile_bytecode(against)
            trees.insert(0, Tree(f"({against})", against, out / "cache-against"))
        pinning = pin_to_one_cpu()
        rows = cold_rows(widl, corpus, out, repeat, trees)
    print(f"Cold rows: median of {repeat} runs, {pinning}; load {os.getloadavg()[0]:.1f}.")
    print_command_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
