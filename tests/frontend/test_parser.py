"""The MIDL parser, one grammar construct per test: parse a snippet, check the nodes."""

from __future__ import annotations

from pathlib import Path

import pytest
from parse_helpers import attribute, only, parse_ok

from idlgen.diagnostics import DiagnosticSink, Position
from idlgen.frontend import syntax as s
from idlgen.frontend.parser import declared_type_names, grammar_path, parse
from idlgen.frontend.preprocess import preprocess

DATA = Path(__file__).parent / "data" / "parse"


def _int(name: str = "int") -> s.BaseType:
    return s.BaseType(name)


def _strip(node: object) -> object:
    """`node` with every position erased, to compare shapes."""
    if isinstance(node, tuple):
        return tuple(_strip(x) for x in node)
    if hasattr(node, "__dataclass_fields__"):
        values = {}
        for name in node.__dataclass_fields__:  # type: ignore[attr-defined]
            value = getattr(node, name)
            values[name] = s.NOWHERE if name == "pos" else _strip(value)
        return type(node)(**values)
    return node


# ---------------------------------------------------------------- top-level statements


def test_import_names_several_files_and_asks_for_their_type_names() -> None:
    calls: list[tuple[str, int]] = []

    def on_import(path: str, pos: Position) -> list[str]:
        calls.append((path, pos.line))
        return ["FROM_A"] if path == "a.idl" else []

    sink = DiagnosticSink()
    text = 'import "a.idl", "b.idl";\ntypedef FROM_A LOCAL;\n'
    result = parse(text, "t.idl", sink=sink, on_import=on_import)
    assert sink.diagnostics == []
    assert calls == [("a.idl", 1), ("b.idl", 1)]
    assert [i.path for i in result.items[:2]] == ["a.idl", "b.idl"]
    assert result.items[2] == s.Typedef(
        "LOCAL", s.NamedType("FROM_A", pos=Position("t.idl", 2, 9)), pos=Position("t.idl", 2, 16)
    )


def test_importlib_with_and_without_semicolon() -> None:
    items = parse_ok('library L { importlib("stdole2.tlb"); importlib("x.tlb") }').items
    library = items[0]
    assert [i.path for i in library.items] == ["stdole2.tlb", "x.tlb"]
    assert all(isinstance(i, s.ImportLib) for i in library.items)


def test_cpp_quote_keeps_escapes_as_widl_does() -> None:
    item = only(r'cpp_quote("#define X \"a\\b\" \n")')
    assert item == s.CppQuote('#define X "a\\b" \\n', item.pos)


def test_midl_pragma_warning() -> None:
    item = only("midl_pragma warning( disable: 2400 2401 )")
    assert isinstance(item, s.MidlPragma)
    assert item.text == "midl_pragma warning( disable: 2400 2401 )"


def test_hash_pragma_lines_are_collected_not_parsed() -> None:
    result = parse_ok('#pragma pack(push, 1)\n# 5 "x.idl"\ntypedef int A;\n')
    assert [(p.text, p.pos.line) for p in result.pragmas] == [("pack(push, 1)", 1)]
    assert result.items[0].pos.line == 3


def test_pragma_winrt_switches_winrt_mode_on() -> None:
    result = parse_ok("#pragma winrt ns_prefix\nnamespace A.B { typedef int T; }\n")
    assert result.winrt
    assert result.items[0].name == "A.B"


# ---------------------------------------------------------------- interfaces


