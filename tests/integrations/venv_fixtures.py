"""Throwaway virtual environments for the build-integration tests.

Building wheels is slow, so the environments are session fixtures shared by every
test: `build_env` has idlgen (installed from its own wheel), hatchling, setuptools and
wheel, and builds user projects without build isolation (no network, no per-build
environment); `run_env` is a second fresh environment that only *installs* wheels,
as a user's machine would. Tests using them carry the `venv` marker
(`pytest -m "not venv"` skips them).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

REPO = Path(__file__).resolve().parents[2]
PIP_WHEEL = (sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation")


def skip_or_fail(reason: str) -> NoReturn:
    """The house rule (see tests/conftest.py): skip locally, fail when CI=true."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (required because CI=true)", pytrace=False)
    pytest.skip(reason)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "venv: builds and installs wheels in throwaway venvs")


@dataclass(frozen=True)
class Env:
    root: Path

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    def run(
        self,
        *args: str | os.PathLike[str],
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run the environment's python; fail the test with its output when it fails."""
        result = self.try_run(*args, cwd=cwd, env=env)
        if result.returncode != 0:
            pytest.fail(f"{args} failed:\n{result.stdout}\n{result.stderr}", pytrace=False)
        return result

    def try_run(
        self,
        *args: str | os.PathLike[str],
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.python), *map(str, args)],
            cwd=cwd,
            env={**_quiet_env(), **(env or {})},
            capture_output=True,
            text=True,
            check=False,
        )

    def pip(self, *args: str | os.PathLike[str], cwd: Path | None = None) -> None:
        self.run("-m", "pip", *args, cwd=cwd)


def _quiet_env() -> dict[str, str]:
    """The caller's environment minus what would leak this checkout into the venv."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    return env


def make_env(folder: Path) -> Env:
    venv.EnvBuilder(with_pip=True).create(folder)
    return Env(folder)


@pytest.fixture(scope="session")
def idlgen_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """idlgen's own wheel, built from this checkout with the installed hatchling, beside
    the wheel of the runtime distribution it depends on (`--find-links` finds both)."""
    try:
        import hatchling  # noqa: F401
    except ImportError:
        skip_or_fail("hatchling is not installed: it builds idlgen's wheel")
    out = tmp_path_factory.mktemp("idlgen-wheel")
    for project in (REPO, REPO / "runtime"):
        subprocess.run(
            [*PIP_WHEEL, str(project), "-w", str(out)],
            check=True,
            env=_quiet_env(),
            capture_output=True,
        )
    (wheel,) = out.glob("idlgen-*.whl")
    return wheel


@pytest.fixture(scope="session")
def runtime_wheel(idlgen_wheel: Path) -> Path:
    """The `idlgen-runtime` wheel, built from runtime/ with idlgen's own."""
    (wheel,) = idlgen_wheel.parent.glob("idlgen_runtime-*.whl")
    return wheel


@pytest.fixture(scope="session")
def build_env(tmp_path_factory: pytest.TempPathFactory, idlgen_wheel: Path) -> Env:
    env = make_env(tmp_path_factory.mktemp("build-env") / "venv")
    env.pip("install", "-q", "--find-links", idlgen_wheel.parent, "idlgen", "hatchling")
    env.pip("install", "-q", "editables", "wheel", "setuptools>=64")
    return env


@pytest.fixture(scope="session")
def run_env(tmp_path_factory: pytest.TempPathFactory, idlgen_wheel: Path) -> Env:
    env = make_env(tmp_path_factory.mktemp("run-env") / "venv")
    env.pip("install", "-q", "--find-links", idlgen_wheel.parent, "idlgen")
    return env


def copy_project(source: Path, destination: Path) -> Path:
    shutil.copytree(source, destination)
    return destination
