"""Starting and stopping the server process the ORPC tests talk to (always cleaned up)."""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
WAIT = 20.0  # a safety net against hangs, never a timing assertion
if str(REPO / "tests" / "apartments") not in sys.path:  # the hand-written interfaces
    sys.path.insert(0, str(REPO / "tests" / "apartments"))


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    paths = [str(HERE), str(REPO / "tests" / "apartments"), str(REPO)]
    env["PYTHONPATH"] = os.pathsep.join([*paths, env.get("PYTHONPATH", "")])
    return env


def spawn(cmd: list[str]) -> subprocess.Popen[str]:
    """A child with piped text stdin/stdout/stderr that imports the test helpers."""
    return subprocess.Popen(
        cmd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )


def first_line(proc: subprocess.Popen[str], timeout: float = WAIT) -> str:
    """The child's first stdout line, or a failure naming its stderr (never a hang)."""
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    line = proc.stdout.readline().strip() if ready else ""
    if not line:
        proc.kill()
        _, err = proc.communicate(timeout=WAIT)
        raise AssertionError(f"child printed nothing; stderr:\n{err}")
    return line


def ask(proc: subprocess.Popen[str], line: str) -> str:
    """One request line to a scripted child, and its one-line answer."""
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(line + "\n")
    proc.stdin.flush()
    return proc.stdout.readline().strip()


@contextlib.contextmanager
def server_process(
    binding: str, factory: str = "orpc_objects:hub", prefix: list[str] | None = None
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`python -m idlgen.runtime serve` in a child; yields (process, published string)."""
    cmd = [*(prefix or []), sys.executable, "-m", "idlgen.runtime", "serve", factory]
    proc = spawn([*cmd, "--binding", binding, "--until-eof"])
    try:
        yield proc, first_line(proc)
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.communicate(timeout=WAIT)