def test_object_interface_with_attributes_parent_and_methods() -> None:
    item = only(
        "[object, uuid(00000000-0000-0000-C000-000000000046), pointer_default(unique)]\n"
        "interface IFoo : IUnknown\n"
        "{\n"
        "    HRESULT Read([out, size_is(cb), length_is(*pcbRead)] void *pv,\n"
        "                 [in] ULONG cb, [out] ULONG *pcbRead);\n"
        "    HRESULT Clone([out] IFoo **ppOut);\n"
        "}\n"
    )
    assert item.name == "IFoo" and item.kind == "interface" and not item.forward
    assert item.parent == s.NamedType("IUnknown", pos=Position("test.idl", 2, 18))
    assert attribute(item.attributes, "uuid").args[0].text == (
        "00000000-0000-0000-c000-000000000046"
    )
    read, clone = item.members
    assert isinstance(read, s.Method) and read.name == "Read"
    assert read.return_type.name == "HRESULT"
    assert [p.name for p in read.params] == ["pv", "cb", "pcbRead"]
    assert _strip(read.params[0].type) == s.Pointer(_int("void"))
    length_is = attribute(read.params[0].attributes, "length_is")
    assert _strip(length_is.args) == (s.Unary("*", s.Name("pcbRead")),)
    # the interface is a type name inside its own body
    assert _strip(clone.params[0].type) == s.Pointer(s.Pointer(s.NamedType("IFoo")))


def test_rpc_interface_body_declarations() -> None:
    item = only(
        "[uuid(12345678-1234-1234-1234-123456789abc), version(1.0)]\n"
        "interface rpcif\n"
        "{\n"
        "    typedef [context_handle] void *CTX;\n"
        "    const int MAX = 10;\n"
        '    cpp_quote("/* x */")\n'
        "    error_status_t Open([in] handle_t h, [out] CTX *ctx);\n"
        "}\n"
    )
    typedef, const, quote, method = item.members
    assert isinstance(typedef, s.Typedef) and typedef.name == "CTX"
    assert typedef.attributes[0].name == "context_handle"
    assert isinstance(const, s.Const) and const.value.value == 10
    assert isinstance(quote, s.CppQuote)
    assert isinstance(method, s.Method) and method.return_type.name == "error_status_t"
    assert _strip(method.params[0].type) == _int("handle_t")
    version = attribute(item.attributes, "version").args[0]
    assert (version.value, version.text) == (1.0, "1.0")


def test_forward_declaration_makes_a_type_name() -> None:
    items = parse_ok("interface IBar;\ntypedef IBar *PBAR;\n", known=()).items
    assert items[0] == s.Interface("IBar", forward=True, pos=Position("test.idl", 1, 11))
    assert _strip(items[1].type) == s.Pointer(s.NamedType("IBar"))


def test_dispinterface_with_properties_and_methods() -> None:
    item = only(
        "[uuid(11111111-2222-3333-4444-555555555555)]\n"
        "dispinterface DFoo {\n"
        "  properties:\n"
        "    [id(1)] long Count;\n"
        "  methods:\n"
        "    [id(DISPID_VALUE), propget] BSTR Item([in] long i);\n"
        "}\n"
    )
    assert item.kind == "dispinterface"
    assert [(p.name, p.type.name) for p in item.properties] == [("Count", "long")]
    (method,) = item.members
    assert method.name == "Item"
    assert _strip(attribute(method.attributes, "id").args) == (s.Name("DISPID_VALUE"),)


def test_dispinterface_of_an_interface() -> None:
    item = only("dispinterface DBar { interface IUnknown; };")
    assert item.kind == "dispinterface" and item.base_interface == "IUnknown"


def test_coclass_members_with_attributes() -> None:
    item = only(
        "[uuid(11111111-2222-3333-4444-555555555555)]\n"
        "coclass Foo {\n"
        "  [default] interface IUnknown;\n"
        "  [default, source] dispinterface DEvents;\n"
        "};\n",
        known=("IUnknown", "DEvents"),
    )
    assert isinstance(item, s.Coclass) and item.name == "Foo"
    first, second = item.interfaces
    assert (first.name, [a.name for a in first.attributes]) == ("IUnknown", ["default"])
    assert second.dispinterface and [a.name for a in second.attributes] == ["default", "source"]


def test_coclass_forward_declaration() -> None:
    items = parse_ok("coclass C;\ntypedef C *PC;").items
    assert items[0] == s.Coclass("C", forward=True, pos=Position("test.idl", 1, 9))


