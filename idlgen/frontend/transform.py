"""Builds syntax nodes (idlgen.frontend.syntax) while the LALR parser reduces rules.

The parser calls one method per grammar rule (named after the rule or its `-> alias`,
see reductions.py) with the rule's kept children: tokens for named terminals, the
results of sub-rules, and None for an absent `[optional]` part. Building the model
while parsing (rather than building a tree, then walking it) halves the work, and it
is what lets declarations register type names before the lexer reads the next token.

A declarator is kept as a small tuple chain (`_Decl`) until it meets its type, because
C declarators read inside out: `int *a[3]` is an array of pointers.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from idlgen.diagnostics import Position
from idlgen.frontend import syntax as s
from idlgen.frontend.lexer import Token
from idlgen.records import record

# A declarator: ("name", Token) | ("ptr", const, inner) | ("cc", convention, inner)
# | ("array", inner, size) | ("func", inner, params, varargs); inner may be None
# (abstract declarators, as in `HRESULT f(int *)`).
_Decl = tuple[Any, ...]

OnImport = Callable[[str, Position], Iterable[str]]
Report = Callable[[str, Position], None]  # an error found while building the syntax


@record
class _Spec:
    """A declaration's specifiers: the type and the storage class (`extern`, `static`)."""

    type: s.Type
    storage: str | None = None
    storage_token: Token | None = None  # where a parameter's storage class is refused


@record
class _Params:
    params: tuple[s.Param, ...]
    varargs: bool = False


@record
class _TypeName:
    """`decl_spec abstract-declarator`, or with a name (`implicit_handle(handle_t h)`)."""

    type: s.Type
    name: Token | None


@record
class _Head:
    """`interface I<T>`, `coclass C`...: the name, registered as a type when reduced."""

    name: Token
    type_params: tuple[str, ...] = ()
    return_spec: _Spec | None = None  # delegates


_T = TypeVar("_T")

_UUID_ATTRIBUTES = frozenset({"uuid", "async_uuid"})
_UUID_TEXT = re.compile(r"[0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}")
_WIDL_UNESCAPED = {"\\\\": "\\", '\\"': '"'}
_CHAR_ESCAPES = {
    "n": "\n",
    "t": "\t",
    "r": "\r",
    "0": "\0",
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "v": "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
    "?": "?",
}


def _flatten(items: Iterable[Any]) -> tuple[Any, ...]:
    """Rules such as `typedef A, *PA;` and `import "a", "b";` yield several items."""
    out: list[Any] = []
    for item in items:
        if isinstance(item, tuple):
            out.extend(item)
        elif item is not None:
            out.append(item)
    return tuple(out)


def widl_string(quoted: str) -> str:
    """A string literal's value as widl keeps it: only `\\\\` and `\\"` are unescaped,
    other escapes stay as written (they end up in C headers verbatim)."""
    body = quoted[quoted.index('"') + 1 : -1]
    if "\\" not in body:
        return body
    out: list[str] = []
    i = 0
    while i < len(body):
        pair = body[i : i + 2]
        if pair in _WIDL_UNESCAPED:
            out.append(_WIDL_UNESCAPED[pair])
            i += 2
        else:
            out.append(body[i])
            i += 1
    return "".join(out)


_C_ESCAPE = re.compile(r"\\(x[0-9A-Fa-f]+|[0-7]{1,3}|.)", re.DOTALL)


def c_string(quoted: str) -> str:
    """A string literal's value as C defines it (`\\n` is a newline, `\\x41` is `A`):
    what a constant or helpstring means, as opposed to the text widl copies into C."""
    body = quoted[quoted.index('"') + 1 : -1]
    if "\\" not in body:
        return body

    def decode(match: re.Match[str]) -> str:
        escape = match.group(1)
        if escape[0] in "xX":
            return chr(int(escape[1:], 16) & 0x10FFFF)
        if escape[0].isdigit():
            return chr(int(escape, 8))
        return _CHAR_ESCAPES.get(escape, escape)

    return _C_ESCAPE.sub(decode, body)


