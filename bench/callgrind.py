"""One command under `valgrind --tool=callgrind`: the instructions it executed.

The instruction counters (client_instructions.py, frontend_instructions.py) measure A/B
changes by counts rather than times, which hold on a busy machine.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path


def instructions_of(argv: list[str], tree: Path) -> int:
    """Instructions of `python argv...` run with `tree` first on the import path."""
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={tmp}/cg.out",
                sys.executable,
                *argv,
            ],
            env={**os.environ, "PYTHONPATH": str(tree)},
            capture_output=True,
            text=True,
            check=False,
        )
    found = re.search(r"Collected : ([\d,]+)", out.stderr)
    if out.returncode != 0 or found is None:
        raise SystemExit(f"{' '.join(argv)} failed under callgrind:\n{out.stderr[-3000:]}")
    return int(found.group(1).replace(",", ""))
