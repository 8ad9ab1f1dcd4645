"""Rules found by differential mutation testing against widl (tests/corpus/mutation.py).

Each was a one-token change to a Wine file that widl refuses and idlgen compiled
without a word, or compiled to something else than widl: a number too large for
32 bits wrapped, an array size that is no constant dropped the type, two different
`uuid(...)` on one interface silently kept one. Each test is the general rule, swept
over every place the rule applies.
"""

from __future__ import annotations

import pytest

import idlgen
from idlgen import IdlError

PRELUDE = (
    "typedef long HRESULT; typedef unsigned long ULONG;\n"
    "[object, local, uuid(00000000-0000-0000-c000-000000000046)]"
    " interface IUnknown { HRESULT QueryInterface(); }\n"
)
MARK = "\0"

# Every place a constant integer is written; MARK is where the value goes.
CONSTANT_PLACES = {
    "const": f"const long C = {MARK};",
    "unsigned const": f"const unsigned long C = {MARK};",
    "enum value": f"enum E {{ E0 = {MARK} }};",
    "array size": f"struct S {{ long a[{MARK}]; }};",
    "typedef array size": f"typedef long T[{MARK}];",
    "parameter array size": "[uuid(0c1a5e10-0000-4000-8000-000000000001)] interface R "
    f"{{ HRESULT F([in] long a[{MARK}]); }}",
    "attribute id": "[object, uuid(0c1a5e10-0000-4000-8000-000000000002)] interface I : IUnknown "
    f"{{ [id({MARK})] HRESULT F(); }}",
    "union case": f"union U switch (long d) u {{ case {MARK}: long a; }};",
    "attribute version": f"[uuid(0c1a5e10-0000-4000-8000-00000000000a), version({MARK})] "
    "interface V { HRESULT F(void); }",
    "attribute size_is": "[uuid(0c1a5e10-0000-4000-8000-00000000000b)] interface Z "
    f"{{ HRESULT F([in] long n, [in, size_is(n + {MARK})] long *p); }}",
}
ARRAY_PLACES = [p for p in CONSTANT_PLACES if "array" in p]


def errors_at(text: str) -> list[tuple[int, int, str]]:
    try:
        idlgen.compile(text=text, filename="m.idl", emit="model")
    except IdlError as error:
        return [(d.position.line, d.position.column, d.message) for d in error.errors if d.position]
    return []


def placed(place: str, value: str) -> tuple[str, int]:
    """The text and the 1-based column of `value` on the last line."""
    line = CONSTANT_PLACES[place]
    return PRELUDE + line.replace(MARK, value) + "\n", line.index(MARK) + 1


@pytest.mark.parametrize("place", sorted(CONSTANT_PLACES))
@pytest.mark.parametrize("literal", ["4294967296", "0x100000000", "99999999999999999999"])
def test_a_literal_above_32_bits_is_an_error_at_the_literal(place: str, literal: str) -> None:
    text, column = placed(place, literal)
    errors = errors_at(text)
    assert errors, f"{place}: {literal} accepted"
    assert errors[0][:2] == (PRELUDE.count("\n") + 1, column)


# 0xffffffff elements do not fit in memory, and a signed `long` wraps it (as C does).
ROOMY_PLACES = sorted(p for p in CONSTANT_PLACES if p not in ARRAY_PLACES and p != "const")


@pytest.mark.parametrize("place", ROOMY_PLACES)
def test_the_largest_32_bit_literal_is_accepted(place: str) -> None:
    text, _ = placed(place, "0xffffffff")
    assert errors_at(text) == []


@pytest.mark.parametrize("type_", ["hyper", "unsigned hyper", "__int64", "unsigned __int64"])
def test_a_64_bit_const_may_use_a_64_bit_literal(type_: str) -> None:
    result = idlgen.compile(text=f"const {type_} H = 0x100000000;\n", emit="model")
    assert [c.value for c in result.document.constants] == [0x100000000]