def char_value(quoted: str) -> str:
    """The character a C character constant denotes (`'\\0'`, `L'x'`, `'\\x41'`)."""
    body = quoted[quoted.index("'") + 1 : -1]
    if not body.startswith("\\") or len(body) < 2:
        return body
    escape = body[1]
    if escape in "xX" and len(body) > 2:
        return chr(int(body[2:], 16))
    if escape.isdigit():
        return chr(int(body[1:], 8))
    return _CHAR_ESCAPES.get(escape, escape)


def number_value(text: str) -> int | float:
    """What a C integer or floating literal means (decimal, `0x` hex, `0` octal)."""
    if text.isdigit() and (text[0] != "0" or len(text) == 1):
        return int(text)
    digits = text.rstrip("uUlLfF") if not text.lower().startswith("0x") else text.rstrip("uUlL")
    if any(c in digits for c in ".eE") and not digits.lower().startswith("0x"):
        return float(digits)
    if digits.lower().startswith("0x"):
        return int(digits, 16)
    if len(digits) > 1 and digits.startswith("0"):
        return int(digits, 8) if all(c in "01234567" for c in digits) else int(digits)
    return int(digits)


# The same few literals come back thousands of times (`+1`, `+500` in DISPID macros).
_known_number = functools.lru_cache(maxsize=4096)(number_value)


def normalise_uuid(text: str) -> str:
    return text.strip().strip('"').strip("{}").strip().lower()


def _with_const(type_: s.Type) -> s.Type:
    if isinstance(type_, s.BaseType | s.NamedType | s.StructType | s.UnionType | s.EnumType):
        return dataclasses.replace(type_, const=True)
    return type_


def _type_label(type_: s.Type) -> str:
    """A printable name for a coclass/runtimeclass member's interface."""
    if isinstance(type_, s.NamedType):
        return type_.name
    if isinstance(type_, s.ParameterizedType):
        return f"{type_.name}<{', '.join(_type_label(a) for a in type_.args)}>"
    if isinstance(type_, s.BaseType):
        return type_.name
    if isinstance(type_, s.Pointer):
        return _type_label(type_.target) + "*"
    return type(type_).__name__


# Methods that, given one child, return it: a rule that keeps one child and calls one
# of these needs no call at all (the parser leaves the child where it is).
RETURNS_ITS_ONLY_CHILD = frozenset(
    {"attributes", "decl_name", "array", "spec_mod", "tag_name", "import_stmt"}
)


