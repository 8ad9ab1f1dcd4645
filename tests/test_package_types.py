"""The package stays `mypy --strict` clean.

The house rules ask for type hints everywhere; without a test, strictness decays one unused
ignore or untyped call at a time. mypy is in the `test` extra, so this runs wherever tests do.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_mypy_strict_reports_no_errors_in_the_package() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "idlgen"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"mypy --strict idlgen failed:\n{result.stdout}{result.stderr}"
