"""Which attributes exist, where each may stand, and what a uuid looks like.

widl refuses an attribute it does not know (a syntax error) and one written where it
does not apply (`inapplicable attribute X for <place>`); idlgen does the same, so a
misspelt `[outt]` can never quietly turn an out-parameter into an input. The table
below was read off widl by compiling every attribute in every place (the test
tests/frontend/test_attributes_widl.py compares it with widl again). Additions, each
documented in docs/dialect.md:

- MIDL's `first_is`, `last_is`, `max_is`, `min_is`, which the NDR layer implements
  (widl does not know them);
- the WinRT attributes (widl reads them only in WinRT mode, and newer widl knows a few
  more): known everywhere, their placement is not checked.

The check runs on each parsed file, imported ones included (widl checks them too).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from enum import Enum
from typing import TypeVar

from idlgen.diagnostics import DiagnosticSink
from idlgen.frontend import attribute_args, syntax


class Arguments(Enum):
    NONE = "none"  # `[in]`: `in(...)` is an error
    REQUIRED = "required"  # `[size_is(n)]`: a bare `size_is` is an error
    OPTIONAL = "optional"  # `lcid` (a parameter flag) and `lcid(0x409)` (a library's)


NONE, REQUIRED, OPTIONAL = Arguments.NONE, Arguments.REQUIRED, Arguments.OPTIONAL

# Places, as widl names them in its "inapplicable attribute" message.
INTERFACE = "interface"
DISPINTERFACE = "dispinterface"
METHOD = "function"  # methods, dispinterface methods, module and top-level functions
PARAM = "argument"
TYPEDEF = "typedef"
STRUCT = "struct"
UNION = "union"
ENUM = "enum"
ENUM_MEMBER = "enum member"
FIELD = "field"  # struct fields, union arms, dispinterface properties
LIBRARY = "library"
MODULE = "module"
COCLASS = "coclass"

# Where documentation attributes (helpstring & co.) may stand.
_DOCUMENTED = {COCLASS, DISPINTERFACE, ENUM, INTERFACE, LIBRARY, METHOD, MODULE, TYPEDEF}

# name -> (arguments, places). Read off widl 7 (see the module docstring).
ATTRIBUTES: dict[str, tuple[Arguments, frozenset[str]]] = {
    name: (arguments, frozenset(places))
    for name, arguments, places in [
        ("aggregatable", NONE, {COCLASS}),
        ("annotation", REQUIRED, {PARAM}),
        ("appobject", NONE, {COCLASS}),
        ("async", NONE, {METHOD}),
        (
            "async_uuid",
            REQUIRED,
            {COCLASS, DISPINTERFACE, ENUM, INTERFACE, LIBRARY, MODULE, TYPEDEF},
        ),
        ("auto_handle", NONE, {INTERFACE}),
        ("bindable", NONE, {METHOD}),
        ("broadcast", NONE, {METHOD}),
        ("call_as", REQUIRED, {METHOD}),
        ("case", REQUIRED, {FIELD}),
        ("code", NONE, {INTERFACE, METHOD}),
        ("comm_status", NONE, {METHOD, PARAM}),
        ("context_handle", NONE, {TYPEDEF}),
        ("context_handle_noserialize", NONE, {TYPEDEF}),
        ("context_handle_serialize", NONE, {TYPEDEF}),
        ("control", NONE, {COCLASS, LIBRARY}),
        (
            "custom",
            REQUIRED,
            {DISPINTERFACE, ENUM, ENUM_MEMBER, FIELD, INTERFACE, LIBRARY, METHOD, MODULE}
            | {PARAM, STRUCT, TYPEDEF, UNION},
        ),
        ("decode", NONE, {INTERFACE, METHOD, TYPEDEF}),
        ("default", NONE, {DISPINTERFACE, FIELD, INTERFACE}),
        ("defaultbind", NONE, {METHOD}),
        ("defaultcollelem", NONE, {METHOD}),
        ("defaultvalue", REQUIRED, {PARAM}),
        ("defaultvtable", NONE, {COCLASS}),
        ("disable_consistency_check", NONE, {PARAM}),
        ("displaybind", NONE, {METHOD}),
        ("dllname", REQUIRED, {MODULE}),
        ("dual", NONE, {INTERFACE}),
        ("enable_allocate", NONE, {INTERFACE}),
        ("encode", NONE, {INTERFACE, METHOD, TYPEDEF}),
        ("endpoint", REQUIRED, {INTERFACE}),
        ("entry", REQUIRED, {METHOD}),
        ("explicit_handle", NONE, {INTERFACE}),
        ("fault_status", NONE, {METHOD, PARAM}),
        ("first_is", REQUIRED, {FIELD, PARAM}),
        ("force_allocate", NONE, {PARAM}),
        ("handle", NONE, {TYPEDEF}),
        ("helpcontext", REQUIRED, _DOCUMENTED),
        ("helpfile", REQUIRED, {LIBRARY}),
        ("helpstring", REQUIRED, _DOCUMENTED),
        ("helpstringcontext", REQUIRED, _DOCUMENTED),
        ("helpstringdll", REQUIRED, {LIBRARY}),
        (
            "hidden",
            NONE,
            {COCLASS, DISPINTERFACE, ENUM, ENUM_MEMBER, INTERFACE, LIBRARY, METHOD}
            | {MODULE, TYPEDEF},
        ),
        ("id", REQUIRED, {FIELD, LIBRARY, METHOD}),
        ("idempotent", NONE, {METHOD}),
        ("ignore", NONE, {FIELD}),
        ("iid_is", REQUIRED, {FIELD, PARAM}),
        ("immediatebind", NONE, {METHOD}),
        ("implicit_handle", REQUIRED, {INTERFACE}),
        ("in", NONE, {PARAM}),
        ("input_sync", NONE, {METHOD}),
        ("last_is", REQUIRED, {FIELD, PARAM}),
        ("lcid", OPTIONAL, {LIBRARY, PARAM}),
        ("length_is", REQUIRED, {FIELD, METHOD, PARAM}),
        ("licensed", NONE, {COCLASS}),
        ("local", NONE, {INTERFACE, METHOD}),
        ("max_is", REQUIRED, {FIELD, PARAM}),
        ("maybe", NONE, {METHOD}),
        ("message", NONE, {METHOD}),
        ("min_is", REQUIRED, {FIELD, PARAM}),
        ("nocode", NONE, {INTERFACE, METHOD}),
        ("nonbrowsable", NONE, {METHOD}),
        ("noncreatable", NONE, {COCLASS}),
        ("nonextensible", NONE, {INTERFACE}),
        ("notify", NONE, {METHOD}),
        ("notify_flag", NONE, {METHOD}),
        ("object", NONE, {INTERFACE}),
        ("odl", NONE, {DISPINTERFACE, INTERFACE}),
        ("oleautomation", NONE, {INTERFACE}),
        ("optimize", REQUIRED, {INTERFACE, METHOD}),
        ("optional", NONE, {PARAM}),
        ("out", NONE, {PARAM}),
        ("overload", REQUIRED, {METHOD}),
        ("partial_ignore", NONE, {PARAM}),
        ("pointer_default", REQUIRED, {INTERFACE}),
        ("progid", REQUIRED, {COCLASS}),
        ("propget", NONE, {METHOD}),
        ("propput", NONE, {METHOD}),
        ("propputref", NONE, {METHOD}),
        ("proxy", NONE, {INTERFACE}),
        ("ptr", NONE, {FIELD, METHOD, PARAM, TYPEDEF}),
        ("public", NONE, {TYPEDEF}),
        ("range", REQUIRED, {ENUM, FIELD, METHOD, PARAM, TYPEDEF}),
        ("readonly", NONE, {FIELD, PARAM}),
        ("ref", NONE, {FIELD, METHOD, PARAM, TYPEDEF}),
        ("represent_as", REQUIRED, {TYPEDEF}),
        ("requestedit", NONE, {METHOD}),
        (
            "restricted",
            NONE,
            {COCLASS, DISPINTERFACE, ENUM, INTERFACE, LIBRARY, METHOD, MODULE, STRUCT} | {TYPEDEF},
        ),
        ("retval", NONE, {PARAM}),
        ("size_is", REQUIRED, {FIELD, METHOD, PARAM}),
        ("source", NONE, {DISPINTERFACE, INTERFACE, METHOD}),
        ("strict_context_handle", NONE, {INTERFACE}),
        ("string", NONE, {FIELD, METHOD, PARAM, TYPEDEF}),
        ("switch_is", REQUIRED, {FIELD, PARAM}),
        ("switch_type", REQUIRED, {FIELD, TYPEDEF}),
        ("threading", REQUIRED, {COCLASS}),
        ("transmit_as", REQUIRED, {TYPEDEF}),
        ("uidefault", NONE, {METHOD}),
        ("unique", NONE, {FIELD, METHOD, PARAM, TYPEDEF}),
        ("user_marshal", REQUIRED, {METHOD}),
        ("usesgetlasterror", NONE, {TYPEDEF}),
        (
            "uuid",
            REQUIRED,
            {COCLASS, DISPINTERFACE, ENUM, INTERFACE, LIBRARY, MODULE, STRUCT, TYPEDEF},
        ),
        ("v1_enum", NONE, {ENUM, METHOD, PARAM, TYPEDEF}),
        ("vararg", NONE, {METHOD}),
        ("version", REQUIRED, {COCLASS, ENUM, INTERFACE, LIBRARY, MODULE, TYPEDEF}),
        ("vi_progid", REQUIRED, {COCLASS}),
        ("wire_marshal", REQUIRED, {TYPEDEF}),
    ]
}
# `lcid(0x409)` is a library's locale, a bare `lcid` marks a method's locale parameter.
_LCID_WITH_ARGUMENT = frozenset({LIBRARY})
_LCID_FLAG = frozenset({PARAM})

# WinRT attributes: known in every place (widl 7 reads them only in WinRT mode; the
# last five come from newer widl releases and the Windows SDK's WinRT headers).
WINRT_ATTRIBUTES: dict[str, Arguments] = {
    "activatable": REQUIRED,
    "agile": NONE,
    "contract": REQUIRED,
    "contractversion": REQUIRED,
    "eventadd": NONE,
    "eventremove": NONE,
    "exclusiveto": REQUIRED,
    "flags": NONE,
    "marshaling_behavior": REQUIRED,
    "static": REQUIRED,
    "composable": REQUIRED,
    "default_overload": REQUIRED,
    "deprecated": REQUIRED,
    "overridable": NONE,
    "protected": NONE,
}

KNOWN_ATTRIBUTES = frozenset(ATTRIBUTES) | frozenset(WINRT_ATTRIBUTES)

# Microsoft's WinRT metadata attributes that the Windows SDK's WinRT headers use and
# widl does not know: accepted in WinRT files only (`#pragma winrt`), with any
# arguments, anywhere. They describe projections and metadata; nothing idlgen emits
# (vtables, IIDs, Python classes) depends on them.
SDK_WINRT_ATTRIBUTES = frozenset(
    {
        "allowforweb",
        "allowmultiple",
        "attributename",
        "attributeusage",
        "constructor_name",
        "contentproperty",
        "dualapipartition",
        "experimental",
        "feature",
        "hasvariant",
        "interface_name",
        "internal",
        "metadata_marshal",
        "muse",
        "noexcept",
        "platform",
        "previous_contract",
        "remote_async",
        "remote_sync",
        "standardattribute",
        "webhosthidden",
    }
)
UUID_ATTRIBUTES = frozenset({"uuid", "async_uuid"})
_UUID_TEXT = re.compile(
    r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
)


def suggestion(name: str) -> str | None:
    """The known attribute closest to a misspelt one, if any is close."""
    import difflib  # only for a misspelt attribute: a clean compile never loads it

    close = difflib.get_close_matches(name, sorted(KNOWN_ATTRIBUTES), n=1, cutoff=0.6)
    return close[0] if close else None


def check_file(
    file: syntax.File, sink: DiagnosticSink, copies: Mapping[int, object] | None = None
) -> None:
    """Report every unknown, misplaced or malformed attribute of one parsed file.

    `copies` maps (by `id`) dispinterface members the parser rebuilt to the member
    they copy (parser.parse): a copy of a member checked clean is clean too, since
    these checks read a member's attributes and types, never their positions."""
    checker = _Checker(sink, file.winrt)
    if copies:
        SkippingCopies(checker.attribute, copies, sink).items(file.items)
    else:
        AttributeWalker(checker.attribute).items(file.items)


