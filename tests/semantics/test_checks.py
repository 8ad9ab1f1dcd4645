"""widl's post-parse checks: one test per diagnostic, with widl's wording."""

from __future__ import annotations

from pathlib import Path

import pytest
from idl_snippets import PRELUDE, compile_text, errors_of

import idlgen


def _interface(body: str) -> str:
    return PRELUDE + (
        "[object, uuid(11111111-1111-1111-1111-111111111111)]\n"
        "interface IFoo : IUnknown\n{\n" + body + "\n}\n"
    )


def test_out_parameter_must_be_a_pointer(tmp_path: Path) -> None:
    errors = errors_of(tmp_path, _interface("    HRESULT A([out] int x);"))
    assert len(errors) == 1
    column = len("    HRESULT A([") + 1  # at the [out] that asks for a pointer
    assert errors[0].startswith(f"{tmp_path / 'test.idl'}:5:{column}:")
    assert errors[0].endswith("error: out parameter 'x' of function 'A' is not a pointer")


def test_out_parameter_through_a_pointer_typedef_is_fine(tmp_path: Path) -> None:
    compile_text(tmp_path, _interface("    HRESULT A([out] LPWSTR *x, [out] REFIID y);"))


def test_void_pointer_parameter_of_a_remotable_method(tmp_path: Path) -> None:
    errors = errors_of(tmp_path, _interface("    HRESULT A([in] void *p);"))
    assert len(errors) == 1
    assert errors[0].endswith("parameter 'p' of function 'A' cannot derive from void *")
    assert ":5:" in errors[0]


def test_void_pointer_is_fine_in_a_local_method_or_with_iid_is(tmp_path: Path) -> None:
    compile_text(
        tmp_path,
        _interface(
            "    [local] HRESULT A([in] void *p);\n"
            "    HRESULT B([in] REFIID riid, [out, iid_is(riid)] void **ppv);"
        ),
    )


# (length_is needs an array: on a bare pointer it is an error of its own)
@pytest.mark.parametrize(
    ("attribute", "param"), [("size_is", "int *p"), ("length_is", "int p[2]"), ("iid_is", "int *p")]
)
def test_unresolvable_identifier_in_an_attribute(
    tmp_path: Path, attribute: str, param: str
) -> None:
    errors = errors_of(tmp_path, _interface(f"    HRESULT A([in, {attribute}(nope)] {param});"))
    assert len(errors) == 1
    assert errors[0].endswith(
        f"identifier nope cannot be resolved in expression for attribute {attribute}"
    )


def test_attribute_expression_may_use_constants_and_other_parameters(tmp_path: Path) -> None:
    compile_text(
        tmp_path,
        "const int EXTRA = 2;\n"
        + _interface("    HRESULT A([in] int n, [in, size_is(n + EXTRA)] int *p);"),
    )


def test_duplicate_attribute_is_a_warning(tmp_path: Path) -> None:
    source = tmp_path / "dup.idl"
    source.write_text(
        PRELUDE
        + "[object, uuid(11111111-1111-1111-1111-111111111111), pointer_default(unique),\n"
        + " pointer_default(unique)]\ninterface IFoo : IUnknown { }\n"
    )
    result = idlgen.compile(source, emit="model")
    warnings = [d.format().splitlines()[0] for d in result.diagnostics]
    assert len(warnings) == 1
    assert warnings[0].endswith(
        "warning: duplicate attribute pointer_default [-Wduplicate-attribute]"
    )
    assert warnings[0].startswith(f"{source}:3:")
