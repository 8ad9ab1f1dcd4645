"""User code against generated modules and the runtime passes `mypy --strict`, and mypy
sees the types a user expects (connect, query, QueryInterface and CreateCall are generic;
interface pointers that may be NULL are `| None`; a plain RPC client's `Begin_X` is a
`PendingRpc` of what `X` returns, awaited too; `.pyi` stubs serve the import hook).

`project/user_code.py` marks each `reveal_type` with the type mypy must reveal; the test compares
them all, so a type that decays to Any fails here.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
_EXPECTED = re.compile(r"^\s*# revealed: (.+)$")
_ABBREVIATIONS = {
    "M.": "userpkg.simple_stream_idl.",
    "N.": "userpkg.nullable_idl.",
    "P.": "userpkg.plain_rpc_idl.",
    "D.": "idlgen.runtime.rpc.dcerpc.rpcclient.",
    "S.": "idlgen.runtime.com.stdiface.",
}
_REVEALED = re.compile(r"^user_code\.py:(\d+): note: Revealed type is \"(.*)\"$")


def _idlgen(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "idlgen", *args], check=True, cwd=REPO)


def _project(tmp_path: Path) -> Path:
    """project/ (user_code.py and its two packages) with the generated modules added."""
    project = tmp_path / "project"
    shutil.copytree(HERE / "project", project)
    userpkg, hookpkg = project / "userpkg", project / "hookpkg"
    idl = [REPO / "samples/simple_stream.idl", HERE / "nullable.idl", HERE / "plain_rpc.idl"]
    _idlgen("-o", str(userpkg), *map(str, idl))
    shutil.copy(REPO / "samples/simple_stream.idl", hookpkg)
    _idlgen("--pyi", str(hookpkg / "simple_stream.idl"))
    return project


def _expected(source: Path) -> dict[int, str]:
    found = {}
    for number, line in enumerate(source.read_text().splitlines(), start=1):
        match = _EXPECTED.match(line)
        if match:
            expected = match.group(1).strip()
            for short, full in _ABBREVIATIONS.items():
                expected = expected.replace(short, full)
            found[number + 1] = expected
    return found


def test_user_code_passes_mypy_strict_with_the_expected_types(tmp_path: Path) -> None:
    project = _project(tmp_path)
    assert not (project / "hookpkg" / "simple_stream_idl.py").exists()
    assert (project / "hookpkg" / "simple_stream_idl.pyi").exists()
    env = {**os.environ, "MYPYPATH": str(REPO), "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--cache-dir",
            str(tmp_path / ".mypy"),
            "user_code.py",
        ],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    revealed = {}
    errors = []
    for line in result.stdout.splitlines():
        match = _REVEALED.match(line)
        if match:
            revealed[int(match.group(1))] = match.group(2)
        elif ": error:" in line:
            errors.append(line)
    assert errors == [], result.stdout
    assert revealed == _expected(project / "user_code.py")


def test_samples_pass_mypy_strict(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path), "samples"],
        cwd=REPO,
        env={**os.environ, "MYPYPATH": str(REPO)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout
