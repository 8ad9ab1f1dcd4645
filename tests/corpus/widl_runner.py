"""Run widl over IDL files to learn which it accepts and collect its C headers.

widl is a separate process per file, so running the corpus on a thread pool (one
worker per CPU) cuts the session's set-up time without any shared state: each run
writes its own header, named after the file's folder and stem so `windows/x.idl` and
`wine/x.idl` never collide.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

WIDL_TIMEOUT_SECONDS = 120


@dataclass(frozen=True)
class WidlRun:
    idl: Path
    header: Path
    returncode: int
    stderr: str

    @property
    def accepted(self) -> bool:
        return self.returncode == 0 and self.header.is_file()

    @property
    def first_error(self) -> str:
        lines = self.stderr.strip().splitlines()
        return lines[0] if lines else f"exit status {self.returncode}"


def widl_command(widl: str, idl: Path, header: Path, include_dirs: Sequence[Path]) -> list[str]:
    """`widl -h`: the header is all we read, and the cheapest output widl writes."""
    includes = [f"-I{d}" for d in include_dirs]
    return [widl, "-h", *includes, "-o", str(header), str(idl)]


def run_widl(widl: str, idl: Path, out_dir: Path, include_dirs: Sequence[Path]) -> WidlRun:
    header = out_dir / f"{idl.parent.name}__{idl.stem}.h"
    try:
        done = subprocess.run(
            widl_command(widl, idl, header, include_dirs),
            capture_output=True,
            text=True,
            errors="replace",
            timeout=WIDL_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return WidlRun(idl, header, -1, f"widl timed out after {WIDL_TIMEOUT_SECONDS}s")
    return WidlRun(idl, header, done.returncode, done.stderr)


def run_widl_many(
    widl: str, idls: Sequence[Path], out_dir: Path, include_dirs: Sequence[Path]
) -> dict[Path, WidlRun]:
    """Run widl on every file in parallel; the result keeps the input order."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        runs = pool.map(lambda idl: run_widl(widl, idl, out_dir, include_dirs), idls)
        return {run.idl: run for run in runs}