Visit = Callable[[syntax.Attribute, "str | None"], None]


class _Checker:
    def __init__(self, sink: DiagnosticSink, winrt: bool = False) -> None:
        self.sink = sink
        self.winrt = winrt
        # (name, place) of attributes without arguments found clean: what the checks
        # say of those depends on nothing else, and most attributes are such
        # (`in`, `out`, `propget`...), so each is checked once per file and place.
        self.clean: set[tuple[str, str | None]] = set()

    def attribute(self, attribute: syntax.Attribute, place: str | None) -> None:
        """`place` None: any known attribute may stand there (coclass members, WinRT)."""
        name = attribute.name
        if attribute.args:
            self._check(attribute, name, place)
        elif (name, place) not in self.clean:
            errors = self.sink.error_count, self.sink.dropped_errors
            self._check(attribute, name, place)
            if (self.sink.error_count, self.sink.dropped_errors) == errors:
                self.clean.add((name, place))

    def _check(self, attribute: syntax.Attribute, name: str, place: str | None) -> None:
        if self.winrt and name in SDK_WINRT_ATTRIBUTES:
            return
        if name not in KNOWN_ATTRIBUTES:
            message = f"unknown attribute '{name}'"
            close = suggestion(name)
            if close is not None:
                message += f"; did you mean '{close}'?"
            self.sink.error(message, attribute.pos)
            return
        arguments, places = ATTRIBUTES.get(name, (WINRT_ATTRIBUTES.get(name, OPTIONAL), None))
        if arguments is NONE and attribute.args:
            self.sink.error(f"attribute '{name}' takes no arguments", attribute.pos)
        elif arguments is REQUIRED and not attribute.args:
            self.sink.error(f"attribute '{name}' needs an argument: {name}(...)", attribute.pos)
        if name == "lcid" and places is not None:
            places = _LCID_WITH_ARGUMENT if attribute.args else _LCID_FLAG
        if place is not None and places is not None and place not in places:
            self.sink.error(f"inapplicable attribute {name} for {place}", attribute.pos)
        if attribute.args and (name in UUID_ATTRIBUTES or name == "custom"):
            self.uuid(attribute.args[0], name, attribute)  # custom(GUID, value)
        if attribute.args and arguments is not NONE:
            self.argument_shape(attribute)

    def argument_shape(self, attribute: syntax.Attribute) -> None:
        found = attribute_args.problem(attribute)
        if found is not None:
            message, culprit = found
            pos = getattr(culprit, "pos", attribute.pos)
            self.sink.error(message, attribute.pos if pos == syntax.NOWHERE else pos)

    def uuid(self, arg: object, name: str, attribute: syntax.Attribute) -> None:
        if isinstance(arg, syntax.Uuid):
            return
        if isinstance(arg, syntax.String) and _UUID_TEXT.fullmatch(arg.value):
            return
        pos = getattr(arg, "pos", attribute.pos)
        if pos == syntax.NOWHERE:
            pos = attribute.pos
        self.sink.error(
            f"invalid UUID in {name}(...): expected xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx "
            "(hexadecimal digits, quoted or not)",
            pos,
        )


