"""A run over many files: every file is tried, the summary counts them, the exit status
is the worst one, and progress is drawn on a terminal only."""

from __future__ import annotations

import fcntl
import io
import multiprocessing
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

import idlgen.api
from idlgen.cli import main

REPO = Path(__file__).resolve().parents[2]
PROGRESS_CONTROLS = ("\r", "\x1b[")


@pytest.fixture
def files(tmp_path: Path) -> list[Path]:
    """Two good files around a bad one: the bad one must not stop the last."""
    (tmp_path / "a.idl").write_text("const int A = 1;\n")
    (tmp_path / "bad.idl").write_text("const int B = NOPE;\n")
    (tmp_path / "c.idl").write_text("const int C = 3;\n")
    return [tmp_path / "a.idl", tmp_path / "bad.idl", tmp_path / "c.idl"]


def run(argv: list[str | Path], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    status = main([str(a) for a in argv])
    return status, capsys.readouterr().err


JOBS = pytest.mark.parametrize("jobs", ["-j1", "-j2"], ids=["in-process", "workers"])


@JOBS
def test_a_failing_file_does_not_stop_the_others_and_the_summary_counts_them(
    files: list[Path], capsys: pytest.CaptureFixture[str], jobs: str
) -> None:
    status, err = run([jobs, *files], capsys)
    assert status == 1
    assert (files[0].parent / "a_idl.py").is_file() and (files[0].parent / "c_idl.py").is_file()
    assert "bad.idl:1:" in err
    assert err.splitlines()[-1] == "idlgen: 2 written, 0 unchanged, 1 failed"
    status, err = run([jobs, *files], capsys)
    assert err.splitlines()[-1] == "idlgen: 0 written, 2 unchanged, 1 failed"


def test_workers_write_what_one_process_writes(tmp_path: Path) -> None:
    """Same modules, same depfile (in queue order, not finishing order)."""
    for index in range(12):
        imports = f'import "f{index - 1}.idl";\n' if index else ""
        body = f"typedef struct tagS{index} {{ int v; }} S{index};\n"
        (tmp_path / f"f{index}.idl").write_text(imports + body)
    inputs = [str(tmp_path / f"f{index}.idl") for index in range(12)]
    for jobs in ("1", "2"):
        out = tmp_path / f"out{jobs}"
        argv = ["-j", jobs, "-o", str(out), "--depfile", str(out / "deps.d"), *inputs]
        assert main(argv) == 0
    one, two = tmp_path / "out1", tmp_path / "out2"
    for path in one.iterdir():
        expected = path.read_text()
        if path.name == "deps.d":
            expected = expected.replace(str(one), str(two))
        assert (two / path.name).read_text() == expected, path.name


def test_no_progress_controls_when_stderr_is_not_a_terminal(
    files: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, err = run(files, capsys)
    assert not any(control in err for control in PROGRESS_CONTROLS)


def test_check_mode_summary_counts_fresh_and_stale(
    files: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    good = [files[0], files[2]]
    run(good, capsys)
    files[2].write_text("const int C = 4;\n")
    status, err = run(["--check", *good], capsys)
    assert status == 1
    assert err.splitlines()[-1] == "idlgen: 1 up to date, 1 stale, 0 failed"


def test_quiet_and_single_file_runs_print_no_summary(
    files: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["-q", *files], capsys)[1].count("written") == 0
    assert run([files[0]], capsys) == (0, "")


@JOBS
def test_the_exit_status_is_the_worst_one(
    files: list[Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    jobs: str,
) -> None:
    """An internal error (3) outranks an IDL error (1); both outrank success. (Workers
    are forked, so they see the patched compiler too.)"""
    if jobs == "-j2" and multiprocessing.get_start_method() != "fork":
        pytest.skip("workers see the patched compiler only when they are forked")
    real_compile = idlgen.api.compile

    def broken_for_c(path: object, **options: object) -> idlgen.api.CompileResult:
        if str(path).endswith("c.idl"):
            raise RuntimeError("simulated bug")
        return real_compile(path, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(idlgen.api, "compile", broken_for_c)
    status, err = run([jobs, *files], capsys)
    assert status == 3
    assert "internal error while compiling" in err and "simulated bug" in err
    assert err.splitlines()[-1] == "idlgen: 1 written, 0 unchanged, 2 failed"
    status, _ = run([jobs, files[0], files[2]], capsys)
    assert status == 3


def test_progress_is_drawn_in_place_on_a_terminal(files: list[Path]) -> None:
    """stderr on a pseudo-terminal: `[n/total] file` redrawn on one line, wiped before
    each diagnostic and before the summary, so no line is torn."""
    controller, terminal = pty.openpty()
    # A width that fits the paths: the line is cut to the terminal's width.
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 400, 0, 0))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [sys.executable, "-m", "idlgen", *map(str, files)],
        stdout=subprocess.DEVNULL,
        stderr=terminal,
        env=env,
    )
    os.close(terminal)
    chunks = []
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(controller)
    assert process.wait(timeout=120) == 1
    shown = b"".join(chunks).decode().replace("\r\n", "\n")
    for index, path in enumerate(files):
        assert f"\r\x1b[K[{index}/3] {path}" in shown
    # Every drawn progress line is wiped before anything else is printed.
    for piece in shown.split("\r\x1b[K[")[1:]:
        assert piece.split("\r\x1b[K", 1)[0].count("\n") == 0
    assert f"\r\x1b[K{files[1]}:1:" in shown
    assert shown.endswith("\r\x1b[Kidlgen: 2 written, 0 unchanged, 1 failed\n")


def test_progress_line_keeps_the_end_of_a_long_name_within_the_width() -> None:
    from idlgen.batch import Progress

    class Narrow(io.StringIO):
        def fileno(self) -> int:
            raise OSError("no terminal")  # the 80-column fallback

    stream = Narrow()
    Progress(stream, enabled=True).show(3, 9, "/very/long/" * 20 + "name.idl")
    line = stream.getvalue().removeprefix("\r\x1b[K")
    assert len(line) == 79 and line.startswith("...") and line.endswith("/name.idl")


def test_a_one_core_run_imports_neither_lark_nor_the_process_pool(tmp_path: Path) -> None:
    """Start-up is most of a one-file run: the parser's tables come ready-made (no Lark)
    and the process pool (with the logging package it pulls in) is for `-j N > 1` only."""
    idl = tmp_path / "one.idl"
    idl.write_text("const int A = 1;\n")
    script = (
        "import sys\n"
        "from idlgen.cli import main\n"
        f"status = main(['-q', '--no-cache', '-j1', '-o', {str(tmp_path)!r}, {str(idl)!r}])\n"
        "heavy = ('lark', 'concurrent.futures', 'logging')\n"
        "print(status, sorted(m for m in sys.modules if m.split('.')[0] in heavy"
        " or m.startswith('concurrent.futures')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0 []"
    assert (tmp_path / "one_idl.py").is_file()