@pytest.mark.parametrize("place", ARRAY_PLACES)
@pytest.mark.parametrize("size", ["undeclared", "0", "-1", "1 - 1", '"s"'])
def test_an_array_size_must_be_a_positive_integer_constant(place: str, size: str) -> None:
    text, column = placed(place, size)
    errors = errors_at(text)
    assert [(c, m) for _, c, m in errors] == [
        (column, "array dimension is not a positive integer constant")
    ]


@pytest.mark.parametrize("place", ARRAY_PLACES)
@pytest.mark.parametrize("size", ["1", "2 * 3", "N"])
def test_constant_array_sizes_are_accepted(place: str, size: str) -> None:
    text, _ = placed(place, size)
    assert errors_at("const long N = 4;\n" + text) == []


# An attribute given twice with different arguments, in each place the check covers:
# (declaration with {A} for the attribute list, the first form, a different second).
CONFLICTS = {
    "interface uuid": (
        "[object, {A}] interface I : IUnknown {{ HRESULT F(); }}",
        "uuid(0c1a5e10-0000-4000-8000-000000000003)",
        "uuid(0c1a5e10-0000-4000-8000-000000000004)",
    ),
    "interface pointer_default": (
        "[object, uuid(0c1a5e10-0000-4000-8000-000000000005), {A}] interface I : IUnknown "
        "{{ HRESULT F(); }}",
        "pointer_default(unique)",
        "pointer_default(ref)",
    ),
    "method id": (
        "[object, uuid(0c1a5e10-0000-4000-8000-000000000006)] interface I : IUnknown "
        "{{ [{A}] HRESULT F(); }}",
        "id(1)",
        "id(2)",
    ),
    "parameter size_is": (
        "[object, uuid(0c1a5e10-0000-4000-8000-000000000007)] interface I : IUnknown "
        "{{ HRESULT F([in] ULONG n, [in] ULONG m, [in, {A}] ULONG *p); }}",
        "size_is(n)",
        "size_is(m)",
    ),
    "field size_is": (
        "struct S {{ ULONG n; ULONG m; [{A}] ULONG *p; }};",
        "size_is(n)",
        "size_is(m)",
    ),
    "coclass uuid": (
        "[{A}] coclass C {{ interface IUnknown; }}",
        "uuid(0c1a5e10-0000-4000-8000-000000000010)",
        "uuid(0c1a5e10-0000-4000-8000-000000000011)",
    ),
    "library version": (
        "[uuid(0c1a5e10-0000-4000-8000-000000000012), {A}] library L {{ }}",
        "version(1.0)",
        "version(2.0)",
    ),
    "module dllname": ("[{A}] module M {{ }}", 'dllname("a.dll")', 'dllname("b.dll")'),
    "module function entry": (
        '[dllname("a.dll")] module M {{ [{A}] void F(); }}',
        "entry(1)",
        "entry(2)",
    ),
    "dispinterface uuid": (
        "[{A}] dispinterface D {{ properties: methods: }}",
        "uuid(0c1a5e10-0000-4000-8000-000000000013)",
        "uuid(0c1a5e10-0000-4000-8000-000000000014)",
    ),
    "dispinterface property id": (
        "[uuid(0c1a5e10-0000-4000-8000-000000000015)] dispinterface D "
        "{{ properties: [{A}] long x; methods: }}",
        "id(1)",
        "id(2)",
    ),
    "typedef uuid": (
        "typedef [{A}] struct S {{ long a; }} T;",
        "uuid(0c1a5e10-0000-4000-8000-000000000016)",
        "uuid(0c1a5e10-0000-4000-8000-000000000017)",
    ),
    "union arm switch_type": (
        "typedef [{A}] union U {{ [case(1)] long a; }} T;",
        "switch_type(long)",
        "switch_type(short)",
    ),
}


