"""`import pkg.foo_idl` compiles `pkg/foo.idl`; `load(path)` compiles any IDL file.

The hook is explicit and narrow: `install_import_hook(["pkg"])` adds one finder to
`sys.meta_path` that answers only for `*_idl` modules inside the named packages, and
only when no `foo_idl.py` exists (a generated file always wins, so a built wheel
behaves the same with or without the hook). Calling it again adds packages to the
same finder instead of stacking finders.

Compiled code is cached (see `cache`). The code object's filename is
`<idlgen:/path/foo.idl>` and its source is registered with `linecache`, so a
traceback through generated code shows the generated lines.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import linecache
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import CodeType, ModuleType

from idlgen.integrations import cache
from idlgen.module_map import ModuleMap


@dataclass(frozen=True, slots=True)
class CompileSettings:
    include_dirs: tuple[str, ...] = ()
    defines: Mapping[str, str] = field(default_factory=dict)
    undefines: tuple[str, ...] = ()
    module_map: ModuleMap = field(default_factory=ModuleMap)


def code_filename(idl: Path) -> str:
    return f"<idlgen:{idl}>"


def compiled_code(idl: Path, settings: CompileSettings) -> tuple[CodeType, str]:
    """The module's code object and source: from the cache, else compiled and cached.

    Raises `IdlError` when the IDL does not compile.
    """
    idl = idl.resolve()
    text_hash = cache.file_hash(idl)
    if text_hash is None:
        raise FileNotFoundError(f"cannot read {idl}")
    key = cache.entry_key(
        text_hash,
        settings.include_dirs,
        settings.defines,
        settings.undefines,
        repr(settings.module_map),
    )
    where = cache.cache_path(idl)
    entry = cache.read_entry(where, key)
    if entry is None:
        entry = _compile_entry(idl, key, settings)
        cache.write_entry(where, entry)
    _register_source(idl, entry.source)
    return entry.code, entry.source


def _compile_entry(idl: Path, key: str, settings: CompileSettings) -> cache.CacheEntry:
    from idlgen import api

    result = api.compile(
        idl,
        include_dirs=settings.include_dirs,
        defines=settings.defines,
        undefines=settings.undefines,
        module_map=settings.module_map,
    )
    assert result.output is not None
    dependencies = {os.path.abspath(p): cache.file_hash(p) or "" for p in result.files_read}
    dependencies[str(idl)] = cache.file_hash(idl) or ""
    code = compile(result.output, code_filename(idl), "exec", dont_inherit=True)
    return cache.CacheEntry(key, dependencies, result.output, code)


def _register_source(idl: Path, source: str) -> None:
    """`linecache` keeps entries whose mtime is None until told otherwise."""
    filename = code_filename(idl)
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)


class IdlLoader(importlib.abc.Loader):
    def __init__(self, idl: Path, settings: CompileSettings) -> None:
        self.idl = idl
        self.settings = settings
        self.executed_hash: str | None = None  # the .idl's hash when the module was made

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None  # the default module object

    def exec_module(self, module: ModuleType) -> None:
        self.executed_hash = cache.file_hash(self.idl)
        code, _ = compiled_code(self.idl, self.settings)
        exec(code, module.__dict__)

    def get_source(self, fullname: str) -> str:
        return compiled_code(self.idl, self.settings)[1]


class IdlFinder(importlib.abc.MetaPathFinder):
    """Finds `<pkg>.<...>.<stem>_idl` as `<stem>.idl` in the parent package's folders."""

    def __init__(self) -> None:
        self.packages: dict[str, CompileSettings] = {}

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        settings = self._settings_for(fullname)
        if settings is None or path is None:
            return None
        leaf = fullname.rpartition(".")[2]
        stem = leaf[: -len("_idl")]
        for folder in path:
            idl = Path(folder) / f"{stem}.idl"
            if (Path(folder) / f"{leaf}.py").exists():
                return None  # a generated module wins
            if idl.is_file():
                loader = IdlLoader(idl.resolve(), settings)
                return importlib.util.spec_from_file_location(fullname, idl, loader=loader)
        return None

    def _settings_for(self, fullname: str) -> CompileSettings | None:
        if not fullname.endswith("_idl") or "." not in fullname:
            return None
        parts = fullname.split(".")
        for size in range(len(parts) - 1, 0, -1):
            settings = self.packages.get(".".join(parts[:size]))
            if settings is not None:
                return settings
        return None


def install_import_hook(
    packages: str | Iterable[str],
    *,
    include_dirs: Iterable[str | os.PathLike[str]] = (),
    defines: Mapping[str, str] | None = None,
    undefines: Iterable[str] = (),
    module_map: ModuleMap | None = None,
) -> IdlFinder:
    """Let `import <package>.foo_idl` compile `foo.idl` for the given packages."""
    finder = next((f for f in sys.meta_path if isinstance(f, IdlFinder)), None)
    if finder is None:
        finder = IdlFinder()
        sys.meta_path.insert(0, finder)
    settings = CompileSettings(
        tuple(os.path.abspath(d) for d in include_dirs),
        dict(defines or {}),
        tuple(undefines),
        module_map or ModuleMap(),
    )
    for package in [packages] if isinstance(packages, str) else packages:
        finder.packages[package] = settings
    return finder


def uninstall_import_hook() -> None:
    """Remove the finder (tests, and programs that want the plain import system back)."""
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, IdlFinder)]


def load(
    path: str | os.PathLike[str],
    *,
    include_dirs: Iterable[str | os.PathLike[str]] = (),
    defines: Mapping[str, str] | None = None,
    undefines: Iterable[str] = (),
    name: str | None = None,
) -> ModuleType:
    """Compile an IDL file (through the cache) and return it as a module.

    The module is registered in `sys.modules` under `name` (default: `foo_idl`),
    because generated dataclasses look their module up there. A module already loaded
    from the same file with the same settings (by the import hook or an earlier `load`)
    is returned as it is: a second module would declare a second class for every IID.
    """
    from idlgen.api import module_name_for

    idl = Path(path).resolve()
    settings = CompileSettings(
        tuple(os.path.abspath(d) for d in include_dirs), dict(defines or {}), tuple(undefines)
    )
    loaded = _loaded_from(idl, settings)
    if loaded is not None and name in (None, loaded.__name__):
        return loaded
    module_name = name or module_name_for(idl.name)
    loader = IdlLoader(idl, settings)
    spec = importlib.util.spec_from_file_location(module_name, idl, loader=loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    previous = sys.modules.get(module_name)
    sys.modules[module_name] = module
    try:
        loader.exec_module(module)
    except BaseException:
        if previous is None:
            sys.modules.pop(module_name, None)
        else:
            sys.modules[module_name] = previous
        raise
    return module


def _loaded_from(idl: Path, settings: CompileSettings) -> ModuleType | None:
    """The module in `sys.modules` that an `IdlLoader` made from `idl`, as it is now, with
    `settings` (an edited file makes a new module, as a reload does)."""
    current = cache.file_hash(idl)
    for module in list(sys.modules.values()):
        loader = getattr(getattr(module, "__spec__", None), "loader", None)
        if (
            isinstance(loader, IdlLoader)
            and loader.idl == idl
            and loader.settings == settings
            and loader.executed_hash == current
        ):
            return module
    return None
