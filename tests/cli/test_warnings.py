"""Warnings as gcc gives them (docs/cli.md, "Warnings").

Files reached through -I folders and the bundled base IDL are system headers: their
warnings are silent unless -Wsystem-headers. Every warning names its -W switch;
-Wno-NAME silences it, -Werror and -Werror=NAME make warnings errors (exit 1),
-Wno-error=NAME takes one back, -Wall is accepted; an unknown switch is a usage
error. The same switches reach `idlgen.compile(..., warnings=[...])`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import idlgen
from idlgen.cli import main
from idlgen.diagnostics import WARNINGS, Severity

# One snippet per warning idlgen gives: the rule "each warning names its switch and
# its switch silences it" is checked for all of them.
WARNING_SNIPPETS = {
    "macro-redefined": "#define A 1\n#define A 2\n",
    "typedef-redefinition": "typedef long T;\ntypedef short T;\n",
    "duplicate-attribute": 'import "unknwn.idl";\n'
    "[object, uuid(0c1a5e10-0000-4000-8000-000000000031), pointer_default(unique),"
    " pointer_default(unique)] interface IDup : IUnknown { HRESULT F(); }\n",
    "cpp": "#warning look here\n",
}

SYSTEM_REDEFINITIONS = (
    "#define LIMIT 1\n#define LIMIT 2\ntypedef long SYSLONG;\ntypedef short SYSLONG;\n"
)


def run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str]:
    status = main([str(a) for a in args])
    return status, capsys.readouterr().err


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """main.idl #includes one header and imports one file from an -I folder, and
    #includes a bundled base file after redefining one of its typedefs."""
    sdk = tmp_path / "sdk"
    sdk.mkdir()
    (sdk / "sysdefs.h").write_text(SYSTEM_REDEFINITIONS, encoding="utf-8")
    (sdk / "sysimp.idl").write_text("#define IMPORTED 1\n#define IMPORTED 2\n", "utf-8")
    (tmp_path / "main.idl").write_text(
        '#include "sysdefs.h"\nimport "sysimp.idl";\n'
        'typedef short DWORD;\n#include "wtypesbase.idl"\n',
        encoding="utf-8",
    )
    return tmp_path


def test_system_headers_are_silent(capsys: pytest.CaptureFixture[str], project: Path) -> None:
    status, err = run(capsys, "-I", project / "sdk", "--stdout", project / "main.idl")
    assert (status, err) == (0, "")


def test_wsystem_headers_brings_their_warnings_back(
    capsys: pytest.CaptureFixture[str], project: Path
) -> None:
    status, err = run(
        capsys, "-Wsystem-headers", "-I", project / "sdk", "--stdout", project / "main.idl"
    )
    assert status == 0
    assert 'sysdefs.h:2:9: warning: "LIMIT" redefined [-Wmacro-redefined]' in err
    assert "redefinition of typedef 'SYSLONG' [-Wtypedef-redefinition]" in err
    assert 'sysimp.idl:2:9: warning: "IMPORTED" redefined [-Wmacro-redefined]' in err
    assert "wtypesbase.idl" in err and "redefinition of typedef 'DWORD'" in err
    assert err.count("In file included from ") == 4


def test_werror_on_system_headers_exits_1(
    capsys: pytest.CaptureFixture[str], project: Path
) -> None:
    args = ("-I", project / "sdk", "--stdout", project / "main.idl")
    assert run(capsys, "-Werror", *args)[0] == 0  # nothing to report: nothing to fail
    status, err = run(capsys, "-Werror", "-Wsystem-headers", *args)
    assert status == 1
    assert 'error: "LIMIT" redefined [-Werror=macro-redefined]' in err


