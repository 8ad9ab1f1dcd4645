"""Read the vtables out of a C header written by widl (`widl -h`).

The differential tests need widl's opinion of every interface: which methods sit in
its vtable, in which order, with which parameter names. widl's C++ part of the header
hides inherited methods, so we read the C part instead: for every object interface and
dispinterface widl writes `typedef struct <C name>Vtbl { ... } <C name>Vtbl;` with the
*full* vtable, inherited methods first, each group headed by `/*** <Iface> methods ***/`.

What the parser records, and what it deliberately leaves out:

- Only interfaces with a vtable. Plain RPC interfaces (no `[object]`) get function
  prototypes instead; they are skipped.
- The first parameter `This` is dropped. So is `__ret`, the hidden out-parameter widl
  puts right after `This` in C for methods that return a struct; the method is flagged
  `returns_aggregate` instead.
- The IID comes from `DEFINE_GUID(IID_<C name>, ...)` (`DIID_` for dispinterfaces).
- WinRT: widl mangles a namespaced interface `Windows.Foundation.IFoo` into the C name
  `__x_ABI_CWindows_CFoundation_CIFoo`. That mangling is ambiguous to undo (`_C` may be
  part of a name), so we read the forward declaration `#define <C name>
  ABI::Windows::Foundation::IFoo` instead and key the result by the dotted name
  `Windows.Foundation.IFoo`; the leading `ABI` (added by `#pragma winrt ns_prefix`) is
  dropped. Without that line the C name is used unchanged.
- Async partners are ordinary entries (`AsyncIFoo`); `Vtable.async_partner` on `IFoo`
  names its partner and `Vtable.async_of` on `AsyncIFoo` names the synchronous one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

# `typedef struct IFooVtbl {` ... `} IFooVtbl;` -- the C name is captured once and
# required again at the end so a nested brace never ends the block early.
_VTBL_RE = re.compile(
    r"typedef struct (?P<cname>\w+)Vtbl \{(?P<body>.*?)\}\s*(?P=cname)Vtbl;", re.DOTALL
)
_SECTION_RE = re.compile(r"/\*\*\* (?P<origin>\S+) methods \*\*\*/")
# One vtable slot: `RET (CALLCONV *Name)(` -- the calling convention varies
# (STDMETHODCALLTYPE, __stdcall, ...), so any single word is accepted.
_SLOT_RE = re.compile(r"\(\s*(?:\w+\s+)?\*\s*(?P<name>\w+)\s*\)\s*\(")
_GUID_RE = re.compile(
    r"DEFINE_GUID\(\s*(?P<prefix>D?IID)_(?P<cname>\w+)\s*,"
    r"\s*0x(?P<d1>[0-9a-fA-F]+)\s*,\s*0x(?P<d2>[0-9a-fA-F]+)\s*,\s*0x(?P<d3>[0-9a-fA-F]+)"
    r"(?P<rest>(?:\s*,\s*0x[0-9a-fA-F]+){8})\s*\)"
)
_NAMESPACED_RE = re.compile(r"^#define (?P<cname>\w+) (?P<cxx>\w+(?:::\w+)+)\s*$", re.MULTILINE)
_DISP_GUARD_RE = re.compile(r"#ifndef __(?P<cname>\w+)_DISPINTERFACE_DEFINED__")
_IDENT_RE = re.compile(r"[A-Za-z_]\w*")
_FUNC_PTR_NAME_RE = re.compile(r"\(\s*(?:\w+\s+)?\*\s*(?P<name>\w+)\s*\)")
_ASYNC_PREFIX = "Async"
_AGGREGATE_RETURN_PARAM = "__ret"


@dataclass(frozen=True)
class Method:
    """One vtable slot as widl wrote it in C."""

    name: str
    params: tuple[str, ...]
    declared_in: str  # the interface named in the `/*** X methods ***/` heading
    returns_aggregate: bool = False
    declarations: tuple[str, ...] = ()  # each parameter's C declaration, name included


@dataclass(frozen=True)
class Vtable:
    """An interface as its widl header presents it: identity plus the full vtable."""

    name: str  # dotted for WinRT (`Windows.Foundation.IFoo`), else the C name
    c_name: str
    kind: str  # 'interface' or 'dispinterface'
    uuid: str | None  # lower-case, no braces; None when widl wrote no DEFINE_GUID
    methods: tuple[Method, ...]
    async_partner: str | None = None  # on IFoo: 'AsyncIFoo' when the header has it
    async_of: str | None = None  # on AsyncIFoo: 'IFoo'

    @property
    def method_names(self) -> list[str]:
        return [m.name for m in self.methods]


def parse_header_file(path: Path) -> dict[str, Vtable]:
    return parse_header(path.read_text(encoding="utf-8", errors="replace"))


def parse_header(text: str) -> dict[str, Vtable]:
    """Map each interface with a vtable in `text` to its `Vtable`, in header order."""
    uuids = _guids_by_cname(text)
    dotted = _dotted_names(text)
    dispinterfaces = {m["cname"] for m in _DISP_GUARD_RE.finditer(text)}
    found: dict[str, Vtable] = {}
    for match in _VTBL_RE.finditer(text):
        cname = match["cname"]
        vtable = Vtable(
            name=dotted.get(cname, cname),
            c_name=cname,
            kind="dispinterface" if cname in dispinterfaces else "interface",
            uuid=uuids.get(cname),
            methods=tuple(_parse_slots(match["body"])),
        )
        found[vtable.name] = vtable
    return _link_async_partners(found)


def _guids_by_cname(text: str) -> dict[str, str]:
    guids: dict[str, str] = {}
    for m in _GUID_RE.finditer(text):
        tail = [int(b, 16) for b in re.findall(r"0x([0-9a-fA-F]+)", m["rest"])]
        guids[m["cname"]] = (
            f"{int(m['d1'], 16):08x}-{int(m['d2'], 16):04x}-{int(m['d3'], 16):04x}-"
            f"{tail[0]:02x}{tail[1]:02x}-{''.join(f'{b:02x}' for b in tail[2:])}"
        )
    return guids


def _dotted_names(text: str) -> dict[str, str]:
    """C name -> dotted WinRT name, from `#define <C name> ABI::Ns::IFoo` lines."""
    names: dict[str, str] = {}
    for m in _NAMESPACED_RE.finditer(text):
        parts = m["cxx"].split("::")
        if parts[0] == "ABI" and m["cname"].startswith("__x_ABI_"):
            parts = parts[1:]
        names[m["cname"]] = ".".join(parts)
    return names


def _parse_slots(body: str) -> list[Method]:
    """Split a Vtbl body into slots; headings tell where each slot was inherited from."""
    methods: list[Method] = []
    origin = ""
    for chunk in body.split(";"):
        for heading in _SECTION_RE.finditer(chunk):
            origin = heading["origin"]
        slot = _SLOT_RE.search(chunk)
        if slot is None:
            continue
        declarations = [
            p.strip() for p in _split_top_level(_balanced_parens(chunk, slot.end() - 1))
        ]
        declarations = [d for d in declarations if d]
        params = [_param_name(d) for d in declarations]
        if params and params[0] == "This":
            params, declarations = params[1:], declarations[1:]
        aggregate = bool(params) and params[0] == _AGGREGATE_RETURN_PARAM
        if aggregate:
            params, declarations = params[1:], declarations[1:]
        methods.append(Method(slot["name"], tuple(params), origin, aggregate, tuple(declarations)))
    return methods


def _balanced_parens(text: str, open_at: int) -> str:
    """The text inside the parenthesis opening at `open_at` (nested ones kept)."""
    depth = 0
    for i in range(open_at, len(text)):
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
            if depth == 0:
                return text[open_at + 1 : i]
    return text[open_at + 1 :]


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside (), [] -- function-pointer params nest."""
    parts: list[str] = []
    depth = 0
    start = 0
    for i, ch in enumerate(text):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _param_name(decl: str) -> str:
    """`const FLOAT c[4]` -> `c`; `void (*cb)(int)` -> `cb`; `DWORD` alone -> `DWORD`."""
    pointer = _FUNC_PTR_NAME_RE.search(decl)
    if pointer is not None:
        return pointer["name"]
    without_arrays = re.sub(r"\[[^\]]*\]", "", decl)
    identifiers = _IDENT_RE.findall(without_arrays)
    return identifiers[-1] if identifiers else ""


def _link_async_partners(found: dict[str, Vtable]) -> dict[str, Vtable]:
    """Pair `AsyncIFoo` with `IFoo` when both are in the same header."""
    linked = dict(found)
    for name, vtable in found.items():
        sync_name = name[len(_ASYNC_PREFIX) :] if name.startswith(_ASYNC_PREFIX) else None
        if sync_name is None or sync_name not in found:
            continue
        linked[name] = replace(vtable, async_of=sync_name)
        linked[sync_name] = replace(linked[sync_name], async_partner=name)
    return linked
