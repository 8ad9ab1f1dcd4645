"""IDL types to Python annotations (DESIGN.md section 4, "Types").

Integers are `int`, strings `str`, byte buffers `bytes`, other arrays lists, structs
dataclasses, enums IntEnums, GUIDs the runtime's GUID, interface pointers interface
classes. A parameter's pointer levels are the C way of returning values and do not
appear in Python: an `[out] ULONG *` is an `int` in the result.
"""

from __future__ import annotations

from collections.abc import Callable

from idlgen import model
from idlgen.frontend import syntax
from idlgen.records import record
from idlgen.semantics.consteval import INTEGER_KINDS

STRING_TYPEDEFS = {
    "BSTR",
    "LPWSTR",
    "LPCWSTR",
    "LPOLESTR",
    "LPCOLESTR",
    "LPSTR",
    "LPCSTR",
    "PWSTR",
    "PCWSTR",
    "PSTR",
    "PCSTR",
    "HSTRING",
}
GUID_TYPEDEFS = {"GUID", "IID", "CLSID", "REFIID", "REFCLSID", "REFGUID", "UUID", "FMTID"}
BYTE_NAMES = {"byte", "unsigned char", "BYTE", "UCHAR", "unsigned small", "uint8"}
CHAR_NAMES = {"char", "wchar_t", "WCHAR", "OLECHAR", "CHAR", "TCHAR"}
FLOAT_NAMES = {"float", "double", "DATE", "DOUBLE", "FLOAT"}

# What a name defined elsewhere (an imported file) is spelled as in this module.
Qualifier = Callable[[str], str | None]


@record
class PyType:
    annotation: str
    kind: str  # int, float, bool, str, bytes, list, guid, interface, struct, enum, union, object


def _may_be_null(param: model.Param, attributes: set[str]) -> bool:
    """An interface pointer the caller passes may be NULL unless it is [ref] (MIDL treats
    [in] interface pointers as unique). An [out] one is returned through a [ref] pointer
    and is typed without None unless it says [unique] or [ptr]: COM methods that succeed
    hand back a real interface."""
    if "ref" in attributes:
        return False
    return param.direction.is_in or bool(attributes & {"unique", "ptr"})


def has_class(interface: model.Interface) -> bool:
    """Whether generated code declares a class for the interface: a plain RPC interface
    without a uuid only groups declarations."""
    return interface.is_object or interface.uuid is not None


