"""The descriptor vocabulary: what the code generator instantiates from the IDL model.

Each descriptor states the wire shape of one IDL type; the engine (ndr_engine.py) interprets
them.  Composite descriptors compare by identity (``eq=False``): they may be recursive (through
`Forward`), and the engine caches per-descriptor facts such as alignment keyed on identity.
Expression attributes hold an `Expr` tree; C text is accepted too and parsed once, here.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from idlgen.runtime.com.guid import GUID as GuidValue
from idlgen.runtime.ndr.expr import Expr, parse_expr

PointerKind = Literal["ref", "unique", "full"]


@dataclass(frozen=True, slots=True)
class Primitive:
    """A base type: its struct format, size (= NDR alignment) and accepted Python range."""

    name: str
    fmt: str
    size: int
    kind: Literal["int", "bool", "float"]
    lo: int = 0
    hi: int = 0
    bytes_like: bool = False  # arrays of it are Python `bytes`
    unsigned_view: bool = False  # accepts negative values too, decodes unsigned (HRESULT)


def _int(name: str, fmt: str, size: int, signed: bool, **kw: Any) -> Primitive:
    bits = size * 8
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    return Primitive(name, fmt, size, "int", lo, hi, **kw)


SMALL = _int("small", "b", 1, True)
USMALL = _int("unsigned small", "B", 1, False)
BYTE = _int("byte", "B", 1, False, bytes_like=True)
CHAR = _int("char", "B", 1, False, bytes_like=True)
BOOLEAN = Primitive("boolean", "B", 1, "bool")
SHORT = _int("short", "h", 2, True)
USHORT = _int("unsigned short", "H", 2, False)
WCHAR = _int("wchar_t", "H", 2, False)
LONG = _int("long", "i", 4, True)
ULONG = _int("unsigned long", "I", 4, False)
HYPER = _int("hyper", "q", 8, True)
UHYPER = _int("unsigned hyper", "Q", 8, False)
FLOAT = Primitive("float", "f", 4, "float")
DOUBLE = Primitive("double", "d", 8, "float")
ERROR_STATUS_T = _int("error_status_t", "I", 4, False)
HRESULT = Primitive("HRESULT", "I", 4, "int", -(1 << 31), (1 << 32) - 1, unsigned_view=True)
ENUM16 = _int("enum", "h", 2, True)  # NDR enums are 16-bit unless [v1_enum]
ENUM32 = _int("v1_enum", "i", 4, True)


@dataclass(frozen=True, eq=False)
class Enum:
    """An IDL enum; `factory` (an IntEnum class) wraps decoded values it knows."""

    name: str
    wire: Primitive = ENUM16
    factory: Callable[[int], Any] | None = None


@dataclass(frozen=True, eq=False)
class Field:
    name: str
    type: NdrType


@dataclass(frozen=True, eq=False)
class Struct:
    """A struct; `factory(**fields)` builds decoded values (dict when None).

    Decoded objects must accept attribute assignment (plain or frozen dataclasses do): embedded
    pointers' pointees come later in the buffer and are filled in after construction.
    """

    name: str
    fields: tuple[Field, ...]
    factory: Callable[..., Any] | None = None


@dataclass(eq=False)
class Forward:
    """A named placeholder that lets a struct point to itself (linked lists, trees)."""

    name: str
    target: NdrType | None = None

    def resolve(self, target: NdrType) -> None:
        self.target = target


@dataclass(frozen=True, eq=False)
class Pointer:
    """ref / unique / ptr(full). A top-level [ref] parameter pointer is stripped by the method."""

    kind: PointerKind
    target: NdrType


def _expr(value: object) -> Expr | None:
    """Attributes are typed as Expr; C text is accepted too (tests, hand-written descriptors)."""
    return parse_expr(value) if isinstance(value, str) else value  # type: ignore[return-value]


@dataclass(frozen=True, eq=False)
class FixedArray:
    elem: NdrType
    count: int


@dataclass(frozen=True, eq=False)
class ConformantArray:
    """[size_is(e)] or [max_is(e)] T a[]; with neither, the count is the value's length."""

    elem: NdrType
    size_is: Expr | None = None
    max_is: Expr | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "size_is", _expr(self.size_is))
        object.__setattr__(self, "max_is", _expr(self.max_is))


@dataclass(frozen=True, eq=False)
class VaryingArray:
    """[length_is(e), first_is(f)] T a[N]: the Python value is the transmitted slice."""

    elem: NdrType
    count: int
    length_is: Expr | None = None
    first_is: Expr | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "length_is", _expr(self.length_is))
        object.__setattr__(self, "first_is", _expr(self.first_is))


