"""The checks widl makes after parsing, with widl's wording where it has one.

Errors: an `[out]` parameter that is not a pointer; a `void *` parameter of a
remotable method without `iid_is`; an attribute expression naming something that
is neither a parameter (or sibling field) nor a constant. Warnings: a duplicate
attribute. Each problem is reported at the declaration it is in.
"""

from __future__ import annotations

from collections.abc import Iterable

from idlgen import model
from idlgen.diagnostics import DiagnosticSink, Position
from idlgen.frontend import syntax

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
    for interface in document.interfaces:
        if interface.async_of is not None or interface.origin.imported:
            continue
        where = _position(interface.origin)
        _duplicates(interface.attributes, sink, where)
        # widl checks marshaling rules only where there is marshaling: not for [local]
        # interfaces and methods, nor for interfaces declared inside a library block.
        remotable = not interface.is_local and interface.name not in in_library
        for method in interface.methods:
            if remotable and not method.has("local"):
                _check_method(document, interface, method, constants, sink)
            else:
                for param in method.params:
                    _duplicates(param.attributes, sink, where)
    for struct in document.structs:
        if struct.origin.imported:
            continue
        names = {f.name for f in struct.fields if f.name}
        for item in struct.fields:
            _duplicates(item.attributes, sink, _position(struct.origin))
            _check_names(item.attributes, (names, constants), sink, _position(struct.origin))


def _check_method(
    document: model.Document,
    interface: model.Interface,
    method: model.Method,
    constants: _Constants,
    sink: DiagnosticSink,
) -> None:
    where = _position(method.origin) if method.origin else _position(interface.origin)
    _duplicates(method.attributes, sink, where)
    names = {p.name for p in method.params}
    for param in method.params:
        _duplicates(param.attributes, sink, where)
        if param.direction.is_out and not _is_pointer_like(document, param.type):
            out = param.attribute("out")
            sink.error(
                f"out parameter '{param.name}' of function '{method.name}' is not a pointer",
                _first_known(out.pos, where) if out is not None else where,
            )
        if interface.is_object and _is_void_pointer(param.type) and not param.has("iid_is"):
            sink.error(
                f"parameter '{param.name}' of function '{method.name}' cannot derive from void *",
                where,
            )
        _check_names(param.attributes, (names, constants), sink, where)


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


def _duplicates(
    attributes: tuple[syntax.Attribute, ...], sink: DiagnosticSink, where: Position
) -> None:
    seen: set[str] = set()
    for attribute in attributes:
        if attribute.name in seen and attribute.name not in ("case", "custom"):
            sink.warning(
                f"duplicate attribute {attribute.name}",
                _first_known(attribute.pos, where),
                option="duplicate-attribute",
            )
        seen.add(attribute.name)


def _is_pointer_like(document: model.Document, type_: syntax.Type) -> bool:
    """A pointer or array, also through typedefs (LPWSTR, REFIID)."""
    seen: set[str] = set()
    while isinstance(type_, syntax.NamedType) and type_.name not in seen:
        seen.add(type_.name)
        found = document.lookup(type_.name)
        if not isinstance(found, model.Typedef):
            return found is None  # unknown names were reported elsewhere
        type_ = found.type
    return isinstance(type_, syntax.Pointer | syntax.Array | syntax.SafeArrayType)


def _is_void_pointer(type_: syntax.Type) -> bool:
    return (
        isinstance(type_, syntax.Pointer)
        and isinstance(type_.target, syntax.BaseType)
        and type_.target.name == "void"
    )


def _position(origin: model.Origin) -> Position:
    return Position(origin.file, origin.line, origin.column)
