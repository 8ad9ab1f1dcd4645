"""The wire layout layer: model types to NDR descriptors, as Python source.

This is what Samba's PIDL calls NDR levels: for every remotable method, the ordered
parameters and how each is marshaled, written out as constructor calls of
`idlgen.runtime.ndr` descriptors. Generated modules only declare these; the runtime's
engine interprets them. Anything this layer cannot express (a `void *` with no
`iid_is`, a `wire_marshal` type the runtime has no conversion for) makes the method
non-remotable with a recorded reason, never a wrong wire format.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import cached_property

from idlgen import model
from idlgen.codegen.names import param_name, py_attr, py_literal, py_name
from idlgen.codegen.param_keys import ParamKey, param_key
from idlgen.frontend import syntax
from idlgen.records import record

PRIMITIVES = {
    "small": "SMALL",
    "unsigned small": "USMALL",
    "char": "CHAR",
    "signed char": "SMALL",
    "unsigned char": "BYTE",
    "byte": "BYTE",
    "boolean": "BOOLEAN",
    "short": "SHORT",
    "unsigned short": "USHORT",
    "wchar_t": "WCHAR",
    "int": "LONG",
    "signed int": "LONG",
    "unsigned int": "ULONG",
    "unsigned": "ULONG",
    "long": "LONG",
    "unsigned long": "ULONG",
    "__int32": "LONG",
    "unsigned __int32": "ULONG",
    "__int3264": "LONG",
    "unsigned __int3264": "ULONG",
    "hyper": "HYPER",
    "unsigned hyper": "UHYPER",
    "__int64": "HYPER",
    "unsigned __int64": "UHYPER",
    "float": "FLOAT",
    "double": "DOUBLE",
    "error_status_t": "ERROR_STATUS_T",
    "int8": "SMALL",
    "uint8": "BYTE",
    "int16": "SHORT",
    "uint16": "USHORT",
    "int32": "LONG",
    "uint32": "ULONG",
    "int64": "HYPER",
    "uint64": "UHYPER",
}
NAMED_WIRE_TYPES = {
    "HRESULT": "_ndr.HRESULT",
    "SCODE": "_ndr.HRESULT",
    "GUID": "_ndr.GUID",
    "IID": "_ndr.GUID",
    "CLSID": "_ndr.GUID",
    "UUID": "_ndr.GUID",
    "FMTID": "_ndr.GUID",
    "BSTR": "_ndr.BSTR",
    "VARIANT": "_ndr.VARIANT",
}
CHARACTERS = {"char": "_ndr.CHAR", "wchar_t": "_ndr.WCHAR", "unsigned char": "_ndr.CHAR"}
SIZE_ATTRIBUTES = ("size_is", "max_is", "length_is", "first_is")
_NO_ATTRIBUTES: dict[str, syntax.Attribute] = {}  # read only
_WIRE_DIRECTIONS = {
    model.Direction.IN: "'in'",
    model.Direction.OUT: "'out'",
    model.Direction.INOUT: "'inout'",
}


# Python's parser refuses more than 200 nested brackets ("too many nested parentheses"):
# a descriptor nesting deeper (a pointer to a pointer... 200 times) has no source form.
MAX_SOURCE_NESTING = 150
_TOO_DEEP_FOR_PYTHON = "its descriptor nests deeper than Python source can"
_BRACKETS_AND_STRINGS = re.compile(
    r"[][(){}]" r"|'[^'\\]*(?:\\.[^'\\]*)*'" r'|"[^"\\]*(?:\\.[^"\\]*)*"'
)


def source_nesting(source: str) -> int:
    """The deepest bracket nesting of Python source, brackets in string literals aside."""
    depth = deepest = 0
    for match in _BRACKETS_AND_STRINGS.finditer(source):
        char = match.group()
        if char in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in ")]}":
            depth -= 1
    return deepest


def too_deep_for_python(source: str) -> bool:
    """Whether `source` nests deeper than MAX_SOURCE_NESTING. No nesting exceeds the
    number of opening brackets, so counting them (in C) settles nearly every
    descriptor; only a source with more openings than the limit needs the walk that
    skips string literals."""
    openings = source.count("(") + source.count("[") + source.count("{")
    return openings > MAX_SOURCE_NESTING and source_nesting(source) > MAX_SOURCE_NESTING


_UNKNOWN = object()  # not in a memo yet (None is an answer)


class Unsupported(Exception):
    """This construct has no wire form here; the reason ends up in a comment."""


@record
class WireMethod:
    source: str | None  # a `_ndr.MethodMarshaler(...)` expression, or None
    reason: str  # why it is None


class WireBuilder:
    """Builds descriptor source for one document; `qualify` spells a declared type's
    module-level descriptor (`_ndr_ITEM`, or `_other_idl._ndr_ITEM` when imported)."""

    def __init__(self, document: model.Document, qualify: Callable[[str], str | None]) -> None:
        self.document = document
        self.qualify = qualify
        # Only parameters of methods are kept: a struct field's descriptor may be
        # worked out while trying whether a struct has one, and such a try drops the
        # imports it added (ViewBuilder._has_descriptor), so its answers cannot be reused.
        self._descriptors: dict[ParamKey, str | Unsupported | None] = {}

    # -- methods -------------------------------------------------------------

    def method(self, interface: model.Interface, method: model.Method, opnum: int) -> WireMethod:
        if interface.is_local or method.has("local"):
            return WireMethod(None, "[local]")
        pointer_default = _pointer_default(interface)
        try:
            params = [
                self._param(p, descriptor)
                for p in method.params
                if (descriptor := self._descriptor(p, pointer_default)) is not None
            ]
            returns = self._return(method.return_type)
        except Unsupported as reason:
            return WireMethod(None, str(reason))
        body = ", ".join(params)
        params_tuple = f"({body},)" if len(params) == 1 else f"({body})"
        source = (
            f"_ndr.MethodMarshaler(_ndr.Method({py_literal(method.name)}, {params_tuple}, "
            f"returns={returns}, opnum={opnum}))"
        )
        if too_deep_for_python(source):
            return WireMethod(None, _TOO_DEEP_FOR_PYTHON)
        return WireMethod(source, "")

    def _is_binding_handle(self, param: model.Param) -> bool:
        """An explicit binding handle (`[in] handle_t h`) names the connection and has no wire
        form: MIDL leaves it out of the stub data, and so do we (its Python argument is
        ignored by clients and is None in servers)."""
        resolved = self._resolve(param.type)
        return isinstance(resolved, syntax.BaseType | syntax.NamedType) and (
            getattr(resolved, "name", None) == "handle_t"
        )

    def _return(self, type_: syntax.Type) -> str:
        if isinstance(type_, syntax.BaseType) and type_.name == "void":
            return "None"
        return self.type(type_, (), embedded=False, pointer_default="unique")

    def _descriptor(self, param: model.Param, pointer_default: str) -> str | None:
        """The parameter's descriptor, None for a binding handle, worked out once per
        `param_key` (an Unsupported answer is kept and raised again)."""
        key = param_key(param)
        if key is None:
            return self._uncached_descriptor(param, pointer_default)
        key += (pointer_default,)
        found = self._descriptors.get(key, _UNKNOWN)
        if found is _UNKNOWN:
            try:
                found = self._uncached_descriptor(param, pointer_default)
            except Unsupported as refused:
                found = refused
            self._descriptors[key] = found
        if isinstance(found, Unsupported):
            raise Unsupported(*found.args)
        return found  # type: ignore[return-value]

    def _uncached_descriptor(self, param: model.Param, pointer_default: str) -> str | None:
        if self._is_binding_handle(param):
            return None
        return self.param_type(param.type, param.attributes, pointer_default)

    def _param(self, param: model.Param, descriptor: str) -> str:
        direction = _WIRE_DIRECTIONS[param.direction]
        name = param_name(param.name, param.direction.is_out)
        return f"_ndr.Param({py_literal(name)}, {descriptor}, {direction})"

    def param_type(
        self, type_: syntax.Type, attributes: syntax.Attributes, pointer_default: str
    ) -> str:
        """A top-level parameter: pointers are [ref] unless an attribute says otherwise."""
        return self.type(type_, attributes, embedded=False, pointer_default=pointer_default)

    # -- types ---------------------------------------------------------------

    def type(
        self,
        type_: syntax.Type,
        attributes: syntax.Attributes,
        *,
        embedded: bool,
        pointer_default: str,
        scope: Callable[[str], str] = py_name,
    ) -> str:
        if isinstance(type_, syntax.Pointer):
            return self._pointer(type_, attributes, embedded, pointer_default, scope)
        names = {a.name: a for a in attributes} if attributes else _NO_ATTRIBUTES
        if "switch_is" in names and isinstance(type_, syntax.UnionType):
            # `[switch_is(Level)] LPUNION p` as a parameter: the pointer's target is the union.
            return self._switched_union(type_, attributes, names["switch_is"], scope)
        if isinstance(type_, syntax.Array):
            array = self._array(type_, attributes, pointer_default, scope)
            kind = next((k for k in ("unique", "ptr") if k in names), None)
            if not embedded and kind is not None:
                # `[in, unique, size_is(n)] T a[]`: an array parameter is a pointer to its
                # elements, so [unique]/[ptr] make it one on the wire (referent id first).
                return f"_ndr.Pointer({'full' if kind == 'ptr' else 'unique'!r}, {array})"
            return array
        if isinstance(type_, syntax.NamedType):
            return self._named(type_.name, attributes, embedded, pointer_default, scope)
        if "string" in names:
            raise Unsupported("[string] on a non-pointer, non-array type")
        if isinstance(type_, syntax.BaseType):
            return self._base(type_.name)
        if isinstance(type_, syntax.StructType | syntax.EnumType) and type_.tag:
            return self._declared(type_.tag)
        raise Unsupported(f"no wire form for {type(type_).__name__}")

    def _base(self, name: str) -> str:
        if name in PRIMITIVES:
            return "_ndr." + PRIMITIVES[name]
        raise Unsupported(f"no wire form for '{name}'")

    def _named(
        self,
        name: str,
        attributes: syntax.Attributes,
        embedded: bool,
        pointer_default: str,
        scope: Callable[[str], str],
    ) -> str:
        if name in NAMED_WIRE_TYPES:
            return NAMED_WIRE_TYPES[name]
        found = self.document.lookup(name)
        if isinstance(found, model.Interface):
            raise Unsupported(f"interface '{name}' by value")
        if isinstance(found, model.Typedef) and found.has("context_handle"):
            return "_ndr.CONTEXT_HANDLE"
        if isinstance(found, model.Typedef):
            if found.has("wire_marshal") or found.has("user_marshal"):
                raise Unsupported(f"'{name}' is wire_marshal/user_marshal")
            target = found.type
            if isinstance(target, syntax.StructType | syntax.EnumType) and (
                target.tag is None
                or getattr(target, "fields", None) is not None
                or getattr(target, "values", None) is not None
            ):
                return self._declared(found.name if target.tag is None else target.tag)
            if isinstance(target, syntax.UnionType):
                switch_is = model.find_attribute(attributes, "switch_is")
                if switch_is is None:
                    raise Unsupported(f"union '{name}' needs switch_is")
                return self._switched_union(syntax.NamedType(name), attributes, switch_is, scope)
            merged = _merge(found.attributes, attributes)
            return self.type(
                target, merged, embedded=embedded, pointer_default=pointer_default, scope=scope
            )
        raise Unsupported(f"unknown type '{name}'")

    def _declared(self, name: str) -> str:
        spelled = self.qualify("_ndr_" + name)
        if spelled is None:
            raise Unsupported(f"no descriptor for '{name}'")
        return spelled

    def _pointer(
        self,
        type_: syntax.Pointer,
        attributes: syntax.Attributes,
        embedded: bool,
        pointer_default: str,
        scope: Callable[[str], str],
    ) -> str:
        names = {a.name: a for a in attributes}
        target = type_.target
        if self._is_interface(target):
            return self._interface_pointer(target, names, scope)
        kind = _pointer_kind(names, embedded, pointer_default)
        inner_attributes = tuple(a for a in attributes if a.name not in ("ref", "unique", "ptr"))
        if "string" in names and isinstance(self._resolve(target), syntax.Pointer):
            # `[out, string] wchar_t **p`: the outer pointer returns the string pointer
            string_only = tuple(a for a in attributes if a.name == "string")
            inner = self.type(
                target, string_only, embedded=True, pointer_default=pointer_default, scope=scope
            )
            return f"_ndr.Pointer({kind!r}, {inner})"
        if "string" in names:
            char = self._character(target)
            size = self._expr_arg(names.get("size_is"), scope)
            size_arg = f", size_is={size}" if size else ""
            return f"_ndr.Pointer({kind!r}, _ndr.String({char}{size_arg}))"
        if any(a in names for a in SIZE_ATTRIBUTES):
            array = self._sized(target, names, pointer_default, scope)
            return f"_ndr.Pointer({kind!r}, {array})"
        if isinstance(target, syntax.Pointer) and self._is_interface(target.target):
            inner = self._interface_pointer(target.target, names, scope)
            return f"_ndr.Pointer({kind!r}, {inner})"
        if _is_void(target):
            raise Unsupported("void * without iid_is")
        inner = self.type(
            target,
            tuple(a for a in inner_attributes if a.name not in ("in", "out", "retval")),
            embedded=True,
            pointer_default=pointer_default,
            scope=scope,
        )
        return f"_ndr.Pointer({kind!r}, {inner})"

    def _interface_pointer(
        self, target: syntax.Type, names: dict[str, syntax.Attribute], scope: Callable[[str], str]
    ) -> str:
        iid_is = names.get("iid_is")
        if iid_is is not None:
            return f"_ndr.InterfacePointer(iid_is={self._expr_arg(iid_is, scope)})"
        name = _type_name(target)
        interface = self.document.interface(name) if name else None
        if interface is None or interface.uuid is None:
            if name in ("IUnknown", None) or _is_void(target):
                return (
                    '_ndr.InterfacePointer(iid=_rt.GUID("{00000000-0000-0000-C000-000000000046}"))'
                )
            raise Unsupported(f"no IID for interface '{name}'")
        return f"_ndr.InterfacePointer(iid=_rt.GUID({py_literal('{' + interface.uuid + '}')}))"

    def _is_interface(self, type_: syntax.Type) -> bool:
        if _is_void(type_):
            return False
        name = _type_name(type_)
        if name is None:
            return False
        found = self.document.lookup(name)
        if isinstance(found, model.Typedef):
            return False
        return isinstance(found, model.Interface) or name in ("IUnknown", "IDispatch")

    def _character(self, target: syntax.Type) -> str:
        resolved = self._resolve(target)
        if isinstance(resolved, syntax.BaseType) and resolved.name in CHARACTERS:
            return CHARACTERS[resolved.name]
        if isinstance(resolved, syntax.BaseType) and resolved.name in ("byte", "unsigned short"):
            return "_ndr.CHAR" if resolved.name == "byte" else "_ndr.WCHAR"
        raise Unsupported("[string] on a non-character type")

    def _resolve(self, type_: syntax.Type) -> syntax.Type:
        seen: set[str] = set()
        while isinstance(type_, syntax.NamedType) and type_.name not in seen:
            seen.add(type_.name)
            found = self.document.lookup(type_.name)
            if not isinstance(found, model.Typedef):
                break
            type_ = found.type
        return type_

    def _sized(
        self,
        element: syntax.Type,
        names: dict[str, syntax.Attribute],
        pointer_default: str,
        scope: Callable[[str], str],
        dimension: int = 0,
    ) -> str:
        """A conformant (and perhaps varying) array sized by the attributes' argument
        number `dimension`. `[size_is(a, b)] T **p` is MIDL's array of `a` pointers,
        each to an array of `b` elements: the next dimension sizes what each points to."""
        deeper = any(len(names[a].args) > dimension + 1 for a in SIZE_ATTRIBUTES if a in names)
        if deeper and isinstance(element, syntax.Pointer):
            inner = self._sized(element.target, names, pointer_default, scope, dimension + 1)
            kind = _pointer_kind({}, True, pointer_default)
            elem = f"_ndr.Pointer({kind!r}, {inner})"
        elif deeper:
            raise Unsupported("a size_is dimension that sizes no pointer")
        else:
            elem = self.type(
                element, (), embedded=True, pointer_default=pointer_default, scope=scope
            )
        args = [elem]
        used: list[str] = []
        for attribute in SIZE_ATTRIBUTES:
            value = self._expr_arg(names.get(attribute), scope, dimension)
            if value:
                args.append(f"{attribute}={value}")
                used.append(attribute)
        if not used and (deeper or dimension > 0):
            # `size_is(, n)` or `size_is(n, )`: a level whose dimension is left empty is
            # a plain pointer, not an array
            return elem
        varying = "length_is" in used or "first_is" in used
        kind = "ConformantVaryingArray" if varying else "ConformantArray"
        return f"_ndr.{kind}({', '.join(args)})"

    def _array(
        self,
        type_: syntax.Array,
        attributes: syntax.Attributes,
        pointer_default: str,
        scope: Callable[[str], str],
    ) -> str:
        names = {a.name: a for a in attributes}
        if isinstance(type_.element, syntax.Array):
            # `T a[2][3]`: NDR lays a fixed multi-dimensional array out row by row,
            # which is what nested fixed arrays produce; conformant ones are not done.
            if type_.size is None or any(a in names for a in SIZE_ATTRIBUTES):
                raise Unsupported("multi-dimensional conformant array")
            inner = self._array(type_.element, (), pointer_default, scope)
            return f"_ndr.FixedArray({inner}, {self._const(type_.size)})"
        if "string" in names:
            char = self._character(type_.element)
            if type_.size is None:
                return f"_ndr.String({char})"
            return f"_ndr.String({char}, fixed={self._const(type_.size)})"
        if type_.size is None:
            return self._sized(type_.element, names, pointer_default, scope)
        count = self._const(type_.size)
        elem = self.type(
            type_.element, (), embedded=True, pointer_default=pointer_default, scope=scope
        )
        if "length_is" in names or "first_is" in names:
            extra = [
                f"{a}={self._expr_arg(names[a], scope)}"
                for a in ("length_is", "first_is")
                if a in names
            ]
            return f"_ndr.VaryingArray({elem}, {count}, {', '.join(extra)})"
        if any(a in names for a in ("size_is", "max_is")):
            return self._sized(type_.element, names, pointer_default, scope)
        return f"_ndr.FixedArray({elem}, {count})"

    @cached_property
    def _array_size_names(self) -> dict[str, int | float | str]:
        """What a name in an array size stands for: constants, then enum members (a
        later declaration of a name wins). Built once per document, when first needed."""
        constants = {c.name: c.value for c in self.document.constants}
        for enum in self.document.enums:
            constants.update({m.name: m.value for m in enum.members})
        return constants

    def _const(self, expr: syntax.Expr) -> int:
        from idlgen.semantics.consteval import ConstError, Evaluator

        evaluator = Evaluator(self._array_size_names.get, self._resolve)
        try:
            return evaluator.evaluate_int(expr)
        except ConstError as error:
            raise Unsupported(f"array size: {error.message}") from error

    def _expr_arg(
        self, attribute: syntax.Attribute | None, scope: Callable[[str], str], index: int = 0
    ) -> str:
        """Argument `index` of a sizing attribute as `_ndr` source, "" when absent or
        left empty (`size_is(, n)` sizes only the second dimension)."""
        if attribute is None or index >= len(attribute.args):
            return ""
        arg = attribute.args[index]
        if isinstance(arg, syntax.Empty):
            return ""
        return expr_source(arg, scope, self._constant_value)

    def _constant_value(self, name: str) -> int | None:
        """The integer a name in a sizing expression is folded to, if it names one."""
        constants, members = self._expression_names
        found = constants.get(name)
        return found if found is not None else members.get(name)

    @cached_property
    def _expression_names(self) -> tuple[dict[str, int], dict[str, int]]:
        """Integer constants, then enum members, by name; the first declaration of a
        name wins in each. Indexed once per document instead of scanned per name."""
        constants: dict[str, int] = {}
        for constant in self.document.constants:
            if isinstance(constant.value, int):
                constants.setdefault(constant.name, constant.value)
        members: dict[str, int] = {}
        for enum in self.document.enums:
            for member in enum.members:
                members.setdefault(member.name, member.value)
        return constants, members

    # -- struct members ------------------------------------------------------

    def field(self, item: model.Field, index: int) -> str:
        """A struct member's `_ndr.Field(...)`: names in its attributes are siblings."""
        name = py_attr(item.name or f"field{index}")
        switch_is = model.find_attribute(item.attributes, "switch_is")
        if switch_is is not None:
            descriptor = self._union(item, switch_is)
        else:
            descriptor = self.type(
                item.type,
                item.attributes,
                embedded=True,
                pointer_default="unique",
                scope=field_scope,
            )
        if too_deep_for_python(descriptor):
            raise Unsupported(_TOO_DEEP_FOR_PYTHON)
        return f"_ndr.Field({py_literal(name)}, {descriptor})"

    def _union(self, item: model.Field, switch_is: model.Attribute) -> str:
        """A non-encapsulated union member, discriminated by `switch_is`."""
        return self._switched_union(item.type, item.attributes, switch_is, field_scope)

    def _switched_union(
        self,
        type_: syntax.Type,
        attributes: syntax.Attributes,
        switch_is: model.Attribute,
        scope: Callable[[str], str],
    ) -> str:
        """A non-encapsulated union discriminated by `switch_is` (names in `scope`)."""
        union = self._union_of(type_)
        if union is None or union.encapsulated or not switch_is.args:
            raise Unsupported("switch_is on a type that is not a union")
        switch_type = model.find_attribute(union.attributes, "switch_type") or model.find_attribute(
            attributes, "switch_type"
        )
        wire_switch = "_ndr.LONG"
        if switch_type is not None and switch_type.args:
            arg = switch_type.args[0]
            if isinstance(arg, syntax.BaseType | syntax.NamedType | syntax.Name):
                named = arg if isinstance(arg, syntax.BaseType) else syntax.NamedType(arg.name)
                wire_switch = self.type(named, (), embedded=True, pointer_default="unique")
                if isinstance(self._resolve(named), syntax.EnumType):
                    wire_switch += ".wire"  # an enum discriminant: its integer wire type
        arms: list[str] = []
        default = ""
        for arm in union.arms:
            arm_type = "None"
            if arm.field is not None and not _is_void(arm.field.type):
                arm_type = self.type(
                    arm.field.type,
                    arm.field.attributes,
                    embedded=True,
                    pointer_default="unique",
                    scope=field_scope,
                )
            if arm.default:
                default = f", default={arm_type}"
            else:
                cases = ", ".join(str(c) for c in arm.cases) + ("," if len(arm.cases) == 1 else "")
                arms.append(f"_ndr.Arm(({cases}), {arm_type})")
        arms_source = ", ".join(arms) + ("," if len(arms) == 1 else "")
        switch = expr_source(switch_is.args[0], scope, self._constant_value)
        return f"_ndr.Union({wire_switch}, ({arms_source}), switch_is={switch}{default})"

    def _union_of(self, type_: syntax.Type) -> model.Union | None:
        if isinstance(type_, syntax.UnionType) and type_.tag:
            return next((u for u in self.document.unions if u.name == type_.tag), None)
        if isinstance(type_, syntax.UnionType):
            # An untagged union is known by the typedef that declares it (`} INFO, *LPINFO;`).
            for declared in self.document.typedefs:
                if declared.type is type_:
                    return next((u for u in self.document.unions if u.name == declared.name), None)
            return None
        if isinstance(type_, syntax.NamedType):
            typedef = self.document.lookup(type_.name)
            if isinstance(typedef, model.Typedef):
                key = getattr(typedef.type, "tag", None) or typedef.name
                return next((u for u in self.document.unions if u.name == key), None)
        return None


