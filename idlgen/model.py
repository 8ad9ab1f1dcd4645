"""The resolved model: the single contract between the front end and every back end.

The resolver builds a `Document` from the syntax of the main file and everything it
imports. Back ends (JSON, Python templates, NDR layouts) read only this module's
classes. Types stay in their syntax form (`idlgen.frontend.syntax` types are frozen
and positioned); what resolution adds is the tables to look names up in
(`Document.lookup`), evaluated constants and enum values, inheritance and async
partners, and the imported/local split.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import field
from enum import StrEnum

from idlgen.frontend import syntax
from idlgen.records import record

Attribute = syntax.Attribute
Type = syntax.Type
Expr = syntax.Expr


class Direction(StrEnum):
    IN = "in"
    OUT = "out"
    INOUT = "in,out"

    @property
    def is_in(self) -> bool:
        return self is not Direction.OUT

    @property
    def is_out(self) -> bool:
        return self is not Direction.IN


@record
class Origin:
    """Where a definition came from; `imported` means not from the main file."""

    file: str
    line: int
    column: int
    imported: bool


def find_attribute(attributes: tuple[Attribute, ...], name: str) -> Attribute | None:
    for attribute in attributes:
        if attribute.name == name:
            return attribute
    return None


class HasAttributes:
    """Mixin for the attribute queries every declaration needs."""

    __slots__ = ()
    attributes: tuple[Attribute, ...]

    # The loop of `find_attribute`, written out: these are asked about 100,000 times
    # per corpus run by the checks and the generator, and a call less shows.
    def attribute(self, name: str) -> Attribute | None:
        for attribute in self.attributes:
            if attribute.name == name:
                return attribute
        return None

    def has(self, name: str) -> bool:
        for attribute in self.attributes:  # noqa: SIM110 (any() over a generator: slower)
            if attribute.name == name:
                return True
        return False


@record
class Param(HasAttributes):
    name: str
    type: Type
    direction: Direction
    attributes: tuple[Attribute, ...] = ()
    named: bool = True  # False when the IDL left the parameter unnamed


# Attributes that rename a method's vtable slot, in order of precedence.
_SLOT_PREFIXES = {
    "propget": "get_",
    "propput": "put_",
    "propputref": "putref_",
    "eventadd": "add_",
    "eventremove": "remove_",
}


@record
class Method(HasAttributes):
    name: str
    return_type: Type
    params: tuple[Param, ...]
    attributes: tuple[Attribute, ...] = ()
    origin: Origin | None = None

    @property
    def vtable_name(self) -> str:
        """The name of the C vtable slot: `[propget] X` is `get_X`, as widl writes it.
        Asked for every inherited slot of every interface generated: one pass over the
        attributes, then the prefixes in their order of precedence."""
        present = {a.name for a in self.attributes}
        for attribute, prefix in _SLOT_PREFIXES.items():
            if attribute in present:
                return prefix + self.name
        return self.name

    @property
    def in_params(self) -> tuple[Param, ...]:
        return tuple([p for p in self.params if p.direction is not Direction.OUT])

    @property
    def out_params(self) -> tuple[Param, ...]:
        return tuple([p for p in self.params if p.direction is not Direction.IN])


@record
class Interface(HasAttributes):
    name: str
    kind: str  # "interface" | "dispinterface"
    uuid: str | None
    parent: str | None
    methods: tuple[Method, ...]
    attributes: tuple[Attribute, ...]
    origin: Origin
    async_partner: str | None = None  # AsyncIFoo for IFoo with [async_uuid]
    async_of: str | None = None  # IFoo for the derived AsyncIFoo
    properties: tuple[Field, ...] = ()  # dispinterface properties
    namespace: str | None = None  # WinRT namespace, dotted
    requires: tuple[str, ...] = ()

    @property
    def is_object(self) -> bool:
        """A COM interface with a vtable: `[object]`/`[odl]`, a dispinterface, or (as widl
        decides) any interface deriving from another; plain RPC interfaces are not."""
        if self.kind == "dispinterface" or self.has("object") or self.has("odl"):
            return True
        return self.parent is not None

    @property
    def is_local(self) -> bool:
        return self.has("local")


@record
class Field(HasAttributes):
    name: str | None
    type: Type
    attributes: tuple[Attribute, ...] = ()
    bits: int | None = None


@record
class Struct(HasAttributes):
    name: str  # the tag, or a synthesized name for an anonymous struct named by a typedef
    fields: tuple[Field, ...]
    attributes: tuple[Attribute, ...]
    origin: Origin


@record
class UnionArm:
    cases: tuple[int, ...]  # evaluated labels; empty for the default arm
    default: bool
    field: Field | None


@record
class Union(HasAttributes):
    name: str
    arms: tuple[UnionArm, ...]
    attributes: tuple[Attribute, ...]
    origin: Origin
    switch_type: Type | None = None  # encapsulated unions only
    switch_name: str | None = None
    union_name: str | None = None

    @property
    def encapsulated(self) -> bool:
        return self.switch_type is not None


@record
class EnumMember:
    name: str
    value: int


@record
class Enum(HasAttributes):
    name: str
    members: tuple[EnumMember, ...]
    attributes: tuple[Attribute, ...]
    origin: Origin


@record
class Typedef(HasAttributes):
    name: str
    type: Type
    attributes: tuple[Attribute, ...]
    origin: Origin


@record
class Constant:
    name: str
    type: Type
    value: int | float | str
    expression: Expr
    origin: Origin


@record
class CoclassMember(HasAttributes):
    name: str
    attributes: tuple[Attribute, ...]


@record
class Coclass(HasAttributes):
    name: str
    uuid: str | None
    interfaces: tuple[CoclassMember, ...]
    attributes: tuple[Attribute, ...]
    origin: Origin
    kind: str = "coclass"  # "coclass" | "runtimeclass"
    namespace: str | None = None
    parent: str | None = None  # the base class of a `runtimeclass X : Base`


@record
class Library(HasAttributes):
    name: str
    uuid: str | None
    attributes: tuple[Attribute, ...]
    members: tuple[str, ...]  # names of what the library block defines, in order
    origin: Origin


@record
class Function(HasAttributes):
    """A function of a plain RPC interface or an IDL `module`."""

    name: str
    return_type: Type
    params: tuple[Param, ...]
    attributes: tuple[Attribute, ...]
    origin: Origin
    owner: str  # the interface or module it belongs to


@record
class CppQuote:
    text: str
    origin: Origin


@record
class Document:
    """Everything the main file can see, in dependency order (imports first)."""

    source: str
    files_read: tuple[str, ...]
    interfaces: tuple[Interface, ...] = ()
    structs: tuple[Struct, ...] = ()
    unions: tuple[Union, ...] = ()
    enums: tuple[Enum, ...] = ()
    typedefs: tuple[Typedef, ...] = ()
    constants: tuple[Constant, ...] = ()
    coclasses: tuple[Coclass, ...] = ()
    libraries: tuple[Library, ...] = ()
    functions: tuple[Function, ...] = ()
    cpp_quotes: tuple[CppQuote, ...] = ()
    winrt: bool = False
    _index: dict[str, object] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        # The first declaration of a name wins. Built for every compile over everything
        # imported, so as two dict displays read backwards rather than a call per item.
        named: tuple[Interface | Typedef | Coclass, ...] = (
            *self.interfaces,
            *self.typedefs,
            *self.coclasses,
        )
        tagged: tuple[Struct | Union | Enum, ...] = (*self.structs, *self.unions, *self.enums)
        self._index.update({item.name: item for item in reversed(named)})
        self._index.update({f"tag:{item.name}": item for item in reversed(tagged)})

    def lookup(self, name: str) -> object | None:
        """The interface, typedef or coclass called `name` (tags: `tag:Name`)."""
        return self._index.get(name)

    def interface(self, name: str) -> Interface | None:
        found = self._index.get(name)
        return found if isinstance(found, Interface) else None

    def ancestry(self, interface: Interface) -> list[Interface]:
        """`interface`, its parent, the parent's parent...: up to the root, or to the
        first one already met when the chain loops (a cycle, reported by resolution)."""
        chain: list[Interface] = []
        current: Interface | None = interface
        while current is not None and current not in chain:
            chain.append(current)
            current = self.interface(current.parent) if current.parent else None
        return chain

    def inherited_methods(self, interface: Interface) -> Iterator[tuple[Interface, Method]]:
        """Every vtable slot of `interface`, inherited ones first, as (owner, method)."""
        for owner in reversed(self.ancestry(interface)):
            for method in owner.methods:
                yield owner, method

    @property
    def tagged_types(self) -> tuple[Struct | Enum | Union, ...]:
        """Structs, enums and unions: the declarations named by a tag."""
        return (*self.structs, *self.enums, *self.unions)
