"""A user project with IDL inside its package, built by hatchling and by setuptools.

Each wheel is built in `build_env` and installed into `run_env` (another fresh venv),
where the generated module is imported and called. Slow: marked `venv`.
"""

from __future__ import annotations

import json
import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest
from venv_fixtures import Env

pytestmark = pytest.mark.venv

PROJECTS = Path(__file__).parent / "projects"

# Implements the generated interface and calls it; prints what the test checks.
CALL_ICALC = """
from calc.calc_idl import ANSWER, ICalc

class Calc(ICalc):
    def Add(self, a, b):
        return a + b

print(Calc().Add(ANSWER, 1), ICalc._iid_)
"""


def make_project(tmp_path: Path, flavour: str) -> Path:
    """The calc project with one of the three build configurations."""
    project = tmp_path / f"calc-{flavour}"
    shutil.copytree(PROJECTS / "calc" / "src", project / "src")
    templates = {"hatch": "hatch.toml.in", "setuptools": "setuptools.toml.in"}
    if flavour in templates:
        shutil.copy(PROJECTS / "calc" / templates[flavour], project / "pyproject.toml")
    else:
        shutil.copy(PROJECTS / "calc" / "setup.py.in", project / "setup.py")
    return project


def build_wheel(env: Env, project: Path) -> Path:
    out = project / "dist"
    env.pip("wheel", "-q", "--no-deps", "--no-build-isolation", project, "-w", out)
    (wheel,) = out.glob("*.whl")
    return wheel


def wheel_names(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def install_and_call(env: Env, wheel: Path) -> str:
    env.pip("install", "-q", "--no-deps", "--force-reinstall", wheel)
    try:
        return env.run("-c", CALL_ICALC, cwd=wheel.parent).stdout.split()[0]
    finally:
        env.pip("uninstall", "-q", "-y", wheel.name.split("-")[0])


@pytest.mark.parametrize(
    ("flavour", "answer"), [("hatch", 42), ("setuptools", 42), ("keyword", 41)]
)
def test_wheel_contains_generated_modules_that_work_when_installed(
    build_env: Env, run_env: Env, tmp_path: Path, flavour: str, answer: int
) -> None:
    project = make_project(tmp_path, flavour)
    wheel = build_wheel(build_env, project)
    names = wheel_names(wheel)
    assert "calc/calc_idl.py" in names
    assert ("calc/types_idl.py" in names) == (flavour != "keyword")  # keyword: listed files only
    assert not list((project / "src" / "calc").glob("*_idl.py")), "a wheel build wrote sources"
    assert install_and_call(run_env, wheel) == str(answer + 1)


@pytest.mark.parametrize(
    ("flavour", "backend"),
    [("hatch", "hatchling.build"), ("setuptools", "setuptools.build_meta")],
)
def test_sdist_carries_the_idl_sources_not_generated_code(
    build_env: Env, tmp_path: Path, flavour: str, backend: str
) -> None:
    project = make_project(tmp_path, flavour)
    script = f"import {backend} as b; print(b.build_sdist('dist'))"
    name = build_env.run("-c", script, cwd=project).stdout.split()[-1]
    with tarfile.open(project / "dist" / name) as archive:
        members = {m.split("/", 1)[1] for m in archive.getnames() if "/" in m}
    assert {"src/calc/calc.idl", "src/calc/types.idl"} <= members
    assert not [m for m in members if m.endswith("_idl.py")]


def test_plain_setuptools_project_does_not_load_the_compiler(
    build_env: Env, tmp_path: Path
) -> None:
    project = tmp_path / "plain"
    shutil.copytree(PROJECTS / "plain", project)
    probe = tmp_path / "modules.json"
    build_env.run(
        "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", project, "-w", tmp_path,
        env={"IDLGEN_PROBE": str(probe)},
    )  # fmt: skip
    imported = json.loads(probe.read_text())
    assert "idlgen.integrations.setuptools_plugin" in imported  # the plugin did run
    assert not [m for m in imported if m == "idlgen.api" or m.startswith(("lark", "jinja2"))]


def test_editable_setuptools_install_generates_beside_the_sources(
    build_env: Env, tmp_path: Path
) -> None:
    project = make_project(tmp_path, "setuptools")
    build_env.pip("install", "-q", "--no-deps", "--no-build-isolation", "-e", project)
    try:
        assert (project / "src" / "calc" / "calc_idl.py").is_file()
        assert build_env.run("-c", CALL_ICALC, cwd=tmp_path).stdout.split()[0] == "43"
    finally:
        build_env.pip("uninstall", "-q", "-y", "calc-setuptools")


def test_editable_hatch_install_in_import_hook_mode_sees_idl_edits(
    build_env: Env, tmp_path: Path
) -> None:
    project = make_project(tmp_path, "hatch")
    build_env.pip("install", "-q", "--no-deps", "--no-build-isolation", "-e", project)
    try:
        assert not list((project / "src" / "calc").glob("*_idl.py"))
        assert build_env.run("-c", CALL_ICALC, cwd=tmp_path).stdout.split()[0] == "43"
        calc_idl = project / "src" / "calc" / "calc.idl"
        calc_idl.write_text(calc_idl.read_text() + "const CALC_INT EXTRA = 7;\n")
        after = build_env.run("-c", "import calc.calc_idl as m; print(m.EXTRA)", cwd=tmp_path)
        assert after.stdout.strip() == "7"
    finally:
        build_env.pip("uninstall", "-q", "-y", "calc-hatch")


def test_editable_hatch_install_in_generate_mode_writes_modules(
    build_env: Env, tmp_path: Path
) -> None:
    project = make_project(tmp_path, "hatch")
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('editable = "import-hook"', ""))
    build_env.pip("install", "-q", "--no-deps", "--no-build-isolation", "-e", project)
    try:
        assert (project / "src" / "calc" / "calc_idl.py").is_file()
        assert build_env.run("-c", CALL_ICALC, cwd=tmp_path).stdout.split()[0] == "43"
    finally:
        build_env.pip("uninstall", "-q", "-y", "calc-hatch")