class TypeMapper:
    def __init__(self, document: model.Document, qualify: Qualifier) -> None:
        self.document = document
        self.qualify = qualify
        # Looked up for every parameter and field: indexed once, not scanned per call.
        self._tagged_names = frozenset(item.name for item in document.tagged_types)
        self._typedef_for_tag: dict[str, str] = {}
        for typedef in document.typedefs:
            target = typedef.type
            tag = getattr(target, "tag", None)
            if isinstance(tag, str) and not isinstance(target, syntax.Pointer):
                self._typedef_for_tag.setdefault(tag, typedef.name)
        # Named types already mapped: a chain of typedefs is then walked once, not once
        # per use (20,000 chained typedefs took minutes). Only results spelled without
        # an import are kept: spelling through an import adds it, and a caller trying a
        # mapping may drop the imports it added (ViewBuilder._has_descriptor).
        self._named_cache: dict[str, PyType] = {}

    def param(self, param: model.Param) -> PyType:
        """A parameter's value type: the C pointer levels that return values vanish."""
        type_ = param.type
        names = {a.name for a in param.attributes}
        sized = bool(names & {"size_is", "max_is", "length_is"})
        if "string" in names:
            return PyType("str", "str")
        if sized and isinstance(type_, syntax.Pointer):
            return self._sized(type_, param.attributes)
        if param.direction.is_out and isinstance(type_, syntax.Pointer):
            type_ = type_.target
        mapped = self.type(type_)
        if mapped.kind == "interface" and _may_be_null(param, names):
            return PyType(f"{mapped.annotation} | None", "interface")
        if isinstance(type_, syntax.Pointer) and mapped.kind not in ("interface", "str"):
            target = self.type(type_.target)
            if "unique" in names or "ptr" in names:
                return PyType(f"{target.annotation} | None", target.kind)
            return target
        return mapped

    def _sized(self, type_: syntax.Pointer, attributes: syntax.Attributes) -> PyType:
        """`[size_is(a, b)] T **p` is a list of lists; `[size_is(, n)] T **p` one list
        (its first level is a plain pointer): one list per non-empty dimension."""
        levels = max(
            (
                [not isinstance(arg, syntax.Empty) for arg in a.args]
                for a in attributes
                if a.name in ("size_is", "max_is")
            ),
            key=len,
            default=[True],
        )
        target: syntax.Type = type_.target
        for _ in levels[1:]:  # every level but the last points on to the next
            if isinstance(target, syntax.Pointer):
                target = target.target
        innermost = self._array_of(target)  # the last level: an array
        annotation = innermost.annotation
        for is_array in reversed(levels[:-1]):
            if is_array:
                annotation = f"list[{annotation}]"
        if annotation == innermost.annotation:
            return innermost
        return PyType(annotation, "list")

    def type(self, type_: syntax.Type) -> PyType:
        if isinstance(type_, syntax.BaseType):
            return self._base(type_.name)
        if isinstance(type_, syntax.NamedType):
            return self._named(type_.name)
        if isinstance(type_, syntax.Pointer):
            return self._pointer(type_)
        if isinstance(type_, syntax.Array | syntax.SafeArrayType):
            return self._array_of(type_.element)
        if isinstance(type_, syntax.EnumType):
            return self._declared(type_.tag, "enum") if type_.tag else PyType("int", "int")
        if isinstance(type_, syntax.StructType):
            return self._declared(type_.tag, "struct") if type_.tag else PyType("object", "object")
        if isinstance(type_, syntax.UnionType):
            return self._declared(type_.tag, "union") if type_.tag else PyType("object", "object")
        return PyType("object", "object")

    def _base(self, name: str) -> PyType:
        if name == "boolean":
            return PyType("bool", "bool")
        if name == "handle_t":  # an explicit binding handle: not marshaled, any value (None)
            return PyType("object", "object")
        if name in INTEGER_KINDS:
            return PyType("int", "int")
        if name in FLOAT_NAMES:
            return PyType("float", "float")
        return PyType("object", "object")

    def _named(self, name: str) -> PyType:
        found = self._named_cache.get(name)
        if found is None:
            found = self._named_uncached(name)
            if "_idl." not in found.annotation:
                self._named_cache[name] = found
        return found

    def _named_uncached(self, name: str) -> PyType:
        if name in STRING_TYPEDEFS:
            return PyType("str", "str")
        if name in GUID_TYPEDEFS:
            return PyType("_rt.GUID", "guid")
        if name in FLOAT_NAMES:
            return PyType("float", "float")
        if name in ("VARIANT_BOOL",):
            return PyType("bool", "bool")
        found = self.document.lookup(name)
        if isinstance(found, model.Interface):
            if not has_class(found):
                return PyType("object", "object")
            return PyType(self._spell(name), "interface")
        if isinstance(found, model.Typedef):
            return self._typedef(found)
        if name in ("IUnknown", "IInspectable"):
            return PyType("_rt.IUnknown", "interface")
        return PyType("object", "object")

    def _typedef(self, typedef: model.Typedef) -> PyType:
        target = typedef.type
        defined = self._defined(getattr(target, "tag", None) or typedef.name)
        if isinstance(target, syntax.EnumType) and target.values is not None and defined:
            return PyType(self._spell(typedef.name), "enum")
        if isinstance(target, syntax.StructType) and target.fields is not None and defined:
            return PyType(self._spell(typedef.name), "struct")
        if isinstance(target, syntax.UnionType) and defined:
            return PyType(self._spell(typedef.name), "union")
        if isinstance(target, syntax.StructType | syntax.EnumType) and target.tag:
            return self._declared(
                target.tag, "struct" if isinstance(target, syntax.StructType) else "enum"
            )
        return self.type(target)

    def _declared(self, tag: str, kind: str) -> PyType:
        """A struct/enum/union by tag: its class is named after the typedef that named it.
        A type that is only declared (`struct S;`) has no class: it is `object`."""
        if not self._defined(tag):
            return PyType("object", "object")
        return PyType(self._spell(self._typedef_for_tag.get(tag, tag)), kind)

    def _defined(self, name: str) -> bool:
        return name in self._tagged_names

    def _pointer(self, type_: syntax.Pointer) -> PyType:
        target = type_.target
        if isinstance(target, syntax.BaseType | syntax.NamedType) and target.name in CHAR_NAMES:
            return PyType("str", "str")
        mapped = self.type(target)
        if mapped.kind == "interface":
            return mapped
        if isinstance(target, syntax.BaseType) and target.name == "void":
            return PyType("object", "object")
        return mapped

    def _array_of(self, element: syntax.Type) -> PyType:
        if isinstance(element, syntax.BaseType | syntax.NamedType):
            if element.name in BYTE_NAMES:
                return PyType("bytes", "bytes")
            if element.name in CHAR_NAMES:
                return PyType("str", "str")
        inner = self.type(element)
        return PyType(f"list[{inner.annotation}]", "list")

    def _spell(self, name: str) -> str:
        return self.qualify(name) or "object"
