"""docs/dcom.md's "Try it" runs as written: the server command, then the client example
(with the resolver port the server printed)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOC = (REPO / "docs" / "dcom.md").read_text(encoding="utf-8")
WAIT = 60.0  # a safety net, never a timing assertion


def test_try_it_runs() -> None:
    section = DOC[DOC.index("## Try it") :]
    command = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    example = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert command is not None and example is not None
    words = shlex.split(command.group(1).replace("\\\n", " "))
    assert words[0].startswith("PYTHONPATH=") and words[1] == "python"
    env_path = words[0].split("=", 1)[1]
    server = subprocess.Popen(
        [sys.executable, *words[2:]],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={"PYTHONPATH": f"{REPO / env_path}:{REPO}", "PATH": "/usr/bin:/bin"},
    )
    try:
        assert server.stdout is not None
        published = server.stdout.readline().strip()
        resolver = server.stdout.readline().strip()
        assert "@ncacn_ip_tcp:127.0.0.1[" in published, server.stderr
        port = resolver.rsplit("[", 1)[1].rstrip("]")
        client = subprocess.run(
            [sys.executable, "-c", example.group(1).replace("RPORT", port)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=WAIT,
            env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        )
        assert client.returncode == 0, client.stderr
        assert client.stdout.split() == ["5", "b'hello'", "3"]
    finally:
        server.kill()
        server.communicate(timeout=WAIT)
