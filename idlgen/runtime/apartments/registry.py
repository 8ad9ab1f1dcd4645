"""From an IID to its interface class, and from an opnum to its wire marshaler.

Generated modules declare interfaces as subclasses of `IUnknown`; an unmarshaled OBJREF
only carries an IID. Interface classes register themselves by IID when they are created
(interface.py), the latest declaration winning. The vtable's wire table is
the parent's plus the interface's own `_wire_` (one `MethodMarshaler` or None per own
method), so opnum = vtable index works for inherited methods too; all-primitive methods get
the byte-identical precompiled codec of fastwire.py.
"""

from __future__ import annotations

import threading
from typing import Any

from idlgen.runtime.com.guid import as_guid
from idlgen.runtime.com.interface import IUnknown, declared_interfaces, is_interface
from idlgen.runtime.ndr.fastwire import fast_codec

__all__ = ["interface_for", "opnums", "wire_table"]

_wire: dict[type, tuple[Any, ...]] = {}
_opnums: dict[type, dict[str, int]] = {}
_lock = threading.Lock()


def interface_for(iid: Any) -> type[IUnknown] | None:
    """The interface class declaring `iid` (the latest declared, if a module was loaded
    twice), or None if no loaded module declares it."""
    found = declared_interfaces.get(as_guid(iid))
    if found is None and as_guid(iid) == IUnknown._iid_:
        return IUnknown
    return found


def wire_table(iface: type[IUnknown]) -> tuple[Any, ...]:
    """One entry per vtable slot: the slot's MethodMarshaler, or None (IUnknown, [local])."""
    table = _wire.get(iface)
    if table is None:
        table = _build_wire(iface)
        _wire[iface] = table
    return table


def _build_wire(iface: type[IUnknown]) -> tuple[Any, ...]:
    table: list[Any] = []
    for cls in reversed(iface.__mro__):
        if not is_interface(cls):
            continue
        own_methods = cls.__dict__.get("_methods_", ())
        own_wire = tuple(cls.__dict__.get("_wire_", ()))
        if cls is IUnknown or len(own_wire) != len(own_methods):
            own_wire = (None,) * len(own_methods)
        table.extend(fast_codec(wire) for wire in own_wire)
    return tuple(table)


def opnums(iface: type[IUnknown]) -> dict[str, int]:
    """Method name to opnum (vtable index), for call objects that know only the name."""
    table = _opnums.get(iface)
    if table is None:
        table = {m.name: index for index, m in enumerate(iface._vtable_)}
        _opnums[iface] = table
    return table