def test_library_holds_items() -> None:
    item = only(
        "[uuid(11111111-2222-3333-4444-555555555555), version(1.0)]\n"
        "library FooLib {\n"
        '  importlib("stdole2.tlb");\n'
        "  interface IInLib;\n"
        "  coclass C { interface IInLib; }\n"
        "};\n"
    )
    assert isinstance(item, s.Library) and item.name == "FooLib"
    assert [type(i).__name__ for i in item.items] == ["ImportLib", "Interface", "Coclass"]


def test_module_with_constants_and_functions() -> None:
    item = only(
        '[dllname("kernel32.dll")] module Kernel {\n'
        "  const int ZERO = 0;\n"
        "  [entry(1)] DWORD __stdcall GetTickCount(void);\n"
        "}\n"
    )
    assert isinstance(item, s.ModuleDecl)
    const, function = item.items
    assert const.name == "ZERO"
    assert isinstance(function, s.Declaration)
    assert _strip(function.type) == s.FunctionType(s.NamedType("DWORD"), (), False, "__stdcall")


# ---------------------------------------------------------------- typedefs and types


def test_typedef_with_attributes_and_several_declarators() -> None:
    first, second = parse_ok("typedef [public, v1_enum] unsigned long UL, *PUL;").items
    assert first.name == "UL" and [a.name for a in first.attributes] == ["public", "v1_enum"]
    assert _strip(first.type) == _int("unsigned long")
    assert _strip(second.type) == s.Pointer(_int("unsigned long"))


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [
        ("unsigned", "unsigned int"),
        ("long int", "long"),
        ("unsigned short int", "unsigned short"),
        ("signed char", "signed char"),
        ("signed long", "long"),
        ("unsigned hyper", "unsigned hyper"),
        ("__int64", "__int64"),
        ("unsigned __int3264", "unsigned __int3264"),
        ("small", "small"),
        ("byte", "byte"),
        ("boolean", "boolean"),
        ("wchar_t", "wchar_t"),
        ("double", "double"),
        ("long long", "long long"),
    ],
)
def test_base_type_spellings(spelling: str, canonical: str) -> None:
    assert only(f"typedef {spelling} T;").type.name == canonical


def test_struct_named_nested_anonymous_and_bit_fields() -> None:
    item = only(
        "typedef struct tagS {\n"
        "  int a : 3, : 2;\n"
        "  struct { long x; } inner;\n"
        "  union { long l; DWORD d; };\n"
        "  struct tagS *next;\n"
        "} S;\n"
    )
    struct = item.type
    assert struct.tag == "tagS"
    a, padding, inner, anonymous, next_ = struct.fields
    assert (a.name, a.bits.value) == ("a", 3)
    assert (padding.name, padding.bits.value) == (None, 2)
    assert inner.name == "inner" and inner.type.tag is None
    assert anonymous.name is None and isinstance(anonymous.type, s.UnionType)
    assert _strip(next_.type) == s.Pointer(s.StructType("tagS"))


def test_struct_forward_declaration_and_reference() -> None:
    declaration, typedef = parse_ok("struct S;\ntypedef struct S *PS;").items
    assert isinstance(declaration, s.TypeDeclaration)
    assert declaration.type.fields is None
    assert _strip(typedef.type) == s.Pointer(s.StructType("S"))


def test_enum_values_expressions_attributes_and_trailing_comma() -> None:
    item = only("typedef [v1_enum] enum tagE { A, B = 4, C = B << 1, [hidden] D, } E;")
    values = item.type.values
    assert [v.name for v in values] == ["A", "B", "C", "D"]
    assert values[0].value is None
    assert _strip(values[2].value) == s.Binary("<<", s.Name("B"), s.Number(1, "1"))
    assert values[3].attributes[0].name == "hidden"


def test_encapsulated_union() -> None:
    item = only(
        "typedef union U switch (long kind) u {\n"
        "  case 1: long l;\n"
        "  case 2: ;\n"
        "  default: DWORD d;\n"
        "} U;\n"
    )
    union = item.type
    assert union.encapsulated
    assert (union.switch_name, union.union_name, union.switch_type.name) == ("kind", "u", "long")
    one, two, default = union.cases
    assert one.labels[0].value == 1 and one.field.name == "l"
    assert two.field is None
    assert default.default and default.labels == () and default.field.name == "d"


