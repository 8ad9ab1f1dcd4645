"""The IDL preprocessor: one test per feature, one per diagnostic, and widl comparisons.

Expected outputs marked "widl:" were observed with `x86_64-w64-mingw32-widl -E`
(Wine 7.0) on the same input; the comparison tests at the end re-check whole files of
the Wine corpus against widl when it is installed.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from idlgen.diagnostics import Diagnostic, DiagnosticSink, Position, Severity
from idlgen.frontend.ppexpr import PPExprError, evaluate
from idlgen.frontend.pptext import tokenize
from idlgen.frontend.preprocess import PreprocessResult, preprocess

DATA = Path(__file__).parent / "data" / "pp"


def run(
    text: str,
    files: Mapping[str, str] | None = None,
    *,
    filename: str = "main.idl",
    include_dirs: tuple[str, ...] = (),
    defines: Mapping[str, str] | None = None,
    undefines: tuple[str, ...] = (),
) -> tuple[PreprocessResult, DiagnosticSink]:
    """Preprocess `text` with `files` as the only readable files."""
    table = dict(files or {})

    def read_file(path: str) -> str:
        if path not in table:
            raise FileNotFoundError(path)
        return table[path]

    sink = DiagnosticSink()
    result = preprocess(
        text,
        filename,
        include_dirs=include_dirs,
        defines=defines,
        undefines=undefines,
        sink=sink,
        read_file=read_file,
    )
    return result, sink


def out(text: str, files: Mapping[str, str] | None = None, **kwargs: object) -> str:
    """The preprocessed text, asserting that no diagnostic was produced."""
    result, sink = run(text, files, **kwargs)  # type: ignore[arg-type]
    assert sink.diagnostics == []
    return result.text


def words(text: str) -> list[str]:
    """The pp-tokens of a text, white space dropped: what the parser will see."""
    return [tok for tok in tokenize(text) if not tok.isspace()]


def only(sink: DiagnosticSink, severity: Severity = Severity.ERROR) -> Diagnostic:
    found = [d for d in sink.diagnostics if d.severity is severity]
    assert len(found) == 1, [str(d) for d in sink.diagnostics]
    return found[0]


# ----- text phases


def test_text_without_directives_passes_through_unchanged() -> None:
    text = "interface IFoo : IUnknown\n{\n    HRESULT Bar([in] int x);\n}\n"
    assert out(text) == text


def test_block_comment_becomes_spaces_keeping_columns() -> None:
    assert out("int /* c */ x;\n") == "int         x;\n"


def test_multiline_comment_keeps_line_count_and_later_columns() -> None:
    assert out("a /* one\ntwo */ b\nc\n") == "a       \n       b\nc\n"


def test_line_comment_is_removed() -> None:
    assert out("int x; // note X\n", defines={"X": "1"}) == "int x; " + " " * 9 + "\n"


def test_comment_markers_inside_strings_are_kept() -> None:
    text = 'helpstring("a /* b */ c // d")\n'
    assert out(text) == text


def test_line_continuation_joins_and_pads_with_empty_line() -> None:
    # widl: "line\\\ncont X" -> "linecont 1" then an empty line
    assert out("line\\\ncont X\nnext\n", defines={"X": "1"}) == "linecont 1\n\nnext\n"


def test_crlf_line_ends_are_normalized() -> None:
    assert out("a\r\nb\r\n") == "a\nb\n"


def test_byte_order_mark_does_not_hide_a_first_line_directive() -> None:
    assert out("\ufeff#define X 1\nX\n") == "\n1\n"


def test_missing_final_newline_is_added() -> None:
    assert out("a") == "a\n"


# ----- macros


def test_object_like_macro() -> None:
    # widl: "#define X 1" / "const int y = X;" -> "const int y = 1;"
    assert words(out("#define X 1\nconst int y = X;\n")) == words("const int y = 1;")


def test_directive_lines_become_empty_lines() -> None:
    assert out("#define X 1\nX\n") == "\n1\n"


def test_function_like_macro() -> None:
    assert words(out("#define F(a,b) a+b\nF(1, (2,3))\n")) == words("1+(2,3)")


def test_function_like_macro_name_without_parenthesis_is_left_alone() -> None:
    assert words(out("#define F(a) <a>\nF; F (2)\n")) == words("F; <2>")


def test_macro_arguments_over_several_lines_keep_the_line_count() -> None:
    # widl: "F\n(3)" -> "<3>" then an empty line
    assert out("#define F(x) <x>\nF\n(3) tail\nnext\n") == "\n<3>\n tail\nnext\n"


def test_stringize() -> None:
    # widl: S(X y) -> "X y": the argument is not expanded before #
    assert words(out("#define X 1\n#define S(a) #a\nS(X y)\n")) == ['"X y"']


def test_stringize_escapes_quotes_and_backslashes() -> None:
    text = "#define S(a) #a\nS( a  \"b\\n\"  'c' )\n"
    assert words(out(text)) == [r'"a \"b\\n\" ' + "'c'" + '"']


def test_stringize_of_expanded_argument_through_helper() -> None:
    # widl: xstr(__LINE__) -> "3" (the argument is expanded first)
    text = "#define str(x) #x\n#define xstr(x) str(x)\nstr(__LINE__) xstr(__LINE__)\n"
    assert words(out(text)) == ['"__LINE__"', '"3"']


def test_token_paste_does_not_expand_its_operands() -> None:
    # widl: P(X, Y) -> XY
    assert words(out("#define X 1\n#define P(a,b) a##b\nP(X, Y)\n")) == ["XY"]


def test_token_paste_with_empty_argument() -> None:
    assert words(out("#define P(a,b) [a##b]\nP(,y) P(x,)\n")) == words("[y] [x]")


def test_variadic_macro() -> None:
    text = "#define V(fmt, ...) f(fmt, __VA_ARGS__)\nV(1, 2, 3)\n"
    assert words(out(text)) == words("f(1, 2, 3)")


def test_variadic_macro_with_no_variable_arguments() -> None:
    assert words(out("#define V(fmt, ...) f(fmt, __VA_ARGS__)\nV(1)\n")) == words("f(1, )")


def test_gnu_comma_paste_drops_comma_before_empty_va_args() -> None:
    text = "#define V(fmt, ...) f(fmt, ## __VA_ARGS__)\nV(1) V(1, 2)\n"
    assert words(out(text)) == words("f(1) f(1, 2)")


def test_self_referential_macro_expands_once() -> None:
    # widl: "#define R R + 1" / "R" -> "R + 1"
    assert words(out("#define R R + 1\nR\n")) == words("R + 1")


def test_mutually_recursive_macros_stop() -> None:
    # widl: "#define A B" / "#define B A" / "A B" -> "A B"
    assert words(out("#define A B\n#define B A\nA B\n")) == ["A", "B"]


def test_macro_expanding_to_function_like_name_takes_following_arguments() -> None:
    # widl: "#define G F", "#define F(x) <x>", "G(1) G (2)" -> "<1> <2>"
    assert words(out("#define G F\n#define F(x) <x>\nG(1) G (2)\n")) == words("<1> <2>")


def test_pasted_name_inside_its_own_expansion_is_not_expanded_again() -> None:
    # GNU cpp: X -> 1, but Y(X, ) -> Y(1, ): the pasted X carries Y in its hide set
    # (widl 7.0 aborts on this input). Checks that remembered expansions respect hide sets.
    text = "#define Y(a, b) a ## b\n#define X Y(1, )\nX\nY(X, )\n"
    assert words(out(text)) == words("1 Y(1, )")


def test_macro_using_line_is_expanded_at_each_use() -> None:
    assert words(out("#define L __LINE__\nL\nL\n")) == ["2", "3"]


def test_nested_macro_arguments_are_expanded() -> None:
    text = "#define ONE 1\n#define F(x) (x)\n#define G(x) F(x) + F(ONE)\nG(F(ONE))\n"
    assert words(out(text)) == words("((1)) + (1)")


def test_strings_and_character_constants_are_not_expanded() -> None:
    # widl: '"X" \'X\'' stays as it is with X defined
    assert words(out('#define X 1\n"X" \'X\' L"X" X\n')) == ['"X"', "'X'", 'L"X"', "1"]


def test_cpp_quote_contents_are_not_expanded() -> None:
    # widl: cpp_quote("X F(1,2)") is left untouched
    text = '#define X 1\n#define F(a,b) a+b\ncpp_quote("X F(1,2)")\n'
    assert out(text).splitlines()[2] == 'cpp_quote("X F(1,2)")'


def test_import_is_left_in_the_text() -> None:
    assert out('import "foo.idl";\n') == 'import "foo.idl";\n'


def test_identifier_containing_macro_name_is_not_expanded() -> None:
    assert words(out("#define X 1\nXY _X X_ 0x10 X\n")) == ["XY", "_X", "X_", "0x10", "1"]


def test_undef() -> None:
    assert words(out("#define X 1\nX\n#undef X\nX\n")) == ["1", "X"]


def test_identical_redefinition_is_silent() -> None:
    assert words(out("#define X (1 + 2)\n#define X (1  +  2)\nX\n")) == words("(1 + 2)")


def test_expanding_the_same_macro_after_redefinition_uses_the_new_body() -> None:
    result, _ = run("#define A B\n#define B 1\nA\n#undef B\n#define B 2\nA\n")
    assert words(result.text) == ["1", "2"]


# ----- predefined and command-line macros


def test_widl_predefined_macros() -> None:
    # widl: __WIDL__ -> 0x70000, _WIN32 -> 1; __midl, __STDC__, _WIN64 undefined
    text = "__WIDL__ _WIN32 __midl __STDC__ _WIN64\n"
    assert words(out(text)) == ["0x70000", "1", "__midl", "__STDC__", "_WIN64"]


def test_date_and_time_look_like_c_strings() -> None:
    date, time_ = words(out("__DATE__ __TIME__\n"))
    assert re.fullmatch(r'"[A-Z][a-z]{2} [ \d]\d \d{4}"', date)
    assert re.fullmatch(r'"\d\d:\d\d:\d\d"', time_)


def test_file_and_line() -> None:
    assert words(out("\n__FILE__ __LINE__\n", filename="dir/a.idl")) == ['"dir/a.idl"', "2"]


def test_line_and_file_stay_physical_after_line_directive() -> None:
    # widl: after `#line 100 "foo.c"`, __LINE__ __FILE__ -> 17 "t1.idl" (the real place)
    result, _ = run('#line 100 "foo.c"\n__LINE__ __FILE__\n', filename="t1.idl")
    assert words(result.text) == ["2", '"t1.idl"']


def test_command_line_defines() -> None:
    text = "A B F(2)\n"
    defines = {"A": "1", "B": "", "F(x)": "x*x"}
    assert words(out(text, defines=defines)) == words("1 2*2")


def test_command_line_undefine_removes_predefined_macro() -> None:
    assert words(out("#ifdef __WIDL__\nyes\n#endif\n", undefines=("__WIDL__",))) == []


def test_command_line_undefine_wins_over_define() -> None:
    assert words(out("X\n", defines={"X": "1"}, undefines=("X",))) == ["X"]


# ----- conditionals


def test_if_elif_else_picks_the_first_true_branch() -> None:
    text = "#if 0\na\n#elif 1\nb\n#elif 1\nc\n#else\nd\n#endif\n"
    assert words(out(text)) == ["b"]


def test_else_branch() -> None:
    assert words(out("#if 0\na\n#else\nb\n#endif\n")) == ["b"]


def test_skipped_lines_become_empty_lines() -> None:
    assert out("#if 0\na\nb\n#endif\nc\n") == "\n\n\n\nc\n"


def test_nested_conditionals_inside_skipped_group_stay_skipped() -> None:
    text = "#if 0\n#if 1\na\n#else\nb\n#endif\n#else\nc\n#endif\n"
    assert words(out(text)) == ["c"]


def test_skipped_group_ignores_unknown_and_malformed_directives() -> None:
    assert words(out("#if 0\n#bogus\n#define\n#include nothing\n#error no\n#endif\nok\n")) == ["ok"]


def test_ifdef_and_ifndef() -> None:
    text = "#define D\n#ifdef D\na\n#endif\n#ifndef D\nb\n#endif\n#ifndef U\nc\n#endif\n"
    assert words(out(text)) == ["a", "c"]


def test_defined_operator_both_forms() -> None:
    text = "#define D\n#if defined D && defined(D) && !defined(U) && !defined U\nyes\n#endif\n"
    assert words(out(text)) == ["yes"]


def test_wine_style_conditions() -> None:
    # from the Wine corpus: widl keeps the #ifdef __WIDL__ branch
    text = "#if !defined(progid) && !defined(__WIDL__)\nno\n#endif\n#ifdef __WIDL__\nyes\n#endif\n"
    assert words(out(text)) == ["yes"]


def test_if_expression_uses_macros() -> None:
    text = "#define V 3\n#define TWICE(x) ((x) * 2)\n#if TWICE(V) == 6\nyes\n#endif\n"
    assert words(out(text)) == ["yes"]


def test_if_with_line_macro() -> None:
    assert words(out("\n#if __LINE__ == 2\nyes\n#endif\n")) == ["yes"]


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("10 / 3", 3),
        ("-7 / 2", -3),
        ("-7 % 3", -1),
        ("1 << 4 | 1", 17),
        ("0x10 >> 2", 4),
        ("6 & 3 ^ 1", 3),
        ("~0", -1),
        ("!0 + !5", 1),
        ("-1 < 0", 1),
        ("-1 > 0u", 1),  # widl agrees: the comparison is unsigned
        ("0xFFFFFFFFFFFFFFFF == -1", 1),
        ("010 + 0x10 + 0b11", 27),
        ("10UL + 5ll + 3LLU", 18),
        ("'A'", 65),
        ("'\\n' + '\\x41' + '\\101' + '\\0'", 10 + 65 + 65),
        ("'ab'", 0x6162),
        ("1 ? 2 : 3", 2),
        ("0 ? 2 : 0 ? 3 : 4", 4),
        ("1 < 2 == 1", 1),
        ("2 >= 2 && 3 <= 2 || 4 != 4", 0),
        ("0 && 1 / 0", 0),
        ("1 || 1 / 0", 1),
        ("1 ? 2 : 1 / 0", 2),
        ("UNDEFINED_NAME + 1", 1),
        ("(1, 2)", 2),
    ],
)
def test_if_expression_values(expression: str, value: int) -> None:
    assert evaluate(words(expression)) == value


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("1 +", "#if expression ends unexpectedly"),
        ("1 2", 'missing binary operator before token "2"'),
        ("(1", 'expected ")" in #if expression, found end of expression'),
        ("1 ? 2", 'expected ":" in #if expression, found end of expression'),
        ("1 / 0", "division by zero in #if"),
        ("1.5", "floating constant 1.5 in #if expression"),
        ("12abc", 'invalid integer constant "12abc" in #if expression'),
        ("1uu", 'invalid suffix "uu" on integer constant 1uu'),
        ('"s"', 'string literal "s" is not valid in #if expressions'),
        ("''", "empty character constant in #if expression"),
    ],
)
def test_if_expression_errors(expression: str, message: str) -> None:
    with pytest.raises(PPExprError, match=re.escape(message)):
        evaluate(words(expression))


# ----- #include, #line, #pragma and the line map


def test_include_inlines_the_file_and_maps_lines_into_it() -> None:
    result, sink = run('a\n#include "x.h"\nb\n', {"x.h": "x1\nx2\n"})
    assert sink.diagnostics == []
    assert result.text == "a\nx1\nx2\nb\n"
    lm = result.line_map
    assert lm.position(1) == Position("main.idl", 1, 1)
    assert lm.position(2, 5) == Position("x.h", 1, 5)
    assert lm.position(3) == Position("x.h", 2, 1)
    assert lm.position(4) == Position("main.idl", 3, 1)
    assert result.files_read == ("main.idl", "x.h")


def test_included_file_without_final_newline_ends_its_line() -> None:
    result, _ = run('#include "x.h"\nnext\n', {"x.h": "last"})
    assert result.text == "last\nnext\n"
    assert result.line_map.position(2) == Position("main.idl", 2, 1)


def test_conditionals_do_not_cross_file_boundaries() -> None:
    result, sink = run('#if 1\n#include "x.h"\nkept\n#endif\n', {"x.h": "#endif\n#if 0\n"})
    assert [(d.message, d.position) for d in sink.diagnostics] == [
        ("#endif without #if", Position("x.h", 1, 2)),
        ("unterminated #if", Position("x.h", 2, 2)),
    ]
    assert words(result.text) == ["kept"]


def test_include_search_order_from_fixture_files() -> None:
    # widl -E -Iincdir -Iincdir2 main.idl: "sibling.h" comes from sub/ (the including
    # file's folder) though incdir has one too; <angle.h> from the first -I folder.
    main = DATA / "main.idl"
    sink = DiagnosticSink()
    dirs = [str(DATA / "incdir"), str(DATA / "incdir2")]
    result = preprocess(main.read_text(), str(main), include_dirs=dirs, sink=sink)
    assert sink.diagnostics == []
    assert words(result.text) == words(
        "typedef int FROM_SUB_FOLDER; typedef int LOCAL; "
        "typedef int ANGLE_FIRST_DIR; interface IMain;"
    )
    assert [Path(p).relative_to(DATA).as_posix() for p in result.files_read] == [
        "main.idl",
        "sub/local.h",
        "sub/sibling.h",
        "incdir/angle.h",
    ]


def test_angle_include_does_not_search_the_including_folder() -> None:
    result, sink = run(
        "#include <x.h>\n", {"x.h": "here\n", "inc/x.h": "there\n"}, include_dirs=("inc",)
    )
    assert sink.diagnostics == []
    assert words(result.text) == ["there"]


def test_include_name_from_macro() -> None:
    assert words(out('#define H "x.h"\n#include H\n', {"x.h": "inside\n"})) == ["inside"]


def test_included_file_sources_are_recorded_for_diagnostics() -> None:
    result, sink = run('#include "x.h"\n', {"x.h": "text\n"})
    assert sink.sources == {"main.idl": '#include "x.h"\n', "x.h": "text\n"}
    assert result.files_read == ("main.idl", "x.h")


def test_macros_defined_in_included_file_apply_after_it() -> None:
    # widl: inc/a.h defines FROM_A 7, then "int q = FROM_A;" -> "int q = 7;"
    text = '#include "a.h"\nint q = FROM_A;\n'
    assert words(out(text, {"a.h": "#define FROM_A 7\n"})) == words("int q = 7;")


def test_line_directive_updates_the_map() -> None:
    result, _ = run('a\n#line 100 "foo.c"\nb\nc\n')
    assert result.line_map.position(1) == Position("main.idl", 1, 1)
    assert result.line_map.position(3) == Position("foo.c", 100, 1)
    assert result.line_map.position(4) == Position("foo.c", 101, 1)


def test_line_directive_without_file_keeps_the_file() -> None:
    result, _ = run("#line 10\nb\n")
    assert result.line_map.position(2) == Position("main.idl", 10, 1)


def test_gnu_line_marker() -> None:
    result, sink = run('# 7 "gen.idl" 1\nb\n')
    assert sink.diagnostics == []
    assert result.line_map.position(2) == Position("gen.idl", 7, 1)


def test_pragma_is_removed_and_reported() -> None:
    result, _ = run("a\n  #pragma pack(push, 2)\nb\n")
    assert result.text == "a\n\nb\n"
    assert [(p.text, p.position, p.out_line) for p in result.pragmas] == [
        ("pack(push, 2)", Position("main.idl", 2, 3), 2)
    ]
    assert (result.winrt, result.ns_prefix) == (False, False)


def test_pragma_in_included_file_reports_its_file_and_output_line() -> None:
    result, _ = run('a\n#include "x.h"\n', {"x.h": "x\n#pragma makedep install\n"})
    assert [(p.text, p.position, p.out_line) for p in result.pragmas] == [
        ("makedep install", Position("x.h", 2, 1), 3)
    ]


def test_pragma_winrt_ns_prefix_turns_on_winrt_mode_with_abi_prefix() -> None:
    # widl -h: with ns_prefix, names get the ABI prefix (____x_ABI_CFoo_CIBar_...)
    result, _ = run("#pragma winrt ns_prefix\nnamespace Windows {}\n")
    assert (result.winrt, result.ns_prefix) == (True, True)


def test_pragma_winrt_alone_turns_on_winrt_mode_without_prefix() -> None:
    # widl -h: `#pragma winrt` alone accepts `namespace` (____x_Foo_CIBar_...), and
    # without any `#pragma winrt` widl rejects `namespace`
    result, _ = run("#pragma winrt\nnamespace Foo {}\n")
    assert (result.winrt, result.ns_prefix) == (True, False)


def test_pragma_once() -> None:
    files = {"x.h": "#pragma once\nbody\n"}
    assert words(out('#include "x.h"\n#include "x.h"\n', files)) == ["body"]


def test_midl_pragma_is_not_a_directive() -> None:
    text = "midl_pragma warning(disable:2000)\n"
    assert out(text) == text


def test_line_map_without_includes_is_identity() -> None:
    result, _ = run("a\n#define X 1\nb\n")
    assert [result.line_map.position(n, 4) for n in (1, 2, 3)] == [
        Position("main.idl", n, 4) for n in (1, 2, 3)
    ]


def test_columns_are_kept_on_lines_without_expansion() -> None:
    text = "#define X 1\n  /* c */ interface IFoo;\n"
    line = out(text).splitlines()[1]
    assert line.index("interface") == text.splitlines()[1].index("interface")


def test_multiline_comment_inside_directive_does_not_cut_it() -> None:
    result, sink = run("#define X 1 /* a\n b */ + 1\nX\n")
    assert sink.diagnostics == []
    assert result.text.count("\n") == 3
    assert words(result.text) == words("1 + 1")
    assert result.line_map.position(3) == Position("main.idl", 3, 1)


# ----- diagnostics


def test_error_unterminated_if() -> None:
    _, sink = run("a\n#if 1\nb\n")
    d = only(sink)
    assert (d.message, d.position) == ("unterminated #if", Position("main.idl", 2, 2))


def test_error_unterminated_ifdef_in_included_file() -> None:
    _, sink = run('#include "x.h"\n', {"x.h": "\n  #ifdef A\n"})
    d = only(sink)
    assert (d.message, d.position) == ("unterminated #ifdef", Position("x.h", 2, 4))


def test_error_else_without_if() -> None:
    _, sink = run("#else\n")
    d = only(sink)
    assert (d.message, d.position) == ("#else without #if", Position("main.idl", 1, 2))


def test_error_endif_without_if() -> None:
    _, sink = run("a\n# endif\n")
    d = only(sink)
    assert (d.message, d.position) == ("#endif without #if", Position("main.idl", 2, 3))


def test_error_elif_without_if() -> None:
    _, sink = run("#elif 1\n")
    assert only(sink).message == "#elif without #if"


def test_error_else_after_else() -> None:
    _, sink = run("#if 1\n#else\n#else\nx\n#endif\n")
    d = only(sink)
    assert (d.message, d.position) == ("#else after #else", Position("main.idl", 3, 2))


def test_error_bad_directive() -> None:
    _, sink = run("ok\n#foo bar\n")
    d = only(sink)
    assert (d.message, d.position) == (
        "invalid preprocessing directive #foo",
        Position("main.idl", 2, 2),
    )
    assert d.source_line == "#foo bar"


def test_error_include_not_found() -> None:
    _, sink = run('\n#include  "nothere.h"\n')
    d = only(sink)
    assert (d.message, d.position) == (
        'cannot open include file "nothere.h"',
        Position("main.idl", 2, 11),
    )


def test_error_angle_include_not_found() -> None:
    _, sink = run("#include <nothere.h>\n", {"nothere.h": "x\n"})
    assert only(sink).message == 'cannot open include file "nothere.h"'


def test_error_include_without_name() -> None:
    _, sink = run("#include nothing\n")
    d = only(sink)
    assert (d.message, d.position) == (
        '#include expects "FILENAME" or <FILENAME>',
        Position("main.idl", 1, 10),
    )


def test_error_include_recursion_is_bounded() -> None:
    _, sink = run('#include "self.h"\n', {"self.h": '#include "self.h"\n'})
    d = only(sink)
    assert d.position is not None
    assert (d.message, d.position.file) == ("#include nested too deeply", "self.h")


@pytest.mark.parametrize(
    ("directive", "message", "column"),
    [
        ("#define", "no macro name given in #define directive", 8),
        ("#define 3x", "macro names must be identifiers", 9),
        ("#define defined 1", '"defined" cannot be used as a macro name', 9),
        ("#define F(a", "missing ')' in macro parameter list", 12),
        ("#define F(a,a) a", 'duplicate macro parameter "a"', 13),
        ("#define F(a,) a", 'expected parameter name, found ")"', 13),
        ("#define F(1) a", '"1" may not appear in macro parameter list', 11),
        ("#define F(a) #b", '"#" is not followed by a macro parameter', 14),
        ("#define P ## x", '"##" cannot appear at either end of a macro expansion', 11),
        ("#define P(x) x ##", '"##" cannot appear at either end of a macro expansion', 16),
        ("#define X-1", 'missing white space after the macro name "X"', 10),
    ],
)
def test_error_malformed_define(directive: str, message: str, column: int) -> None:
    _, sink = run(directive + "\n")
    d = only(sink)
    assert (d.message, d.position) == (message, Position("main.idl", 1, column))


def test_malformed_define_defines_nothing() -> None:
    result, _ = run("#define F(a,a) a\nF(1,2)\n")
    assert words(result.text) == words("F(1,2)")


def test_redefinition_warns() -> None:
    _, sink = run("#define X 1\n#define X 2\n")
    d = only(sink, Severity.WARNING)
    assert (d.message, d.position) == ('"X" redefined', Position("main.idl", 2, 9))


@pytest.mark.parametrize(
    ("directive", "message"),
    [
        ("#if", "#if with no expression"),
        ("#if 1 +", "#if expression ends unexpectedly"),
        ("#if 1 / 0", "division by zero in #if"),
        ("#if defined", 'operator "defined" requires an identifier'),
        ("#if defined(X", 'missing ")" after "defined"'),
        ("#ifdef", "no macro name given in #ifdef directive"),
        ("#ifdef 3", "macro names must be identifiers"),
    ],
)
def test_error_bad_if_expression(directive: str, message: str) -> None:
    result, sink = run(f"\n{directive}\nx\n#endif\n")
    d = only(sink)
    assert d.position is not None
    assert (d.message, d.position.file, d.position.line) == (message, "main.idl", 2)
    assert words(result.text) == []  # a broken condition counts as false


def test_error_if_expression_column_points_at_expression() -> None:
    _, sink = run("#if   1 +\n#endif\n")
    assert only(sink).position == Position("main.idl", 1, 7)


def test_error_elif_expression_is_not_evaluated_after_a_taken_branch() -> None:
    _, sink = run("#if 1\n#elif 1/0\n#endif\n")
    assert sink.diagnostics == []


def test_error_directive_reports_its_text() -> None:
    _, sink = run("\n#error this IDL needs X\n")
    d = only(sink)
    assert (d.message, d.position) == ("#error this IDL needs X", Position("main.idl", 2, 2))


def test_warning_directive_is_a_warning() -> None:
    result, sink = run("#warning careful\nx\n")
    d = only(sink, Severity.WARNING)
    assert (d.message, d.position) == ("#warning careful", Position("main.idl", 1, 2))
    assert words(result.text) == ["x"]


def test_error_unterminated_comment() -> None:
    result, sink = run("a\n  b /* never\nclosed\n")
    d = only(sink)
    assert (d.message, d.position) == ("unterminated comment", Position("main.idl", 2, 5))
    assert result.text.count("\n") == 3


def test_error_macro_argument_count() -> None:
    _, sink = run("#define F(a,b) a\n\n  F(1)\n")
    d = only(sink)
    assert (d.message, d.position) == (
        'macro "F" takes 2 argument(s) but 1 given',
        Position("main.idl", 3, 3),
    )


def test_error_unterminated_macro_arguments() -> None:
    _, sink = run("#define F(a) a\nF(1, \n")
    d = only(sink)
    assert (d.message, d.position) == (
        'unterminated argument list invoking macro "F"',
        Position("main.idl", 2, 1),
    )


def test_error_bad_line_directive() -> None:
    _, sink = run("#line x\n")
    d = only(sink)
    assert (d.message, d.position) == (
        '"x" after #line is not a positive integer',
        Position("main.idl", 1, 7),
    )


def test_errors_keep_going() -> None:
    result, sink = run('#include "a.h"\n#endif\n#define\nok\n#if\n#endif\n')
    assert [d.message for d in sink.diagnostics] == [
        'cannot open include file "a.h"',
        "#endif without #if",
        "no macro name given in #define directive",
        "#if with no expression",
    ]
    assert words(result.text) == ["ok"]


def test_bad_input_never_raises() -> None:
    nasty = "#define F(x) F(x\n#if (((\n#define G(\nF(F(F(\n'\n\"\n/*\n"
    _, sink = run(nasty)
    assert sink.has_errors


# ----- the Wine corpus and widl


def _widl_tokens(widl: str, path: Path, include_dirs: list[Path]) -> list[str]:
    args = [widl, "-E", *(f"-I{d}" for d in include_dirs), str(path)]
    done = subprocess.run(args, capture_output=True, text=True, errors="replace", check=False)
    assert done.returncode == 0, done.stderr
    # widl keeps `# N "file"` markers and `#pragma` lines; we drop the first and report
    # the second separately.
    kept = [line for line in done.stdout.splitlines() if not line.lstrip().startswith("#")]
    return words("\n".join(kept))


def _our_result(path: Path, include_dirs: list[Path]) -> tuple[PreprocessResult, DiagnosticSink]:
    sink = DiagnosticSink()
    text = path.read_text(encoding="utf-8", errors="replace")
    result = preprocess(text, str(path), include_dirs=[str(d) for d in include_dirs], sink=sink)
    return result, sink


WIDL_SAMPLES = [
    "mshtml.idl",  # thousands of chained DISPID macros from mshtmdid.h
    "msxml6.idl",  # macros from several included .h files
    "oledb.idl",  # dozens of #include "x.idl"
    "oaidl.idl",
    "propidl.idl",  # line continuations
    "windows.foundation.idl",  # #pragma winrt ns_prefix
    "d3d11.idl",
]


@pytest.mark.parametrize("name", WIDL_SAMPLES)
def test_same_tokens_as_widl(name: str, widl: str, wine_idl_dir: Path) -> None:
    path = wine_idl_dir / name
    if not path.exists():
        pytest.fail(f"{name} is not in the Wine corpus at {wine_idl_dir}")
    include_dirs = [wine_idl_dir, wine_idl_dir.parent]
    result, sink = _our_result(path, include_dirs)
    assert not sink.has_errors, [str(d) for d in sink.diagnostics]
    assert words(result.text) == _widl_tokens(widl, path, include_dirs)


def test_winrt_file_sets_winrt(wine_idl_dir: Path) -> None:
    result, _ = _our_result(wine_idl_dir / "windows.foundation.idl", [wine_idl_dir])
    assert result.winrt is True


def test_corpus_file_preprocesses_without_errors(
    wine_idl_file: Path | None, wine_idl_dir: Path
) -> None:
    assert wine_idl_file is not None
    result, sink = _our_result(wine_idl_file, [wine_idl_dir, wine_idl_dir.parent])
    assert [str(d) for d in sink.diagnostics if d.severity is Severity.ERROR] == []
    assert result.files_read[0] == str(wine_idl_file)


# ----- robustness

_FRAGMENTS = [
    "#define F(a, ...) a ## __VA_ARGS__ #a\n",
    "#define X F(\n",
    "#define Y X Y )\n",
    "#if X\n",
    "#elif (1 ? : 2\n",
    "#ifdef",
    "#else\n",
    "#endif\n",
    "#undef X\n",
    '#include "missing.h"\n',
    '#line 0 "\n',
    "#pragma once\n",
    "#error x\n",
    "F(1, 2) X Y ",
    "/* ",
    " */",
    "// c\n",
    '"str\\" ',
    "'",
    "\\\n",
    "\n",
    'cpp_quote("X")\n',
    "__LINE__ __FILE__ ",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_FRAGMENTS), max_size=25))
def test_any_input_gives_diagnostics_not_exceptions_and_keeps_lines(parts: list[str]) -> None:
    text = "".join(parts)
    result, _ = run(text)
    expected_lines = len(text.replace("\r\n", "\n").split("\n")) - (1 if text.endswith("\n") else 0)
    assert result.text.count("\n") == (expected_lines if text else 0)
    assert all(p.out_line <= result.text.count("\n") for p in result.pragmas)