class SyntaxBuilder:
    """Holds the type-name set the lexer reads and `position`, which maps a token's
    offset in the text to its real place. The parser keeps builders for later parses
    (its callbacks are bound to one), handing each its parse's state with `start_parse`."""

    def __init__(
        self,
        *,
        type_names: set[str],
        position: Callable[[int], Position],
        on_import: OnImport | None,
        report: Report | None = None,
    ) -> None:
        self.start_parse(type_names, position, on_import, report)

    def start_parse(
        self,
        type_names: set[str],
        position: Callable[[int], Position],
        on_import: OnImport | None,
        report: Report | None,
    ) -> None:
        self.type_names = type_names
        self.position = position
        self.on_import = on_import
        self.report: Report = report or _ignored

    def _pos(self, token: Token) -> Position:
        """(The most frequent nodes call `position` themselves: a call less each.)"""
        return self.position(token.offset)

    def _declare(self, name: str) -> None:
        self.type_names.add(name)
        if "." in name:
            self.type_names.add(name.rpartition(".")[2])

    # ------------------------------------------------------------ top level

    def start(self, c: list[Any]) -> tuple[Any, ...]:
        return _flatten(c)

    def cpp_quote(self, c: list[Token]) -> s.CppQuote:
        return s.CppQuote(widl_string(c[1].value), self._pos(c[0]))

    def midl_pragma(self, c: list[Token]) -> s.MidlPragma:
        return s.MidlPragma(c[0].value, self._pos(c[0]))

    def import_head(self, c: list[Token]) -> tuple[s.Import, ...]:
        pos = self._pos(c[0])
        imports = tuple(s.Import(widl_string(t.value), self._pos(t)) for t in c[1:])
        if self.on_import is not None:
            for item in imports:
                self.type_names.update(self.on_import(item.path, pos))
        return imports

    def import_stmt(self, c: list[Any]) -> tuple[s.Import, ...]:
        return c[0]  # type: ignore[no-any-return]

    def importlib(self, c: list[Token]) -> s.ImportLib:
        return s.ImportLib(widl_string(c[1].value), self._pos(c[0]))

    def type_decl(self, c: list[Any]) -> s.TypeDeclaration:
        attributes, type_ = c
        return s.TypeDeclaration(type_, attributes or (), type_.pos)

    def init_declarator(self, c: list[Any]) -> tuple[_Decl, s.Expr | None]:
        return c[0], c[1]

    def declaration(self, c: list[Any]) -> s.Const | s.Declaration:
        attributes, spec, (declarator, value) = c
        name, type_ = self._apply(declarator, spec.type)
        pos = self._pos(name)
        if value is not None and not isinstance(type_, s.FunctionType):
            return s.Const(name.value, type_, value, pos)
        if value is not None and not _is_zero(value):
            # widl ignores any initializer on a function; only C++'s pure-virtual `= 0`
            # means something a reader expects, so anything else is refused.
            self.report(
                f"'{name.value}' is a function: only the pure-virtual suffix '= 0' may follow it",
                value.pos,
            )
        return s.Declaration(name.value, type_, attributes or (), pos, storage=spec.storage)

    def typedef(self, c: list[Any]) -> tuple[s.Typedef, ...]:
        attributes = (c[0] or ()) + (c[2] or ())
        spec: _Spec = c[3]
        typedefs = []
        for declarator in c[4:]:
            name, type_ = self._apply(declarator, spec.type)
            self._declare(name.value)
            typedefs.append(s.Typedef(name.value, type_, attributes, self._pos(name)))
        return tuple(typedefs)

    # ------------------------------------------------------------ interfaces & co

    def _head(self, c: list[Any]) -> _Head:
        name: Token = c[1]
        self._declare(name.value)
        params = c[2] if len(c) > 2 and c[2] is not None else ()
        return _Head(name, params)

    interface_head = _head
    dispinterface_head = _head
    coclass_head = _head
    runtimeclass_head = _head
    apicontract_head = _head

    def delegate_head(self, c: list[Any]) -> _Head:
        _, spec, name, params = c
        self._declare(name.value)
        return _Head(name, params or (), spec)

    def type_params(self, c: list[Any]) -> tuple[str, ...]:
        return tuple(name for name in c if not isinstance(name, Token))

    def type_param(self, c: list[Token]) -> str:
        self._declare(c[0].value)
        return str(c[0].value)

    def inherit(self, c: list[Any]) -> s.Type:
        return c[0]  # type: ignore[no-any-return]

    def requires_clause(self, c: list[Any]) -> tuple[s.Type, ...]:
        return tuple(c[1:])

    def type_ref(self, c: list[Token]) -> s.NamedType:
        return s.NamedType(c[0].value, pos=self._pos(c[0]))

    def type_ref_args(self, c: list[Any]) -> s.ParameterizedType:
        return s.ParameterizedType(c[0].value, c[2], self._pos(c[0]))

    def interface_def(self, c: list[Any]) -> s.Interface:
        attributes, head, parent, requires, *body = c
        members = tuple(_as_method(item) for item in _flatten(body))
        return s.Interface(
            head.name.value,
            attributes or (),
            parent,
            members,
            type_params=head.type_params,
            requires=requires or (),
            pos=self._pos(head.name),
        )

    def interface_fwd(self, c: list[Any]) -> s.Interface:
        head: _Head = c[0]
        return s.Interface(
            head.name.value, forward=True, type_params=head.type_params, pos=self._pos(head.name)
        )

    def dispinterface_def(self, c: list[Any]) -> s.Interface:
        attributes, head, *body = c
        properties = tuple(x for x in body if isinstance(x, s.Field))
        methods = tuple(x for x in body if isinstance(x, s.Method))
        for stray in body:
            if isinstance(stray, s.Declaration | s.Const):
                self.report(
                    "only methods may be declared inside the methods section of a dispinterface",
                    stray.pos,
                )
        return s.Interface(
            head.name.value,
            attributes or (),
            members=methods,
            kind="dispinterface",
            properties=properties,
            pos=self._pos(head.name),
        )

    def dispinterface_of(self, c: list[Any]) -> s.Interface:
        attributes, head, _, base = c
        return s.Interface(
            head.name.value,
            attributes or (),
            kind="dispinterface",
            base_interface=_type_label(base),
            pos=self._pos(head.name),
        )

    def dispinterface_fwd(self, c: list[Any]) -> s.Interface:
        head: _Head = c[0]
        return s.Interface(
            head.name.value, kind="dispinterface", forward=True, pos=self._pos(head.name)
        )

    def disp_prop(self, c: list[Any]) -> s.Field:
        attributes, spec, declarator = c
        name, type_ = self._apply(declarator, spec.type)
        return s.Field(name.value, type_, attributes or (), pos=self._pos(name))

    def disp_method(self, c: list[Any]) -> s.Method | s.Declaration | s.Const:
        return _as_method(self.declaration(c))

    def coclass_def(self, c: list[Any]) -> s.Coclass:
        attributes, head, *members = c
        return s.Coclass(
            head.name.value, attributes or (), tuple(members), pos=self._pos(head.name)
        )

    def coclass_fwd(self, c: list[Any]) -> s.Coclass:
        head: _Head = c[0]
        return s.Coclass(head.name.value, forward=True, pos=self._pos(head.name))

    def coclass_member(self, c: list[Any]) -> s.CoclassMember:
        attributes, keyword, type_ = c
        return s.CoclassMember(
            _type_label(type_),
            attributes or (),
            self._pos(keyword),
            type=type_,
            dispinterface=keyword.type == "DISPINTERFACE",
        )

    def library_def(self, c: list[Any]) -> s.Library:
        attributes, _, name, *items = c
        return s.Library(name.value, attributes or (), _flatten(items), self._pos(name))

    def module_def(self, c: list[Any]) -> s.ModuleDecl:
        attributes, _, name, *items = c
        return s.ModuleDecl(name.value, attributes or (), _flatten(items), self._pos(name))

    # ------------------------------------------------------------ WinRT

    def namespace_def(self, c: list[Any]) -> s.Namespace:
        _, name, *items = c
        return s.Namespace(name.value, _flatten(items), pos=self._pos(name))

    def runtimeclass_def(self, c: list[Any]) -> s.RuntimeClass:
        attributes, head, parent, *members = c
        return s.RuntimeClass(
            head.name.value,
            attributes or (),
            tuple(members),
            pos=self._pos(head.name),
            parent=parent,
        )

    def runtimeclass_fwd(self, c: list[Any]) -> s.RuntimeClass:
        head: _Head = c[0]
        return s.RuntimeClass(head.name.value, forward=True, pos=self._pos(head.name))

    def rc_member(self, c: list[Any]) -> s.CoclassMember:
        attributes, keyword, type_ = c
        return s.CoclassMember(_type_label(type_), attributes or (), self._pos(keyword), type=type_)

    def apicontract_def(self, c: list[Any]) -> s.ApiContract:
        attributes, head = c
        return s.ApiContract(head.name.value, attributes or (), pos=self._pos(head.name))

    def apicontract_fwd(self, c: list[Any]) -> s.ApiContract:
        head: _Head = c[0]
        return s.ApiContract(head.name.value, forward=True, pos=self._pos(head.name))

    def delegate_def(self, c: list[Any]) -> s.Delegate:
        attributes, head, params = c
        assert head.return_spec is not None
        return s.Delegate(
            head.name.value,
            head.return_spec.type,
            params.params,
            attributes or (),
            head.type_params,
            self._pos(head.name),
        )

    def declare_block(self, c: list[Any]) -> s.Declare:
        return s.Declare(tuple(c[1:]), self._pos(c[0]))

    def declare_item(self, c: list[Any]) -> s.Type:
        return c[1]  # type: ignore[no-any-return]

    # ------------------------------------------------------------ attributes

    def attributes(self, c: list[tuple[s.Attribute, ...]]) -> tuple[s.Attribute, ...]:
        """`[a, b]` or the groups so far and one more (`[a] [b]`), each a tuple."""
        return c[0] if len(c) == 1 else c[0] + c[1]

    def attr_group(self, c: list[s.Attribute | None]) -> tuple[s.Attribute, ...]:
        return tuple(filter(None, c))  # an attribute record is always true

    def attribute(self, c: list[Token]) -> s.Attribute:
        return s.Attribute(c[0].value, (), self.position(c[0].offset))

    def attribute_args(self, c: list[Any]) -> s.Attribute:
        name: Token = c[0]
        raw = c[1:]
        if raw == [None]:
            raw = []
        args = tuple(self._attribute_arg(name.value, arg, name) for arg in raw)
        return s.Attribute(name.value, args, self.position(name.offset))

    def _attribute_arg(self, attribute: str, arg: Any, name: Token) -> s.AttributeArg:
        if arg is None:
            return s.Empty(self._pos(name))
        if isinstance(arg, _TypeName):
            if arg.name is not None:
                return s.Param(arg.name.value, arg.type, pos=self._pos(arg.name))
            return arg.type
        if attribute in _UUID_ATTRIBUTES and isinstance(arg, s.String):
            if _UUID_TEXT.fullmatch(arg.value):
                return s.Uuid(arg.value.lower(), arg.pos)
            return arg  # not a uuid: the attribute check says so, as widl does
        return arg  # type: ignore[no-any-return]

    def uuid(self, c: list[Token]) -> s.Uuid:
        return s.Uuid(normalise_uuid(c[0].value), self._pos(c[0]))

    # ------------------------------------------------------------ types

    def decl_spec(self, c: list[Any]) -> _Spec:
        if len(c) == 1:  # a type and no `const` or storage class: most declarations
            return _Spec(c[0])
        return _modified_spec(c)

    def spec_mod(self, c: list[Token]) -> Token:
        return c[0]

    def named_type(self, c: list[Token]) -> s.NamedType:
        return s.NamedType(c[0].value, pos=self.position(c[0].offset))

    def parameterized_type(self, c: list[Any]) -> s.ParameterizedType:
        return s.ParameterizedType(c[0].value, c[2], self._pos(c[0]))

    def safearray(self, c: list[Any]) -> s.SafeArrayType:
        return s.SafeArrayType(c[1].type, self._pos(c[0]))

    def type_args(self, c: list[_TypeName]) -> tuple[s.Type, ...]:
        return tuple(arg.type for arg in c)

    def type_name(self, c: list[Any]) -> _TypeName:
        spec, declarator = c
        if declarator is None:
            return _TypeName(spec.type, None)
        name, type_ = self._apply(declarator, spec.type, named=False)
        return _TypeName(type_, name)

    def base_type(self, c: list[Any]) -> s.BaseType:
        tokens: list[Token] = []
        for part in c:
            tokens.extend(part if isinstance(part, list) else [part])
        words = [t.value for t in tokens]
        if words[0] == "signed" and words[1:] not in (["char"], ["small"]):
            words = words[1:] or ["int"]  # `signed long` is `long`
        if words == ["unsigned"]:
            words = ["unsigned", "int"]
        return s.BaseType(" ".join(words), pos=self._pos(tokens[0]))

    def int_type(self, c: list[Token]) -> list[Token]:
        if len(c) > 1 and c[-1].type == "INT":
            return c[:-1]  # `long int` is `long`
        return c

    def tag_name(self, c: list[Token]) -> Token:
        return c[0]

    def struct_def(self, c: list[Any]) -> s.StructType:
        keyword, tag, *fields = c
        return s.StructType(
            tag.value if tag else None, _flatten(fields), pos=self._pos(tag or keyword)
        )

    def struct_ref(self, c: list[Token]) -> s.StructType:
        return s.StructType(c[1].value, None, pos=self._pos(c[1]))

    def union_def(self, c: list[Any]) -> s.UnionType:
        keyword, tag, *fields = c
        return s.UnionType(
            tag.value if tag else None, _flatten(fields), pos=self._pos(tag or keyword)
        )

    def union_encapsulated(self, c: list[Any]) -> s.UnionType:
        keyword, tag, _, spec, declarator, union_name, *cases = c
        # widl takes any declarator here (`switch(long *d)`), and refuses a
        # discriminant that is not an integer only when a method reaches the union.
        switch_name, switch_type = self._apply(declarator, spec.type)
        return s.UnionType(
            tag.value if tag else None,
            switch_type=switch_type,
            switch_name=switch_name.value,
            union_name=union_name.value if union_name else None,
            cases=tuple(cases),
            pos=self._pos(tag or keyword),
        )

    def union_ref(self, c: list[Token]) -> s.UnionType:
        return s.UnionType(c[1].value, pos=self._pos(c[1]))

    def enum_def(self, c: list[Any]) -> s.EnumType:
        keyword, tag, values = c
        return s.EnumType(tag.value if tag else None, values, pos=self._pos(tag or keyword))

    def enum_ref(self, c: list[Token]) -> s.EnumType:
        return s.EnumType(c[1].value, pos=self._pos(c[1]))

    def enum_values(self, c: list[s.EnumValue]) -> tuple[s.EnumValue, ...]:
        return tuple(c)

    def enum_value(self, c: list[Any]) -> s.EnumValue:
        attributes, name, value = c
        return s.EnumValue(name.value, value, attributes or (), self._pos(name))

    # ------------------------------------------------------------ fields & union arms

    def field(self, c: list[Any]) -> tuple[s.Field, ...]:
        attributes, spec, *declarators = c
        fields = []
        for declarator, bits in declarators:
            if declarator is None:  # `int : 3;` padding
                fields.append(s.Field(None, spec.type, attributes or (), bits, spec.type.pos))
                continue
            name, type_ = self._apply(declarator, spec.type)
            fields.append(s.Field(name.value, type_, attributes or (), bits, self._pos(name)))
        return tuple(fields)

    def struct_declarator(self, c: list[Any]) -> tuple[_Decl, s.Expr | None]:
        return c[0], c[1]

    def bit_padding(self, c: list[Any]) -> tuple[None, s.Expr]:
        return None, c[0]

    def field_anonymous(self, c: list[Any]) -> s.Field:
        attributes, type_ = c
        return s.Field(None, type_, attributes or (), pos=type_.pos)

    def field_empty(self, c: list[Any]) -> s.Field:
        attributes = c[0]
        pos = attributes[0].pos if attributes else s.NOWHERE
        return s.Field(None, s.BaseType("void", pos=pos), attributes, pos=pos)

    def field_nothing(self, c: list[Any]) -> None:
        return None

    def union_case(self, c: list[Any]) -> s.UnionCase:
        keyword, label, arm = c
        return s.UnionCase((label,), arm, pos=self._pos(keyword))

    def union_default(self, c: list[Any]) -> s.UnionCase:
        keyword, arm = c
        return s.UnionCase((), arm, default=True, pos=self._pos(keyword))

    def union_arm(self, c: list[Any]) -> s.Field:
        attributes, spec, declarator = c
        name, type_ = self._apply(declarator, spec.type)
        return s.Field(name.value, type_, attributes or (), pos=self._pos(name))

    def union_arm_anonymous(self, c: list[Any]) -> s.Field:
        return self.field_anonymous(c)

    def union_arm_empty(self, c: list[Any]) -> None:
        return None

    # ------------------------------------------------------------ declarators

    def decl_pointer(self, c: list[Any]) -> _Decl:
        if len(c) == 2 and isinstance(c[1], tuple):  # `*name`, no `const`: most pointers
            return ("ptr", False, c[1], c[0])
        inner = c[-1] if c and isinstance(c[-1], tuple) else None
        const = any(isinstance(t, Token) and t.type == "CONST" for t in c)
        return ("ptr", const, inner, c[0])

    def decl_callconv(self, c: list[Any]) -> _Decl:
        return ("cc", c[0], c[1] if len(c) > 1 else None)

    def decl_name_only(self, c: list[Token]) -> _Decl:
        return ("name", c[0])

    def decl_array(self, c: list[Any]) -> _Decl:
        if len(c) == 1:
            return ("array", None, c[0])
        return ("array", c[0], c[1])

    def decl_function(self, c: list[Any]) -> _Decl:
        inner, params = c
        return ("func", inner, params)

    def array(self, c: list[Any]) -> s.Expr | None:
        return c[0]  # type: ignore[no-any-return]

    def array_star(self, c: list[Any]) -> None:
        return None

    def params(self, c: list[Any]) -> _Params:
        # Each child is a `param` (an s.Param), and the last may be the `...` token.
        varargs = bool(c) and isinstance(c[-1], Token)
        params = tuple(c[:-1] if varargs else c)
        if len(params) == 1 and params[0].name is None and params[0].attributes == ():
            only = params[0].type
            if isinstance(only, s.BaseType) and only.name == "void" and not only.const:
                params = ()
        return _Params(params, varargs)

    def params_varargs_only(self, c: list[Any]) -> _Params:
        return _Params((), True)

    def param(self, c: list[Any]) -> s.Param:
        attributes, spec, declarator = c
        if spec.storage in ("extern", "static") and spec.storage_token is not None:
            # widl 7 takes `register` (and crashes on `inline`); these it refuses.
            self.report(
                "invalid storage class for function parameter", self._pos(spec.storage_token)
            )
        if declarator is None:
            return s.Param(None, spec.type, attributes or (), spec.type.pos)
        name, type_ = self._apply(declarator, spec.type, named=False)
        pos = self._pos(name) if name is not None else type_.pos
        return s.Param(name.value if name is not None else None, type_, attributes or (), pos)

    def decl_name(self, c: list[Token]) -> Token:
        return c[0]

    def _apply(self, declarator: _Decl | None, type_: s.Type, named: bool = True) -> Any:
        """Wraps `type_` as the declarator says; returns (name token or None, type)."""
        convention: Token | None = None
        name: Token | None = None
        while declarator is not None:
            kind = declarator[0]
            if kind == "name":
                name = declarator[1]
                break
            if kind == "ptr":
                _, const, inner, star = declarator
                type_ = s.Pointer(type_, const, self._pos(star))
                declarator = inner
            elif kind == "cc":
                if isinstance(type_, s.FunctionType):
                    type_ = dataclasses.replace(type_, calling_convention=declarator[1].value)
                else:
                    convention = declarator[1]
                declarator = declarator[2]
            elif kind == "array":
                type_ = s.Array(type_, declarator[2], _type_pos(type_))
                declarator = declarator[1]
            else:  # func
                params: _Params = declarator[2]
                written = convention.value if convention is not None else None
                type_ = s.FunctionType(
                    type_, params.params, params.varargs, written, _type_pos(type_)
                )
                convention = None
                declarator = declarator[1]
        if convention is not None:
            # `DWORD __stdcall x`: no function for it to apply to (widl's wording).
            self.report("calling convention applied to non-function type", self._pos(convention))
        return name, type_

    # ------------------------------------------------------------ expressions

    def ternary(self, c: list[Any]) -> s.Conditional:
        condition, _, then, otherwise = c
        return s.Conditional(condition, then, otherwise, condition.pos)

    def binary(self, c: list[Any]) -> s.Binary:
        """`a op b`: what `binary_chain` makes of one operator, without its stacks."""
        left, operator, right = c
        return s.Binary(operator.value, left, right, left.pos)

    def binary_chain(self, c: list[Any]) -> s.Expr:
        """`a op b op c ...` to a tree, by C precedence (all left-associative)."""
        operands: list[s.Expr] = [c[0]]
        pending: list[Token] = []
        for index in range(1, len(c), 2):
            operator: Token = c[index]
            level = s.BINARY_PRECEDENCE[operator.value]
            while pending and s.BINARY_PRECEDENCE[pending[-1].value] >= level:
                _combine(operands, pending.pop())
            pending.append(operator)
            operands.append(c[index + 1])
        while pending:
            _combine(operands, pending.pop())
        return operands[0]

    def cast(self, c: list[Any]) -> s.Cast:
        type_name, operand = c
        return s.Cast(type_name.type, operand, _type_pos(type_name.type))

    def unary(self, c: list[Any]) -> s.Unary:
        op, operand = c
        return s.Unary(op.value, operand, self._pos(op))

    def sizeof(self, c: list[Any]) -> s.SizeOf:
        return s.SizeOf(c[1].type, self._pos(c[0]))

    def member(self, c: list[Any]) -> s.Member:
        operand, op, name = c
        return s.Member(operand, name.value, op.type == "ARROW", operand.pos)

    def index(self, c: list[Any]) -> s.Index:
        operand, index = c
        return s.Index(operand, index, operand.pos)

    def number(self, c: list[Token]) -> s.Number:
        token = c[0]
        value = _known_number(token.value)
        return s.Number(value, token.value, self.position(token.offset))

    def string(self, c: list[Token]) -> s.String:
        token = c[0]
        return s.String(c_string(token.value), token.type == "WSTRING", self._pos(token))

    def char(self, c: list[Token]) -> s.Char:
        return s.Char(char_value(c[0].value), self._pos(c[0]))

    def name(self, c: list[Token]) -> s.Name:
        return s.Name(c[0].value, self.position(c[0].offset))

    def boolean(self, c: list[Token]) -> s.Number:
        return s.Number(1 if c[0].type == "TRUE" else 0, c[0].value, self._pos(c[0]))