@pytest.mark.parametrize("place", sorted(CONFLICTS))
def test_an_attribute_twice_with_different_arguments_is_an_error_at_the_second(
    place: str,
) -> None:
    template, first, second = CONFLICTS[place]
    line = template.format(A=f"{first}, {second}")
    errors = errors_at(PRELUDE + line + "\n")
    name = first.split("(")[0]
    assert [(c, m) for _, c, m in errors] == [
        (line.index(second) + 1, f"attribute {name} given twice with different arguments")
    ]


@pytest.mark.parametrize("place", sorted(CONFLICTS))
def test_the_same_attribute_twice_alike_stays_a_warning(place: str) -> None:
    template, first, _ = CONFLICTS[place]
    text = PRELUDE + template.format(A=f"{first}, {first}") + "\n"
    result = idlgen.compile(text=text, filename="m.idl", emit="model")
    name = first.split("(")[0]
    assert [d.message for d in result.diagnostics] == [f"duplicate attribute {name}"]


@pytest.mark.parametrize("place", ["parameter", "field", "typedef"])
@pytest.mark.parametrize(
    ("first", "second"), [("ref", "unique"), ("unique", "ptr"), ("ptr", "ref")]
)
def test_two_pointer_kinds_contradict_each_other(place: str, first: str, second: str) -> None:
    """A pointer is ref, unique or ptr: widl warns (`duplicate attribute ref, unique or
    ptr`) and keeps one, which silently changes how null and aliasing are sent."""
    _, pointer = POINTER_PLACES[place]
    line = pointer.format(A=f"{first}, {second}")
    errors = errors_at(PRELUDE + line + "\n")
    assert [(c, m) for _, c, m in errors] == [
        (
            line.index(f"{second}]") + 1,
            f"pointer attributes {first} and {second} contradict each other",
        )
    ]


# A pointer attribute, or [string], on each kind of declaration: (non-pointer, pointer).
POINTER_PLACES = {
    "typedef": ("typedef [{A}] char T;", "typedef [{A}] char *T;"),
    "parameter": (
        "[uuid(0c1a5e10-0000-4000-8000-000000000008)] interface R "
        "{{ HRESULT F([in, {A}] char p); }}",
        "[uuid(0c1a5e10-0000-4000-8000-000000000008)] interface R "
        "{{ HRESULT F([in, {A}] char *p); }}",
    ),
    "field": ("struct S {{ [{A}] char p; }};", "struct S {{ [{A}] char *p; }};"),
}


@pytest.mark.parametrize("attribute", ["ref", "unique", "ptr", "string"])
@pytest.mark.parametrize("place", sorted(POINTER_PLACES))
def test_pointer_attributes_need_a_pointer(attribute: str, place: str) -> None:
    plain, pointer = (t.format(A=attribute) for t in POINTER_PLACES[place])
    errors = errors_at(PRELUDE + plain + "\n")
    assert [c for _, c, m in errors if "applied to non-pointer" in m] == [
        plain.index(f"{attribute}]") + 1
    ], errors
    assert errors_at(PRELUDE + pointer + "\n") == []


# Interface parameters: how many pointer levels each direction needs.
INTERFACE_PARAMS = {
    "[in] IUnknown p": "cannot be a non-pointer to an interface",
    "[out] IUnknown *p": "is not a double pointer",
    "[in, out] IUnknown *p": "is not a double pointer",
    "[out] LPUNK p": "is not a double pointer",
    "[in] IUnknown *p": None,
    "[in] LPUNK p": None,
    "[out] IUnknown **p": None,
    "[out] LPUNK *p": None,
}


