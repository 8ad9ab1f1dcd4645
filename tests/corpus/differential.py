"""Compare widl's view of one IDL file with idlgen's, as a list of readable mismatches.

One file, one list: the test prints every disagreement at once, so a corpus run says
everything that is wrong with a file instead of the first thing. Both directions count:
an interface widl wrote a vtable for must be in idlgen's JSON with the same vtable, and
an object interface idlgen says the file defines must have a vtable in widl's header.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping

from json_vtable import (
    JsonObject,
    VtableError,
    full_vtable,
    has_vtable,
    index_interfaces,
    qualified_name,
)
from widl_header import Vtable

_MAX_DIFF_LINES = 14


def compare(header: Mapping[str, Vtable], doc: JsonObject) -> list[str]:
    index = index_interfaces(doc)
    problems: list[str] = []
    matched: set[str] = set()
    for vtable in header.values():
        interface = _find(vtable, index)
        if interface is None:
            problems.append(
                f"{vtable.name}: widl wrote a vtable, idlgen's JSON has no such interface"
            )
            continue
        matched.add(qualified_name(interface))
        problems.extend(_compare_interface(vtable, interface, index))
    for interface in doc.get("interfaces") or ():
        name = qualified_name(interface)
        if not interface.get("imported", False) and has_vtable(interface) and name not in matched:
            problems.append(f"{name}: in idlgen's JSON for this file, but widl wrote no vtable")
    return problems


def _find(vtable: Vtable, index: Mapping[str, JsonObject]) -> JsonObject | None:
    """Look up by dotted name, then C name, then (WinRT) the unqualified name."""
    for candidate in (vtable.name, vtable.c_name, vtable.name.rsplit(".", 1)[-1]):
        if candidate in index:
            return index[candidate]
    return None


def _compare_interface(
    vtable: Vtable, interface: JsonObject, index: Mapping[str, JsonObject]
) -> list[str]:
    name = vtable.name
    problems: list[str] = []
    if interface.get("imported", False):
        problems.append(f"{name}: defined in this file, but idlgen marks it imported")
    if interface.get("kind") != vtable.kind:
        problems.append(
            f"{name}: kind is {vtable.kind} for widl, {interface.get('kind')} for idlgen"
        )
    if vtable.uuid is not None and _norm_uuid(interface.get("uuid")) != vtable.uuid:
        problems.append(f"{name}: uuid {vtable.uuid} for widl, {interface.get('uuid')} for idlgen")
    if vtable.async_partner is not None and interface.get("async") != vtable.async_partner:
        problems.append(
            f"{name}: async partner {vtable.async_partner} for widl, "
            f"{interface.get('async')} for idlgen"
        )
    try:
        ours = [str(slot) for slot in full_vtable(interface, index)]
    except VtableError as error:
        return [*problems, f"{name}: cannot build idlgen's vtable: {error}"]
    theirs = [f"{m.name}({', '.join(m.params)})" for m in vtable.methods]
    if ours != theirs:
        problems.append(f"{name}: vtable differs (- widl, + idlgen):\n{_diff(theirs, ours)}")
    return problems


def _norm_uuid(value: object) -> str | None:
    return str(value).strip("{}").lower() if value else None


def _diff(theirs: list[str], ours: list[str]) -> str:
    lines = list(difflib.unified_diff(theirs, ours, lineterm="", n=1))[2:]
    if len(lines) > _MAX_DIFF_LINES:
        lines = [*lines[:_MAX_DIFF_LINES], f"... {len(lines) - _MAX_DIFF_LINES} more lines"]
    return "\n".join(f"    {line}" for line in lines)
