"""The README's commands and Python example stay true."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text(encoding="utf-8")


def test_readme_opens_with_the_two_setup_commands() -> None:
    first_block = re.search(r"```sh\n(.*?)```", README, re.DOTALL)
    assert first_block is not None
    lines = first_block.group(1).strip().splitlines()
    assert lines == ["pip install -e '.[test]' && idlgen samples/simple_stream.idl", "pytest"]
    assert README.index("```sh") < README.index("##")  # before any section


def test_readme_python_example_runs() -> None:
    example = re.search(r"```python\n(.*?)```", README, re.DOTALL)
    assert example is not None
    result = subprocess.run(
        [sys.executable, "-c", example.group(1)], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