@pytest.mark.parametrize("param", sorted(INTERFACE_PARAMS))
def test_interface_parameters_have_the_pointer_levels_widl_requires(param: str) -> None:
    line = (
        "[object, uuid(0c1a5e10-0000-4000-8000-000000000009)] interface I : IUnknown "
        f"{{ HRESULT F({param}); }}"
    )
    errors = errors_at(PRELUDE + "typedef IUnknown *LPUNK;\n" + line + "\n")
    expected = INTERFACE_PARAMS[param]
    if expected is None:
        assert errors == []
    else:
        assert [m for _, _, m in errors] == [f"{_prefix(param)} of function 'F' {expected}"]
        direction = "out" if "out" in param else "in"
        assert errors[0][1] == line.index(param) + param.index(direction) + 1


def _prefix(param: str) -> str:
    return "out interface pointer 'p'" if "out" in param else "parameter 'p'"


@pytest.mark.parametrize(
    ("type_", "accepted"),
    [("long", False), ("struct { long x; }", False), ("enum { A }", True), ("ET", True)],
)
def test_v1_enum_needs_an_enum(type_: str, accepted: bool) -> None:
    errors = errors_at(f"typedef enum {{ E0 }} ET;\ntypedef [v1_enum] {type_} T;\n")
    assert (errors == []) == accepted, errors


@pytest.mark.parametrize("member", ["struct value;", "union value;", "struct S2;"])
def test_an_anonymous_member_must_be_an_inline_struct_or_union(member: str) -> None:
    errors = errors_at(f"struct S2 {{ long x; }};\nstruct S {{ long a; {member} }};\n")
    assert [m for _, _, m in errors] == [
        "a member needs a name: only an inline struct or union may be anonymous"
    ]


@pytest.mark.parametrize("member", ["struct { long x; };", "union { long y; };"])
def test_inline_anonymous_members_are_accepted(member: str) -> None:
    assert errors_at(f"struct S {{ long a; {member} }};\n") == []


# A tag (or coclass) defined twice: (kind, first definition, second definition).
REDEFINITIONS = {
    "struct": ("struct S { long a; };", "struct S { long b; };"),
    "struct through a typedef": ("typedef struct S { long a; } T;", "struct S { long a; };"),
    "union": ("union S { long a; };", "union S { long a; short b; };"),
    "enum": ("enum S { A };", "enum S { A };"),
    "enum through a typedef": ("typedef [v1_enum] enum S { A } T;", "typedef enum S { B } T2;"),
    "coclass": (
        "[uuid(0c1a5e10-0000-4000-8000-00000000000c)] coclass S { interface IUnknown; }",
        "[uuid(0c1a5e10-0000-4000-8000-00000000000c)] coclass S { interface IUnknown; }",
    ),
}


@pytest.mark.parametrize("place", sorted(REDEFINITIONS))
def test_a_second_definition_of_a_tag_is_an_error_at_the_second(place: str) -> None:
    """The second definition replaced the first without a word (widl: `redefinition
    of enum E`, `coclass C already defined`)."""
    first, second = REDEFINITIONS[place]
    errors = errors_at(PRELUDE + first + "\n" + second + "\n")
    kind = place.split()[0]
    line = PRELUDE.count("\n") + 2
    assert [(row, m) for row, _, m in errors] == [(line, f"redefinition of {kind} 'S'")]


@pytest.mark.parametrize(
    "text",
    [
        "typedef struct S { long a; } A, *PA;",
        "typedef union S { long a; } A, *PA;",
        "typedef enum S { X } A, *PA;",
        "struct S; struct S { long a; };",
        "struct S { long a; }; typedef struct S T;",
    ],
)
def test_one_definition_named_several_times_is_no_redefinition(text: str) -> None:
    assert errors_at(PRELUDE + text + "\n") == []


GUID_PRELUDE = (
    PRELUDE + "typedef struct _GUID { long a; short b; short c; byte d[8]; } GUID;\n"
    "typedef GUID IID; typedef IID *REFIID; typedef [string] char *LPSTR;\n"
    "typedef LPSTR LPSTR2; typedef enum { E0 } EN_; typedef struct { long a; } ST_;\n"
    "typedef long W; typedef [wire_marshal(W)] char *X; typedef X Y;\n"
    "typedef [transmit_as(W)] char *T; typedef void VOID_;\n"
)


