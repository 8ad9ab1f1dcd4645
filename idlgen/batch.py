"""Running the `idlgen` command over many files: the queue, progress and the summary.

Each file is one job (`job.compile_one`); a failing job does not stop the others and
the exit status is the worst one. With `--with-imports` a job's imported IDL files join
the queue, once each, unless the bundled base modules or the module map serve them.
A job's printed output is captured and shown when it finishes, so diagnostics never
tear the progress line (shown on a terminal only) and the same code can run jobs in
worker processes.
"""

from __future__ import annotations

import gc
import io
import os
import sys
from collections import Counter, deque
from contextlib import redirect_stderr, redirect_stdout
from typing import TYPE_CHECKING, NamedTuple, TextIO

from idlgen.job import (
    EXIT_IDL_ERROR,
    EXIT_INTERNAL,
    EXIT_OK,
    DepfileError,
    Options,
    Outcome,
    compile_one,
    depfile_text,
    output_path,
    write_if_changed,
)
from idlgen.module_map import is_bundled_idl, module_name_for
from idlgen.printable import printable

if TYPE_CHECKING:  # the process pool (and the logging it imports) only for -j N > 1
    from concurrent.futures import Future

EXIT_INTERRUPTED = 130
AUTO_WORKERS_FROM = 8  # inputs; fewer compile faster in this process


class JobResult(NamedTuple):
    """A finished job: its outcome and everything it printed."""

    source: str
    outcome: Outcome
    stdout: str
    stderr: str


def run_job(options: Options, source: str) -> JobResult:
    """Compile one file with its output captured; an idlgen bug fails this job only."""
    # The collector stays off until the freeze below: re-enabled first, its next
    # young collection would walk every object the compile allocated (4 % of a run).
    collecting = gc.isenabled()
    gc.disable()
    try:
        outcome, out, err = _captured(options, source)
        # What this compile left in the parse cache lives until the process ends;
        # moving it out of the collector's reach spares every later full collection a
        # walk over it (5-14 % of a corpus run). run_batch unfreezes at the end of the
        # run, so cyclic garbage this keeps is bounded by the run.
        gc.freeze()
    finally:
        if collecting:
            gc.enable()
    return JobResult(source, outcome, out, err)


def run_jobs(options: Options, sources: list[str]) -> list[JobResult]:
    """A worker's share: files compiled one after the other in one process, so the
    large import they share is parsed once (idlgen.schedule)."""
    return [run_job(options, source) for source in sources]