@dataclass(frozen=True, eq=False)
class ConformantVaryingArray:
    elem: NdrType
    size_is: Expr | None = None
    max_is: Expr | None = None
    length_is: Expr | None = None
    first_is: Expr | None = None

    def __post_init__(self) -> None:
        for name in ("size_is", "max_is", "length_is", "first_is"):
            object.__setattr__(self, name, _expr(getattr(self, name)))


@dataclass(frozen=True, eq=False)
class String:
    """[string] char/wchar_t: conformant-varying with the NUL counted; `fixed` for char s[N]."""

    char: Primitive = WCHAR
    size_is: Expr | None = None
    fixed: int | None = None
    encoding: str = "latin-1"  # for 8-bit strings; wide strings are UTF-16LE

    def __post_init__(self) -> None:
        object.__setattr__(self, "size_is", _expr(self.size_is))


@dataclass(frozen=True, eq=False)
class Arm:
    cases: tuple[int, ...]
    type: NdrType | None  # None: an empty arm


class _NoDefault:
    def __repr__(self) -> str:
        return "NO_DEFAULT"


NO_DEFAULT: Any = _NoDefault()


@dataclass(frozen=True, eq=False)
class Union:
    """A non-encapsulated union; `switch_is` names the discriminant's field or parameter.

    Its Python value is the selected arm's value alone: the discriminant lives in that field.
    """

    switch_type: Primitive
    arms: tuple[Arm, ...]
    switch_is: Expr | None = None
    default: NdrType | None = NO_DEFAULT

    def __post_init__(self) -> None:
        object.__setattr__(self, "switch_is", _expr(self.switch_is))


@dataclass(frozen=True, eq=False)
class EncapsulatedUnion:
    """union switch (type d) u {...}: the Python value is a `Tagged(tag, value)`."""

    name: str
    switch_type: Primitive
    arms: tuple[Arm, ...]
    default: NdrType | None = NO_DEFAULT


@dataclass(eq=False)
class Tagged:
    """The value of an encapsulated union (mutable: a deferred pointee may fill `value`)."""

    tag: int
    value: Any = None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Tagged) and (self.tag, self.value) == (other.tag, other.value)

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True, eq=False)
class InterfacePointer:
    """An interface pointer (IFoo*): a unique pointer to MInterfacePointer carrying an OBJREF."""

    iid: uuid.UUID | GuidValue | None = None
    iid_is: Expr | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "iid_is", _expr(self.iid_is))


@dataclass(frozen=True, eq=False)
class WireMarshal:
    """[wire_marshal]/[user_marshal]: a Python value converted to/from a wire type.

    `to_wire` raises ValueError for unrepresentable values; `from_wire` raises NdrFault for bad
    wire values.  The wire type must be a pointer or hold no embedded pointers (so `from_wire`
    sees complete values).
    """

    name: str
    wire: NdrType
    to_wire: Callable[[Any], Any]
    from_wire: Callable[[Any], Any]


@dataclass(frozen=True, eq=False)
class Guid:
    """GUID: struct {long; short; short; byte[8]}: 16 bytes aligned to 4 (runtime GUID class).

    Encoding accepts anything with a 16-byte `bytes_le` (GUID, uuid.UUID) or raw 16 bytes.
    """

    factory: Callable[[bytes], Any] = GuidValue.from_bytes_le


GUID = Guid()


@dataclass
class ContextHandle:
    """A context handle's wire form, ndr_context_handle ([C706] 14.3.10, [MS-RPCE] 2.2.6.1):
    attributes and a UUID. The all-zero value is the NULL handle a client starts with."""

    attributes: int = 0
    uuid: GuidValue = field(default_factory=lambda: GuidValue(0))

    @property
    def is_null(self) -> bool:
        return self.attributes == 0 and self.uuid == GuidValue(0)


CONTEXT_HANDLE = Struct(
    "ndr_context_handle", (Field("attributes", ULONG), Field("uuid", GUID)), factory=ContextHandle
)

NdrType = (
    Primitive
    | Enum
    | Struct
    | Forward
    | Pointer
    | FixedArray
    | ConformantArray
    | VaryingArray
    | ConformantVaryingArray
    | String
    | Union
    | EncapsulatedUnion
    | InterfacePointer
    | WireMarshal
    | Guid
)
