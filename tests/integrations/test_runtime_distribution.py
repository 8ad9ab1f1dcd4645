"""A package with generated modules needs only `idlgen-runtime` at run time.

Both distributions are built from this checkout; a user package is built by the hatch
hook (and by setuptools) in `build_env`; a fresh venv then gets the runtime wheel and the
user's wheel and nothing else (no index: only those wheels), and makes calls. The
compiler and its dependencies must not be there. Slow: marked `venv`.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from test_build_backends import build_wheel, make_project
from venv_fixtures import Env, make_env

import idlgen

pytestmark = pytest.mark.venv

# A server, a call object and a call across apartments, with the runtime alone.
CALLS = """
import importlib.util, sys
from calc.calc_idl import ANSWER, ICalc
from idlgen import runtime as rt

for absent in ("lark", "jinja2", "idlgen.api", "idlgen.frontend"):
    assert importlib.util.find_spec(absent) is None, absent + " is installed"

class Calc(rt.ComObject, ICalc):
    def Add(self, a, b):
        return a + b

apartment = rt.Apartment.sta("server")
objref = apartment.run(lambda: rt.marshal_interface(Calc(), ICalc))
proxy = rt.unmarshal_interface(objref)
print(Calc().Add(ANSWER, 1), proxy.Add(ANSWER, 2))
proxy.Release()
apartment.shutdown()
"""


def requirements(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        text = archive.read(metadata).decode()
    return [
        line.split(":", 1)[1].strip()
        for line in text.splitlines()
        if line.startswith("Requires-Dist:")
    ]


def test_the_runtime_wheel_holds_the_runtime_only(runtime_wheel: Path, idlgen_wheel: Path) -> None:
    with zipfile.ZipFile(runtime_wheel) as archive:
        runtime_names = archive.namelist()
    with zipfile.ZipFile(idlgen_wheel) as archive:
        compiler_names = archive.namelist()
    packaged = {n for n in runtime_names if not n.startswith("idlgen_runtime-")}
    assert packaged and all(n.startswith("idlgen/runtime/") for n in packaged)
    assert "idlgen/runtime/py.typed" in packaged
    assert not [n for n in compiler_names if n.startswith("idlgen/runtime/")]
    assert requirements(runtime_wheel) == ["pyspnego>=0.10; extra == 'ntlm'"]
    assert f"idlgen-runtime=={idlgen.__version__}" in requirements(idlgen_wheel)


@pytest.mark.parametrize("flavour", ["hatch", "setuptools", "keyword"])
def test_a_hook_built_package_runs_with_the_runtime_distribution_alone(
    build_env: Env, runtime_wheel: Path, tmp_path: Path, flavour: str
) -> None:
    wheel = build_wheel(build_env, make_project(tmp_path, flavour))
    needs = requirements(wheel)
    assert [r for r in needs if r.startswith("idlgen")] == [f"idlgen-runtime~={idlgen.__version__}"]
    env = make_env(tmp_path / "venv")
    env.pip("install", "-q", "--no-index", "--find-links", runtime_wheel.parent, wheel)
    answer = 42 if flavour != "keyword" else 41
    assert env.run("-c", CALLS, cwd=tmp_path).stdout.split() == [str(answer + 1), str(answer + 2)]
