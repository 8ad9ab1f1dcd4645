# ruff: noqa: E501  (the IDL below is kept on widl-compatible single lines)
"""IDL text never becomes code: keywords are renamed, strings stay exact data."""

from __future__ import annotations

from pathlib import Path

from generated import generate, import_path

PAYLOAD = "__import__('pathlib').Path('PWNED').touch()"

HOSTILE_IDL = r"""
import "unknwn.idl";

cpp_quote("\"\"\"); __import__('pathlib').Path('PWNED').touch() #")
cpp_quote("line one\nline two")

const char *QUOTES = "it's \"quoted\" \\ back\\slash '''\"\"\" __import__('pathlib').Path('PWNED').touch()";
const char *NEWLINES = "a\nb\r\nc\t";
const wchar_t *WIDE = L"wide \"text\"";
const int class = 1;
const int None = 2;
const int lambda = 3;

typedef enum { def = 10, yield = 11, mro = 12, name = 13 } KEYWORDS;

typedef struct
{
    int from;
    int print;
    int import_;
} FIELDS;

[object, uuid(0b4c5d6e-7f80-4192-a3b4-c5d6e7f80911),
 helpstring("\"\"\" + __import__('pathlib').Path('PWNED').touch() + \"\"\"")]
interface IKeywords : IUnknown
{
    [helpstring("'''\\ \"")] HRESULT def([in] int class, [in] int lambda, [out] int *yield);
    HRESULT print([in] int None, [in] int type, [out] int *id);
}
"""


def test_hostile_module_imports_keeps_values_and_runs_nothing(
    tmp_path: Path, monkeypatch: object
) -> None:
    import os

    os.chdir(tmp_path)
    module = import_path(generate(tmp_path, HOSTILE_IDL))
    assert not (tmp_path / "PWNED").exists()
    assert module.QUOTES == ('it\'s "quoted" \\ back\\slash \'\'\'""" ' + PAYLOAD)
    assert module.NEWLINES == "a\nb\r\nc\t"
    assert module.WIDE == 'wide "text"'
    assert (module.class_, module.None_, module.lambda_) == (1, 2, 3)
    assert module.KEYWORDS.def_ == 10
    assert module.KEYWORDS.yield_ == 11
    assert module.KEYWORDS.mro_ == 12
    assert module.KEYWORDS.name == 13
    fields = module.FIELDS(from_=1, print=2, import_=3)
    assert (fields.from_, fields.print, fields.import_) == (1, 2, 3)
    assert "PWNED" in (module.IKeywords.__doc__ or "")
    methods = {m.name: m for m in module.IKeywords._methods_}
    assert methods["def_"].ins == ("class_", "lambda_")
    assert methods["def_"].outs == ("yield_",)
    assert methods["print"].ins == ("None_", "type_")
    assert not (tmp_path / "PWNED").exists()


def test_hostile_module_is_ruff_clean(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = generate(tmp_path, HOSTILE_IDL)
    check = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--isolated", path], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout
    fmt = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--isolated", "--diff", path],
        capture_output=True,
        text=True,
    )
    assert fmt.returncode == 0, fmt.stdout
