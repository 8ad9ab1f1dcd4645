"""How `idlgen -jN --no-cache` over the Wine corpus splits its work between workers.

    python bench/worker_split.py [--tree DIR] [--jobs 2] [--files LIST]

Runs the command in-process with each job wrapped to note its worker, its file, when it
started and ended, and the CPU time it took; prints per worker the jobs, the CPU and
when it went idle, and the costliest jobs. CPU per job counts what a worker redid
(a large import parsed by two workers shows as two expensive importers). The workers
are forked, so they run the wrapper. `--files` names a file listing the inputs, one a
line (default: every corpus `.idl`).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from frontend_instructions import corpus_dir

HERE = Path(__file__).resolve()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=HERE.parents[1], help="checkout to run")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--files", type=Path, help="a file listing the inputs, one a line")
    args = parser.parse_args()
    sys.path.insert(0, str(args.tree))
    import idlgen.batch as batch
    from idlgen.cli import main as idlgen_main

    folder = corpus_dir()
    if args.files is not None:
        inputs = args.files.read_text().split()
    else:
        inputs = [str(p) for p in sorted(folder.glob("*.idl"))]
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "jobs.log"
        original = batch.run_job
        started = time.time()

        def run_job(options: Any, source: str) -> Any:
            wall, cpu = time.time(), time.process_time()
            result = original(options, source)
            row = [os.getpid(), os.path.basename(source), wall - started, time.time() - started]
            row.append(time.process_time() - cpu)
            with open(log, "a") as handle:
                handle.write(json.dumps(row) + "\n")
            return result

        # Pickled by name into the forked workers, which find this wrapper there.
        run_job.__module__, run_job.__qualname__ = "idlgen.batch", "run_job"
        batch.run_job = run_job
        argv = ["-q", f"-j{args.jobs}", "--no-cache", "-o", tmp, "-I", str(folder), *inputs]
        status = idlgen_main(argv)
        print(f"exit {status}, wall {time.time() - started:.2f} s")
        rows = [json.loads(line) for line in log.read_text().splitlines()]
    workers: dict[int, list[list[Any]]] = collections.defaultdict(list)
    for row in rows:
        workers[row[0]].append(row)
    print(f"CPU in jobs: {sum(r[4] for r in rows):.2f} s")
    for pid, jobs in workers.items():
        cpu, idle = sum(r[4] for r in jobs), max(r[3] for r in jobs)
        print(f"worker {pid}: {len(jobs)} jobs, CPU {cpu:.2f} s, idle from {idle:.2f} s")
    for row in sorted(rows, key=lambda r: -r[4])[:8]:
        print(f"  {row[1]}: CPU {row[4]:.2f} s, {row[2]:.2f} to {row[3]:.2f} s (worker {row[0]})")


if __name__ == "__main__":
    main()
