"""The syntax model: what one IDL file says, before names are resolved.

The parser's transformer builds these nodes; the resolver (idlgen.semantics) turns a
set of them into the resolved model (idlgen.model). Nodes mirror the source closely
(a typedef with two declarators is one `Typedef` node per name, a declarator's `*`
and `[]` become `Pointer`/`Array` wrappers around the specifier) so that the resolver
never needs the Lark tree, and so that printing a node back as IDL is possible.

Every node carries `pos`, the place it came from after the preprocessor's line map,
so diagnostics from any later layer point into the right file.
"""

from __future__ import annotations

from dataclasses import field

from idlgen.diagnostics import Position
from idlgen.records import record

NOWHERE = Position("<builtin>", 0, 0)

# ---------------------------------------------------------------------------
# Expressions (constant expressions, and the argument expressions of size_is & co.)


@record
class Number:
    value: int | float
    text: str
    pos: Position = NOWHERE


@record
class Name:
    """An identifier in an expression: a constant, enum value, parameter or field."""

    name: str
    pos: Position = NOWHERE


@record
class String:
    value: str
    wide: bool = False
    pos: Position = NOWHERE


@record
class Char:
    value: str
    pos: Position = NOWHERE


@record
class Unary:
    op: str  # one of: - + ~ ! * &
    operand: Expr
    pos: Position = NOWHERE


@record
class Binary:
    op: str  # C operators: + - * / % << >> < > <= >= == != & | ^ && ||
    left: Expr
    right: Expr
    pos: Position = NOWHERE


# C's binding strength of the binary operators (higher binds tighter): the parser
# builds trees with it and the printer (idlgen.spelling) parenthesises with it.
BINARY_PRECEDENCE = {
    "||": 1,
    "&&": 2,
    "|": 3,
    "^": 4,
    "&": 5,
    "==": 6,
    "!=": 6,
    "<": 7,
    ">": 7,
    "<=": 7,
    ">=": 7,
    "<<": 8,
    ">>": 8,
    "+": 9,
    "-": 9,
    "*": 10,
    "/": 10,
    "%": 10,
}


@record
class Conditional:
    condition: Expr
    then: Expr
    otherwise: Expr
    pos: Position = NOWHERE


@record
class Cast:
    type: Type
    operand: Expr
    pos: Position = NOWHERE


@record
class SizeOf:
    type: Type
    pos: Position = NOWHERE


@record
class Member:
    """`a.b` or `a->b` (arrow=True), as in `size_is(p->count)`."""

    operand: Expr
    name: str
    arrow: bool = False
    pos: Position = NOWHERE


@record
class Index:
    operand: Expr
    index: Expr
    pos: Position = NOWHERE


@record
class Empty:
    """An omitted attribute argument, as in `size_is(, n)` for the second dimension."""

    pos: Position = NOWHERE


Expr = (
    Number | Name | String | Char | Unary | Binary | Conditional | Cast | SizeOf | Member | Index
) | Empty

# ---------------------------------------------------------------------------
# Attributes


@record
class Uuid:
    """A uuid literal as written in `uuid(...)`, normalised to lower case without braces."""

    text: str
    pos: Position = NOWHERE


@record
class Attribute:
    """`name` or `name(arg, ...)`; args are expressions, uuids or types (`switch_type(T)`)."""

    name: str
    args: tuple[AttributeArg, ...] = ()
    pos: Position = NOWHERE


Attributes = tuple[Attribute, ...]

# ---------------------------------------------------------------------------
# Types: a specifier (NamedType, BaseType, StructType, ...) wrapped by what the
# declarator adds (Pointer, Array, Function). `const` is kept because widl keeps it.


@record
class BaseType:
    """A C/IDL built-in, spelled canonically: `int`, `unsigned long`, `hyper`,
    `unsigned char`, `small`, `byte`, `boolean`, `wchar_t`, `float`, `double`, `void`,
    `handle_t`, `error_status_t`, `__int64`, `__int3264`, `int32`, `UINT32`-style
    WinRT names are NamedType, not BaseType."""

    name: str
    const: bool = False
    pos: Position = NOWHERE


