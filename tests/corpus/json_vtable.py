"""Derive each interface's C vtable from idlgen's `--emit json` document.

idlgen's JSON lists an interface's *own* methods under their IDL names; widl's header
shows the *full* C vtable. To compare the two we rebuild the C vtable the way MIDL and
widl lay it out:

- the parent's full vtable first (walking `parent` up to IUnknown), then own methods
  in declaration order;
- a `[call_as(X)]` method is the wire form of the `[local]` method X: it has no slot
  (widl keeps the `[local]` one and leaves the `call_as` one out of the Vtbl);
- property and event accessors get the C prefix: `[propget] X` is `get_X`,
  `[propput]` `put_X`, `[propputref]` `putref_X`, `[eventadd]` `add_X`,
  `[eventremove]` `remove_X`;
- a dispinterface's vtable is IDispatch's, whatever it declares: its methods and
  properties are reached through `Invoke`, not through slots;
- a method whose C name (prefix included) is also the name of a method in an ancestor
  is renamed `<Interface>_<name>` (C struct fields must be unique; widl's rule);
- an unnamed parameter (JSON `name: null`) is called `a`, `b`, ... in order among the
  method's unnamed parameters, as widl names them in the header.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Set
from dataclasses import dataclass
from typing import Any

JsonObject = Mapping[str, Any]

_ACCESSOR_PREFIXES = {
    "propget": "get_",
    "propput": "put_",
    "propputref": "putref_",
    "eventadd": "add_",
    "eventremove": "remove_",
}
# An interface is "object" (has a vtable) in widl's eyes when it inherits or says so.
_OBJECT_ATTRIBUTES = {"object", "odl"}


class VtableError(Exception):
    """The JSON does not let us build a vtable (unknown parent, inheritance cycle)."""


@dataclass(frozen=True)
class Slot:
    name: str
    params: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.name}({', '.join(self.params)})"


def attribute_names(node: JsonObject) -> set[str]:
    return {attr["name"] for attr in node.get("attributes") or ()}


def slot_name(method: JsonObject) -> str:
    """The C vtable name of `method`: its IDL name plus any accessor prefix."""
    attrs = attribute_names(method)
    for attr, prefix in _ACCESSOR_PREFIXES.items():
        if attr in attrs:
            return prefix + method["name"]
    return str(method["name"])


def param_names(method: JsonObject) -> tuple[str, ...]:
    names: list[str] = []
    unnamed = iter(string.ascii_lowercase)
    for param in method.get("params") or ():
        names.append(param.get("name") or next(unnamed, "?"))
    return tuple(names)


def own_slots(interface: JsonObject, inherited_names: Set[str] = frozenset()) -> list[Slot]:
    """Slots `interface` adds; names clashing with `inherited_names` get its prefix."""
    slots: list[Slot] = []
    for method in interface.get("methods") or ():
        if "call_as" in attribute_names(method):
            continue
        name = slot_name(method)
        if name in inherited_names:
            name = f"{interface['name']}_{name}"
        slots.append(Slot(name, param_names(method)))
    return slots


def qualified_name(interface: JsonObject) -> str:
    """`Windows.Foundation.IClock` for a WinRT interface, else just the name."""
    namespace = interface.get("namespace")
    return f"{namespace}.{interface['name']}" if namespace else str(interface["name"])


def index_interfaces(doc: JsonObject) -> dict[str, JsonObject]:
    """Name (and qualified name) -> interface; the compiled file's definition wins."""
    index: dict[str, JsonObject] = {}
    for interface in doc.get("interfaces") or ():
        for key in {interface["name"], qualified_name(interface)}:
            if key not in index or not interface.get("imported", False):
                index[key] = interface
    return index


def full_vtable(interface: JsonObject, index: Mapping[str, JsonObject]) -> list[Slot]:
    """Inherited slots first, then own slots; raises VtableError when the chain breaks."""
    chain: list[JsonObject] = []
    seen: set[str] = set()
    current: JsonObject | None = _vtable_owner(interface, index)
    while current is not None:
        if current["name"] in seen:
            raise VtableError(f"inheritance cycle through {current['name']}")
        seen.add(current["name"])
        chain.append(current)
        current = _parent_of(current, index)
    slots: list[Slot] = []
    inherited_names: set[str] = set()
    for ancestor in reversed(chain):
        slots.extend(own_slots(ancestor, inherited_names))
        # widl compares against every method of every ancestor, call_as ones included.
        inherited_names.update(slot_name(m) for m in ancestor.get("methods") or ())
    return slots


def has_vtable(interface: JsonObject) -> bool:
    """Whether widl writes a Vtbl for this interface (object-like, not a generic)."""
    if "<" in interface["name"] or interface.get("type_params"):
        return False
    return (
        interface.get("kind") == "dispinterface"
        or bool(interface.get("parent"))
        or bool(attribute_names(interface) & _OBJECT_ATTRIBUTES)
    )


def _vtable_owner(interface: JsonObject, index: Mapping[str, JsonObject]) -> JsonObject:
    if interface.get("kind") != "dispinterface":
        return interface
    if "IDispatch" not in index:
        raise VtableError(f"dispinterface {interface['name']} needs IDispatch, not in the JSON")
    return index["IDispatch"]


def _parent_of(interface: JsonObject, index: Mapping[str, JsonObject]) -> JsonObject | None:
    parent = interface.get("parent")
    if not parent:
        return None
    if parent not in index:
        raise VtableError(f"{interface['name']}: parent {parent} is not in the JSON")
    return index[parent]
