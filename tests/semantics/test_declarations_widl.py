"""Declarations widl 7 refuses that idlgen took without a word (found by mutation
testing, tests/corpus/mutation.py), and their neighbours widl accepts.

Each text is run through widl in the test: idlgen must refuse exactly what widl
refuses, with widl's wording. The rules: a calling convention must end on a
function type; a parameter has no `static` or `extern` (widl takes `register`);
`length_is` needs an array at its level (a fixed one, or a pointer `size_is`
makes one), wherever it is written; an encapsulated union's discriminant is an
integer of at most 32 bits, a char or an enum, in every union a remotable method
reaches (widl lets it by in one nothing sends); an `apicontract` is defined once.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

import idlgen
from idlgen import IdlError

PRELUDE = (
    "typedef long HRESULT; typedef unsigned long DWORD; enum E { E0 };\n"
    "[object, local, uuid(00000000-0000-0000-c000-000000000046)]"
    " interface IUnknown { HRESULT QueryInterface(); }\n"
)
OBJECT = "[object, uuid(0c1a5e10-0000-4000-8000-000000000001)] interface I : IUnknown "
RPC = "[uuid(0c1a5e10-0000-4000-8000-000000000002)] interface R "


def method(params: str, attributes: str = "") -> str:
    return OBJECT + f"{{ {attributes} HRESULT F({params}); }}"


CALLING_CONVENTIONS = [
    "typedef long __stdcall T;",
    "typedef long __stdcall *T;",
    "struct S { long __cdecl x; };",
    "typedef long (__stdcall *T)(long);",
    "typedef long __stdcall T(long);",
    method("[in] long __stdcall"),
    method("[in] long __cdecl *p"),
    method("[in] long (__stdcall *p)(long)", "[local]"),
    OBJECT + "{ HRESULT __stdcall F([in] long x); }",
]
STORAGE_CLASSES = [method(f"[in] {word} long x") for word in ("static", "extern", "register")]
LENGTH_IS = [
    method("[in] DWORD n, [in, length_is(n)] DWORD *p"),
    method("[in] DWORD n, [in, length_is(n)] DWORD *p", "[local]"),
    RPC + "{ void F([in] DWORD n, [in, length_is(n)] DWORD *p); }",
    "struct S { DWORD n; [length_is(n)] DWORD *p; };",
    method("[in] DWORD n, [in, length_is(n)] DWORD **p"),
    method("[in] DWORD n, [in, length_is(n,)] DWORD **p"),
    "typedef DWORD *LPD; " + method("[in] DWORD n, [in, length_is(n)] LPD p"),
    method("[in] DWORD n, [in, length_is(n)] DWORD p[10]"),
    method("[in] DWORD n, [in, length_is(n)] DWORD p[]"),
    method("[in] DWORD n, [in, size_is(n), length_is(n)] DWORD *p"),
    method("[in] DWORD n, [in, size_is(,n), length_is(,n)] DWORD **p"),
    "typedef DWORD A[10]; " + method("[in] DWORD n, [in, length_is(n)] A p"),
    "typedef DWORD *LPD; " + method("[in] DWORD n, [in, size_is(n), length_is(n)] LPD p"),
    "struct S { DWORD n; [size_is(n), length_is(n)] DWORD *p; };",
]
SWITCH_TYPES = [
    "long", "short", "small", "char", "unsigned char", "byte", "boolean", "wchar_t",
    "int", "DWORD", "enum E", "hyper", "__int64", "__int3264", "double", "float",
    "long *", "handle_t", "error_status_t",
]  # fmt: skip
UNION = "typedef union U switch({T} d) u {{ case 1: long a; }} U; "
SENDERS = {
    "unsent": "",
    "rpc": RPC + "{ void F([in] U *x); }",
    "object": method("[in] U *x"),
    "in a struct": "struct S { U u; }; " + method("[in] struct S *s"),
    "local": method("[in] U *x", "[local]"),
}
DISCRIMINANTS = [
    UNION.format(T=switch) + sender for switch in SWITCH_TYPES for sender in SENDERS.values()
]
# What a remotable method marshals cannot be or hold a function pointer, nor an
# interface without a pointer to it (also in an array); `[local]` methods and
# structs nothing sends are not checked.
UNSENDABLE = [
    method("[in] long (__stdcall *p)(long)"),
    RPC + "{ void F([in] long (*p)(long)); }",
    method("[in] long f(long)"),
    "typedef long (__stdcall *PFN)(long); " + method("[in] PFN p"),
    "typedef long (__stdcall *PFN)(long); " + method("[out] PFN *p"),
    "typedef long (__stdcall *PFN)(long); " + method("[in] PFN p", "[local]"),
    "struct S { long (*f)(long); }; " + method("[in] struct S *s"),
    "struct S { IUnknown u; }; " + method("[in] struct S *s"),
    "struct S { IUnknown u; }; " + method("[in] struct S *s", "[local]"),
    "struct S { IUnknown u; }; " + method("[in] long a"),
    "struct S { IUnknown u[2]; }; " + method("[in] struct S *s"),
    "typedef IUnknown AU[2]; struct S { AU u; }; " + method("[in] struct S *s"),
    "typedef IUnknown *PU; struct S { PU u[2]; }; " + method("[in] struct S *s"),
    "struct S { IUnknown *u; }; struct T { struct S s; IUnknown v; }; "
    + method("[in] struct T *t"),
    "typedef [switch_type(long)] union U { [case(1)] IUnknown v; [default] long w; } U; "
    + method("[in] long d, [in, switch_is(d)] U *p"),
    "typedef union V switch(long d) u { case 1: IUnknown v; } V; " + method("[in] V *p"),
]
CASES = CALLING_CONVENTIONS + STORAGE_CLASSES + LENGTH_IS + DISCRIMINANTS + UNSENDABLE


def idlgen_error(text: str, winrt: bool = False) -> str:
    """idlgen's first error message, or "" when it accepts the text."""
    try:
        idlgen.compile(text=text, filename="m.idl", emit="model")
    except IdlError as error:
        return error.errors[0].message
    return ""


