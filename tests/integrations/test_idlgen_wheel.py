"""idlgen's own wheel ships its data files and works outside the checkout (issue 2)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from venv_fixtures import REPO, Env

pytestmark = pytest.mark.venv


def test_wheel_contains_templates_and_grammar(idlgen_wheel: Path) -> None:
    with zipfile.ZipFile(idlgen_wheel) as archive:
        names = set(archive.namelist())
    templates = {p.name for p in (REPO / "templates").glob("*.j2")}
    assert templates
    assert {f"idlgen/templates/{name}" for name in templates} <= names
    assert "idlgen/grammars/midl.lark" in names
    assert "idlgen/integrations/hatch_hook.py" in names


def test_installed_command_compiles_the_sample(run_env: Env, tmp_path: Path) -> None:
    sample = tmp_path / "simple_stream.idl"
    sample.write_text((REPO / "samples" / "simple_stream.idl").read_text())
    idlgen = run_env.root / "bin" / "idlgen"
    run_env.run(
        "-c",
        f"import subprocess; subprocess.run([{str(idlgen)!r}, {str(sample)!r}], check=True)",
        cwd=tmp_path,
    )
    generated = tmp_path / "simple_stream_idl.py"
    assert "class AsyncISimpleStream(" in generated.read_text()
    located = run_env.run("-c", "import idlgen; print(idlgen.__file__)", cwd=tmp_path).stdout
    assert str(REPO) not in located  # the installed copy, not this checkout