def method_errors(params: str, attributes: str = "") -> list[str]:
    line = (
        "[object, uuid(0c1a5e10-0000-4000-8000-00000000000d)] interface I : IUnknown "
        f"{{ {attributes} HRESULT F({params}); }}"
    )
    return [m for _, _, m in errors_at(GUID_PRELUDE + line + "\n")]


# What iid_is names must point at 16 bytes (read off widl 7: it compares the size).
IID_IS = {
    "[in] REFIID riid, [out, iid_is(riid)] void **ppv": True,
    "[in] GUID *riid, [out, iid_is(riid)] void **ppv": True,
    "[in] struct _GUID *riid, [out, iid_is(riid)] void **ppv": True,
    "[in] IID riid, [out, iid_is(&riid)] void **ppv": True,
    "[in] REFIID *riid, [out, iid_is(*riid)] void **ppv": True,
    "[in] REFIID riid, [in, iid_is(riid)] void *ppv": True,
    "[in] hyper *riid, [out, iid_is(riid)] void **ppv": False,
    "[in] long riid, [out, iid_is(riid)] void **ppv": False,
    "[in] REFIID *riid, [out, iid_is(riid)] void **ppv": False,
    "[in] IID riid, [out, iid_is(riid)] void **ppv": False,
}


@pytest.mark.parametrize("params", sorted(IID_IS))
def test_iid_is_must_name_a_pointer_to_a_guid(params: str) -> None:
    errors = method_errors(params)
    expected = (
        []
        if IID_IS[params]
        else ["expression must resolve to pointer to GUID type for attribute iid_is"]
    )
    assert errors == expected
    assert method_errors(params, "[local]") == []  # widl checks remotable methods only


@pytest.mark.parametrize(("stars", "accepted"), [("*", False), ("**", True), ("***", True)])
def test_an_out_iid_is_pointer_is_a_double_pointer(stars: str, accepted: bool) -> None:
    errors = method_errors(f"[in] REFIID riid, [out, iid_is(riid)] void {stars}ppv")
    assert errors == (
        [] if accepted else ["out interface pointer 'ppv' of function 'F' is not a double pointer"]
    )


# An [out] string needs a size: (parameter, refused), read off widl 7.
OUT_STRINGS = {
    "[out, string] char *s": True,
    "[out, string] wchar_t *s": True,
    "[out, string, unique] char *s": True,
    "[out] LPSTR s": True,
    "[out] LPSTR2 s": True,
    "[in, out, string] char *s": False,
    "[out, string, size_is(n)] char *s": False,
    "[out, string] char s[10]": False,
    "[out, string] char **s": False,
    "[out] LPSTR *s": False,
    "[out, string] X *s": False,  # a pointer to a [wire_marshal] pointer (`BSTR *`)
    "[out] char *s": False,
}


@pytest.mark.parametrize("param", sorted(OUT_STRINGS))
def test_an_out_string_needs_a_size(param: str) -> None:
    errors = method_errors(f"[in] long n, {param}")
    refused = ["out parameter 's' of function 'F' cannot be an unsized string"]
    assert errors == (refused if OUT_STRINGS[param] else [])
    assert method_errors(f"[in] long n, {param}", "[local]") == []