@record
class NamedType:
    """A typedef name, interface name or other declared type used by name."""

    name: str
    const: bool = False
    pos: Position = NOWHERE


@record
class ParameterizedType:
    """WinRT `Windows.Foundation.IVector<int>`: a parameterized interface instance."""

    name: str
    args: tuple[Type, ...]
    pos: Position = NOWHERE


@record
class Field:
    """A struct or union member; `cases` are the union arm labels (`[case(1,2)]` or
    `case 1:`), empty for struct members; `default` marks `[default]`/`default:`."""

    name: str | None
    type: Type
    attributes: Attributes = ()
    bits: Expr | None = None
    pos: Position = NOWHERE


@record
class StructType:
    """`struct tag { ... }` (fields given) or a reference `struct tag` (fields None)."""

    tag: str | None
    fields: tuple[Field, ...] | None = None
    const: bool = False
    pos: Position = NOWHERE


@record
class UnionCase:
    """One arm of an encapsulated union (`switch (long kind) u { case 1: ... }`)."""

    labels: tuple[Expr, ...]  # empty with default=True for `default:`
    field: Field | None  # None for an empty arm (`case 2: ;`)
    default: bool = False
    pos: Position = NOWHERE


@record
class UnionType:
    """A union. Non-encapsulated unions have `fields` (with `case`/`default`
    attributes); encapsulated unions (`union U switch (T d) u { ... }`) have
    `switch_type`, `switch_name`, `union_name` and `cases`."""

    tag: str | None
    fields: tuple[Field, ...] | None = None
    switch_type: Type | None = None
    switch_name: str | None = None
    union_name: str | None = None
    cases: tuple[UnionCase, ...] | None = None
    const: bool = False
    pos: Position = NOWHERE

    @property
    def encapsulated(self) -> bool:
        return self.switch_type is not None


@record
class EnumValue:
    name: str
    value: Expr | None
    attributes: Attributes = ()
    pos: Position = NOWHERE


@record
class EnumType:
    tag: str | None
    values: tuple[EnumValue, ...] | None = None
    const: bool = False
    pos: Position = NOWHERE


@record
class Pointer:
    target: Type
    const: bool = False  # `T * const`, the pointer itself is const
    pos: Position = NOWHERE


@record
class Array:
    """`T name[size]`; size None for `[]` and `[*]` (conformant, sized by attributes)."""

    element: Type
    size: Expr | None
    pos: Position = NOWHERE


@record
class Param:
    name: str | None
    type: Type
    attributes: Attributes = ()
    pos: Position = NOWHERE


@record
class FunctionType:
    """A function type: a method's signature, or the target of a function pointer."""

    return_type: Type
    params: tuple[Param, ...]
    varargs: bool = False
    calling_convention: str | None = None  # __stdcall, WINAPI... as written
    pos: Position = NOWHERE


@record
class SafeArrayType:
    """`SAFEARRAY(VARIANT)`: widl's built-in form for an OLE Automation safe array."""

    element: Type
    pos: Position = NOWHERE


Type = (
    BaseType
    | NamedType
    | ParameterizedType
    | SafeArrayType
    | StructType
    | UnionType
    | EnumType
    | Pointer
    | Array
    | FunctionType
)

# A Param only for `implicit_handle(handle_t h)`, a type with a name.
AttributeArg = Expr | Uuid | Type | Param

# ---------------------------------------------------------------------------
# Declarations


@record
class Import:
    path: str
    pos: Position = NOWHERE


@record
class ImportLib:
    path: str
    pos: Position = NOWHERE


@record
class CppQuote:
    text: str
    pos: Position = NOWHERE


@record
class MidlPragma:
    """`midl_pragma warning(...)` or a `#pragma` the preprocessor reported."""

    text: str
    pos: Position = NOWHERE


@record
class Typedef:
    name: str
    type: Type
    attributes: Attributes = ()
    pos: Position = NOWHERE


@record
class TypeDeclaration:
    """A struct/union/enum defined or declared on its own: `struct S { ... };`."""

    type: StructType | UnionType | EnumType
    attributes: Attributes = ()
    pos: Position = NOWHERE


