"""The import hook and `idlgen.load`: compile on import, cache, invalidation, tracebacks."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest

import idlgen
from idlgen import api
from idlgen.integrations import import_hook

INTERFACE = """
import "unknwn.idl";
import "types.idl";
const COUNT_T LIMIT = 10;
[object, uuid(5e6f0a1b-0000-4000-8000-000000000002), pointer_default(unique)]
interface ICounter : IUnknown { HRESULT Next([out, retval] COUNT_T *value); }
"""


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh package `hookpkg` on sys.path; the hook and its modules are undone after."""
    root = tmp_path / "hookpkg"
    root.mkdir()
    (root / "__init__.py").write_text("")
    (root / "types.idl").write_text("typedef long COUNT_T;\n")
    (root / "counter.idl").write_text(INTERFACE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    yield root
    import_hook.uninstall_import_hook()
    for name in [m for m in sys.modules if m == "hookpkg" or m.startswith("hookpkg.")]:
        del sys.modules[name]


@pytest.fixture
def compile_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every call to the compiler, by path."""
    calls: list[str] = []
    real = api.compile

    def counting(path: object = None, **kwargs: object) -> api.CompileResult:
        calls.append(str(path))
        return real(path, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(api, "compile", counting)
    return calls


def fresh_import(name: str) -> object:
    sys.modules.pop(name, None)
    return __import__(name, fromlist=["_"])


def test_import_compiles_the_idl(package: Path, compile_calls: list[str]) -> None:
    idlgen.install_import_hook(["hookpkg"])
    module = fresh_import("hookpkg.counter_idl")
    assert module.LIMIT == 10  # type: ignore[attr-defined]
    assert module.ICounter._iid_ == module.IID_ICounter  # type: ignore[attr-defined]
    assert compile_calls == [str(package / "counter.idl")]
    assert list((package / "__pycache__").glob("counter.idl.*.idlgen"))


def test_second_import_is_a_cache_hit(package: Path, compile_calls: list[str]) -> None:
    idlgen.install_import_hook("hookpkg")
    fresh_import("hookpkg.counter_idl")
    again = fresh_import("hookpkg.counter_idl")
    assert again.LIMIT == 10  # type: ignore[attr-defined]
    assert len(compile_calls) == 1


def test_editing_the_idl_recompiles(package: Path, compile_calls: list[str]) -> None:
    idlgen.install_import_hook("hookpkg")
    fresh_import("hookpkg.counter_idl")
    source = package / "counter.idl"
    source.write_text(source.read_text().replace("LIMIT = 10", "LIMIT = 11"))
    assert fresh_import("hookpkg.counter_idl").LIMIT == 11  # type: ignore[attr-defined]
    assert len(compile_calls) == 2


def test_editing_an_imported_idl_recompiles(package: Path, compile_calls: list[str]) -> None:
    idlgen.install_import_hook("hookpkg")
    fresh_import("hookpkg.counter_idl")
    (package / "types.idl").write_text("typedef long COUNT_T;\nconst COUNT_T EXTRA = 5;\n")
    fresh_import("hookpkg.counter_idl")
    assert len(compile_calls) == 2


def test_nothing_is_written_when_bytecode_writing_is_off(
    package: Path, compile_calls: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    idlgen.install_import_hook("hookpkg")
    fresh_import("hookpkg.counter_idl")
    fresh_import("hookpkg.counter_idl")
    assert not (package / "__pycache__").exists()
    assert len(compile_calls) == 2


def test_a_generated_file_wins_over_the_hook(package: Path, compile_calls: list[str]) -> None:
    (package / "counter_idl.py").write_text("LIMIT = 'pregenerated'\n")
    idlgen.install_import_hook("hookpkg")
    assert fresh_import("hookpkg.counter_idl").LIMIT == "pregenerated"  # type: ignore[attr-defined]
    assert compile_calls == []


def test_hook_is_limited_to_its_packages_and_idempotent(package: Path) -> None:
    first = idlgen.install_import_hook("otherpkg")
    with pytest.raises(ModuleNotFoundError):
        fresh_import("hookpkg.counter_idl")
    assert idlgen.install_import_hook("hookpkg") is first
    assert sum(isinstance(f, import_hook.IdlFinder) for f in sys.meta_path) == 1
    assert fresh_import("hookpkg.counter_idl").LIMIT == 10  # type: ignore[attr-defined]


def test_load_returns_a_module_and_honours_defines(tmp_path: Path) -> None:
    source = tmp_path / "flags.idl"
    source.write_text("const long LEVEL = LEVEL_VALUE;\n")
    module = idlgen.load(source, defines={"LEVEL_VALUE": "3"})
    assert module.__name__ == "flags_idl"
    assert module.LEVEL == 3  # type: ignore[attr-defined]
    assert idlgen.load(source, defines={"LEVEL_VALUE": "4"}).LEVEL == 4  # type: ignore[attr-defined]


def test_load_reports_idl_errors_as_idl_error(tmp_path: Path) -> None:
    source = tmp_path / "broken.idl"
    source.write_text("const long X = NOPE;\n")
    with pytest.raises(idlgen.IdlError) as caught:
        idlgen.load(source)
    assert any("NOPE" in d.message for d in caught.value.diagnostics)
    assert "broken_idl" not in sys.modules


def test_traceback_points_into_generated_code(package: Path) -> None:
    idlgen.install_import_hook("hookpkg")
    module = fresh_import("hookpkg.counter_idl")
    try:
        module.ICounter().Next()  # type: ignore[attr-defined]
    except Exception as error:
        frames = traceback.extract_tb(error.__traceback__)
    else:
        pytest.fail("the unimplemented method returned")
    generated = [f for f in frames if f.filename == f"<idlgen:{package / 'counter.idl'}>"]
    assert generated
    assert "raise _rt.NotImplError()" in (generated[-1].line or "")


def test_importing_the_runtime_does_not_import_the_hook_or_compiler() -> None:
    import subprocess

    code = (
        "import idlgen.runtime, sys; "
        "print(sorted(m for m in sys.modules if 'integrations' in m or m == 'idlgen.api'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_load_of_a_file_the_hook_serves_returns_that_module(package: Path) -> None:
    """One module per IDL file, so one class per IID, however the module was reached."""
    idlgen.install_import_hook("hookpkg")
    imported = fresh_import("hookpkg.counter_idl")
    assert idlgen.load(package / "counter.idl") is imported
    assert idlgen.load(package / "counter.idl") is imported
    (package / "counter.idl").write_text((package / "counter.idl").read_text().replace("10", "11"))
    reloaded = idlgen.load(package / "counter.idl")  # an edited file is compiled again
    assert reloaded is not imported and reloaded.LIMIT == 11  # type: ignore[attr-defined]


def test_loading_the_same_file_twice_gives_one_module(tmp_path: Path) -> None:
    source = tmp_path / "twice.idl"
    source.write_text("const long N = 1;\n")
    assert idlgen.load(source) is idlgen.load(source)
