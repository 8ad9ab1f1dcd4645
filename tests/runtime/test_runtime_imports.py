"""The runtime's import discipline: standard library only, asyncio only on demand."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import idlgen.runtime

RUNTIME_DIR = Path(idlgen.runtime.__file__).parent
# Every hand-written module of every layer (the generated *_idl.py are checked by codegen).
OWN_MODULES = [p for p in sorted(RUNTIME_DIR.rglob("*.py")) if not p.name.endswith("_idl.py")]


def test_importing_runtime_does_not_import_asyncio() -> None:
    code = "import idlgen.runtime, sys; assert 'asyncio' not in sys.modules, 'asyncio imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_awaiting_imports_asyncio_adapter_lazily() -> None:
    code = (
        "import sys, idlgen.runtime as rt\n"
        "assert 'idlgen.runtime.com.aio' not in sys.modules\n"
        "import asyncio\n"
        "ev = rt.ManualResetEvent()\n"
        "assert 'idlgen.runtime.com.aio' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_runtime_imports_only_stdlib_and_itself() -> None:
    # The `ntlm` extra (pyproject.toml), imported by rpc/dcerpc for NTLM only.
    extras = {"spnego", "cryptography"}
    allowed_roots = set(sys.stdlib_module_names) | {"idlgen"} | extras
    for path in OWN_MODULES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] in allowed_roots, f"{path.name} imports {name}"
                if name.startswith("idlgen"):
                    assert name.startswith("idlgen.runtime") or name == "idlgen", (
                        f"{path.name} imports {name}: generated code must need the runtime only"
                    )