def expr_source(
    expr: object, scope: Callable[[str], str], constant: Callable[[str], int | None]
) -> str:
    """An attribute expression as `_ndr` Expr constructors; names are renamed the way
    the Python mapping renames parameters and fields, constants are folded in."""
    if isinstance(expr, syntax.Number) and isinstance(expr.value, int):
        return f"_ndr.Const({expr.value})"
    if isinstance(expr, syntax.Name):
        value = constant(expr.name)
        if value is not None:
            return f"_ndr.Const({value})"
        return f"_ndr.Name({py_literal(scope(expr.name))})"
    if isinstance(expr, syntax.Unary) and expr.op in ("-", "+", "~", "!", "*"):
        return f"_ndr.Unary({expr.op!r}, {expr_source(expr.operand, scope, constant)})"
    if isinstance(expr, syntax.Binary):
        left = expr_source(expr.left, scope, constant)
        right = expr_source(expr.right, scope, constant)
        return f"_ndr.Binary({expr.op!r}, {left}, {right})"
    if isinstance(expr, syntax.Conditional):
        parts = [
            expr_source(e, scope, constant) for e in (expr.condition, expr.then, expr.otherwise)
        ]
        return f"_ndr.Cond({', '.join(parts)})"
    if isinstance(expr, syntax.Cast):
        return expr_source(expr.operand, scope, constant)
    raise Unsupported(f"expression {type(expr).__name__} in an attribute")


