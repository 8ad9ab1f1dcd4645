"""Which Python module an imported IDL file's declarations come from.

By default `import "foo.idl"` becomes the sibling module `foo_idl`, and the bundled base
IDL becomes `idlgen.runtime.base.*_idl`. A module map (`--module-map foo.idl=pkg.foo_idl`,
or `module-map` in `[tool.idlgen]`) points an import at a module that already exists
instead: one the user generated elsewhere, or ships in another package.

A key without a folder (`foo.idl`) matches an imported file of that name wherever it was
found; a key with one (`include/foo.idl`) matches that file only, and is relative to the
folder the map was given in (the current folder, or the pyproject.toml's folder).
"""

from __future__ import annotations

import keyword
import os
from collections.abc import Iterable, Mapping

from idlgen.resources import BASE_IDL_DIR

# string.ascii_letters + digits + "_", spelled out: `import string` compiles a regex.
_MODULE_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


class ModuleMapError(ValueError):
    """An entry is not `FILE.idl=dotted.module`; the message says which and why."""


class ModuleMap:
    """IDL file -> dotted Python module. Hashable, so settings holding it stay cacheable.

    Written out rather than a dataclass: every run of the command builds one, one
    served from the result cache included, which then never imports `dataclasses`.
    Immutable by convention (nothing assigns its fields after `__init__`)."""

    __slots__ = ("by_name", "by_path")

    def __init__(
        self,
        by_name: tuple[tuple[str, str], ...] = (),  # (file name, module)
        by_path: tuple[tuple[str, str], ...] = (),  # (absolute normalized path, module)
    ) -> None:
        """A target lands in an import statement of generated code: one that is not a
        dotted name of plain identifiers is refused however the map was built."""
        for key, module in by_name + by_path:
            if not _is_dotted_name(module):
                raise ModuleMapError(f"{key!r}: {module!r} is not a dotted module name")
        self.by_name = by_name
        self.by_path = by_path

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ModuleMap):
            return NotImplemented
        return (self.by_name, self.by_path) == (other.by_name, other.by_path)

    def __hash__(self) -> int:
        return hash((self.by_name, self.by_path))

    def __repr__(self) -> str:  # part of the result cache's key: keep it exact
        return f"ModuleMap(by_name={self.by_name!r}, by_path={self.by_path!r})"

    def __reduce__(self) -> tuple[type[ModuleMap], tuple[object, ...]]:
        return (ModuleMap, (self.by_name, self.by_path))  # checked again when loaded

    def module_for(self, path: str) -> str | None:
        """The mapped module for an IDL file, or None when the file is not mapped."""
        if self.by_path:
            absolute = _normalized(path)
            for key, module in self.by_path:
                if key == absolute:
                    return module
        name = os.path.basename(path)
        for key, module in self.by_name:
            if key == name:
                return module
        return None

    def merged(self, other: ModuleMap) -> ModuleMap:
        """This map with `other`'s entries winning key by key."""
        by_name = dict(self.by_name) | dict(other.by_name)
        by_path = dict(self.by_path) | dict(other.by_path)
        return ModuleMap(tuple(sorted(by_name.items())), tuple(sorted(by_path.items())))

    def __bool__(self) -> bool:
        return bool(self.by_name or self.by_path)


def _normalized(path: str) -> str:
    return os.path.normcase(os.path.abspath(path))


def _is_dotted_name(text: str) -> bool:
    """ASCII identifiers that are no keywords, joined by dots: what `from a.b import c`
    takes as written (Python folds other identifiers, `ﬁ` is `fi`)."""
    parts = text.split(".")
    return all(
        part.isascii() and part.isidentifier() and not keyword.iskeyword(part) for part in parts
    )


def parse_entry(text: str) -> tuple[str, str]:
    """`foo.idl=pkg.foo_idl` -> ("foo.idl", "pkg.foo_idl")."""
    key, sep, module = text.partition("=")
    if not sep:
        raise ModuleMapError(f"'{text}': expected FILE.idl=MODULE")
    return key.strip(), module.strip()


def make_module_map(entries: Mapping[str, str] | Iterable[tuple[str, str]], base: str) -> ModuleMap:
    """Validate entries; keys with a folder are made absolute against `base`."""
    pairs = entries.items() if isinstance(entries, Mapping) else entries
    by_name: dict[str, str] = {}
    by_path: dict[str, str] = {}
    for key, module in pairs:
        if not key or key.endswith(("/", os.sep)):
            raise ModuleMapError(f"'{key}={module}': the key must name an IDL file")
        if not _is_dotted_name(module):
            raise ModuleMapError(f"'{key}={module}': '{module}' is not a dotted module name")
        if "/" in key or os.sep in key:
            by_path[_normalized(os.path.join(base, key))] = module
        else:
            by_name[key] = module
    return ModuleMap(tuple(sorted(by_name.items())), tuple(sorted(by_path.items())))


def module_name_for(path: str) -> str:
    """`foo.idl` becomes module `foo_idl` (DESIGN.md section 4).

    Only ASCII letters, digits and `_` survive: `str.isalnum` accepts characters no
    identifier may hold (`²`), and Python folds others (`ﬁ` is `fi`) so the import
    would not find the file.
    """
    stem = os.path.splitext(os.path.basename(path))[0]
    safe = "".join(c if c in _MODULE_NAME_CHARS else "_" for c in stem)
    if not safe or safe[0].isdigit():
        safe = "_" + safe
    return f"{safe}_idl"


def is_bundled_idl(path: str) -> bool:
    """Whether an IDL file is idlgen's own base IDL, served by `idlgen.runtime.base`."""
    base = os.path.normcase(os.path.abspath(BASE_IDL_DIR))
    return os.path.normcase(os.path.dirname(os.path.abspath(path))) == base
