"""Syntax errors: one test per diagnostic (message, line, column), recovery, no tracebacks."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from parse_helpers import parse_errors

from idlgen.diagnostics import DiagnosticSink
from idlgen.frontend import syntax as s
from idlgen.frontend.parser import parse


def test_missing_semicolon_names_what_was_expected() -> None:
    _, errors = parse_errors("typedef int A\ntypedef int B;\n")
    assert errors == [
        ("syntax error, unexpected 'typedef', expecting '(' or ',' or ';' or '['", 2, 1)
    ]


def test_unknown_type_name_is_pointed_out() -> None:
    _, errors = parse_errors("interface I {\n  HRESULT f([in] FOO x);\n}\n")
    assert errors == [("syntax error, unexpected identifier 'FOO' (not a known type name)", 2, 18)]


def test_missing_comma_between_parameters() -> None:
    _, errors = parse_errors("interface I { HRESULT f(int a int b); }")
    assert errors == [("syntax error, unexpected 'int', expecting '(' or ')' or ',' or '['", 1, 31)]


def test_unexpected_end_of_file() -> None:
    _, errors = parse_errors("interface I {\n  HRESULT f(void);\n")
    assert errors == [("syntax error, unexpected end of file", 3, 1)]


def test_invalid_character() -> None:
    _, errors = parse_errors("typedef int A;\n  @\ntypedef int B;\n")
    assert errors == [("invalid character '@'", 2, 3)]


def test_unterminated_string() -> None:
    _, errors = parse_errors('cpp_quote("abc)\ntypedef int B;\n')
    assert errors[0] == ("invalid character '\"'", 1, 11)


def test_recovery_keeps_the_rest_of_the_interface() -> None:
    result, errors = parse_errors(
        "interface I {\n  HRESULT bad(int a int b);\n  HRESULT good(void);\n}\ntypedef int AFTER;\n"
    )
    assert len(errors) == 1
    interface, typedef = result.items
    assert [m.name for m in interface.members] == ["good"]
    assert isinstance(typedef, s.Typedef) and typedef.name == "AFTER"


def test_recovery_inside_a_struct_keeps_later_fields() -> None:
    result, errors = parse_errors("struct S { int a; int b c; int d; };\n")
    assert [e[1:] for e in errors] == [(1, 25)]
    assert [f.name for f in result.items[0].type.fields] == ["a", "d"]


def test_each_broken_declaration_is_reported() -> None:
    _, errors = parse_errors(
        "const int X = 1 +;\ntypedef int;\ninterface J { HRESULT k(]; }\nstruct T { int a };\n"
    )
    assert [(line, column) for _, line, column in errors] == [(1, 18), (2, 12), (3, 25), (4, 18)]
    assert errors[0][0] == "syntax error, unexpected ';'"


def test_stray_closing_brace_at_top_level() -> None:
    result, errors = parse_errors("}\ntypedef int A;\n")
    assert errors == [("syntax error, unexpected '}'", 1, 1)]
    assert [i.name for i in result.items] == ["A"]


def test_keywords_for_winrt_are_identifiers_outside_winrt() -> None:
    _, errors = parse_errors("typedef int namespace;")
    assert errors == []
    _, winrt_errors = parse_errors("#pragma winrt\ntypedef int namespace;")
    assert winrt_errors and winrt_errors[0][0].startswith("syntax error, unexpected 'namespace'")


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "interface",
                "I",
                "{",
                "}",
                "(",
                ")",
                "[",
                "]",
                ";",
                ",",
                "typedef",
                "int",
                "struct",
                "union",
                "switch",
                "case",
                "default",
                ":",
                "*",
                "const",
                "=",
                "1",
                '"s"',
                "import",
                "enum",
                "<",
                ">",
                ">>",
                "DWORD",
                "coclass",
                "library",
                "in",
                "uuid",
                "00000000-0000-0000-C000-000000000046",
                "...",
                "#",
                "\n",
                "?",
            ]
        ),
        max_size=40,
    )
)
def test_bad_input_never_raises(words: list[str]) -> None:
    sink = DiagnosticSink()
    result = parse(" ".join(words), "fuzz.idl", sink=sink, known_types={"DWORD"})
    assert isinstance(result, s.File)
    assert all(d.position is not None for d in sink.diagnostics)
