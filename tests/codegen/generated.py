"""Generate a module from IDL text and import it, for the codegen tests."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import idlgen


def generate(folder: Path, idl_text: str, stem: str = "sample") -> Path:
    """Write `stem.idl`, compile it, write `stem_idl.py` beside it; return that path."""
    source = folder / f"{stem}.idl"
    source.write_text(idl_text, encoding="utf-8")
    result = idlgen.compile(source)
    assert result.output is not None
    target = folder / f"{result.module_name}.py"
    target.write_text(result.output, encoding="utf-8")
    return target


def import_path(path: Path) -> ModuleType:
    """Import a generated file under its own name, as a fresh module."""
    name = path.stem
    sys.modules.pop(name, None)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
