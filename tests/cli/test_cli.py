"""The `idlgen` command: outputs, options, exit codes and diagnostics."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from idlgen.cli import main

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "samples" / "simple_stream.idl"


def run_cli(
    *args: str | os.PathLike[str], cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """The real program in a child process, as a user or a build system runs it."""
    return subprocess.run(
        [sys.executable, "-m", "idlgen", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
    )


def test_writes_module_next_to_the_input(tmp_path: Path) -> None:
    source = tmp_path / "simple_stream.idl"
    source.write_text(SAMPLE.read_text())
    result = run_cli(source)
    assert result.returncode == 0, result.stderr
    generated = tmp_path / "simple_stream_idl.py"
    assert "class AsyncISimpleStream(" in generated.read_text()


def test_output_dir_option(tmp_path: Path) -> None:
    result = run_cli("-o", tmp_path / "out", SAMPLE)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "simple_stream_idl.py").is_file()
    assert not (tmp_path / "simple_stream_idl.py").exists()


def test_emit_json_prints_the_model(tmp_path: Path) -> None:
    result = run_cli("--emit", "json", SAMPLE)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    names = [i["name"] for i in document["interfaces"] if not i["imported"]]
    assert names == ["ISimpleStream", "AsyncISimpleStream"]


def test_console_script_and_module_agree(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "idlgen"
    if not script.exists():
        pytest.skip("the idlgen console script is not installed in this environment")
    by_script = subprocess.run(
        [script, "--emit", "json", SAMPLE], capture_output=True, text=True, check=False
    )
    by_module = run_cli("--emit", "json", SAMPLE)
    assert by_script.returncode == by_module.returncode == 0
    assert by_script.stdout == by_module.stdout


def test_idl_error_exits_1_with_file_line_col_and_caret(tmp_path: Path) -> None:
    bad = tmp_path / "bad.idl"
    bad.write_text("const int X = 1;\nconst int Y = X / 0;\n")
    result = run_cli(bad)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"{bad}:2:")
    assert ": error: " in lines[0]
    assert lines[1] == "const int Y = X / 0;"
    assert lines[2].strip() == "^"
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "bad_idl.py").exists()


def test_several_errors_are_reported_in_one_run(tmp_path: Path) -> None:
    bad = tmp_path / "bad.idl"
    bad.write_text("const int A = NOPE1;\nconst int B = 2;\nconst int C = NOPE2;\n")
    result = run_cli(bad)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if ": error: " in line]
    assert [e.split(":")[1] for e in errors] == ["1", "3"]


def test_usage_error_exits_2(tmp_path: Path) -> None:
    assert run_cli().returncode == 2
    assert run_cli("--emit", "nonsense", SAMPLE).returncode == 2
    assert run_cli("--stdout", SAMPLE, SAMPLE).returncode == 2


def test_missing_input_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    result = run_cli(tmp_path / "nowhere.idl")
    assert result.returncode == 1
    assert "nowhere.idl" in result.stderr
    assert "Traceback" not in result.stderr


def test_binary_garbage_input_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "garbage.idl"
    bad.write_bytes(bytes(range(256)) * 4)
    result = run_cli(bad)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"{bad}:" in result.stderr


def test_defines_and_undefines_reach_the_preprocessor(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "flags.idl"
    source.write_text(
        "#ifdef WITH_A\nconst int A = VALUE;\n#endif\n#ifdef __WIDL__\nconst int W = 1;\n#endif\n"
    )
    assert (
        main(["--emit", "json", "-D", "WITH_A", "-D", "VALUE=42", "-U", "__WIDL__", str(source)])
        == 0
    )
    constants = json.loads(capsys.readouterr().out)["constants"]
    assert [(c["name"], c["value"]) for c in constants] == [("A", 42)]


def test_include_dir_option_is_searched(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    include = tmp_path / "inc"
    include.mkdir()
    (include / "dep.idl").write_text("typedef int DEP_T;\n")
    source = tmp_path / "main.idl"
    source.write_text('import "dep.idl";\ntypedef DEP_T MINE;\n')
    assert main(["--emit", "json", "-I", str(include), str(source)]) == 0
    typedefs = json.loads(capsys.readouterr().out)["typedefs"]
    assert [t["name"] for t in typedefs] == ["DEP_T", "MINE"]


def test_unchanged_output_is_not_rewritten(tmp_path: Path) -> None:
    source = tmp_path / "s.idl"
    source.write_text(SAMPLE.read_text())
    assert run_cli(source).returncode == 0
    target = tmp_path / "s_idl.py"
    os.utime(target, (1_000_000, 1_000_000))
    assert run_cli(source).returncode == 0
    assert target.stat().st_mtime == 1_000_000


def test_version_option() -> None:
    from idlgen import __version__

    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"idlgen {__version__}"