def _ignored(message: str, pos: Position) -> None:
    pass


def _modified_spec(c: list[Any]) -> _Spec:
    """A type with `const` or a storage class before or after it (`const int`)."""
    type_ = next(x for x in c if not isinstance(x, Token))
    storage = None
    token = None
    for modifier in c:
        if isinstance(modifier, Token):
            if modifier.type == "CONST":
                type_ = _with_const(type_)
            elif modifier.type in ("EXTERN", "STATIC", "REGISTER"):
                storage = modifier.value
                token = modifier
    return _Spec(type_, storage, token)


def _is_zero(value: s.Expr) -> bool:
    return isinstance(value, s.Number) and value.value == 0


def _combine(operands: list[s.Expr], operator: Token) -> None:
    right = operands.pop()
    left = operands.pop()
    operands.append(s.Binary(operator.value, left, right, left.pos))


def _type_pos(type_: s.Type) -> Position:
    return type_.pos


def _as_method(item: _T) -> _T | s.Method:
    """Inside an interface, a function declaration is a method."""
    if isinstance(item, s.Declaration) and isinstance(item.type, s.FunctionType):
        function = item.type
        return s.Method(
            item.name,
            function.return_type,
            function.params,
            item.attributes,
            function.varargs,
            item.pos,
        )
    return item