def test_non_encapsulated_union_with_case_attributes() -> None:
    item = only(
        "typedef [switch_type(DWORD)] union {\n"
        "  [case(1, 2)] long l;\n"
        "  [case(3)] ;\n"
        "  [default] DWORD d;\n"
        "} NU;\n"
    )
    assert _strip(attribute(item.attributes, "switch_type").args) == (s.NamedType("DWORD"),)
    fields = item.type.fields
    assert [f.name for f in fields] == ["l", None, "d"]
    assert _strip(fields[0].attributes[0].args) == (s.Number(1, "1"), s.Number(2, "2"))
    assert fields[1].type.name == "void"


def test_pointers_with_const() -> None:
    item = only("typedef const char * const CPC;")
    assert _strip(item.type) == s.Pointer(s.BaseType("char", const=True), const=True)


def test_arrays_fixed_conformant_and_multidimensional() -> None:
    struct = only("struct A { int f[4]; int c[]; int s[*]; int m[2][3]; };").type
    fixed, conformant, star, multi = (f.type for f in struct.fields)
    assert _strip(fixed) == s.Array(_int(), s.Number(4, "4"))
    assert _strip(conformant) == s.Array(_int(), None)
    assert _strip(star) == s.Array(_int(), None)
    # C reads inside out: an array of 2 arrays of 3
    assert _strip(multi) == s.Array(s.Array(_int(), s.Number(3, "3")), s.Number(2, "2"))


def test_function_pointer_typedef_and_field() -> None:
    typedef, struct = parse_ok(
        "typedef HRESULT (__stdcall *PFN)(int a, DWORD);\n"
        "struct CB { void (*callback)(void *context); };\n"
    ).items
    assert _strip(typedef.type) == s.Pointer(
        s.FunctionType(
            s.NamedType("HRESULT"),
            (s.Param("a", _int()), s.Param(None, s.NamedType("DWORD"))),
            False,
            "__stdcall",
        )
    )
    field = struct.type.fields[0]
    assert field.name == "callback"
    assert _strip(field.type) == s.Pointer(
        s.FunctionType(_int("void"), (s.Param("context", s.Pointer(_int("void"))),))
    )


def test_calling_convention_on_method_and_varargs() -> None:
    item = only("interface I { HRESULT __stdcall Log([in] int level, ...); }")
    (method,) = item.members
    assert method.varargs and [p.name for p in method.params] == ["level"]


def test_extern_and_static_declarations() -> None:
    extern, static = parse_ok("extern const DWORD Version;\nstatic int counter;").items
    assert (extern.name, extern.storage, extern.type.const) == ("Version", "extern", True)
    assert static.storage == "static"


def test_type_name_used_as_a_field_name() -> None:
    struct = only("struct S { DWORD DWORD; };").type
    assert (struct.fields[0].name, struct.fields[0].type.name) == ("DWORD", "DWORD")


def test_safearray() -> None:
    item = only("interface I { HRESULT write([in] SAFEARRAY(VARIANT) psa); }")
    assert _strip(item.members[0].params[0].type) == s.SafeArrayType(s.NamedType("VARIANT"))