@record
class Const:
    name: str
    type: Type
    value: Expr
    pos: Position = NOWHERE


@record
class Declaration:
    """A plain declaration outside an interface body's methods: a function in an RPC
    interface or module (`type is FunctionType`), or an `extern` variable."""

    name: str
    type: Type
    attributes: Attributes = ()
    pos: Position = NOWHERE
    storage: str | None = None  # `extern`, `static`, `register` as written


@record
class Method:
    name: str
    return_type: Type
    params: tuple[Param, ...]
    attributes: Attributes = ()
    varargs: bool = False
    pos: Position = NOWHERE


@record
class Interface:
    """`interface` (object or RPC) or `dispinterface`.

    `members` holds, in order, the methods and (for RPC interfaces, and in widl also
    object ones) typedefs, consts and type declarations written inside the body.
    A forward declaration (`interface IFoo;`) has `forward=True` and no members.
    Dispinterfaces keep `properties` (from `properties:`) and methods (from
    `methods:`), or, in the `dispinterface D { interface I; }` form, `base_interface`.
    WinRT: `type_params` for a parameterized interface, `requires` for `requires I, J`.
    """

    name: str
    attributes: Attributes = ()
    parent: Type | None = None
    members: tuple[Declaration_ | Method, ...] = ()
    kind: str = "interface"  # "interface" | "dispinterface"
    forward: bool = False
    properties: tuple[Field, ...] = ()
    base_interface: str | None = None
    type_params: tuple[str, ...] = ()
    requires: tuple[Type, ...] = ()
    pos: Position = NOWHERE


@record
class CoclassMember:
    """`name` is the interface as written (`IVector<int>` for a WinRT instance); `type`
    keeps the parsed reference; `dispinterface` marks `dispinterface D;` members."""

    name: str
    attributes: Attributes = ()  # [default], [source]...
    pos: Position = NOWHERE
    type: Type | None = None
    dispinterface: bool = False


@record
class Coclass:
    name: str
    attributes: Attributes = ()
    interfaces: tuple[CoclassMember, ...] = ()
    forward: bool = False
    pos: Position = NOWHERE


@record
class Library:
    name: str
    attributes: Attributes = ()
    items: tuple[Item, ...] = ()
    pos: Position = NOWHERE


@record
class ModuleDecl:
    """An IDL `module` (a DLL's functions and constants), not a Python module."""

    name: str
    attributes: Attributes = ()
    items: tuple[Item, ...] = ()
    pos: Position = NOWHERE


@record
class Namespace:
    """WinRT `namespace Windows.Foundation { ... }`; `name` is dotted."""

    name: str
    items: tuple[Item, ...] = ()
    attributes: Attributes = ()
    pos: Position = NOWHERE


@record
class RuntimeClass:
    name: str
    attributes: Attributes = ()
    interfaces: tuple[CoclassMember, ...] = ()
    forward: bool = False
    pos: Position = NOWHERE
    parent: Type | None = None  # `runtimeclass X : Base`


@record
class ApiContract:
    name: str
    attributes: Attributes = ()
    forward: bool = False
    pos: Position = NOWHERE


@record
class Delegate:
    name: str
    return_type: Type
    params: tuple[Param, ...]
    attributes: Attributes = ()
    type_params: tuple[str, ...] = ()
    pos: Position = NOWHERE


@record
class Declare:
    """WinRT `declare { interface IVector<int>; ... }`: instances to generate."""

    types: tuple[Type, ...] = ()
    pos: Position = NOWHERE


Declaration_ = Typedef | TypeDeclaration | Const | Declaration | CppQuote | MidlPragma | Import

Item = (
    Import
    | ImportLib
    | CppQuote
    | MidlPragma
    | Typedef
    | TypeDeclaration
    | Const
    | Declaration
    | Interface
    | Coclass
    | Library
    | ModuleDecl
    | Namespace
    | RuntimeClass
    | ApiContract
    | Delegate
    | Declare
)


@record
class File:
    """One parsed file: its items in source order. `winrt` is widl's WinRT mode."""

    path: str
    items: tuple[Item, ...]
    winrt: bool = False
    pragmas: tuple[MidlPragma, ...] = field(default=())
