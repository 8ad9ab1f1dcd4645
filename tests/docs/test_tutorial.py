"""docs/tutorial.md runs as written: every code block, and the outputs it shows.

Blocks whose first line is `# file: NAME` (or `// file: NAME`) are written to an empty
folder; the other Python blocks run in order in one interpreter, each followed by the
output the page shows; the `sh` blocks run too (`idlgen` is `python -m idlgen`, and the
two-terminal block starts the server, reads the string it prints and runs the client
with it).
"""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TUTORIAL = REPO / "docs" / "tutorial.md"
WAIT = 30.0
SEPARATOR = "----- next block -----"
_BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.DOTALL)
_FILE = re.compile(r"^(?:#|//) file: (\S+)\n")


@dataclass
class Block:
    language: str
    text: str
    output: str | None = None  # the `text` block right after it


def blocks() -> list[Block]:
    found: list[Block] = []
    for language, text in _BLOCK.findall(TUTORIAL.read_text(encoding="utf-8")):
        if language == "text":
            assert found and found[-1].output is None, "an output block follows a code block"
            found[-1].output = text
        else:
            found.append(Block(language, text))
    return found


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), "."])}


def run(args: list[str], folder: Path) -> str:
    result = subprocess.run(
        args, cwd=folder, env=env(), capture_output=True, text=True, timeout=WAIT, check=False
    )
    assert result.returncode == 0, f"{args}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def across_processes(block: Block, folder: Path) -> None:
    server_line, client_line = block.text.strip().splitlines()
    binding = server_line.split("'")[1]
    server = subprocess.Popen(
        [sys.executable, "server.py", binding],
        cwd=folder,
        env=env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        ready, _, _ = select.select([server.stdout], [], [], WAIT)
        published = server.stdout.readline().strip() if ready else ""
        assert re.fullmatch(r"[0-9a-f-]{36}@ncacn_ip_tcp:127\.0\.0\.1\[\d+\]", published)
        assert client_line.startswith("python client.py ")
        assert run([sys.executable, "client.py", published], folder) == block.output
    finally:
        server.communicate(input="", timeout=WAIT)


def test_every_block_of_the_tutorial_runs_and_prints_what_the_page_shows(
    tmp_path: Path,
) -> None:
    session: list[Block] = []
    ran = 0
    for block in blocks():
        named = _FILE.match(block.text)
        if named:
            (tmp_path / named.group(1)).write_text(block.text, encoding="utf-8")
        elif block.language == "python":
            session.append(block)
        elif block.language == "sh" and "server.py" in block.text:
            across_processes(block, tmp_path)
            ran += 1
        elif block.language == "sh":
            for line in block.text.strip().splitlines():
                command = line.split()
                assert command[0] == "idlgen", line
                run([sys.executable, "-m", "idlgen", *command[1:]], tmp_path)
                ran += 1
        else:
            raise AssertionError(f"a {block.language} block the test does not know how to run")
    script = f"\nprint({SEPARATOR!r})\n".join(block.text for block in session)
    (tmp_path / "session.py").write_text(script, encoding="utf-8")
    outputs = run([sys.executable, "session.py"], tmp_path).split(SEPARATOR + "\n")
    assert outputs == [block.output or "" for block in session]
    assert (tmp_path / "counter_idl.py").exists()  # the `idlgen counter.idl` step
    assert ran == 2 and len(session) == 5