# ---------------------------------------------------------------- constant expressions


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "1 + 2 * 3",
            s.Binary("+", s.Number(1, "1"), s.Binary("*", s.Number(2, "2"), s.Number(3, "3"))),
        ),
        (
            "8 - 4 - 2",
            s.Binary("-", s.Binary("-", s.Number(8, "8"), s.Number(4, "4")), s.Number(2, "2")),
        ),
        (
            "1 << 2 | 3",
            s.Binary("|", s.Binary("<<", s.Number(1, "1"), s.Number(2, "2")), s.Number(3, "3")),
        ),
        ("a >> 2", s.Binary(">>", s.Name("a"), s.Number(2, "2"))),
        (
            "a == b && !c",
            s.Binary("&&", s.Binary("==", s.Name("a"), s.Name("b")), s.Unary("!", s.Name("c"))),
        ),
        (
            "a ? b : c ? d : e",
            s.Conditional(
                s.Name("a"), s.Name("b"), s.Conditional(s.Name("c"), s.Name("d"), s.Name("e"))
            ),
        ),
        ("(DWORD)-1", s.Cast(s.NamedType("DWORD"), s.Unary("-", s.Number(1, "1")))),
        ("(unsigned long)~0", s.Cast(s.BaseType("unsigned long"), s.Unary("~", s.Number(0, "0")))),
        ("sizeof(DWORD)", s.SizeOf(s.NamedType("DWORD"))),
        ("-p->n", s.Unary("-", s.Member(s.Name("p"), "n", arrow=True))),
        ("a[1].b", s.Member(s.Index(s.Name("a"), s.Number(1, "1")), "b")),
        ("'A'", s.Char("A")),
        ("'\\0'", s.Char("\0")),
        ('"str"', s.String("str")),
        ('L"wide"', s.String("wide", wide=True)),
        ("0x7fffffffL", s.Number(0x7FFFFFFF, "0x7fffffffL")),
        ("010", s.Number(8, "010")),
        ("10u", s.Number(10, "10u")),
        ("1.5e3", s.Number(1500.0, "1.5e3")),
        ("TRUE", s.Number(1, "TRUE")),
    ],
)
def test_constant_expression(text: str, expected: s.Expr) -> None:
    assert _strip(only(f"const int X = {text};").value) == expected


# ---------------------------------------------------------------- attributes


def test_attribute_argument_forms() -> None:
    item = only(
        "interface I { HRESULT f(\n"
        "  [in, out, size_is(*pcb, ), string] char **a,\n"
        '  [in] [range(0, 10), helpstring("x")] [call_as(Foo)] long b,\n'
        "  [iid_is(riid), switch_type(unsigned short)] void *c,\n"
        "  [,] long d); }\n"
    )
    a, b, c, d = item.members[0].params
    size_is = attribute(a.attributes, "size_is")
    assert _strip(size_is.args) == (s.Unary("*", s.Name("pcb")), s.Empty())
    assert [x.name for x in a.attributes] == ["in", "out", "size_is", "string"]
    assert [x.name for x in b.attributes] == ["in", "range", "helpstring", "call_as"]
    assert _strip(attribute(b.attributes, "helpstring").args) == (s.String("x"),)
    assert _strip(attribute(c.attributes, "switch_type").args) == (s.BaseType("unsigned short"),)
    assert d.attributes == ()


def test_uuid_quoted() -> None:
    item = only('[uuid("AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE")] interface I {}')
    assert item.attributes[0].args == (
        s.Uuid("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", item.attributes[0].args[0].pos),
    )


def test_quoted_uuid_in_braces_stays_a_string() -> None:
    """widl refuses `uuid("{...}")` (invalid UUID); the attribute check reports it."""
    item = only('[uuid("{AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE}")] interface I {}')
    assert isinstance(item.attributes[0].args[0], s.String)


def test_implicit_handle_argument_is_a_named_parameter() -> None:
    item = only("[implicit_handle(handle_t hBinding)] interface I {}")
    assert _strip(item.attributes[0].args) == (s.Param("hBinding", _int("handle_t")),)


# ---------------------------------------------------------------- WinRT