# A count or discriminant must be an integer (read off widl 7): (parameters, refused).
INTEGRAL = {
    "[in] long n, [in, size_is(n)] long *p": False,
    "[in] short n, [in, size_is(n)] long *p": False,
    "[in] char n, [in, size_is(n)] long *p": False,
    "[in] EN n, [in, size_is(n)] long *p": False,
    "[in] long *n, [in, size_is(*n)] long *p": False,
    "[in] long *n, [in, size_is(*n == 0 ? 1 : *n)] long *p": False,
    "[in] ST n, [in, size_is(n.a)] long *p": False,
    "[in] double n, [in, size_is(n)] long *p": True,
    "[in] float n, [in, size_is(n + 1)] long *p": True,
    "[in] long n, [in, size_is((double)n)] long *p": True,
    "[in] long n, [in, size_is(&n)] long *p": True,
    "[in] long *n, [in, size_is(n)] long *p": True,
    "[in] ST n, [in, size_is(n)] long *p": True,
    "[in] double n, [in, size_is(10), length_is(n)] long *p": True,
    "[in] double n, [in, switch_is(n)] long *p": True,
}


@pytest.mark.parametrize("params", sorted(INTEGRAL))
def test_a_sizing_expression_must_be_an_integer(params: str) -> None:
    errors = method_errors(params.replace("EN ", "EN_ ").replace("ST ", "ST_ "))
    name = "switch_is" if "switch_is" in params else params.split("[in, ")[-1].split("(")[0]
    name = "length_is" if "length_is" in params else name
    refused = [f"expression must resolve to integral type <= 32bits for attribute {name}"]
    assert errors == (refused if INTEGRAL[params] else [])


@pytest.mark.parametrize(
    ("param", "refused"),
    [
        ("[out] X x", True),
        ("[out] Y x", True),
        ("[in, out] X x", True),
        ("[out] X *x", False),
        ("[out] T x", False),
    ],
)
def test_an_out_wire_marshal_type_is_no_pointer(param: str, refused: bool) -> None:
    """A [wire_marshal] typedef is sent as its wire type: [out] needs a pointer to it,
    whatever the typedef stands for (`BSTR`, `HWND` are pointers in C)."""
    errors = method_errors(param)
    assert errors == (["out parameter 'x' of function 'F' is not a pointer"] if refused else [])


@pytest.mark.parametrize("attributes", ["", "[local]"])
def test_a_parameter_of_type_void_is_an_error(attributes: str) -> None:
    assert method_errors("[in] long a, [in] void x", attributes) == ["argument 'x' has void type"]
    assert method_errors("[in] VOID_ x", attributes) == ["argument 'x' has void type"]
    assert method_errors("void", attributes) == []


# [v1_enum] on functions and parameters (read off widl 7: refused in every form).
V1_ENUM_USES = {
    "parameter of a typedef'd enum": (
        "[object, uuid(0c1a5e10-0000-4000-8000-000000000018)] interface I : IUnknown "
        "{ HRESULT F([in, v1_enum] EN_ x); }",
        "'x': [v1_enum] attribute applied to non-enum type",
    ),
    "parameter of an inline enum": (
        "[object, uuid(0c1a5e10-0000-4000-8000-000000000018)] interface I : IUnknown "
        "{ HRESULT F([in, v1_enum] enum tagE x); }",
        "inapplicable attribute v1_enum for argument x",
    ),
    "local method's parameter": (
        "[object, uuid(0c1a5e10-0000-4000-8000-000000000018)] interface I : IUnknown "
        "{ [local] HRESULT F([in, v1_enum] long x); }",
        "'x': [v1_enum] attribute applied to non-enum type",
    ),
    "method returning an enum": (
        "[object, uuid(0c1a5e10-0000-4000-8000-000000000018)] interface I : IUnknown "
        "{ [v1_enum] enum tagE F([in] long x); }",
        "'F': [v1_enum] attribute applied to non-enum type",
    ),
    "rpc function": (
        "[uuid(0c1a5e10-0000-4000-8000-000000000019)] interface R "
        "{ [v1_enum] long F([in] long x); }",
        "'F': [v1_enum] attribute applied to non-enum type",
    ),
    "module function's parameter": (
        '[dllname("a.dll")] module M { long F([in, v1_enum] long x); }',
        "'x': [v1_enum] attribute applied to non-enum type",
    ),
    "top-level function": (
        "[v1_enum] long F([in] long x);",
        "'F': [v1_enum] attribute applied to non-enum type",
    ),
}


