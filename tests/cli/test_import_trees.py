"""`--with-imports` and `--module-map`: a whole import tree becomes modules that work.

The tree: app.idl imports mid.idl (found through -I), which imports base.idl, which
imports the bundled unknwn.idl and a header. Interfaces derive across the files and a
method takes a struct declared two files away, so the generated modules only work if
each one imports the others correctly.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from idlgen.cli import main

REPO = Path(__file__).resolve().parents[2]

BASE_IDL = """\
import "unknwn.idl";
import "point.h";
[object, uuid(0c1a5e10-0000-4000-8000-000000000101)]
interface IBase : IUnknown {
  HRESULT Sum([in] POINTX p, [out, retval] LONG *sum);
}
"""
POINT_H = "typedef struct tagPOINTX { LONG x; LONG y; } POINTX;\n"
MID_IDL = """\
import "base.idl";
[object, uuid(0c1a5e10-0000-4000-8000-000000000102)]
interface IMid : IBase {
  HRESULT Twice([in] LONG v, [out, retval] LONG *r);
}
"""
APP_IDL = """\
import "mid.idl";
import "base.idl";
[object, uuid(0c1a5e10-0000-4000-8000-000000000103)]
interface IApp : IMid {
  HRESULT Combine([in] IMid *other, [in] POINTX p, [out, retval] LONG *r);
}
"""

# A server for IApp written against the generated modules: it implements methods
# declared in three files and calls another object through an interface of a fourth.
USE_TREE = """\
from idlgen import runtime as rt
import {prefix}app_idl as app, {prefix}mid_idl as mid, {base} as base

class Impl(rt.CallFactory, app.IApp):
    def Sum(self, p):
        return p.x + p.y
    def Twice(self, v):
        return 2 * v
    def Combine(self, other, p):
        return other.Twice(self.Sum(p))

impl = Impl()
assert issubclass(app.IApp, mid.IMid) and issubclass(mid.IMid, base.IBase)
assert impl.Combine(impl, base.POINTX(x=2, y=3)) == 10
assert impl.QueryInterface(base.IBase) is not None
print("ok")
"""


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "base.idl").write_text(BASE_IDL)
    (tmp_path / "lib" / "point.h").write_text(POINT_H)
    (tmp_path / "lib" / "mid.idl").write_text(MID_IDL)
    (tmp_path / "app.idl").write_text(APP_IDL)
    return tmp_path


def run_python(script: str, *path: Path) -> subprocess.CompletedProcess[str]:
    """A fresh interpreter, so modules of one test never satisfy another's imports."""
    env_path = ":".join([str(REPO), *map(str, path)])
    return subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"},
        check=False,
    )


