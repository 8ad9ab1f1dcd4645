"""The checks widl makes after parsing, with widl's wording where it has one.

Errors: an `[out]` parameter that is not a pointer (or an unsized string); a `void *`
parameter of a remotable method without `iid_is`; an `iid_is` that names no pointer to
a GUID; a sizing expression that is no integer, or names something that is neither a
parameter (or sibling field) nor a constant; pointer attributes on a non-pointer;
`[v1_enum]` off an enum. Each problem is reported at the attribute when it has a
position, else at the declaration it is in. Attributes given twice are
`attribute_duplicates`' business.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from functools import partial

from idlgen import model
from idlgen.diagnostics import DiagnosticSink, Position
from idlgen.frontend import syntax
from idlgen.semantics.consteval import INTEGER_KINDS
from idlgen.semantics.expression_types import Kind, kind_of
from idlgen.semantics.reached import Aggregate, reached_aggregates
from idlgen.semantics.sizes import size_of

EXPRESSION_ATTRIBUTES = (
    "size_is",
    "length_is",
    "max_is",
    "min_is",
    "first_is",
    "last_is",
    "iid_is",
    "switch_is",
)

# One expression per pointer or array level: `size_is(, n)` sizes the second level.
# A tuple, not `Pointer | Array`: a union type is built at every evaluation, and
# isinstance against it is 2.5 times slower (asked for every parameter).
_WRAPPERS = (syntax.Pointer, syntax.Array)
_DIMENSION_ATTRIBUTES = ("size_is", "length_is", "max_is", "min_is", "first_is", "last_is")


class _Constants:
    """The names of constants and enum members a sizing expression may use. Gathered
    from every file the document imports, so only when an expression names something
    that is not a parameter or field: most documents never ask."""

    def __init__(self, document: model.Document) -> None:
        self._document = document
        self._names: set[str] | None = None

    def __contains__(self, name: object) -> bool:
        if self._names is None:
            self._names = {c.name for c in self._document.constants}
            self._names |= {m.name for e in self._document.enums for m in e.members}
        return name in self._names


def check_document(document: model.Document, sink: DiagnosticSink) -> None:
    constants = _Constants(document)
    in_library = {name for library in document.libraries for name in library.members}
    sent: list[syntax.Type] = []  # what remotable methods marshal
    for interface in document.interfaces:
        if interface.async_of is not None or interface.origin.imported:
            continue
        where = _position(interface.origin)
        # widl checks marshaling rules only where there is marshaling: not for [local]
        # interfaces and methods, nor for interfaces declared inside a library block.
        remotable = not interface.is_local and interface.name not in in_library
        for method in interface.methods:
            if remotable and not method.has("local"):
                _check_method(document, interface, method, constants, sink)
                sent.append(method.return_type)
                sent.extend(p.type for p in method.params)
            else:
                for param in method.params:
                    _check_levels(document, param.attributes, param.type, sink, where)
                    _check_length_is(document, param, sink, where)
                    _check_void(document, param, sink, where)
    _check_sent_aggregates(document, sent, sink)
    _check_v1_enum_functions(document, sink)
    for struct in document.structs:
        if struct.origin.imported:
            continue
        names = {f.name for f in struct.fields if f.name}
        where = _position(struct.origin)
        for item in struct.fields:
            _check_levels(document, item.attributes, item.type, sink, where)
            _check_length_is(document, item, sink, where)
            _check_names(item.attributes, (names, constants), sink, where)
            _check_anonymous(item, sink)
    for typedef in document.typedefs:
        if not typedef.origin.imported:
            _check_typedef(document, typedef, sink)


def _check_method(
    document: model.Document,
    interface: model.Interface,
    method: model.Method,
    constants: _Constants,
    sink: DiagnosticSink,
) -> None:
    where = _position(method.origin) if method.origin else _position(interface.origin)
    _check_interface_return(document, method, sink, where)
    names = {p.name for p in method.params}
    types = {p.name: p.type for p in method.params}
    for param in method.params:
        _check_levels(document, param.attributes, param.type, sink, where)
        _check_length_is(document, param, sink, where)
        _check_interface_param(document, method, param, sink, where)
        if param.direction.is_out and not _is_pointer_like(document, param.type):
            out = param.attribute("out")
            sink.error(
                f"out parameter '{param.name}' of function '{method.name}' is not a pointer",
                _first_known(out.pos, where) if out is not None else where,
            )
        _check_void(document, param, sink, where)
        if isinstance(_unwrap(document, param.type)[1], syntax.FunctionType):
            sink.error(
                f"parameter '{param.name}' of function '{method.name}' cannot be a function "
                "pointer",
                where,
            )
        if param.direction is model.Direction.OUT and _is_unsized_string(document, param):
            sink.error(
                f"out parameter '{param.name}' of function '{method.name}' cannot be an "
                "unsized string",
                _first_known(out.pos, where) if (out := param.attribute("out")) else where,
            )
        if _is_void_pointer(document, param) and not param.has("iid_is"):
            sink.error(
                f"parameter '{param.name}' of function '{method.name}' cannot derive from void *",
                where,
            )
        _check_names(param.attributes, (names, constants), sink, where)
        _check_iid_is(document, method, param, sink, where)
        _check_integral(document, types, param, sink, where)


def _check_interface_return(
    document: model.Document, method: model.Method, sink: DiagnosticSink, where: Position
) -> None:
    """An interface returned by value cannot be marshaled. widl checks the return
    value with the parameters, so only when there are some (`IUnknown F();` passes)."""
    if not method.params:
        return
    levels, target = _unwrap(document, method.return_type)
    if levels == 0 and isinstance(target, model.Interface):
        sink.error(
            f"parameter 'return value' of function '{method.name}' cannot be a non-pointer "
            "to an interface",
            where,
        )


def _check_sent_aggregates(
    document: model.Document, sent: list[syntax.Type], sink: DiagnosticSink
) -> None:
    """What widl checks only in the structs and unions remotable methods marshal (and
    lets by in those nothing sends): an encapsulated union's discriminant goes on the
    wire as an integer, not a pointer, a floating or a 64-bit value; a member cannot
    be a function pointer, nor an interface without a pointer to it. One walk for the
    whole file: a struct many methods reach is checked once."""
    unwrap = partial(_unwrap, document)
    pointered: dict[str, bool] = {}  # typedef name: a pointer below it (`_has_pointer`)
    for aggregate in reached_aggregates(document, sent, unwrap):
        switch_type = getattr(aggregate, "switch_type", None)
        if switch_type is not None and not _is_discriminant(*unwrap(switch_type)):
            sink.error("union switch type must be an integer, char, or enum", switch_type.pos)
        what, where = _describe(aggregate)
        for role, member in _members(aggregate):
            problem = _unsendable_member(document, member.type, pointered)
            if problem is not None:
                at = _first_known(member.pos, where) if isinstance(member, syntax.Field) else where
                sink.error(f"{role} '{member.name}' of {what} {problem}", at)


def _describe(aggregate: Aggregate) -> tuple[str, Position]:
    """How widl names an aggregate in a message, and where it was declared."""
    name: str | None
    if isinstance(aggregate, model.Struct | model.Union):
        name, where = aggregate.name, _position(aggregate.origin)
    else:
        name, where = aggregate.tag, aggregate.pos
    if isinstance(aggregate, model.Struct | syntax.StructType):
        kind = "struct"
    else:
        kind = "union" if aggregate.switch_type is None else "encapsulated union"
    return (f"{kind} '{name}'" if name else f"an anonymous {kind}"), where


def _members(aggregate: Aggregate) -> Iterator[tuple[str, model.Field | syntax.Field]]:
    if isinstance(aggregate, model.Struct):
        yield from (("field", f) for f in aggregate.fields)
    elif isinstance(aggregate, model.Union):
        yield from (("arm", arm.field) for arm in aggregate.arms if arm.field is not None)
    elif isinstance(aggregate, syntax.StructType):
        yield from (("field", f) for f in aggregate.fields or ())
    else:
        yield from (("arm", f) for f in aggregate.fields or ())
        yield from (("arm", c.field) for c in aggregate.cases or () if c.field is not None)


def _unsendable_member(
    document: model.Document, type_: syntax.Type, pointered: dict[str, bool]
) -> str | None:
    """Why a member of a marshaled struct or union cannot be marshaled, or None."""
    _, target = _unwrap(document, type_)
    if isinstance(target, syntax.FunctionType):
        return "cannot be a function pointer"
    if isinstance(target, model.Interface) and not _has_pointer(document, type_, pointered):
        return "cannot be a non-pointer to an interface"  # arrays of them too
    return None


def _has_pointer(document: model.Document, type_: object, pointered: dict[str, bool]) -> bool:
    """A pointer anywhere between a member and the interface it names, through arrays
    and typedefs (`IUnknown *u[2]`, `LPUNKNOWN u`). Each typedef's answer is kept in
    `pointered`, so a long chain of them is walked once, not once per member."""
    walked: dict[str, None] = {}  # in order, and asked in O(1)
    while True:
        if isinstance(type_, syntax.Pointer):
            found = True
            break
        if isinstance(type_, syntax.Array):
            type_ = type_.element
            continue
        if not isinstance(type_, syntax.NamedType) or type_.name in walked:
            found = False  # an interface by name, or a cycle (reported elsewhere)
            break
        if type_.name in pointered:
            found = pointered[type_.name]
            break
        walked[type_.name] = None
        declaration = document.lookup(type_.name)
        if not isinstance(declaration, model.Typedef):
            found = False
            break
        type_ = declaration.type
    pointered.update(dict.fromkeys(walked, found))
    return found


def _is_discriminant(levels: int, left: object) -> bool:
    if levels:
        return False
    if isinstance(left, model.Enum | syntax.EnumType):
        return True
    if not isinstance(left, syntax.BaseType) or left.name == "error_status_t":
        return False
    kind = INTEGER_KINDS.get(left.name)
    return kind is not None and kind.bits <= 32


def _check_v1_enum_functions(document: model.Document, sink: DiagnosticSink) -> None:
    """`[v1_enum]` only means something on an enum type's declaration; widl refuses it
    on every function and parameter (the placement table cannot say so: it depends on
    the type). Plain loops: this looks at every method and parameter of the file."""
    interfaces = {i.name for i in document.interfaces}
    methods: list[model.Method | model.Function] = [
        m for i in document.interfaces if not i.origin.imported for m in i.methods
    ]
    methods += [
        f for f in document.functions if f.owner not in interfaces and not f.origin.imported
    ]
    for method in methods:
        for attribute in method.attributes:
            if attribute.name == "v1_enum":
                _report_v1_enum(method.name, None, attribute, sink)
        for param in method.params:
            for attribute in param.attributes:
                if attribute.name == "v1_enum":
                    _report_v1_enum(param.name, param.type, attribute, sink)


def _report_v1_enum(
    name: str, type_: syntax.Type | None, attribute: syntax.Attribute, sink: DiagnosticSink
) -> None:
    if isinstance(type_, syntax.EnumType):  # widl's wording differs here only
        sink.error(f"inapplicable attribute v1_enum for argument {name}", attribute.pos)
    else:
        sink.error(f"'{name}': [v1_enum] attribute applied to non-enum type", attribute.pos)


def _check_void(
    document: model.Document, param: model.Param, sink: DiagnosticSink, where: Position
) -> None:
    """`F(void)` has no parameters; a parameter of type void, also through typedefs,
    has no value to pass."""
    type_ = param.type
    if isinstance(type_, _WRAPPERS):
        return  # the common case, and never void
    levels, left = _unwrap(document, type_)
    if levels == 0 and isinstance(left, syntax.BaseType) and left.name == "void":
        sink.error(f"argument '{param.name}' has void type", _first_known(type_.pos, where))


def _check_iid_is(
    document: model.Document,
    method: model.Method,
    param: model.Param,
    sink: DiagnosticSink,
    where: Position,
) -> None:
    """The interface's IID is read from what `iid_is` names: it must be a pointer to
    16 bytes (`REFIID riid`, or `&iid` of an `IID iid`), as widl requires; anything
    else would be read as an IID at run time. Names that are no parameter are
    reported by `_check_names`; a size this cannot work out is not guessed."""
    attribute = param.attribute("iid_is")
    if attribute is None or len(attribute.args) != 1:
        return
    arg, levels = attribute.args[0], 0
    while isinstance(arg, syntax.Unary) and arg.op in ("*", "&"):
        levels += 1 if arg.op == "&" else -1
        arg = arg.operand
    named = next(
        (p for p in method.params if isinstance(arg, syntax.Name) and p.name == arg.name), None
    )
    if named is None:
        return
    more, target = _unwrap(document, named.type)
    if target is None or target is _CYCLE:
        return
    size = size_of(document, target) if levels + more == 1 else 0
    if size is not None and size != _GUID_SIZE:
        sink.error(
            "expression must resolve to pointer to GUID type for attribute iid_is",
            _first_known(attribute.pos, where),
        )


_GUID_SIZE = 16
# Attributes whose expression is a count, a bound or a union's discriminant.
_INTEGRAL_ATTRIBUTES = (*_DIMENSION_ATTRIBUTES, "switch_is")


def _check_integral(
    document: model.Document,
    types: dict[str, syntax.Type],
    param: model.Param,
    sink: DiagnosticSink,
    where: Position,
) -> None:
    """A count or discriminant read from a `double`, a pointer or a struct would be
    garbage on the wire; widl refuses it (in parameters; struct fields it lets by).
    `types`: the method's parameters' types by name."""
    for attribute in param.attributes:
        if attribute.name not in _INTEGRAL_ATTRIBUTES:
            continue
        for arg in attribute.args:
            if kind_of(arg, types, lambda t: _unwrap(document, t)) is Kind.OTHER:
                sink.error(
                    "expression must resolve to integral type <= 32bits for attribute "
                    f"{attribute.name}",
                    _first_known(attribute.pos, where),
                )


def _check_names(
    attributes: tuple[syntax.Attribute, ...],
    known: tuple[set[str], _Constants],
    sink: DiagnosticSink,
    where: Position,
) -> None:
    """Each name in an expression attribute must be a sibling (`known[0]`: parameter
    or field) or a constant (`known[1]`)."""
    siblings, constants = known
    for attribute in attributes:
        if attribute.name not in EXPRESSION_ATTRIBUTES:
            continue
        for name in _names(attribute.args):
            if name.name not in siblings and name.name not in constants:
                sink.error(
                    f"identifier {name.name} cannot be resolved in expression for attribute "
                    f"{attribute.name}",
                    _first_known(name.pos, attribute.pos, where),
                )


def _first_known(*positions: Position) -> Position:
    """The most precise of several positions: the first that names a real place."""
    return next((p for p in positions if p != syntax.NOWHERE), positions[-1])


def _names(args: Iterable[object]) -> Iterable[syntax.Name]:
    for arg in args:
        if isinstance(arg, syntax.Name):
            yield arg
        elif isinstance(arg, syntax.Unary | syntax.Cast):
            yield from _names((arg.operand,))
        elif isinstance(arg, syntax.Binary):
            yield from _names((arg.left, arg.right))
        elif isinstance(arg, syntax.Conditional):
            yield from _names((arg.condition, arg.then, arg.otherwise))
        elif isinstance(arg, syntax.Member | syntax.Index):
            yield from _names((arg.operand,))


def _check_anonymous(field: model.Field, sink: DiagnosticSink) -> None:
    """Only an inline struct or union may go without a name; `struct value;` inside a
    struct declares nothing (widl: a syntax error) and was kept as a member."""
    type_ = field.type
    if field.name is not None or not isinstance(type_, syntax.StructType | syntax.UnionType):
        return
    if type_.fields is None and not getattr(type_, "cases", None):
        sink.error(
            "a member needs a name: only an inline struct or union may be anonymous", type_.pos
        )


_POINTER_ATTRIBUTES = ("ref", "unique", "ptr")
# Every attribute `_check_levels` compares with a type's levels.
_LEVEL_ATTRIBUTES = frozenset({*_POINTER_ATTRIBUTES, "string", *_DIMENSION_ATTRIBUTES})


def _pointer_attribute_problems(
    attributes: tuple[syntax.Attribute, ...], levels: int
) -> Iterable[tuple[syntax.Attribute, str]]:
    """A pointer or `[string]` attribute on a type that is neither pointer nor array
    would be dropped by the generator without a word; widl refuses it."""
    if levels > 0:
        return
    for attribute in attributes:
        if attribute.name in _POINTER_ATTRIBUTES:
            yield attribute, "pointer attribute applied to non-pointer type"
        elif attribute.name == "string":
            yield attribute, "[string] attribute applied to non-pointer, non-array type"


def _check_typedef(document: model.Document, typedef: model.Typedef, sink: DiagnosticSink) -> None:
    where = _position(typedef.origin)
    _check_levels(document, typedef.attributes, typedef.type, sink, where)
    v1_enum = typedef.attribute("v1_enum")
    if v1_enum is not None and not _is_enum(document, typedef.type):
        sink.error("[v1_enum] attribute applied to non-enum type", _first_known(v1_enum.pos, where))


def _check_interface_param(
    document: model.Document,
    method: model.Method,
    param: model.Param,
    sink: DiagnosticSink,
    where: Position,
) -> None:
    """An interface travels as a pointer to it, and an [out] one as a pointer to that
    pointer: one level less and the proxy would marshal something else."""
    levels, target = _unwrap(document, param.type)
    # An [iid_is] pointer is an interface pointer too, whatever it is declared as.
    interface = isinstance(target, model.Interface)
    if not interface and not param.has("iid_is"):
        return
    direction = param.attribute("out") or param.attribute("in")
    where = _first_known(direction.pos, where) if direction is not None else where
    if levels == 0 and interface:
        sink.error(
            f"parameter '{param.name}' of function '{method.name}' cannot be a non-pointer "
            "to an interface",
            where,
        )
    elif levels == 1 and param.direction.is_out:
        sink.error(
            f"out interface pointer '{param.name}' of function '{method.name}' is not a "
            "double pointer",
            where,
        )


def _check_levels(
    document: model.Document,
    attributes: tuple[syntax.Attribute, ...],
    type_: syntax.Type,
    sink: DiagnosticSink,
    where: Position,
) -> None:
    """widl refuses more sizes than the type has levels, and pointer attributes on
    a type with none; either would otherwise be dropped without a word."""
    if not any(attribute.name in _LEVEL_ATTRIBUTES for attribute in attributes):
        return  # nothing to check against the levels: do not walk the typedefs
    levels = _levels(document, type_)
    for attribute, message in _pointer_attribute_problems(attributes, levels):
        sink.error(message, _first_known(attribute.pos, where))
    for attribute in attributes:
        if attribute.name in _DIMENSION_ATTRIBUTES and len(attribute.args) > levels:
            sink.error(
                f"too many expressions in {attribute.name} attribute",
                _first_known(attribute.pos, where),
            )


def _check_length_is(
    document: model.Document, item: model.Param | model.Field, sink: DiagnosticSink, where: Position
) -> None:
    """`length_is` says how much of an array is sent: on a bare pointer (no `size_is`
    or `max_is` at that level to make it an array) there is no array for it, and
    widl refuses it wherever it is written, `[local]` methods and unsent structs too."""
    lengths = item.attribute("length_is")
    if lengths is None:
        return
    sized: set[int] = set()
    for name in ("size_is", "max_is"):
        sizes = item.attribute(name)
        sized.update(i for i, arg in enumerate(sizes.args if sizes else ()) if arg is not None)
    arrays = _array_levels(document, item.type)
    # (a length beyond the type's levels is `too many expressions`, said elsewhere)
    for level, arg in enumerate(lengths.args[: len(arrays)]):
        if arg is not None and level not in sized and not arrays[level]:
            sink.error(
                f"{item.name}: length_is attribute applied to illegal type",
                _first_known(lengths.pos, where),
            )
            return


def _array_levels(document: model.Document, type_: syntax.Type) -> list[bool]:
    """For each pointer or array level of a type, outermost first and through
    typedefs, whether it is an array."""
    levels: list[bool] = []
    seen: set[str] = set()
    while True:
        if isinstance(type_, syntax.Pointer):
            levels.append(False)
            type_ = type_.target
        elif isinstance(type_, syntax.Array):
            levels.append(True)
            type_ = type_.element
        elif isinstance(type_, syntax.NamedType) and type_.name not in seen:
            seen.add(type_.name)
            found = document.lookup(type_.name)
            if not isinstance(found, model.Typedef):
                return levels
            type_ = found.type
        else:
            return levels


def _target(document: model.Document, type_: syntax.Type) -> object:
    """What a type points at after every pointer, array and typedef: a declaration
    from the document (an interface, a struct...) or None for a base type."""
    return _unwrap(document, type_)[1]


def _is_enum(document: model.Document, type_: syntax.Type) -> bool:
    """Whether a type is an enum, written inline, by tag or through typedefs."""
    levels, left = _unwrap(document, type_)
    return levels == 0 and isinstance(left, model.Enum | syntax.EnumType)


def _levels(document: model.Document, type_: syntax.Type) -> int:
    """Pointer and array levels of a type, also through typedefs (`LPWSTR *` has 2)."""
    return _unwrap(document, type_)[0]


class _Unwrapped(threading.local):
    """A typedef's (levels, what is left) once worked out, for the document this thread
    checks. Each typedef of a chain is checked and each walks the rest of it: without
    this a chain of 20,000 typedefs (as deep as widl accepts) took 20,000 walks of up to
    20,000 links (minutes)."""

    document: model.Document | None = None
    known: dict[str, tuple[int, object]]
    below: dict[str, tuple[object, frozenset[str]]]
    # Each parameter's type is asked about by several checks (about five times over the
    # corpus): its answer, by `id`, with the type itself kept so the id stays its own.
    asked: dict[int, tuple[syntax.Type, tuple[int, object]]]


_unwrapped = _Unwrapped()
# What is left of a cycle of typedefs: neither a declaration nor unknown.
_CYCLE = object()


def _known_typedefs(document: model.Document) -> dict[str, tuple[int, object]]:
    if _unwrapped.document is not document:
        _unwrapped.document, _unwrapped.known, _unwrapped.below = document, {}, {}
        _unwrapped.asked = {}
    return _unwrapped.known


def _known_below(document: model.Document) -> dict[str, tuple[object, frozenset[str]]]:
    _known_typedefs(document)
    return _unwrapped.below


def _unwrap(document: model.Document, type_: syntax.Type) -> tuple[int, object]:
    """(pointer and array levels, what is left) of a type through typedefs: what is
    left is a declaration (None if unknown) or the type that is not a name."""
    known = _known_typedefs(document)
    asked = _unwrapped.asked
    answer = asked.get(id(type_))
    if answer is None:
        answer = asked[id(type_)] = (type_, _unwrap_walk(document, known, type_))
    return answer[1]


def _unwrap_walk(
    document: model.Document, known: dict[str, tuple[int, object]], type_: syntax.Type
) -> tuple[int, object]:
    levels = 0
    met: list[tuple[str, int]] = []  # typedef names walked through, levels before each
    seen: set[str] = set()
    while True:
        if isinstance(type_, syntax.Pointer):
            type_ = type_.target
        elif isinstance(type_, syntax.Array):
            type_ = type_.element
        elif isinstance(type_, syntax.NamedType) and type_.name in known:
            more, left = known[type_.name]
            levels += more
            break
        elif not isinstance(type_, syntax.NamedType):
            left = type_
            break
        elif type_.name in seen:  # a cycle of typedefs (reported elsewhere): not remembered
            return levels, _CYCLE
        else:
            seen.add(type_.name)
            found = document.lookup(type_.name)
            if not isinstance(found, model.Typedef):
                left = found
                break
            met.append((type_.name, levels))
            type_ = found.type
            continue
        levels += 1
    for name, before in met:
        known[name] = (levels - before, left)
    return levels, left


def _is_pointer_like(document: model.Document, type_: syntax.Type) -> bool:
    """A pointer or array, also through typedefs (LPWSTR, REFIID); an unknown name
    counts as one (it was reported elsewhere). A `[wire_marshal]` typedef is not one,
    whatever it stands for (`BSTR`, `HWND`): it is marshaled as its wire type, and
    the caller needs a pointer to receive it, as widl requires. Asked of every [out]
    parameter: the typedef chain is walked once per document."""
    top = _below_typedefs_of(document, type_)
    return top is None or isinstance(top, syntax.Pointer | syntax.Array | syntax.SafeArrayType)


def _is_unsized_string(document: model.Document, param: model.Param) -> bool:
    """A `[string]` pointer (the attribute on the parameter or a typedef of it, `LPWSTR`)
    with no `size_is`: the caller has no way to say how much room the string has."""
    if param.has("size_is"):
        return False
    top: object = param.type
    string = param.has("string")
    if isinstance(top, syntax.NamedType):
        top, flags = _below_typedefs(document, top.name)
        string = string or "string" in flags
    return (
        string
        and isinstance(top, syntax.Pointer)
        and _levels(document, top.target) == 0  # through [wire_marshal] too: `BSTR *`
    )


def _below_typedefs_of(document: model.Document, type_: syntax.Type) -> object:
    if isinstance(type_, syntax.NamedType):
        return _below_typedefs(document, type_.name)[0]
    return type_


def _below_typedefs(document: model.Document, name: str) -> tuple[object, frozenset[str]]:
    """(what a typedef name stands for past every typedef, or the `[wire_marshal]`
    typedef that stops the walk; which of `_CHAIN_FLAGS` a typedef on the way says),
    worked out once per name and document as `_unwrap` does."""
    below = _known_below(document)
    met: list[tuple[str, frozenset[str]]] = []
    seen: set[str] = set()
    type_: object = syntax.NamedType(name)
    flags: frozenset[str] = frozenset()
    while isinstance(type_, syntax.NamedType):
        if type_.name in below:
            type_, flags = below[type_.name]
            break
        found = document.lookup(type_.name)
        if not isinstance(found, model.Typedef) or found.has("wire_marshal"):
            flags = frozenset({"wire_marshal"}) if isinstance(found, model.Typedef) else flags
            type_ = found
            break
        if type_.name in seen:
            type_ = _CYCLE
            break
        seen.add(type_.name)
        met.append((type_.name, frozenset(f for f in _CHAIN_FLAGS if found.has(f))))
        type_ = found.type
    for link, here in reversed(met):
        flags |= here
        below[link] = (type_, flags)
    return type_, flags


# Typedef attributes that hold for every name defined through the typedef (and
# `wire_marshal`, which ends the walk).
_CHAIN_FLAGS = ("string", "context_handle")


def _chain_says(document: model.Document, type_: object, flag: str) -> bool:
    """Whether a typedef anywhere below `type_`, through its pointers, says `flag`
    (`typedef [context_handle] void *PCTX;`, used as `[out] PCTX *ph`)."""
    while True:
        while isinstance(type_, _WRAPPERS):
            type_ = type_.target if isinstance(type_, syntax.Pointer) else type_.element
        if not isinstance(type_, syntax.NamedType):
            return False
        type_, flags = _below_typedefs(document, type_.name)
        if flag in flags:
            return True


def _is_void_pointer(document: model.Document, param: model.Param) -> bool:
    """A pointer, at any depth and through typedefs (`LPVOID *`), to void: nothing
    says what to marshal. A context handle is marshaled as a handle, a
    `[wire_marshal]` one (`HICON`) as its wire type."""
    levels, left = _unwrap(document, param.type)
    return (
        levels > 0
        and isinstance(left, syntax.BaseType)
        and left.name == "void"
        and not param.has("context_handle")
        and not any(_chain_says(document, param.type, f) for f in _MARSHALED_AS_OTHER)
    )


_MARSHALED_AS_OTHER = ("context_handle", "wire_marshal")


def _position(origin: model.Origin) -> Position:
    return Position(origin.file, origin.line, origin.column)
