"""Loading: find, preprocess and parse the main file and everything it imports.

Each file is parsed once per run (and once per process for unchanged imports: the
parse cache is keyed by path, content hash and preprocessor settings), imports are
searched the way widl searches them, and the result is the list of files in
dependency order, which is the order the resolver walks.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from idlgen.diagnostics import DiagnosticSink, Position
from idlgen.frontend import syntax
from idlgen.frontend.sources import RefusedSource, is_idl_text_name, read_source
from idlgen.limits import DEFAULT_LIMITS, Limits
from idlgen.records import record
from idlgen.resources import BASE_IDL_DIR
from idlgen.semantics.hints import DeclarationFinder
from idlgen.semantics.parse_store import ImportRef, ParseStore


@record
class Settings:
    include_dirs: tuple[str, ...] = ()
    defines: tuple[tuple[str, str], ...] = ()
    undefines: tuple[str, ...] = ()
    use_base_idl: bool = True
    limits: Limits = DEFAULT_LIMITS

    @property
    def search_path(self) -> tuple[str, ...]:
        bundled = (str(BASE_IDL_DIR),) if self.use_base_idl else ()
        return self.include_dirs + bundled


# What resolving a file adds to the scope, table by table, in order of writing: for a
# dict table its (key, value) pairs, for a list or set table its values (resolve.py).
Journal = dict[str, list[object]]


@dataclass(slots=True)
class LoadedFile:
    path: str
    tree: syntax.File
    imports: list[LoadedFile]
    files_read: tuple[str, ...]
    own_type_names: frozenset[str]
    ok: bool  # parsed without errors; only such files are cached across runs
    # Type names the parse took from the importer's scope (mentioned here, declared
    # neither here nor by an import): the part of the context a cached parse depends on.
    external: frozenset[str] = frozenset()
    # For each import, the type names this file had declared or imported before it
    # (beyond its own seed): what the import saw then, so a cache check can replay it.
    import_context: list[frozenset[str]] = field(default_factory=list)
    # What resolving this file adds to the scope when it is imported (see resolve.py),
    # recorded by the first compile that imports it.
    resolution: Journal | None = None
    # Content digests of the files `#include`d while preprocessing: a cached parse is
    # stale when one of them changed, even if this file did not.
    include_digests: tuple[tuple[str, str], ...] = ()
    # The name each import was written with (parallel to `imports`), and for each
    # included file the folders that then held a file of its name: a cached parse is
    # stale when an import now resolves elsewhere or a same-named file came or went
    # on the include search path.
    import_names: list[str] = field(default_factory=list)
    include_shadows: tuple[tuple[str, frozenset[str]], ...] = ()
    # (file, the #include or import that brought it in) for every file this parse
    # brought in, replayed into the sink when the parse is reused (diagnostics chains).
    edges: tuple[tuple[str, Position], ...] = ()
    # What preprocessing and parsing this file said (warnings) and the texts it read,
    # replayed when the parse is reused so a cached file warns as a fresh one does.
    warnings: tuple[tuple[str, Position | None, str], ...] = ()
    sources: tuple[tuple[str, str], ...] = ()
    digest: str = ""  # of the file's text, as read
    # `id(copy)` -> original for the dispinterface members the parser rebuilt rather
    # than parsed (parser.parse): checks that read no positions may pass over a copy
    # of a member they found clean. Never stored: ids mean nothing in another process.
    copies: dict[int, object] | None = None
    _all_names: frozenset[str] | None = None

    def type_names(self) -> frozenset[str]:
        """Names this file and everything it imports declare as types."""
        if self._all_names is None:
            names: set[str] = set()
            for loaded in walk([self]):
                names |= loaded.own_type_names
            self._all_names = frozenset(names)
        return self._all_names


def walk(roots: Iterable[LoadedFile]) -> list[LoadedFile]:
    """The files reachable from `roots`, imports before importers, each once."""
    order: list[LoadedFile] = []
    seen: set[int] = set()

    def visit(loaded: LoadedFile) -> None:
        if id(loaded) in seen:
            return
        seen.add(id(loaded))
        for imported in loaded.imports:
            visit(imported)
        order.append(loaded)

    for root in roots:
        visit(root)
    return order


_CacheKey = tuple[str, str, "Settings"]
_PARSE_CACHE: dict[_CacheKey, list[LoadedFile]] = {}
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_IDENTIFIER_CACHE: dict[tuple[str, str], frozenset[str]] = {}


# path -> (its text as last read, digest), for the last `_DIGESTS_KEPT` paths
_LAST_DIGEST: dict[str, tuple[str, str]] = {}
_DIGESTS_KEPT = 4096


def _digest(text: str, path: str | None = None) -> str:
    """The text's content digest. A cached parse is checked by reading its files again
    and comparing digests, so most texts digested are the same as last time: with
    `path`, the text is first compared with the one last read from there (a plain
    comparison costs a fraction of encoding and hashing it, and nothing when the process
    remembered the text and handed out the same object: sources.py)."""
    if path is not None:
        last = _LAST_DIGEST.get(path)
        if last is not None and last[0] == text:
            return last[1]
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
    if path is not None:
        _LAST_DIGEST.pop(path, None)
        _LAST_DIGEST[path] = (text, digest)
        if len(_LAST_DIGEST) > _DIGESTS_KEPT:
            del _LAST_DIGEST[next(iter(_LAST_DIGEST))]
    return digest


def _identifiers(path: str, digest: str, text: str) -> frozenset[str]:
    """Every identifier-like word of a file (cached per content)."""
    key = (path, digest)
    found = _IDENTIFIER_CACHE.get(key)
    if found is None:
        found = _IDENTIFIER_CACHE[key] = frozenset(_IDENTIFIER.findall(text))
    return found


@dataclass
class Loader:
    settings: Settings
    sink: DiagnosticSink
    # Reads a source file; the default refuses devices, pseudo files, binary files
    # and files over the size limit (idlgen/frontend/sources.py).
    read_file: Callable[[str], str] | None = None
    # Parses of imported files kept between processes (parse_store.py); None: none.
    store: ParseStore | None = None
    _loaded: dict[str, LoadedFile] = field(default_factory=dict)
    _loading: set[str] = field(default_factory=set)
    _main: str = ""

    def __post_init__(self) -> None:
        if self.read_file is None:
            max_bytes = self.settings.limits.file_bytes
            self.read_file = lambda path: read_source(path, max_bytes)

    def _read_raw(self, path: str) -> str:
        assert self.read_file is not None
        return self.read_file(path)

    _finder: DeclarationFinder | None = None

    @property
    def finder(self) -> DeclarationFinder:
        """Which file on the search path declares a type name (for error notes)."""
        if self._finder is None:
            search_path = self.settings.search_path
            self._finder = DeclarationFinder(search_path, self.settings.limits.file_bytes)
        return self._finder

    def load_main(self, path: str, text: str | None = None) -> LoadedFile:
        self._main = os.path.normpath(path)
        if text is None:
            text = self._read(path, Position(path, 1, 1))
            if text is None:
                return self._empty(path)
        return self._load(path, text, imported=False)

    def find_import(self, name: str, importer: str) -> str | None:
        """widl's search: the importing file's folder, then -I folders, then the
        bundled base IDL; a user folder therefore wins over a bundled file."""
        candidates = [os.path.dirname(importer) or "."]
        candidates += self.settings.search_path
        for folder in candidates:
            candidate = os.path.join(folder, name)
            if os.path.isfile(candidate):
                return os.path.normpath(candidate)
        return None

    # -- internals ---------------------------------------------------------

    def _read(self, path: str, where: Position | None) -> str | None:
        try:
            return self._read_raw(path)
        except OSError as error:
            reason = error.strerror or "cannot read"
            self.sink.error(f"cannot open '{path}': {reason}", where)
        except RefusedSource as refused:
            self.sink.error(f"cannot read '{path}': {refused.reason}", where)
        return None

    def _empty(self, path: str) -> LoadedFile:
        tree = syntax.File(path, ())
        return LoadedFile(path, tree, [], (path,), frozenset(), False)

    def _load(
        self, path: str, text: str, seed: frozenset[str] = frozenset(), imported: bool = True
    ) -> LoadedFile:
        """Parse `path` once per run, and reuse a parse from an earlier run when the file,
        its imports and the part of `seed` it depends on are unchanged.

        `seed` holds the type names the importer knew: widl's scope is global, so an
        imported header may use a typedef that only its importer declared. A parse
        depends on the seed names the file mentions that neither it nor its imports
        declare (`LoadedFile.external`); a cached parse is reused when those are the same.
        """
        key = os.path.normpath(path)
        if key in self._loaded:
            return self._loaded[key]
        digest = _digest(text, key)
        mentioned = _identifiers(key, digest, text)
        candidates = _PARSE_CACHE.setdefault((key, digest, self.settings), [])
        for cached in candidates:
            if self._still_valid(cached, mentioned, seed, cached.imports):
                return self._reuse(cached)
        # Only imports go to the store: a main file is the one being edited.
        store = self.store if imported else None
        stored = store.load(key, digest, self.settings) if store is not None else []
        for bare, refs in stored:
            if self._still_valid(bare, mentioned, seed, refs):
                candidates.append(bare)
                return self._reuse(bare)
        self._loading.add(key)
        try:
            loaded = self._parse(key, text, seed)
        finally:
            self._loading.discard(key)
        loaded.external = frozenset((mentioned & seed) - loaded.type_names())
        loaded.digest = digest
        self._loaded[key] = loaded
        if loaded.ok:
            candidates.append(loaded)
            if store is not None:
                store.save(loaded, self.settings)
        return loaded

    def _still_valid(
        self,
        cached: LoadedFile,
        mentioned: frozenset[str],
        seed: frozenset[str],
        imports: Sequence[LoadedFile | ImportRef],
    ) -> bool:
        """A parse from earlier is this file's parse now (its imports, when it comes
        from the store, are then put back in place)."""
        external = (mentioned & seed) - cached.type_names()
        return (
            external == cached.external
            and self._includes_unchanged(cached)
            and self._includes_not_shadowed(cached)
            and self._imports_still_valid(cached, seed, imports)
        )

    def _reuse(self, cached: LoadedFile) -> LoadedFile:
        self._replay(cached)
        self._loaded[os.path.normpath(cached.path)] = cached
        return cached

    def _replay(self, cached: LoadedFile) -> None:
        for path, where in cached.edges:
            self.sink.include(path, where)
        for path, text in cached.sources:
            self.sink.sources.setdefault(path, text)
        for message, position, option in cached.warnings:
            self.sink.warning(message, position, option=option)

    def _includes_unchanged(self, cached: LoadedFile) -> bool:
        for path, digest in cached.include_digests:
            text = self._read_quietly(path)
            if text is None or _digest(text, path) != digest:
                return False
        return True

    def _includes_not_shadowed(self, cached: LoadedFile) -> bool:
        folders = _include_folders(cached.path, cached.files_read, self.settings)
        return all(
            _holding(folders, os.path.basename(path)) == holders
            for path, holders in cached.include_shadows
        )

    def _imports_still_valid(
        self,
        cached: LoadedFile,
        seed: frozenset[str],
        imports: Sequence[LoadedFile | ImportRef],
    ) -> bool:
        """A cached parse is reusable only if its imports are too (they may have changed,
        or a new file may now be found first). A stored parse's imports are references:
        the files loaded now must give the parse the same type names."""
        for imported, name in zip(imports, cached.import_names, strict=True):
            if self.find_import(name, cached.path) != imported.path:
                return False
        current: list[LoadedFile] = []
        for imported, context in zip(imports, cached.import_context, strict=True):
            text = self._read_quietly(imported.path)
            if text is None:
                return False
            reloaded = self._load(imported.path, text, seed | context)
            if reloaded is not imported and not (
                isinstance(imported, ImportRef) and imported.matches(reloaded)
            ):
                return False
            current.append(reloaded)
        cached.imports = current
        return True

    def _read_quietly(self, path: str) -> str | None:
        try:
            return self._read_raw(path)
        except (OSError, RefusedSource):
            return None

    def _parse(self, path: str, text: str, seed: frozenset[str]) -> LoadedFile:
        from idlgen.frontend.attributes import check_file as check_attributes
        from idlgen.frontend.parser import declared_type_names, parse
        from idlgen.frontend.preprocess import preprocess

        errors_before = self.sink.error_count
        known_edges = set(self.sink.included_from)
        warnings_before = len(self.sink.raw_warnings)
        self.sink.sources[path] = text
        if path != self._main and not is_idl_text_name(path):
            self.sink.opaque.add(path)
        pp = preprocess(
            text,
            path,
            include_dirs=self.settings.search_path,
            defines=dict(self.settings.defines),
            undefines=self.settings.undefines,
            sink=self.sink,
            read_file=self._read_raw,
            limits=self.settings.limits,
        )
        imports: list[LoadedFile] = []
        import_names: list[str] = []
        contexts: list[frozenset[str]] = []
        known = set(seed)  # the parser grows it as it reads typedefs and imports

        def on_import(name: str, where: Position) -> Iterable[str]:
            context = frozenset(known)
            loaded = self._import(name, path, where, context)
            if loaded is None:
                return ()
            imports.append(loaded)
            import_names.append(name)
            contexts.append(context - seed)
            return loaded.type_names()

        copies: dict[int, object] = {}  # members the parser rebuilt: checked once
        tree = parse(
            pp.text,
            path,
            sink=self.sink,
            position=pp.line_map.position,
            on_import=on_import,
            known_types=known,
            winrt=pp.winrt,
            limits=self.settings.limits,
            explain_unknown_type=self.finder.hint,
            copies=copies,
        )
        check_attributes(tree, self.sink, copies)
        ok = self.sink.error_count == errors_before
        names = frozenset(declared_type_names(tree))
        includes = tuple(
            (
                included,
                _digest(
                    self.sink.sources.get(included) or self._read_quietly(included) or "",
                    included,
                ),
            )
            for included in pp.files_read
            if os.path.normpath(included) != path
        )
        edges = tuple(
            (included, where)
            for included, where in self.sink.included_from.items()
            if included not in known_edges
        )
        own_files = set(pp.files_read)
        warnings = tuple(
            w
            for w in self.sink.raw_warnings[warnings_before:]
            if w[1] is not None and w[1].file in own_files
        )
        sources = tuple(
            (f, self.sink.sources[f]) for f in sorted(own_files) if f in self.sink.sources
        )
        folders = _include_folders(path, tuple(pp.files_read), self.settings)
        shadows = tuple(
            (included, _holding(folders, os.path.basename(included))) for included, _ in includes
        )
        return LoadedFile(
            path,
            tree,
            imports,
            tuple(pp.files_read),
            names,
            ok,
            import_context=contexts,
            include_digests=includes,
            edges=edges,
            warnings=warnings,
            sources=sources,
            import_names=import_names,
            include_shadows=shadows,
            copies=copies or None,
        )

    def _import(
        self, name: str, importer: str, where: Position, seed: frozenset[str]
    ) -> LoadedFile | None:
        found = self.find_import(name, importer)
        if found is None:
            self.sink.error(f'cannot find imported file "{name}"', where)
            return None
        if found in self._loading:
            return None  # an import cycle: widl ignores a file that is already being read
        self.sink.include(found, where)
        text = self._read(found, where)
        if text is None:
            return None
        return self._load(found, text, seed)


def _include_folders(path: str, files_read: Sequence[str], settings: Settings) -> tuple[str, ...]:
    """Where `#include` may have looked: the folders of the including files, then the
    search path."""
    folders = dict.fromkeys(os.path.dirname(f) or "." for f in (path, *files_read))
    folders.update(dict.fromkeys(settings.search_path))
    return tuple(folders)


def _holding(folders: Sequence[str], name: str) -> frozenset[str]:
    return frozenset(f for f in folders if os.path.isfile(os.path.join(f, name)))


def make_settings(
    include_dirs: Sequence[str] = (),
    defines: Mapping[str, str] | None = None,
    undefines: Sequence[str] = (),
    use_base_idl: bool = True,
    limits: Limits = DEFAULT_LIMITS,
) -> Settings:
    return Settings(
        include_dirs=tuple(os.path.normpath(d) for d in include_dirs),
        defines=tuple(sorted((defines or {}).items())),
        undefines=tuple(undefines),
        use_base_idl=use_base_idl,
        limits=limits,
    )