def _merge(first: syntax.Attributes, second: syntax.Attributes) -> syntax.Attributes:
    names = {a.name for a in second}
    return tuple(a for a in first if a.name not in names) + tuple(second)


def _pointer_default(interface: model.Interface) -> str:
    attribute = interface.attribute("pointer_default")
    if attribute and attribute.args:
        arg = attribute.args[0]
        if isinstance(arg, syntax.Name) and arg.name in ("ref", "unique", "ptr"):
            return arg.name
    return "unique"


def _pointer_kind(names: dict[str, syntax.Attribute], embedded: bool, pointer_default: str) -> str:
    for attribute, kind in (("ref", "ref"), ("unique", "unique"), ("ptr", "full")):
        if attribute in names:
            return kind
    if not embedded:
        return "ref"
    return {"ptr": "full"}.get(pointer_default, pointer_default)


def _is_void(type_: syntax.Type) -> bool:
    return isinstance(type_, syntax.BaseType) and type_.name == "void"


def _type_name(type_: syntax.Type) -> str | None:
    if isinstance(type_, syntax.NamedType | syntax.BaseType):
        return type_.name
    return None


def field_scope(name: str) -> str:
    """Inside a struct, expressions name sibling fields, spelled as attributes."""
    return py_attr(name)


def dependency_order(
    structs: Sequence[model.Struct], typedefs: Sequence[model.Typedef] = ()
) -> list[model.Struct]:
    """Structs whose fields name other structs come after them (descriptors are values),
    also when a field names the struct through a typedef (`wireBRECORD` for `_wireBRECORD *`).

    Every typedef and field the module can see is asked, imports included (a quarter
    of a million over the corpus): a bare name is read in place, and only the types
    that can hold a name go through `named_type`."""
    by_name = {s.name: s for s in structs}
    for typedef in typedefs:
        type_ = typedef.type
        if isinstance(type_, syntax.NamedType):
            target: str | None = type_.name
        elif isinstance(type_, _NAMING):
            target = named_type(type_)
        else:
            continue
        if target in by_name and typedef.name not in by_name:
            by_name[typedef.name] = by_name[target]
    ordered: list[model.Struct] = []
    state: dict[str, int] = {}

    def visit(struct: model.Struct) -> None:
        if state.get(struct.name):
            return
        state[struct.name] = 1
        for item in struct.fields:
            type_ = item.type
            if isinstance(type_, syntax.NamedType):
                target = by_name.get(type_.name)
            elif isinstance(type_, _NAMING):
                dependency = named_type(type_)
                target = None if dependency is None else by_name.get(dependency)
            else:
                continue
            if target is not None:
                visit(target)
        ordered.append(struct)

    for struct in structs:
        visit(struct)
    return ordered


_WRAPPERS = (syntax.Pointer, syntax.Array)
# What `named_type` can find a name under, besides a bare name.
_NAMING = (syntax.Pointer, syntax.Array, syntax.StructType)


def named_type(type_: syntax.Type) -> str | None:
    """The struct tag or type name under a type's pointers and arrays, if any. Asked
    for every typedef and field a module can see: no list is built per answer."""
    while isinstance(type_, _WRAPPERS):
        type_ = type_.target if isinstance(type_, syntax.Pointer) else type_.element
    if isinstance(type_, syntax.StructType):
        return type_.tag or None
    if isinstance(type_, syntax.NamedType):
        return type_.name
    return None
