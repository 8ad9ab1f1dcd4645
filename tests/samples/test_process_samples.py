"""The two-process samples, run as the README tells a reader to: each server a child process
printing its published string, each client a second child given that string. Waits are
bounded and every child is killed at the end, whatever happened."""

from __future__ import annotations

import contextlib
import os
import re
import select
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples"
WAIT = 30.0  # a safety net against hangs, never a timing assertion
TCP = "ncacn_ip_tcp:127.0.0.1[0]"


def env() -> dict[str, str]:
    out = dict(os.environ)
    out["PYTHONPATH"] = os.pathsep.join([str(REPO), out.get("PYTHONPATH", "")])
    return out


@contextlib.contextmanager
def server(script: str, *args: str) -> Iterator[str]:
    """Start samples/SCRIPT, yield the published string it prints first; always kill it."""
    proc = subprocess.Popen(
        [sys.executable, str(SAMPLES / script), *args, "--until-eof"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(),
    )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], WAIT)
        line = proc.stdout.readline().strip() if ready else ""
        if not line:
            proc.kill()
            pytest.fail(f"{script} printed nothing; stderr:\n{proc.communicate(timeout=WAIT)[1]}")
        yield line
    finally:
        if proc.poll() is None:
            proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.communicate(timeout=WAIT)


def client(script: str, *args: str) -> list[str]:
    """Run samples/SCRIPT to its end; its stdout lines (stripped), or a failure with stderr."""
    try:
        done = subprocess.run(
            [sys.executable, str(SAMPLES / script), *args],
            capture_output=True,
            text=True,
            timeout=WAIT,
            env=env(),
            check=False,
        )
    except subprocess.TimeoutExpired as exc:  # run() has killed the child already
        pytest.fail(f"{script} hung; stdout so far:\n{exc.stdout!r}")
    assert done.returncode == 0, f"{script} failed:\n{done.stdout}\n{done.stderr}"
    return [line.strip() for line in done.stdout.splitlines()]


def binding_of(published: str) -> str:
    ipid, _, binding = published.partition("@")
    assert len(ipid) == 36, published
    return binding


@pytest.mark.parametrize("where", ["tcp", "unix"])
def test_stream_sample_across_processes(where: str, tmp_path: Path) -> None:
    binding = TCP if where == "tcp" else f"ncacn_unix_stream:[{tmp_path / 's.sock'}]"
    with server("stream_server.py", "--binding", binding) as published:
        assert binding_of(published).startswith(binding.split("[")[0])
        lines = client("stream_client.py", published)
    assert "Write(b'hello, processes', 16) -> 16" in lines
    assert "Read(5) -> (b'hello', 5)" in lines  # sync: what was written comes back
    assert "Begin_Read(11) sent; Finish_Read -> (b', processes', 11)" in lines
    assert any(
        line.startswith("Read(8) still waiting") and "Cancel -> 0x00000000" in line
        for line in lines
    )
    assert "Finish_Read raised CallCanceledError 0x80010002 (RPC_E_CALL_CANCELED)" in lines
    # the canceled Read took nothing: the later Write's bytes go to the next Read
    assert "Finish_Read -> (b'more', 4)" in lines
    assert lines[-1] == "done"


def test_stream_client_reports_an_unreachable_server() -> None:
    """Nothing listening: a one-line error and exit status 2, not a traceback."""
    proc = subprocess.run(
        [
            sys.executable,
            str(SAMPLES / "stream_client.py"),
            "00000000-0000-0000-0000-000000000001@ncacn_ip_tcp:127.0.0.1[1]",
        ],
        capture_output=True,
        text=True,
        timeout=WAIT,
        env=env(),
        check=False,
    )
    assert proc.returncode == 2
    assert "cannot connect" in proc.stderr and "Traceback" not in proc.stderr


def test_wmi_sample_across_processes() -> None:
    with server("wmi_server.py", "--binding", TCP, "--pace", "0.01") as published:
        lines = client("wmi_client.py", "--connect", published)
    text = "\n".join(lines)
    # async query: every row reached the client's sink, with progress reports on the way
    assert (
        "status 0x00000000: Mercury, Venus, Earth, Mars, Jupiter, Saturn, Uranus, Neptune" in text
    )
    assert "8/8" in text and "1/8" in text
    # the endless query stopped by CancelAsyncCall, the sink told so
    assert "got tick 1, tick 2, tick 3; CancelAsyncCall -> status 0x80041032" in text
    # semisynchronous enumeration of the giants, through a remote enumerator
    giants = [line for line in lines if line.startswith("instance of Planet")]
    assert [g.split("'")[1] for g in giants] == ["Jupiter", "Saturn", "Uranus", "Neptune"]
    assert lines[-1] == "done"


def readme_pairs() -> list[tuple[list[str], list[str]]]:
    """(server argv, client argv) of each two-line command block in the README's
    "Across processes" section, `python` and the leading script path as written there."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Across processes") :]
    pairs = []
    for block in re.findall(r"```sh\n(.*?)```", section, re.DOTALL):
        lines = block.strip().splitlines()
        assert len(lines) == 2, block
        pairs.append((shlex.split(lines[0]), shlex.split(lines[1])))
    return pairs


@pytest.mark.parametrize("pair", readme_pairs(), ids=lambda p: p[0][1])
def test_readme_commands_work_as_written(pair: tuple[list[str], list[str]]) -> None:
    """Copy-paste from the README: the server's printed string replaces PRINTED-STRING."""
    (python, script, *args), (python2, client_script, *client_args) = pair
    assert python == python2 == "python"
    assert script.startswith("samples/") and client_script.startswith("samples/")
    with server(script.removeprefix("samples/"), *args) as published:
        argv = [published if a == "PRINTED-STRING" else a for a in client_args]
        lines = client(client_script.removeprefix("samples/"), *argv)
    assert lines[-1] == "done"
    assert not any(line.startswith(("unexpected", "only ")) for line in lines)
