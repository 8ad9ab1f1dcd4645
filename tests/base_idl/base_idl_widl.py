"""Run widl on IDL files and read back what its C headers say about interfaces.

widl's generated header is the reference we check the bundled base IDL
against: its `XxxVtbl` structs list every method in vtable order (which is
the wire opnum order) and its DEFINE_GUID lines give each IID.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BASE_IDL_DIR = REPO / "idlgen" / "base_idl"

_VTBL_RE = re.compile(r"typedef struct (\w+)Vtbl \{(.*?)\} \1Vtbl;", re.S)
_METHOD_RE = re.compile(r"\(STDMETHODCALLTYPE \*(\w+)\)\(")
_GUID_RE = re.compile(r"DEFINE_GUID\(IID_(\w+),\s*([^)]*)\)")
_ENUM_MEMBER_RE = re.compile(r"^\s+(\w+) = (-?(?:0x[0-9a-fA-F]+|\d+)),?$", re.M)
_SUBSET_RE = re.compile(r"subset-interfaces:([\w ]+)")


@dataclass(frozen=True)
class Interface:
    """One interface as widl's header shows it."""

    name: str
    iid: str | None
    methods: tuple[str, ...]


def bundled_files() -> list[Path]:
    return sorted(BASE_IDL_DIR.glob("*.idl"))


def run_widl(
    widl: str, idl: Path, include_dirs: list[Path], out: Path
) -> subprocess.CompletedProcess[str]:
    """Write the C header for `idl`; only the given include dirs are searched."""
    cmd = [widl, "--nostdinc", "-h", "-o", str(out)]
    for directory in include_dirs:
        cmd += ["-I", str(directory)]
    cmd.append(str(idl))
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def _guid_text(args: str) -> str:
    """Turn DEFINE_GUID's numeric arguments into the usual 8-4-4-4-12 form."""
    parts = [int(p.strip(), 16) for p in args.split(",")]
    head = f"{parts[0]:08x}-{parts[1]:04x}-{parts[2]:04x}-"
    tail = "".join(f"{b:02x}" for b in parts[3:])
    return head + tail[:4] + "-" + tail[4:]


def parse_header(text: str) -> dict[str, Interface]:
    """Every interface with a vtable in a widl header, by name."""
    iids = {m.group(1): _guid_text(m.group(2)) for m in _GUID_RE.finditer(text)}
    return {
        m.group(1): Interface(
            name=m.group(1),
            iid=iids.get(m.group(1)),
            methods=tuple(_METHOD_RE.findall(m.group(2))),
        )
        for m in _VTBL_RE.finditer(text)
    }


def parse_enum_values(text: str) -> dict[str, int]:
    """Enumerators with literal values, as 32-bit unsigned numbers."""
    return {m.group(1): int(m.group(2), 0) & 0xFFFFFFFF for m in _ENUM_MEMBER_RE.finditer(text)}


def subset_interfaces(idl: Path) -> set[str]:
    """Interfaces a file documents as declared with only a prefix of their methods."""
    names: set[str] = set()
    for match in _SUBSET_RE.finditer(idl.read_text()):
        names.update(match.group(1).split())
    return names
