"""Compare each method's parameter types in widl's header with idlgen's JSON.

The vtable comparison (`differential.compare`) looks at method and parameter names
only; a mutation that adds a `*`, drops one or puts another type in a parameter's
place keeps every name and changes what goes on the wire. Each parameter's type is
reduced to a shape both sides write alike: the words of its type (`const` dropped),
its pointer levels and its array dimensions. widl writes the type as the IDL file
spelled it (typedef names kept), and so does idlgen's JSON, so the shapes are equal
unless the two compilers read the declaration differently.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from json_vtable import JsonObject, attribute_names, index_interfaces
from widl_header import Method, Vtable

_WORD_RE = re.compile(r"[A-Za-z_]\w*")
_ARRAY_RE = re.compile(r"\[[^\]]*\]")
_QUALIFIERS = frozenset({"const", "volatile", "struct", "union", "enum"})

# widl writes these base types by their Windows typedef names.
_WIDL_SPELLING = {
    ("long",): ("LONG",),
    ("signed", "long"): ("LONG",),
    ("unsigned", "long"): ("ULONG",),
    ("__int32",): ("INT32",),
    ("signed", "__int32"): ("INT32",),
    ("unsigned", "__int32"): ("UINT32",),
    ("__int64",): ("INT64",),
    ("signed", "__int64"): ("INT64",),
    ("unsigned", "__int64"): ("UINT64",),
}

Shape = tuple[tuple[str, ...], int, int]  # (type words, pointer levels, array dims)


def shape(declaration: str, *, named: bool) -> Shape | None:
    """The shape of `DWORD **out` (named) or `DWORD **` (a JSON type); None for a
    function pointer, whose C spelling the two sides do not share."""
    if "(" in declaration:
        return None
    arrays = len(_ARRAY_RE.findall(declaration))
    words = _WORD_RE.findall(_ARRAY_RE.sub("", declaration))
    if named and words:
        words = words[:-1]
    kept = tuple(w for w in words if w not in _QUALIFIERS)
    return _WIDL_SPELLING.get(kept, kept), declaration.count("*"), arrays


def signature_problems(header: Mapping[str, Vtable], doc: JsonObject) -> list[str]:
    """Parameters whose type shape differs, for each interface both sides have."""
    index = index_interfaces(doc)
    problems: list[str] = []
    for vtable in header.values():
        interface = index.get(vtable.c_name) or index.get(vtable.name)
        if interface is None or vtable.kind == "dispinterface":
            continue
        theirs = [m for m in vtable.methods if m.declared_in == vtable.c_name]
        ours = [m for m in interface.get("methods") or () if "call_as" not in attribute_names(m)]
        if len(theirs) != len(ours):
            continue  # the vtable comparison reports it
        for method, json_method in zip(theirs, ours, strict=True):
            problems.extend(_method_problems(vtable.name, method, json_method))
    return problems


def _method_problems(interface: str, method: Method, json_method: JsonObject) -> list[str]:
    params = json_method.get("params") or ()
    if len(params) != len(method.declarations):
        return []  # the vtable comparison reports it
    problems = []
    for declaration, param in zip(method.declarations, params, strict=True):
        theirs = shape(declaration, named=True)
        ours = shape(str(param.get("type", "")), named=False)
        if theirs is not None and ours is not None and theirs != ours:
            problems.append(
                f"{interface}::{method.name}: parameter {declaration!r} for widl, "
                f"{param.get('type')!r} for idlgen"
            )
    return problems
