"""What the cross-process benchmarks share: a server child pinned to one CPU, and the
median of batch means (single runs are noise on a shared 2-core machine)."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable


def spawn(script: str, cpu: int, *args: str) -> tuple[subprocess.Popen[str], str]:
    """Run `script args` pinned to `cpu`; returns the child and the first line it prints
    (its address). The child serves until its stdin closes."""
    proc = subprocess.Popen(
        [sys.executable, script, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: os.sched_setaffinity(0, {cpu}),
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def timed(fn: Callable[[], object], calls: int, batches: int = 7) -> float:
    """Median over batches of the mean seconds per call, after a warm-up."""
    for _ in range(max(calls // 10, 10)):
        fn()
    results = []
    for _ in range(batches):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        results.append((time.perf_counter() - t0) / calls)
    return statistics.median(results)