def test_with_imports_writes_every_imported_idl_module_once(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tree / "out"
    argv = ["--with-imports", "-I", str(tree / "lib"), "-o", str(out), str(tree / "app.idl")]
    assert main(argv) == 0
    # Every .idl of the tree, once; no module for the header nor the bundled base IDL.
    assert sorted(p.name for p in out.iterdir()) == ["app_idl.py", "base_idl.py", "mid_idl.py"]
    assert capsys.readouterr().err.strip().endswith("3 written, 0 unchanged, 0 failed")


@pytest.mark.parametrize("as_package", [False, True], ids=["top-level", "package"])
def test_with_imports_modules_import_each_other_and_work(tree: Path, as_package: bool) -> None:
    out = tree / "gen" / "treepkg" if as_package else tree / "gen"
    argv = ["--with-imports", "-I", str(tree / "lib"), "-o", str(out), str(tree / "app.idl")]
    assert main(argv) == 0
    if as_package:
        (out / "__init__.py").write_text("")
    prefix = "treepkg." if as_package else ""
    script = USE_TREE.format(prefix=prefix, base=f"{prefix}base_idl")
    result = run_python(script, tree / "gen")
    assert result.stdout == "ok\n", result.stderr


def test_without_with_imports_only_the_inputs_are_written(tree: Path) -> None:
    out = tree / "out"
    assert main(["-I", str(tree / "lib"), "-o", str(out), str(tree / "app.idl")]) == 0
    assert [p.name for p in out.iterdir()] == ["app_idl.py"]


def test_module_map_points_imports_at_an_existing_module(tree: Path) -> None:
    vendor = tree / "site" / "vendor"
    assert main(["-o", str(vendor), str(tree / "lib" / "base.idl")]) == 0
    (vendor / "__init__.py").write_text("")
    out = tree / "out"
    argv = [
        "--with-imports",
        "--module-map",
        "base.idl=vendor.base_idl",
        "-I",
        str(tree / "lib"),
        "-o",
        str(out),
        str(tree / "app.idl"),
    ]
    assert main(argv) == 0
    # The mapped file is not generated again, and every importer uses the map.
    assert sorted(p.name for p in out.iterdir()) == ["app_idl.py", "mid_idl.py"]
    assert "from vendor import base_idl as _base_idl\n" in (out / "mid_idl.py").read_text()
    assert not any(
        "from . import base_idl" in (out / m).read_text() for m in ("app_idl.py", "mid_idl.py")
    )
    result = run_python(USE_TREE.format(prefix="", base="vendor.base_idl"), out, tree / "site")
    assert result.stdout == "ok\n", result.stderr


def test_module_map_to_a_top_level_module(tree: Path) -> None:
    assert main(["-o", str(tree / "site"), str(tree / "lib" / "base.idl")]) == 0
    (tree / "site" / "base_idl.py").rename(tree / "site" / "shared_base.py")
    out = tree / "out"
    argv = ["--with-imports", "--module-map", "base.idl=shared_base", "-I", str(tree / "lib")]
    assert main([*argv, "-o", str(out), str(tree / "app.idl")]) == 0
    assert "import shared_base as _base_idl\n" in (out / "mid_idl.py").read_text()
    result = run_python(USE_TREE.format(prefix="", base="shared_base"), out, tree / "site")
    assert result.stdout == "ok\n", result.stderr


def test_module_map_key_with_a_folder_matches_that_file_only(tree: Path) -> None:
    (tree / "other").mkdir()
    (tree / "other" / "base.idl").write_text(BASE_IDL)
    (tree / "lib" / "point.h").rename(tree / "other" / "point.h")
    (tree / "lib" / "point.h").write_text(POINT_H)
    out = tree / "out"
    mapped = str(tree / "other" / "base.idl") + "=vendor.base_idl"
    argv = ["--with-imports", "--module-map", mapped, "-I", str(tree / "lib")]
    assert main([*argv, "-o", str(out), str(tree / "app.idl")]) == 0
    # lib/base.idl is what app.idl imports; the map names another file of that name.
    assert (out / "base_idl.py").is_file()
    assert "vendor" not in (out / "app_idl.py").read_text()


@pytest.mark.parametrize("entry", ["base.idl", "base.idl=not a module", "=pkg.mod"])
def test_malformed_module_map_entries_are_usage_errors(tree: Path, entry: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--module-map", entry, str(tree / "app.idl")])
    assert exit_info.value.code == 2


def test_two_files_becoming_one_module_is_an_error_not_an_overwrite(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tree / "elsewhere").mkdir()
    (tree / "elsewhere" / "mid.idl").write_text("const int OTHER = 1;\n")
    out = tree / "out"
    argv = ["--with-imports", "-I", str(tree / "lib"), "-o", str(out)]
    status = main([*argv, str(tree / "elsewhere" / "mid.idl"), str(tree / "app.idl")])
    assert status == 1
    err = capsys.readouterr().err
    assert f"{tree / 'elsewhere' / 'mid.idl'} and {tree / 'lib' / 'mid.idl'} both become" in err
    assert "OTHER" in (out / "mid_idl.py").read_text()  # the first owner's module stays


def test_with_imports_without_output_folder_writes_beside_the_inputs(tree: Path) -> None:
    assert main(["--with-imports", "-I", str(tree / "lib"), str(tree / "app.idl")]) == 0
    assert {"app_idl.py", "mid_idl.py", "base_idl.py"} <= {p.name for p in tree.iterdir()}
    assert not (tree / "lib" / "mid_idl.py").exists()


def test_with_imports_needs_one_output_folder(tree: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--with-imports", str(tree / "app.idl"), str(tree / "lib" / "mid.idl")])
    assert exit_info.value.code == 2


def test_a_failing_import_is_reported_and_the_rest_still_written(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An imported file that compiles inside its importer may still fail on its own
    (widl's scope is global); it fails alone and the status says so."""
    (tree / "lib" / "needs.idl").write_text("typedef APP_T NEEDS_T;\n")
    (tree / "app.idl").write_text('typedef int APP_T;\nimport "needs.idl";\n' + APP_IDL)
    out = tree / "out"
    argv = ["--with-imports", "-I", str(tree / "lib"), "-o", str(out), str(tree / "app.idl")]
    status = main(argv)
    err = capsys.readouterr().err
    assert status == 1, err
    assert "needs.idl" in err
    assert sorted(p.name for p in out.iterdir()) == ["app_idl.py", "base_idl.py", "mid_idl.py"]
    assert err.strip().endswith("3 written, 0 unchanged, 1 failed")


def test_with_imports_and_stdout_are_exclusive(tree: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--with-imports", "--stdout", str(tree / "app.idl")])
    assert exit_info.value.code == 2


def test_module_map_is_honoured_in_the_python_api(tree: Path) -> None:
    import idlgen
    from idlgen.module_map import make_module_map

    mapping = make_module_map({"mid.idl": "pkg.sub.mid_idl"}, str(tree))
    result = idlgen.compile(tree / "app.idl", include_dirs=[tree / "lib"], module_map=mapping)
    assert result.output is not None
    assert "from pkg.sub import mid_idl as _mid_idl\n" in result.output
    assert textwrap.dedent("class IApp(_mid_idl.IMid)") in result.output