def widl_error(widl: str, folder: Path, text: str, *options: str) -> str:
    """widl's first error message without its place, or "" when it accepts. widl
    writes all its outputs (stubs too: some checks are only made for them)."""
    path = folder / "m.idl"
    path.write_text(text, encoding="utf-8")
    done = subprocess.run(
        [widl, *options, path.name],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode == 0:
        return ""
    first = done.stderr.strip().splitlines()[0]
    return re.sub(r"^.*?error: ", "", first)


def test_declarations_are_refused_exactly_as_widl_refuses_them(widl: str, tmp_path: Path) -> None:
    differ = []
    for text in CASES:
        theirs = widl_error(widl, tmp_path, PRELUDE + text + "\n")
        ours = idlgen_error(PRELUDE + text + "\n")
        # widl stumbles on a handle_t discriminant inside a struct: still a refusal
        internal = theirs.startswith("type_buffer_alignment:") and ours != ""
        if ours != theirs and not internal:
            differ.append(f"{text}\n  idlgen: {ours or 'accepts'}\n  widl: {theirs or 'accepts'}")
    assert differ == [], "\n".join(differ)


def test_an_apicontract_defined_twice_is_an_error_at_the_second(widl: str, tmp_path: Path) -> None:
    text = (
        "#pragma winrt ns_prefix\n"
        "namespace N {\n"
        "    [contractversion(1)] apicontract C {};\n"
        "    [contractversion(2)] apicontract C {};\n"
        "}\n"
    )
    assert widl_error(widl, tmp_path, text) != ""
    with pytest.raises(IdlError) as raised:
        idlgen.compile(text=text, filename="m.idl", emit="model")
    (error,) = raised.value.errors
    assert error.message == "apicontract 'C' already defined at m.idl:3"
    assert (error.position.line, error.position.column) == (4, 38)  # type: ignore[union-attr]
    forward = text.replace("[contractversion(1)] apicontract C {}", "apicontract C")
    assert widl_error(widl, tmp_path, forward) == ""
    idlgen.compile(text=forward, filename="m.idl", emit="model")


@pytest.mark.parametrize(
    ("text", "token"),
    [
        (method("[in] long __stdcall"), "__stdcall"),
        ("struct S { long __cdecl *x; };", "__cdecl"),
        (method("[in] static long x"), "static"),
        (method("[in] DWORD n, [in, length_is(n)] DWORD *p"), "length_is"),
        (UNION.format(T="double") + SENDERS["rpc"], "double"),
    ],
)
def test_the_error_is_at_the_offending_token(text: str, token: str) -> None:
    with pytest.raises(IdlError) as raised:
        idlgen.compile(text=PRELUDE + text + "\n", filename="m.idl", emit="model")
    position = raised.value.errors[0].position
    assert position is not None
    assert (position.line, position.column) == (3, text.index(token) + 1)