class AttributeWalker:
    """Visits every attribute of a file with the place it stands in (widl's names);
    the checks here and the constant checks after resolution share it. The constant
    checks walk with a lean subclass (semantics/attribute_values.py, `_ValueWalk`) that
    writes out `item`, `method`, `params` and `type` for the common nodes: a new node
    kind or attribute place added here must be added there too
    (tests/semantics/test_value_walk.py compares the two walks)."""

    def __init__(
        self,
        visit: Visit,
        visit_array: Callable[[syntax.Array], None] | None = None,
        visit_list: Callable[[tuple[syntax.Attribute, ...]], None] | None = None,
    ) -> None:
        self.visit = visit
        self.visit_array = visit_array
        self.visit_list = visit_list

    def attributes(self, attributes: tuple[syntax.Attribute, ...], place: str | None) -> None:
        if self.visit_list is not None and attributes:
            self.visit_list(attributes)
        for attribute in attributes:
            self.visit(attribute, place)

    # -- declarations ------------------------------------------------------

    def items(self, items: Iterable[object]) -> None:
        for item in items:
            self.item(item)

    def item(self, item: object) -> None:
        if isinstance(item, syntax.Interface):
            self.interface(item)
        elif isinstance(item, syntax.Typedef):
            self.attributes(item.attributes, TYPEDEF)
            self.type(item.type)
        elif isinstance(item, syntax.TypeDeclaration):
            self.attributes(item.attributes, _type_place(item.type))
            self.type(item.type)
        elif isinstance(item, syntax.Declaration):
            is_function = isinstance(item.type, syntax.FunctionType)
            self.attributes(item.attributes, METHOD if is_function else None)
            self.type(item.type)
        elif isinstance(item, syntax.Method):
            self.method(item)
        elif isinstance(item, _CLASSES):
            winrt = isinstance(item, syntax.RuntimeClass)
            self.attributes(item.attributes, None if winrt else COCLASS)
            for member in item.interfaces:
                self.attributes(member.attributes, None)
        elif isinstance(item, syntax.Library):
            self.attributes(item.attributes, LIBRARY)
            self.items(item.items)
        elif isinstance(item, syntax.ModuleDecl):
            self.attributes(item.attributes, MODULE)
            self.items(item.items)
        elif isinstance(item, syntax.Namespace):
            self.attributes(item.attributes, None)
            self.items(item.items)
        elif isinstance(item, syntax.ApiContract):
            self.attributes(item.attributes, None)
        elif isinstance(item, syntax.Delegate):
            self.attributes(item.attributes, None)
            self.params(item.params)

    def interface(self, item: syntax.Interface) -> None:
        generic = bool(item.type_params)  # a WinRT template: checked as WinRT
        place = DISPINTERFACE if item.kind == "dispinterface" else INTERFACE
        self.attributes(item.attributes, None if generic else place)
        for member in item.members:
            self.item(member)
        for field in item.properties:
            self.field(field)

    def method(self, method: syntax.Method) -> None:
        self.attributes(method.attributes, METHOD)
        self.type(method.return_type)
        self.params(method.params)

    def params(self, params: Iterable[syntax.Param]) -> None:
        for param in params:
            self.attributes(param.attributes, PARAM)
            self.type(param.type)

    def field(self, field: syntax.Field) -> None:
        self.attributes(field.attributes, FIELD)
        self.type(field.type)

    def type(self, type_: object) -> None:
        while isinstance(type_, _WRAPPERS):
            if isinstance(type_, syntax.Array) and self.visit_array is not None:
                self.visit_array(type_)
            type_ = type_.target if isinstance(type_, syntax.Pointer) else type_.element
        if isinstance(type_, syntax.StructType):
            for field in type_.fields or ():
                self.field(field)
        elif isinstance(type_, syntax.UnionType):
            for field in type_.fields or ():
                self.field(field)
            for case in type_.cases or ():
                if case.field is not None:
                    self.field(case.field)
        elif isinstance(type_, syntax.EnumType):
            for value in type_.values or ():
                self.attributes(value.attributes, ENUM_MEMBER)
        elif isinstance(type_, syntax.FunctionType):
            self.type(type_.return_type)
            self.params(type_.params)