@pytest.mark.parametrize("name", sorted(WARNINGS))
def test_each_warning_names_its_switch_and_the_switch_controls_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str
) -> None:
    source = tmp_path / "mine.idl"
    source.write_text(WARNING_SNIPPETS[name], encoding="utf-8")
    status, err = run(capsys, "--stdout", source)
    assert status == 0
    assert "warning: " in err and f" [-W{name}]" in err
    assert run(capsys, "-Wall", "--stdout", source) == (0, err)
    assert run(capsys, f"-Wno-{name}", "--stdout", source) == (0, "")
    status, err = run(capsys, "-Werror", "--stdout", source)
    assert status == 1 and f" [-Werror={name}]" in err
    status, err = run(capsys, f"-Werror={name}", "--stdout", source)
    assert status == 1 and f" [-Werror={name}]" in err
    status, err = run(capsys, "-Werror", f"-Wno-error={name}", "--stdout", source)
    assert status == 0 and f" [-W{name}]" in err
    others = [other for other in WARNINGS if other != name]
    assert run(capsys, *[f"-Wno-{o}" for o in others], "--stdout", source)[1] == err


def test_a_specific_switch_wins_over_wall_in_any_order(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = tmp_path / "mine.idl"
    source.write_text(WARNING_SNIPPETS["macro-redefined"], encoding="utf-8")
    assert run(capsys, "-Wno-macro-redefined", "-Wall", "--stdout", source) == (0, "")
    assert run(capsys, "-Wall", "-Wno-macro-redefined", "--stdout", source) == (0, "")


@pytest.mark.parametrize("switch", ["-Wbogus", "-Wno-bogus", "-Werror=bogus"])
def test_unknown_warning_switch_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, switch: str
) -> None:
    source = tmp_path / "mine.idl"
    source.write_text("typedef long T;\n", encoding="utf-8")
    with pytest.raises(SystemExit) as exited:
        main([switch, "--stdout", str(source)])
    assert exited.value.code == 2
    assert "unknown warning option" in capsys.readouterr().err


def test_the_api_takes_the_same_switches(project: Path) -> None:
    include = [project / "sdk"]
    quiet = idlgen.compile(project / "main.idl", include_dirs=include, emit="model")
    assert quiet.diagnostics == ()
    loud = idlgen.compile(
        project / "main.idl",
        include_dirs=include,
        emit="model",
        warnings=["system-headers", "no-typedef-redefinition"],
    )
    assert {d.option for d in loud.diagnostics} == {"macro-redefined"}
    assert all(d.severity is Severity.WARNING for d in loud.diagnostics)
    with pytest.raises(idlgen.IdlError):
        idlgen.compile(
            project / "main.idl", include_dirs=include, warnings=["system-headers", "error"]
        )
    with pytest.raises(ValueError, match="unknown warning option"):
        idlgen.compile(project / "main.idl", warnings=["bogus"])


@pytest.mark.parametrize("target", ["/proc", "/proc/self/no/such/folder", "a-file"])
def test_an_output_that_cannot_be_written_is_an_error_not_a_crash(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, target: str
) -> None:
    source = tmp_path / "ok.idl"
    source.write_text("typedef long T;\n", encoding="utf-8")
    (tmp_path / "a-file").write_text("", encoding="utf-8")
    folder = target if target.startswith("/") else str(tmp_path / target)
    status, err = run(capsys, "-o", folder, source)
    assert status == 1
    assert err.startswith("idlgen: error: cannot write ")
    assert "internal error" not in err


def test_a_depfile_that_cannot_be_written_is_an_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = tmp_path / "ok.idl"
    source.write_text("typedef long T;\n", encoding="utf-8")
    status, err = run(capsys, "-o", tmp_path, "--depfile", "/proc/x.d", source)
    assert status == 1
    assert "idlgen: error: cannot write '/proc/x.d'" in err


def test_quiet_drops_warnings_but_keeps_the_notes_of_errors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = tmp_path / "mixed.idl"
    body = "".join(f"typedef Missing{i} T{i};\n" for i in range(105))
    source.write_text("#define A 1\n#define A 2\n" + body, encoding="utf-8")
    status, err = run(capsys, "-q", "--stdout", source)
    assert status == 1
    assert "warning:" not in err
    assert "note: 'Missing0' is declared neither here nor in any import" in err
    assert "note: 5 more errors were not shown" in err
