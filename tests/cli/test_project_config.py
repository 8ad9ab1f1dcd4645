"""The command reads `[tool.idlgen]` as the build hooks do; flags win over it.

The project: pyproject.toml at the root sets include dirs, macros, a module map and an
output folder; the IDL under src/ needs every one of them to compile as intended.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from idlgen.cli import main
from idlgen.integrations.generate import compile_file
from idlgen.integrations.settings import make_settings, read_tool_table

REPO = Path(__file__).resolve().parents[2]

PYPROJECT = """\
[project]
name = "demo"

[tool.idlgen]
include-dirs = ["idl/include"]
defines = { FEATURE = "7" }
undefines = ["LEGACY"]
module-map = { "vendor.idl" = "vendorpkg.vendor_idl" }
output-dir = "build/gen"
files = ["src/**/*.idl"]
exclude = ["src/private/*.idl"]
"""

API_IDL = """\
import "shared.idl";
import "vendor.idl";
#ifdef FEATURE
const int FEATURE_LEVEL = FEATURE;
#endif
#ifdef LEGACY
const int LEGACY_ON = 1;
#endif
typedef SHARED_T API_T;
typedef VENDOR_T API_V;
"""

SHARED_IDL = "typedef struct tagS { int s; } SHARED_T;\n"
VENDOR_IDL = "typedef struct tagV { long v; } VENDOR_T;\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "demo"
    (root / "idl" / "include").mkdir(parents=True)
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "src" / "private").mkdir()
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / "idl" / "include" / "shared.idl").write_text(SHARED_IDL)
    (root / "idl" / "include" / "vendor.idl").write_text(VENDOR_IDL)
    (root / "src" / "pkg" / "api.idl").write_text(API_IDL)
    (root / "src" / "private" / "secret.idl").write_text("const int SECRET = 1;\n")
    return root


def run_cli(*args: str | os.PathLike[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "idlgen", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        check=False,
    )


def test_the_table_applies_from_any_folder(project: Path, tmp_path: Path) -> None:
    result = run_cli(project / "src" / "pkg" / "api.idl", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    generated = (project / "build" / "gen" / "api_idl.py").read_text()
    assert "FEATURE_LEVEL = 7" in generated  # defines
    assert "LEGACY_ON" not in generated
    assert "from vendorpkg import vendor_idl as _vendor_idl" in generated  # module map
    assert "import shared_idl as _shared_idl" in generated  # include dirs found shared.idl


def test_the_command_compiles_exactly_as_the_build_hooks(project: Path) -> None:
    """One parser for both: the hook's module and the command's are the same text."""
    assert main([str(project / "src" / "pkg" / "api.idl")]) == 0
    settings = make_settings(project, read_tool_table(project))
    by_hook = compile_file(settings, "src/pkg/api.idl").text
    assert (project / "build" / "gen" / "api_idl.py").read_text() == by_hook


def test_flags_win_over_the_table(project: Path, tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "shared.idl").write_text(SHARED_IDL + "const int MINE = 1;\n")
    out = tmp_path / "out"
    argv = [
        *("-o", out, "-D", "FEATURE=9", "-D", "LEGACY", "-I", tmp_path / "mine"),
        *("--module-map", "vendor.idl=other.vendor_idl", "--with-imports"),
        project / "src" / "pkg" / "api.idl",
    ]
    result = run_cli(*argv, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    generated = (out / "api_idl.py").read_text()
    assert "FEATURE_LEVEL = 9" in generated
    assert "LEGACY_ON = 1" in generated
    assert "from other import vendor_idl as _vendor_idl" in generated
    assert "MINE = 1" in (out / "shared_idl.py").read_text()  # -I searched before the table
    assert not (project / "build").exists()


def test_undefine_flag_removes_a_table_define(project: Path) -> None:
    assert main(["-U", "FEATURE", str(project / "src" / "pkg" / "api.idl")]) == 0
    assert "FEATURE_LEVEL" not in (project / "build" / "gen" / "api_idl.py").read_text()


def test_no_config_ignores_the_table(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--no-config", str(project / "src" / "pkg" / "api.idl")]) == 1
    assert 'cannot find imported file "shared.idl"' in capsys.readouterr().err
    assert not (project / "build").exists()


def test_config_names_a_pyproject_elsewhere(project: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "loose"
    elsewhere.mkdir()
    (elsewhere / "api.idl").write_text(API_IDL)
    config = project / "pyproject.toml"
    result = run_cli("--config", config, "-o", tmp_path / "o", elsewhere / "api.idl", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "FEATURE_LEVEL = 7" in (tmp_path / "o" / "api_idl.py").read_text()


def test_the_nearest_pyproject_wins_even_without_a_table(project: Path) -> None:
    inner = project / "src" / "inner"
    inner.mkdir()
    (inner / "pyproject.toml").write_text('[project]\nname = "inner"\n')
    (inner / "x.idl").write_text("const int X = 1;\n")
    assert main([str(inner / "x.idl")]) == 0
    assert (inner / "x_idl.py").is_file()  # beside the input: the outer output-dir is not used


def test_without_inputs_the_table_selects_the_files_and_check_guards_them(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "src" / ".hidden").mkdir()
    (project / "src" / ".hidden" / "skip.idl").write_text("this is not IDL\n")
    result = run_cli(cwd=project)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (project / "build" / "gen").iterdir()) == ["api_idl.py"]
    assert run_cli("--check", cwd=project).returncode == 0
    (project / "src" / "pkg" / "api.idl").write_text(API_IDL + "const int NEW = 2;\n")
    check = run_cli("--check", cwd=project)
    assert check.returncode == 1
    assert f"stale: {project / 'build' / 'gen' / 'api_idl.py'}" in check.stderr


def test_without_inputs_or_table_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli(cwd=tmp_path)
    assert result.returncode == 2
    assert "no input files" in result.stderr


@pytest.mark.parametrize(
    ("table", "named"),
    [
        ('module-map = ["x"]', "module-map"),
        ('module-map = { "x.idl" = "not a module" }', "module-map"),
        ("output-dir = 3", "output-dir"),
        ("include-dirs = 1", "include-dirs"),
        ("colour = 1", "colour"),
    ],
)
def test_a_malformed_table_is_a_usage_error_naming_the_key(
    tmp_path: Path, table: str, named: str
) -> None:
    (tmp_path / "pyproject.toml").write_text(f"[tool.idlgen]\n{table}\n")
    (tmp_path / "a.idl").write_text("const int A = 1;\n")
    result = run_cli(tmp_path / "a.idl", cwd=tmp_path)
    assert result.returncode == 2
    assert named in result.stderr
    assert "Traceback" not in result.stderr