@pytest.mark.parametrize("place", sorted(V1_ENUM_USES))
def test_v1_enum_is_refused_on_functions_and_parameters(place: str) -> None:
    line, message = V1_ENUM_USES[place]
    text = GUID_PRELUDE + "enum tagE { TE0 };\n" + line + "\n"
    errors = errors_at(text)
    assert [(c, m) for _, c, m in errors] == [(line.index("v1_enum") + 1, message)]


@pytest.mark.parametrize("name", ["static", "activatable"])
def test_winrt_factory_attributes_may_repeat(name: str) -> None:
    """Each `static(...)` or `activatable(...)` names one more factory interface (the
    Windows SDK's runtime classes list several): not an attribute given twice."""
    line = (
        f"[uuid(0c1a5e10-0000-4000-8000-00000000001a), {name}(IUnknown, 1.0), "
        f"{name}(IOther, 2.0)] coclass C {{ interface IUnknown; }}"
    )
    other = "[object, uuid(0c1a5e10-0000-4000-8000-00000000001b)] interface IOther : IUnknown {}"
    assert errors_at(PRELUDE + other + "\n" + line + "\n") == []


# A pointer to void at any depth, through typedefs, needs iid_is (read off widl 7).
VOID_POINTERS = {
    "[in] void **p": True,
    "[out] void **p": True,
    "[in] LPVOID p": True,
    "[in] LPVOID *p": True,
    "[in] const void *p": True,
    "[in] REFIID riid, [out, iid_is(riid)] void **p": False,
    "[in] CH p": False,
    "[out] CH *p": False,
    "[in] PCH p": False,
    "[in] HI p": False,  # a [wire_marshal] handle (HICON, HDC) is sent as its wire type
    "[out] HI *p": False,
    "[in] HT p": True,  # [transmit_as] is not enough
}


@pytest.mark.parametrize("params", sorted(VOID_POINTERS))
@pytest.mark.parametrize("interface", ["object", "rpc"])
def test_a_pointer_to_void_needs_iid_is(params: str, interface: str) -> None:
    """Nothing says what a void pointer points at; a context handle is marshaled as a
    handle, and an iid_is pointer as the interface it names."""
    head = (
        "[object, uuid(0c1a5e10-0000-4000-8000-00000000001c)] interface I : IUnknown"
        if interface == "object"
        else "[uuid(0c1a5e10-0000-4000-8000-00000000001d)] interface I"
    )
    types = (
        "typedef void *LPVOID; typedef [context_handle] void *CH; typedef CH *PCH;\n"
        "typedef [wire_marshal(W)] void *HI; typedef [transmit_as(W)] void *HT;\n"
    )
    errors = errors_at(GUID_PRELUDE + types + f"{head} {{ HRESULT F({params}); }}\n")
    refused = ["parameter 'p' of function 'F' cannot derive from void *"]
    assert [m for _, _, m in errors] == (refused if VOID_POINTERS[params] else [])


@pytest.mark.parametrize(
    ("method", "refused"),
    [
        ("IUnknown F([in] long x)", True),
        ("IUnknown F()", False),  # widl checks the return value with the parameters
        ("[local] IUnknown F([in] long x)", False),
        ("IUnknown *F([in] long x)", False),
    ],
)
def test_an_interface_is_not_returned_by_value(method: str, refused: bool) -> None:
    line = (
        "[object, uuid(0c1a5e10-0000-4000-8000-00000000001e)] interface I : IUnknown "
        f"{{ {method}; }}"
    )
    message = "parameter 'return value' of function 'F' cannot be a non-pointer to an interface"
    assert [m for _, _, m in errors_at(PRELUDE + line + "\n")] == ([message] if refused else [])
