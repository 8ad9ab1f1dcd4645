"""samples/stream_demo.py runs to the end and shows each behaviour it promises."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from apartment_fixtures import WAIT

DEMO = Path(__file__).resolve().parents[2] / "samples" / "stream_demo.py"


def test_stream_demo_runs() -> None:
    done = subprocess.run(
        [sys.executable, str(DEMO)], capture_output=True, text=True, timeout=6 * WAIT, check=False
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Read(5) -> ReadResult(pv=b'hello', pcbRead=5)" in out
    assert "Finish_Read -> ReadResult(pv=b', apartments', pcbRead=12)" in out
    assert "Finish_Read raised CallCanceledError" in out
    assert "server: a client canceled its Read" in out
    assert "Finish_Read -> ReadResult(pv=b'more', pcbRead=4)" in out
    assert out.rstrip().endswith("done")