def _captured(options: Options, source: str) -> tuple[Outcome, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            outcome = compile_one(options, source)
        except Exception as error:  # a bug in idlgen, not in the user's input
            if os.environ.get("IDLGEN_DEBUG"):
                raise
            print(
                f"idlgen: internal error while compiling {printable(source)}: "
                f"{type(error).__name__}: {error} (set IDLGEN_DEBUG=1 for a traceback)",
                file=sys.stderr,
            )
            outcome = Outcome(EXIT_INTERNAL)
    return outcome, out.getvalue(), err.getvalue()


class Progress:
    """`[done/total] file` on one terminal line, redrawn in place; silent elsewhere."""

    def __init__(self, stream: TextIO, enabled: bool) -> None:
        self.stream = stream
        self.enabled = enabled
        self._shown = False

    @staticmethod
    def wanted(stream: TextIO) -> bool:
        try:
            return stream.isatty()
        except (AttributeError, ValueError):
            return False

    def show(self, done: int, total: int, current: str) -> None:
        if not self.enabled:
            return
        line = f"[{done}/{total}] {current}"
        room = self._width() - 1  # never the last column: some terminals wrap there
        if len(line) > room:  # keep the end: the file name is what matters
            line = "..." + line[len(line) - room + 3 :]
        self.stream.write(f"\r\x1b[K{line}")
        self.stream.flush()
        self._shown = True

    def _width(self) -> int:
        try:
            columns = os.get_terminal_size(self.stream.fileno()).columns
        except (OSError, ValueError):
            columns = 0
        return columns if columns >= 20 else 80  # a pty may report 0 columns

    def clear(self) -> None:
        if self._shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._shown = False


class Summary(NamedTuple):
    counts: Counter[str]
    checking: bool

    def line(self) -> str:
        failed = self.counts["failed"]
        if self.checking:
            fresh, stale = self.counts["unchanged"], self.counts["stale"]
            return f"idlgen: {fresh} up to date, {stale} stale, {failed} failed"
        written, unchanged = self.counts["written"], self.counts["unchanged"]
        return f"idlgen: {written} written, {unchanged} unchanged, {failed} failed"


class Queue:
    """The files still to compile, each once, and the output each one claims."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.pending: deque[str] = deque()
        self.seen: set[str] = set()
        self.targets: dict[str, str] = {}  # output path -> the source that claimed it
        self.order: list[str] = []  # every source in the order it was queued
        self.total = 0

    def add(self, source: str) -> JobResult | None:
        """Queue `source`; a result at once when it cannot be compiled (a clash)."""
        key = os.path.normcase(os.path.abspath(source))
        if key in self.seen:
            return None
        self.seen.add(key)
        self.order.append(source)
        self.total += 1
        clash = self._clash(source)
        if clash is not None:
            return clash
        self.pending.append(source)
        return None

    def _clash(self, source: str) -> JobResult | None:
        """Two files whose modules would overwrite each other: never silently."""
        if self.options.stdout:
            return None
        target = output_path(self.options, source, module_name_for(source))
        owner = self.targets.setdefault(os.path.normcase(os.path.abspath(target)), source)
        if owner == source:
            return None
        message = (
            f"idlgen: error: {owner} and {source} both become {target}; "
            f"compile them into different folders or map one with --module-map\n"
        )
        return JobResult(source, Outcome(EXIT_IDL_ERROR), "", message)

    def add_imports(self, outcome: Outcome) -> list[JobResult]:
        clashes = []
        for imported in outcome.imports:
            if wants_module(self.options, imported):
                clash = self.add(imported)
                if clash is not None:
                    clashes.append(clash)
        return clashes


def wants_module(options: Options, imported: str) -> bool:
    """Whether `--with-imports` writes a module for an imported file: not for a header
    (its declarations live in its importers), a bundled base file (idlgen.runtime.base
    has it) or a file the module map sends elsewhere."""
    if imported.endswith(".h"):
        return False
    if options.module_map.module_for(imported) is not None:
        return False
    return not is_bundled_idl(imported)


def run_batch(options: Options) -> int:
    """Compile every input (and, with --with-imports, what they import); return the worst
    exit status."""
    from idlgen.result_cache import start_run

    start_run()
    queue = Queue(options)
    results: list[JobResult] = []
    for source in options.inputs:
        clash = queue.add(source)
        if clash is not None:
            _replay(clash)
            results.append(clash)
    progress = Progress(sys.stderr, Progress.wanted(sys.stderr) and not options.quiet)
    workers = worker_count(options, len(queue.pending))
    try:
        if workers > 1:
            _run_in_workers(options, queue, progress, results, workers)
        else:
            _run_here(options, queue, progress, results)
    except KeyboardInterrupt:
        progress.clear()
        return EXIT_INTERRUPTED
    finally:
        gc.unfreeze()  # run_job froze; a caller in the same process gets its collector back
    order = {source: index for index, source in enumerate(queue.order)}
    results.sort(key=lambda r: order.get(r.source, len(order)))  # a stable depfile
    return _finish(options, results, queue.total)


def worker_count(options: Options, queued: int) -> int:
    """`-j N`, or by default one worker per usable CPU for a batch big enough to pay
    for starting them (each worker imports the compiler and parses common imports)."""
    if options.jobs is not None:
        return options.jobs
    if queued < AUTO_WORKERS_FROM:
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, cpus)


def _run_here(options: Options, queue: Queue, progress: Progress, results: list[JobResult]) -> None:
    while queue.pending:
        source = queue.pending.popleft()
        progress.show(len(results), queue.total, source)
        result = run_job(options, source)
        progress.clear()
        _collect(options, queue, result, results)


def _run_in_workers(
    options: Options, queue: Queue, progress: Progress, results: list[JobResult], workers: int
) -> None:
    """The same jobs in worker processes; results are shown as they finish, and a
    finished job's imports join the queue at once."""
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    from idlgen.resources import BASE_IDL_DIR
    from idlgen.schedule import plan

    search_path = (*options.include_dirs, str(BASE_IDL_DIR))
    units = deque(plan(list(queue.pending), search_path, workers, options.limits.file_bytes))
    queue.pending.clear()
    running: dict[Future[list[JobResult]], list[str]] = {}
    with ProcessPoolExecutor(max_workers=workers) as pool:
        try:
            while units or queue.pending or running:
                units.extend([source] for source in queue.pending)  # --with-imports
                queue.pending.clear()
                while units and len(running) < 2 * workers:
                    unit = units.popleft()
                    running[pool.submit(run_jobs, options, unit)] = unit
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    unit = running.pop(future)
                    for result in _results_of(future, unit):
                        progress.clear()
                        _collect(options, queue, result, results)
                        progress.show(len(results), queue.total, result.source)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    progress.clear()


def _results_of(future: Future[list[JobResult]], unit: list[str]) -> list[JobResult]:
    """A worker that died (killed, out of memory) fails its jobs, not the run."""
    try:
        return future.result()
    except Exception as error:
        failed = []
        for source in unit:
            message = (
                f"idlgen: internal error while compiling {printable(source)}: worker process "
                f"failed: {type(error).__name__}: {error}\n"
            )
            failed.append(JobResult(source, Outcome(EXIT_INTERNAL), "", message))
        return failed


def _collect(options: Options, queue: Queue, result: JobResult, results: list[JobResult]) -> None:
    _replay(result)
    results.append(result)
    if options.with_imports and result.outcome.status == EXIT_OK:
        for clash in queue.add_imports(result.outcome):
            _replay(clash)
            results.append(clash)


def _replay(result: JobResult) -> None:
    if result.stderr:
        sys.stderr.write(result.stderr)
    if result.stdout:
        sys.stdout.write(result.stdout)
    sys.stdout.flush()
    sys.stderr.flush()


def _finish(options: Options, results: list[JobResult], total: int) -> int:
    status = max((r.outcome.status for r in results), default=EXIT_OK)
    if options.depfile and status == EXIT_OK and not (options.check or options.diff):
        try:
            write_if_changed(options.depfile, depfile_text([r.outcome for r in results]))
        except DepfileError as error:  # a name make cannot express: nothing is written
            print(f"idlgen: error: cannot write {options.depfile!r}: {error}", file=sys.stderr)
            status = EXIT_IDL_ERROR
        except OSError as error:
            reason = error.strerror or type(error).__name__
            where = printable(options.depfile)
            print(f"idlgen: error: cannot write '{where}': {reason}", file=sys.stderr)
            status = EXIT_IDL_ERROR
    if total > 1 and not options.quiet and not options.stdout:
        counts = Counter(r.outcome.state for r in results)
        print(Summary(counts, options.check or options.diff).line(), file=sys.stderr)
    return status
