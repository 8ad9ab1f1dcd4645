"""The size in memory of an IDL type, where the checks need one, or None.

widl checks that `iid_is` names a pointer to a GUID by the size of what it points at
(16 bytes: `REFIID`, `const IID *`, `GUID *` or any 16-byte struct), not by name.
Sizes follow the C layout widl computes for a 64-bit target: natural alignment, a
struct rounded up to its largest member. A type whose size this cannot know (an
array sized by a name, a union, a bit field) gives None, and a check that needs it
is skipped rather than guessed.
"""

from __future__ import annotations

from idlgen import model
from idlgen.frontend import syntax

_POINTER = 8
_BASE_SIZES = {
    "char": 1,
    "small": 1,
    "byte": 1,
    "boolean": 1,
    "short": 2,
    "wchar_t": 2,
    "int": 4,
    "long": 4,
    "float": 4,
    "error_status_t": 4,
    "__int32": 4,
    "hyper": 8,
    "double": 8,
    "__int64": 8,
    "__int3264": _POINTER,
    "handle_t": _POINTER,
}


def _base_size(name: str) -> int | None:
    """`unsigned long` and `signed char` are as large as `long` and `char`."""
    return _BASE_SIZES.get(name.removeprefix("unsigned ").removeprefix("signed "))


def size_of(document: model.Document, type_: object, depth: int = 0) -> int | None:
    """Bytes a value of `type_` takes (a syntax type or a declaration), or None."""
    return _layout(document, type_, depth)[0]


def _layout(document: model.Document, type_: object, depth: int) -> tuple[int | None, int]:
    """(size, alignment); depth guards against typedef and struct cycles."""
    if depth > 64:
        return None, 1
    if isinstance(type_, syntax.Pointer):
        return _POINTER, _POINTER
    if isinstance(type_, syntax.BaseType):
        size = _base_size(type_.name)
        return size, size or 1
    if isinstance(type_, syntax.Array):
        element, alignment = _layout(document, type_.element, depth + 1)
        count = type_.size.value if isinstance(type_.size, syntax.Number) else None
        if element is None or not isinstance(count, int):
            return None, alignment
        return element * count, alignment
    if isinstance(type_, syntax.NamedType):
        return _layout(document, document.lookup(type_.name), depth + 1)
    if isinstance(type_, model.Typedef):
        return _layout(document, type_.type, depth + 1)
    if isinstance(type_, model.Enum | syntax.EnumType):
        return 4, 4
    if isinstance(type_, model.Struct):
        return _struct_layout(document, type_.fields, depth)
    if isinstance(type_, syntax.StructType):
        if type_.fields is not None:
            return _struct_layout(document, type_.fields, depth)
        return _layout(document, document.lookup(f"tag:{type_.tag}"), depth + 1)
    return None, 1


def _struct_layout(
    document: model.Document, fields: tuple[model.Field | syntax.Field, ...], depth: int
) -> tuple[int | None, int]:
    offset, widest = 0, 1
    for field in fields:
        size, alignment = _layout(document, field.type, depth + 1)
        if size is None or field.bits is not None:
            return None, widest
        offset = -(-offset // alignment) * alignment + size
        widest = max(widest, alignment)
    return -(-offset // widest) * widest, widest
