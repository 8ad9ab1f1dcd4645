"""The options build systems use: --check, --diff, --depfile, several inputs."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import pytest

from idlgen.cli import main

MAIN_IDL = 'import "dep.idl";\ntypedef DEP_T MINE;\n'


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    (tmp_path / "dep.idl").write_text("typedef int DEP_T;\n")
    (tmp_path / "main.idl").write_text(MAIN_IDL)
    return tmp_path


def test_check_names_missing_outputs_and_writes_nothing(
    sources: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--check", str(sources / "main.idl")]) == 1
    assert f"missing: {sources / 'main_idl.py'}" in capsys.readouterr().err
    assert not (sources / "main_idl.py").exists()


def test_check_fails_on_a_stale_output_and_passes_on_a_fresh_one(
    sources: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs = [str(sources / "main.idl"), str(sources / "dep.idl")]
    assert main(inputs) == 0
    assert main(["--check", *inputs]) == 0
    (sources / "dep.idl").write_text("typedef int DEP_T;\nconst int NEW = 1;\n")
    capsys.readouterr()
    assert main(["--check", *inputs]) == 1
    err = capsys.readouterr().err
    assert f"stale: {sources / 'dep_idl.py'}" in err
    assert "main_idl.py" not in err  # its generated text does not change
    assert "NEW" not in (sources / "dep_idl.py").read_text()


def test_diff_prints_the_change_without_writing(
    sources: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(sources / "dep.idl")]) == 0
    before = (sources / "dep_idl.py").read_text()
    (sources / "dep.idl").write_text("typedef int DEP_T;\nconst int NEW = 1;\n")
    assert main(["--diff", str(sources / "dep.idl")]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"--- {sources / 'dep_idl.py'}")
    assert "+NEW = 1" in out
    assert (sources / "dep_idl.py").read_text() == before
    assert main(["--diff", "--check", str(sources / "dep.idl")]) == 1


def test_depfile_lists_every_file_read_including_imports(sources: Path) -> None:
    depfile = sources / "out.d"
    assert (
        main(["--depfile", str(depfile), "-o", str(sources / "gen"), str(sources / "main.idl")])
        == 0
    )
    target, _, deps = depfile.read_text().replace("\\\n", " ").partition(":")
    assert target == str(sources / "gen" / "main_idl.py")
    listed = shlex.split(deps)
    assert str(sources / "main.idl") in listed
    assert str(sources / "dep.idl") in listed


def test_depfile_escapes_spaces(tmp_path: Path) -> None:
    folder = tmp_path / "with space"
    folder.mkdir()
    (folder / "a.idl").write_text("const int A = 1;\n")
    depfile = tmp_path / "a.d"
    assert main(["--depfile", str(depfile), str(folder / "a.idl")]) == 0
    assert f"{tmp_path}/with\\ space/a.idl" in depfile.read_text()


def test_depfile_is_not_written_when_compilation_fails(tmp_path: Path) -> None:
    (tmp_path / "bad.idl").write_text("const int X = NOPE;\n")
    assert main(["--depfile", str(tmp_path / "x.d"), str(tmp_path / "bad.idl")]) == 1
    assert not (tmp_path / "x.d").exists()


def test_several_inputs_write_one_output_each_and_keep_unchanged_mtimes(sources: Path) -> None:
    inputs = [str(sources / "main.idl"), str(sources / "dep.idl")]
    assert main(inputs) == 0
    for name in ("main_idl.py", "dep_idl.py"):
        os.utime(sources / name, (1_000_000, 1_000_000))
    assert main(inputs) == 0
    assert [(sources / n).stat().st_mtime for n in ("main_idl.py", "dep_idl.py")] == [1e6, 1e6]


@pytest.mark.parametrize("option", ["--check", "--diff", "--depfile=x.d"])
def test_comparison_options_refuse_stdout(sources: Path, option: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([option, "--stdout", str(sources / "main.idl")])
    assert exit_info.value.code == 2
