"""Async partners: what MIDL and widl make of `[async_uuid]`.

The rules are fixed by DESIGN.md section 3, which follows widl: `AsyncIFoo` gets
the async IID, IFoo's attributes less `uuid`/`async_uuid`, a parent that is IUnknown
or the parent's own partner, and a `Begin_X`/`Finish_X` pair for every method not
marked `[call_as]`. MIDL's stricter checks are errors too.
"""

from __future__ import annotations

from dataclasses import replace

from idlgen import model
from idlgen.diagnostics import DiagnosticSink, Position
from idlgen.frontend import syntax

INCOMPATIBLE_PARENT = "async_uuid applied to an interface with incompatible parent"
_DIRECTION_ATTRIBUTES = {"in", "out"}


def derive_async_partners(
    interfaces: list[model.Interface], sink: DiagnosticSink
) -> list[model.Interface]:
    """The interfaces with each async partner inserted right after its synchronous one."""
    by_name = {i.name: i for i in interfaces}
    result: list[model.Interface] = []
    for interface in interfaces:
        async_uuid = _async_uuid(interface)
        if async_uuid is None:
            # A synchronous child of an async interface is legal (ocidl.idl's
            # IAdviseSinkEx : IAdviseSink): it simply has no partner.
            result.append(interface)
            continue
        partner = _derive(interface, async_uuid, by_name, sink)
        if partner is None:
            result.append(interface)
            continue
        result.append(replace(interface, async_partner=partner.name))
        result.append(partner)
    return result


def _async_uuid(interface: model.Interface) -> str | None:
    attribute = interface.attribute("async_uuid")
    if attribute is None:
        return None
    if attribute.args and isinstance(attribute.args[0], syntax.Uuid):
        return attribute.args[0].text
    if attribute.args and isinstance(attribute.args[0], syntax.String):
        return attribute.args[0].value.strip("{}").lower()
    return ""


def _where(interface: model.Interface) -> Position:
    """The `async_uuid` attribute itself when it has a place, else the interface."""
    attribute = interface.attribute("async_uuid")
    if attribute is not None and attribute.pos != syntax.NOWHERE:
        return attribute.pos
    origin = interface.origin
    return Position(origin.file, origin.line, origin.column)


def _derive(
    interface: model.Interface,
    async_uuid: str,
    by_name: dict[str, model.Interface],
    sink: DiagnosticSink,
) -> model.Interface | None:
    if interface.kind == "dispinterface":
        sink.error("async_uuid cannot be applied to a dispinterface", _where(interface))
        return None
    if not interface.has("object"):
        sink.error("async_uuid can only be applied to an object interface", _where(interface))
        return None
    parent = _async_parent(interface, by_name)
    if parent is None:
        sink.error(INCOMPATIBLE_PARENT, _where(interface))
        return None
    name = "Async" + interface.name
    existing = by_name.get(name)
    if existing is not None:
        sink.error(
            f"redefinition of interface '{name}': it is the async partner of '{interface.name}'",
            _where(existing),
        )
        return None
    attributes = tuple(a for a in interface.attributes if a.name not in ("uuid", "async_uuid"))
    uuid_attribute = syntax.Attribute("uuid", (syntax.Uuid(async_uuid),))
    return model.Interface(
        name=name,
        kind="interface",
        uuid=async_uuid,
        parent=parent,
        methods=tuple(_begin_finish_methods(interface)),
        attributes=(uuid_attribute, *attributes),
        origin=interface.origin,
        async_of=interface.name,
        namespace=interface.namespace,
    )


def _async_parent(interface: model.Interface, by_name: dict[str, model.Interface]) -> str | None:
    """IUnknown for a child of IUnknown, else the parent's partner (it must have one)."""
    if interface.parent is None:
        return None
    if interface.parent == "IUnknown":
        return "IUnknown"
    parent = by_name.get(interface.parent)
    if parent is None or parent.kind == "dispinterface" or parent.has("dual"):
        return None
    if _async_uuid(parent) is None:
        return None
    return "Async" + parent.name


def _begin_finish_methods(interface: model.Interface) -> list[model.Method]:
    methods: list[model.Method] = []
    for method in interface.methods:
        if method.has("call_as"):
            continue
        begin = [_as_direction(p, model.Direction.IN) for p in method.params if p.direction.is_in]
        finish = [
            _as_direction(p, model.Direction.OUT) for p in method.params if p.direction.is_out
        ]
        methods.append(replace(method, name="Begin_" + method.name, params=tuple(begin)))
        methods.append(replace(method, name="Finish_" + method.name, params=tuple(finish)))
    return methods


def _as_direction(param: model.Param, direction: model.Direction) -> model.Param:
    """A copy of `param` for one side of the pair: `[in, out]` becomes `[in]` in
    Begin_ and `[out]` in Finish_, every other attribute kept."""
    keep = "in" if direction is model.Direction.IN else "out"
    attributes = tuple(
        a for a in param.attributes if a.name not in _DIRECTION_ATTRIBUTES or a.name == keep
    )
    if direction is model.Direction.IN and not any(a.name == "in" for a in attributes):
        attributes = (syntax.Attribute("in"), *attributes)
    return replace(param, direction=direction, attributes=attributes)