# Tuples, not `A | B`: a union written in a test is built again at every test.
_WRAPPERS = (syntax.Pointer, syntax.Array)
_CLASSES = (syntax.Coclass, syntax.RuntimeClass)


class SkippingCopies(AttributeWalker):
    """A walker that passes over a member the parser rebuilt from one found clean
    (`member_memo`: `copies` maps a copy's id to its original). A copy has its
    original's attributes and types at other positions, and a check reads no position
    unless it reports, so a copy comes out as its original did; a member that reported
    anything is checked again at each copy, which then reports at its own place. Used by
    the checks here (`check_file`) and by the constant checks after resolution
    (semantics/attribute_values.py), where `mshtml.idl`'s 14,000 repeated members, each
    with an `id(DISPID_...)` of a dozen nodes, were four fifths of its resolution."""

    def __init__(
        self,
        visit: Visit,
        copies: Mapping[int, object],
        sink: DiagnosticSink,
        visit_array: Callable[[syntax.Array], None] | None = None,
        visit_list: Callable[[tuple[syntax.Attribute, ...]], None] | None = None,
    ) -> None:
        super().__init__(visit, visit_array, visit_list)
        self.copies = copies
        self.sink = sink
        self.clean: set[int] = set()  # ids of originals that reported nothing

    def method(self, method: syntax.Method) -> None:
        self._checked(method, super().method)

    def field(self, field: syntax.Field) -> None:
        self._checked(field, super().field)

    def _checked(self, member: _Member, check: Callable[[_Member], None]) -> None:
        original = self.copies.get(id(member))
        if original is not None and id(original) in self.clean:
            return
        sink = self.sink
        # Past max_errors, errors are dropped (counted apart); some checks only warn.
        before = (sink.error_count, sink.dropped_errors, len(sink.raw_warnings))
        check(member)
        if (sink.error_count, sink.dropped_errors, len(sink.raw_warnings)) == before:
            self.clean.add(id(member if original is None else original))


_Member = TypeVar("_Member", syntax.Method, syntax.Field)


def _type_place(type_: syntax.Type) -> str:
    if isinstance(type_, syntax.StructType):
        return STRUCT
    if isinstance(type_, syntax.UnionType):
        return UNION
    return ENUM