def test_winrt_forms() -> None:
    text = (DATA / "winrt.idl").read_text()
    result = parse_ok(text, known=("HSTRING", "IInspectable", "INT32", "HRESULT"), winrt=True)
    (outer,) = result.items
    assert outer.name == "Windows.Foundation"
    contract, inner = outer.items[0], outer.items[-1]
    assert isinstance(contract, s.ApiContract) and contract.name == "FoundationContract"
    status_typedef, status, point = outer.items[2:5]
    assert _strip(status_typedef.type) == s.EnumType("AsyncStatus")
    assert [v.name for v in status.type.values] == ["Started", "Completed", "Canceled", "Error"]
    assert status.attributes[0].name == "contract"
    assert [f.name for f in point.type.fields] == ["X", "Y"]
    assert attribute(contract.attributes, "contractversion").args[0].value == 0x40000
    items = {type(i).__name__ + ":" + getattr(i, "name", ""): i for i in inner.items}
    vector = items["Interface:IVector"]
    assert vector.type_params == ("T",)
    assert _strip(vector.members[0].params[1].type) == s.Pointer(s.NamedType("T"))
    handler = items["Delegate:Handler"]
    assert handler.type_params == ("TSender", "TArgs")
    assert [p.name for p in handler.params] == ["sender", "args"]
    map_user = items["Interface:IUsesMap"]
    assert _strip(map_user.requires) == (s.ParameterizedType("IVector", (_int(),)),)
    (method,) = map_user.members
    nested = method.params[0].type.target
    assert _strip(nested) == s.ParameterizedType(
        "Windows.Foundation.IMap",
        (
            s.NamedType("HSTRING"),
            s.Pointer(s.ParameterizedType("IVector", (s.NamedType("INT32"),))),
        ),
    )
    contract_attr = attribute(map_user.attributes, "contract")
    assert _strip(contract_attr.args) == (
        s.NamedType("Windows.Foundation.FoundationContract"),
        s.Number(1.0, "1.0"),
    )
    runtime_class = items["RuntimeClass:Thing"]
    assert [m.name for m in runtime_class.interfaces] == ["IUsesMap", "IVector<HSTRING>"]
    assert _strip(attribute(runtime_class.attributes, "static").args) == (
        s.NamedType("IUsesMap"),
        s.NamedType("Windows.Foundation.FoundationContract"),
        s.Number(1.0, "1.0"),
    )
    declare = items["Declare:"]
    assert _strip(declare.types) == (s.ParameterizedType("IVector", (_int(),)),)


def test_shift_right_stays_an_operator_outside_type_arguments() -> None:
    item = only("const int X = 256 >> 4;", winrt=True)
    assert item.value.op == ">>"


# ---------------------------------------------------------------- positions and API


def test_positions_go_through_the_position_callback() -> None:
    def position(line: int, column: int) -> Position:
        return Position("real.idl", line + 100, column)

    sink = DiagnosticSink()
    result = parse("typedef int A;", "t.idl", sink=sink, position=position)
    assert result.items[0].pos == Position("real.idl", 101, 13)
    assert result.items[0].type.pos == Position("real.idl", 101, 9)


def test_preprocessor_line_map_positions_point_into_included_files(tmp_path: Path) -> None:
    (tmp_path / "inc.h").write_text("typedef long INCLUDED;\n")
    main = tmp_path / "main.idl"
    main.write_text('#include "inc.h"\n\ntypedef INCLUDED MAIN;\n')
    sink = DiagnosticSink()
    pre = preprocess(main.read_text(), str(main), include_dirs=[str(tmp_path)], sink=sink)
    result = parse(pre.text, str(main), sink=sink, position=pre.line_map.position)
    assert sink.diagnostics == []
    included, own = result.items
    assert (Path(included.pos.file).name, included.pos.line, included.pos.column) == (
        "inc.h",
        1,
        14,
    )
    assert (Path(own.pos.file).name, own.pos.line) == ("main.idl", 3)


def test_declared_type_names_walks_nested_declarations() -> None:
    result = parse_ok(
        "typedef int A;\n"
        "interface I { typedef long B; }\n"
        "coclass C { interface I; }\n"
        "library L { interface J; }\n"
        "struct S { int x; };\n"
    )
    assert declared_type_names(result) == {"A", "I", "B", "C", "J"}


def test_grammar_file_is_found_from_the_package() -> None:
    assert grammar_path().name == "midl.lark"
    assert "interface_def" in grammar_path().read_text()
