"""The module view: everything a template prints, computed in Python.

Templates loop over these dataclasses and never compute (DESIGN.md section 1): names
are already Python identifiers, values already literals, annotations already
spelled. Building the view is where the IDL-to-Python mapping lives.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Protocol, TypeVar

from idlgen import __version__, model
from idlgen.codegen.comments import comment_above
from idlgen.codegen.layout import assign, def_lines, field_line, return_call, tuple_lines
from idlgen.codegen.names import (
    comment_text,
    docstring,
    param_name,
    py_attr,
    py_literal,
    py_name,
)
from idlgen.codegen.param_keys import ParamKey, param_key
from idlgen.codegen.pytypes import PyType, TypeMapper, has_class
from idlgen.codegen.wire import Unsupported, WireBuilder, dependency_order
from idlgen.frontend import syntax
from idlgen.module_map import ModuleMap, is_bundled_idl, module_name_for
from idlgen.records import record

# Interfaces whose classes the runtime itself defines: generated code aliases them
# rather than declaring them again, so there is one class per IID in a process.
RUNTIME_INTERFACES = {
    "IUnknown",
    "AsyncIUnknown",
    "IClassFactory",
    "ICallFactory",
    "ISynchronize",
    "ISynchronizeHandle",
    "ISynchronizeEvent",
    "ISynchronizeContainer",
    "ICancelMethodCalls",
}


@record
class ConstantView:
    name: str
    literal: str
    comment: str
    line: str = ""  # `name = literal`, laid out


@record
class EnumView:
    name: str
    doc: str | None
    members: tuple[tuple[str, str], ...]  # (member name, value literal)
    aliases: tuple[str, ...]  # member names also exported at module level
    member_lines: tuple[str, ...] = ()  # `name = value` for each member, laid out


@record
class FieldView:
    name: str
    annotation: str
    default: str  # a Python expression: `0`, `None`, `_dc.field(default_factory=list)`
    line: str = ""  # the whole declaration, laid out: `name: annotation = default`


def field_view(name: str, annotation: str, default: str) -> FieldView:
    return FieldView(name, annotation, default, field_line(name, annotation, default))


@record
class StructView:
    name: str
    doc: str | None
    fields: tuple[FieldView, ...]


@record
class AliasView:
    name: str
    target: str


@record
class ParamView:
    name: str
    annotation: str


@record
class MethodView:
    name: str  # the Python attribute: the vtable name, keyword-escaped
    ins: tuple[ParamView, ...]
    outs: tuple[ParamView, ...]
    result_class: str | None  # the NamedTuple for two or more values returned
    returns: str  # the return annotation
    hresult: bool
    doc: str | None
    opnum: int = 0
    wire: str | None = None  # `_ndr.MethodMarshaler(...)` source; None when not remotable
    wire_note: str = ""  # why it is not remotable
    # Lines laid out once here rather than through template calls for every class that
    # prints them (a method appears in its interface, proxy or client, and call object).
    signature: str = ""  # `    def name(self, ...) -> returns:`
    table_ins: str = ""  # `ins=(...),` of its `_rt.Method(...)` entry
    table_outs: str = ""  # `outs=(...),`
    call: str = ""  # `        return self._call_(opnum, (args...))` of proxies and clients

    @property
    def param_decls(self) -> list[str]:
        return _param_decls(self.ins)

    @property
    def any_return_note(self) -> str:
        return _any_return_note(self.returns)

    @property
    def ins_tuple(self) -> str:
        return _ins_tuple(self.ins)


def _param_decls(ins: Sequence[ParamView]) -> list[str]:
    """`name: annotation` for each Python argument."""
    return [f"{p.name}: {p.annotation}" for p in ins]


def _any_return_note(returns: str) -> str:
    """Runtime dispatch returns Any; mypy --strict wants that said, except where the
    declared type is `object` (then the comment itself would be flagged unused)."""
    return "" if returns == "object" else "  # type: ignore[no-any-return]"


def _ins_tuple(ins: Sequence[ParamView]) -> str:
    """The argument tuple as Python source: `()`, `(a,)`, `(a, b)`."""
    names = [p.name for p in ins]
    return "(" + ", ".join(names) + ("," if len(names) == 1 else "") + ")"


@record
class InterfaceView:
    name: str
    iid_name: str
    iid: str | None
    base: str
    doc: str | None
    methods: tuple[MethodView, ...]
    runtime_alias: bool  # the runtime defines it: emit `Name = _rt.Name`
    async_partner: AsyncView | None = None
    dispatch: bool = False
    proxy_base: str | None = None  # None: no proxy (a [local] interface)
    rpc_version: str | None = None  # `(major, minor)` for a plain RPC interface
    # A plain RPC client's methods that get `Begin_X`: all but those whose `Begin_X` the
    # IDL already names (the IDL's own method keeps the name).
    begin_methods: tuple[MethodView, ...] = ()


@record
class AsyncView:
    name: str
    iid_name: str
    iid: str
    base: str
    sync_name: str
    methods: tuple[MethodView, ...]  # the synchronous methods; templates add Begin_/Finish_
    doc: str | None = None


@record
class WireTypeView:
    """A module-level NDR descriptor for a struct or enum: `_ndr_NAME = ...`."""

    name: str
    source: str


@record
class CoclassView:
    name: str
    clsid_name: str
    clsid: str | None
    doc: str | None
    interface_names: tuple[str, ...]


@record
class ImportView:
    alias: str
    module: str
    # "idlgen.runtime.base" for bundled files, the package of a mapped module, or None
    # (a sibling, or a mapped top-level module).
    package: str | None
    sibling: bool = False  # generated beside this module: relative in a package


@record
class ModuleView:
    source_name: str
    source_comment: str  # the file name made safe for the header comment
    version: str
    doc: str
    imports: tuple[ImportView, ...]
    constants: tuple[ConstantView, ...]
    enums: tuple[EnumView, ...]
    structs: tuple[StructView, ...]
    aliases: tuple[AliasView, ...]
    interfaces: tuple[InterfaceView, ...]
    coclasses: tuple[CoclassView, ...]
    cpp_quotes: tuple[str, ...]
    exports: tuple[str, ...]
    wire_types: tuple[WireTypeView, ...] = ()

    @property
    def needs_runtime(self) -> bool:
        """`from idlgen import runtime as _rt` is emitted only where something uses it."""
        if self.interfaces or self.coclasses:
            return True
        spelled = [f.annotation for s in self.structs for f in s.fields]
        spelled += [a.target for a in self.aliases] + [w.source for w in self.wire_types]
        return any("_rt." in text for text in spelled)

    @property
    def needs_rpc(self) -> bool:
        return any(i.rpc_version for i in self.interfaces)

    @property
    def needs_ndr(self) -> bool:
        return bool(self.wire_types) or any(m.wire for i in self.interfaces for m in i.methods)

    @property
    def needs_dataclasses(self) -> bool:
        return bool(self.structs)

    @property
    def needs_enum(self) -> bool:
        return bool(self.enums)

    @property
    def needs_typing(self) -> bool:
        declares_interfaces = any(not i.runtime_alias for i in self.interfaces)
        imports_siblings = any(i.sibling for i in self.imports)
        return bool(self.coclasses or declares_interfaces or imports_siblings)


def import_for_file(path: str, module_map: ModuleMap) -> ImportView:
    """How a generated module imports the module of another IDL file: a mapped module
    first, then the bundled base modules, else a sibling. The alias always follows the
    IDL file's name, so it cannot depend on where the module lives."""
    name = module_name_for(path)
    alias = "_" + name
    mapped = module_map.module_for(path)
    if mapped is not None:
        package, _, module = mapped.rpartition(".")
        return ImportView(alias, module, package or None)
    if is_bundled_idl(path):
        return ImportView(alias, name, "idlgen.runtime.base")
    return ImportView(alias, name, None, sibling=True)


@dataclass
class ViewBuilder:
    document: model.Document
    module_map: ModuleMap = field(default_factory=ModuleMap)
    used_names: set[str] = field(default_factory=set)
    imports: dict[str, ImportView] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.types = TypeMapper(self.document, self.qualify)
        self.wire = WireBuilder(self.document, self.qualify)
        self._typedef_names = self._names_from_typedefs()
        # What becomes a class or alias, by IDL name (the first declaration wins); the
        # Python names are spelled only for the few names a module uses.
        document = self.document
        named: tuple[model.Interface | model.Coclass | model.Typedef, ...] = (
            *document.interfaces,
            *document.coclasses,
            *document.typedefs,
        )
        self._named_items = {item.name: item for item in reversed(named)}
        tagged: tuple[model.Struct | model.Enum | model.Union, ...] = document.tagged_types
        self._tagged_items = {item.name: item for item in reversed(tagged)}
        # Descriptors live beside the struct or enum itself (a typedef naming it may
        # sit in another file), so they have their own table (the last one wins).
        described: tuple[model.Struct | model.Enum, ...] = (*document.structs, *document.enums)
        self._descriptor_items = {item.name: item for item in described}
        # Enum members are exported at module level only where the name is unambiguous.
        # The tables hold every import's declarations too: what this module emits is
        # picked out once per table, in a comprehension rather than a call per item.
        self._local_enums = _named(_here(document.enums))
        self._local_structs = _named(_here(document.structs))
        self._member_counts = Counter(
            _member_name(m.name) for e in self._local_enums for m in e.members
        )
        self._structs = {item.name: item for item in self.document.structs}
        self._enums = {item.name for item in self.document.enums}
        self._wire_supported: dict[str, bool] = {}
        # Python types of parameters and fields by `param_key`: asked only here, never
        # while `_has_descriptor` tries a struct, so the imports a spelling adds stay.
        self._param_types: dict[ParamKey, PyType] = {}
        self._imports_by_file: dict[str, ImportView] = {}
        # An ancestor's (itself, slots it takes, their C names), by id: `_inherited_slots`.
        self._own_slots: dict[int, tuple[model.Interface, int, frozenset[str]]] = {}

    # -- naming --------------------------------------------------------------

    def _class_entry(self, idl_name: str) -> tuple[str, model.Origin] | None:
        """(Python name, origin) of what becomes a class or alias for `idl_name`:
        interfaces, coclasses and typedefs first, then named structs, enums, unions."""
        item = self._named_items.get(idl_name)
        if item is not None:
            return py_name(idl_name), item.origin
        tagged = self._tagged_items.get(idl_name)
        if tagged is None or idl_name.startswith("__anonymous"):
            return None
        return py_name(self._typedef_names.get(idl_name, idl_name)), tagged.origin

    def _descriptor_entry(self, idl_name: str) -> tuple[str, model.Origin] | None:
        """(Python class name, origin) of the struct or enum an `_ndr_` name is for."""
        item = self._descriptor_items.get(idl_name)
        return None if item is None else (self._class_name(idl_name), item.origin)

    def _names_from_typedefs(self) -> dict[str, str]:
        """Tag -> typedef name, for `typedef struct tagX {...} X;`: the class is `X`."""
        found: dict[str, str] = {}
        same_name: set[str] = set()  # `typedef struct X {...} X, *PX;` keeps the tag
        for typedef in self.document.typedefs:
            tag = getattr(typedef.type, "tag", None)
            if isinstance(tag, str):
                if tag == typedef.name:
                    same_name.add(tag)
                else:
                    found.setdefault(tag, typedef.name)
        return {tag: name for tag, name in found.items() if tag not in same_name}

    def qualify(self, idl_name: str) -> str | None:
        """How this module spells an IDL name: bare if local, through an import if not.
        `_ndr_X` names X's module-level NDR descriptor."""
        prefix = ""
        if idl_name.startswith("_ndr_"):
            prefix, idl_name = "_ndr_", idl_name[len("_ndr_") :]
        elif idl_name in RUNTIME_INTERFACES:
            return f"_rt.{idl_name}"
        found = self._descriptor_entry(idl_name) if prefix else self._class_entry(idl_name)
        if found is None:
            return None
        name, origin = found
        if prefix and not self._has_descriptor(idl_name):
            return None
        name = prefix + name
        if _emitted_here(origin):
            return name
        imported = self._import_for(origin.file)
        self.imports.setdefault(imported.alias, imported)
        return f"{imported.alias}.{name}"

    def _import_for(self, path: str) -> ImportView:
        """`import_for_file`, once per imported file rather than once per name used."""
        found = self._imports_by_file.get(path)
        if found is None:
            found = self._imports_by_file[path] = import_for_file(path, self.module_map)
        return found

    # -- declarations ------------------------------------------------------------

    def build(self, source_name: str) -> ModuleView:
        document = self.document
        local = _parents_first([i for i in _here(document.interfaces) if has_class(i)])
        interfaces = [self._interface(i) for i in local if i.async_of is None]
        enums = [self._enum(e) for e in self._local_enums]
        structs = [self._struct(s) for s in self._local_structs]
        structs += [self._union(u) for u in _named(_here(document.unions))]
        aliases = self._aliases()
        constants = [self._constant(c) for c in _here(document.constants)]
        coclasses = [self._coclass(c) for c in _here(document.coclasses)]
        wire_types = self._wire_types()
        exports = self._exports(constants, enums, structs, aliases, interfaces, coclasses)
        return ModuleView(
            source_name=source_name,
            source_comment=comment_text(source_name),
            version=__version__,
            doc=docstring(f"Python bindings generated by idlgen from {source_name}."),
            imports=tuple(sorted(self.imports.values(), key=lambda i: i.alias)),
            constants=tuple(constants),
            enums=tuple(enums),
            structs=tuple(structs),
            aliases=tuple(aliases),
            interfaces=tuple(interfaces),
            coclasses=tuple(coclasses),
            cpp_quotes=tuple(comment_text(q.text) for q in _here(document.cpp_quotes)),
            exports=tuple(sorted(set(exports), key=_export_key)),
            wire_types=tuple(wire_types),
        )

    def _constant(self, constant: model.Constant) -> ConstantView:
        from idlgen.spelling import expr_text

        name, literal = py_name(constant.name), py_literal(constant.value)
        comment = comment_text(expr_text(constant.expression))
        return ConstantView(name, literal, comment, assign(name, literal))

    def _enum(self, enum: model.Enum) -> EnumView:
        members = tuple((_member_name(m.name), py_literal(m.value)) for m in enum.members)
        taken = self._module_level_names
        aliases = tuple(
            m
            for m, _ in members
            if m not in taken and m == py_name(m) and self._member_counts[m] == 1
        )
        lines = tuple(assign(name, value, 4) for name, value in members)
        return EnumView(self._class_name(enum.name), _doc(enum), members, aliases, lines)

    @cached_property
    def _module_level_names(self) -> set[str]:
        """Names an enum member exported at module level would clash with (asked once,
        not once per enum)."""
        tagged = {name for name in self._tagged_items if not name.startswith("__anonymous")}
        return set(self._named_items) | tagged | {c.name for c in self.document.constants}

    def _class_name(self, idl_name: str) -> str:
        """The name of a class this module defines: never qualified by an import, even
        when an imported file also declares something by that name."""
        return py_name(self._typedef_names.get(idl_name, idl_name))

    def _struct(self, struct: model.Struct) -> StructView:
        fields = tuple(self._field(f, i) for i, f in enumerate(struct.fields))
        return StructView(self._class_name(struct.name), _doc(struct), fields)

    def _union(self, union: model.Union) -> StructView:
        """A union value is its discriminant and the value of the selected arm."""
        fields = (
            field_view("discriminant", "int", "0"),
            field_view("value", "object", "None"),
        )
        return StructView(self._class_name(union.name), _doc(union), fields)

    def _field(self, item: model.Field, index: int) -> FieldView:
        fake = model.Param(
            item.name or f"field{index}", item.type, model.Direction.IN, item.attributes
        )
        mapped = self._param_type(fake)
        default = _default(mapped)
        annotation = mapped.annotation
        if default == "None" and annotation != "object" and not annotation.endswith("| None"):
            annotation += " | None"
        return field_view(py_attr(item.name or f"field{index}"), annotation, default)

    def _param_type(self, param: model.Param) -> PyType:
        key = param_key(param)
        if key is None:
            return self.types.param(param)
        found = self._param_types.get(key)
        if found is None:
            found = self._param_types[key] = self.types.param(param)
        return found

    def _aliases(self) -> list[AliasView]:
        aliases: list[AliasView] = []
        classes = {s.name for s in self.document.structs} | {e.name for e in self.document.enums}
        classes |= {u.name for u in self.document.unions} | set(self._typedef_names.values())
        for typedef in _here(self.document.typedefs):
            if typedef.name in classes:
                continue
            target = self.types.type(typedef.type).annotation
            if target in ("object", py_name(typedef.name)):
                continue
            aliases.append(AliasView(py_name(typedef.name), target))
        return aliases

    def _coclass(self, coclass: model.Coclass) -> CoclassView:
        return CoclassView(
            name=py_name(coclass.name),
            clsid_name=py_name("CLSID_" + coclass.name),
            clsid=_guid_literal(coclass.uuid) if coclass.uuid else None,
            doc=_doc(coclass),
            interface_names=tuple(m.name for m in coclass.interfaces),
        )

    def _interface(self, interface: model.Interface) -> InterfaceView:
        name = py_name(interface.name)
        prefix = "DIID_" if interface.kind == "dispinterface" else "IID_"
        runtime_alias = interface.name in RUNTIME_INTERFACES
        vtable = [(m, m.vtable_name) for m in _vtable_methods(interface)]
        slots_before, inherited = self._inherited_slots(interface)
        first_opnum = slots_before if interface.is_object else 0
        own_names = frozenset(py_attr(slot) for _, slot in vtable)
        methods = tuple(
            self._method(interface, m, first_opnum + index, inherited, own_names, slot)
            for index, (m, slot) in enumerate(vtable)
        )
        base = self.qualify(interface.parent) if interface.parent else None
        partner = self._async_view(interface, methods)
        rpc_version = self._rpc_version(interface)
        begin_methods: tuple[MethodView, ...] = ()
        if rpc_version is not None:
            base = "_rpc.RpcInterface"
            begin_methods = tuple(m for m in methods if "Begin_" + m.name not in own_names)
        return InterfaceView(
            name=name,
            iid_name=py_name(prefix + interface.name),
            iid=_guid_literal(interface.uuid),
            base=base or "_rt.IUnknown",
            doc=_described(interface),
            methods=methods,
            runtime_alias=runtime_alias,
            async_partner=partner,
            dispatch=interface.kind == "dispinterface",
            proxy_base=self._proxy_base(interface),
            rpc_version=rpc_version,
            begin_methods=begin_methods,
        )

    def _inherited_slots(self, interface: model.Interface) -> tuple[int, frozenset[str]]:
        """The vtable slots inherited from ancestors: how many (a `[call_as]` method is
        only a wire form and takes none) and their C names. One walk up the chain, with
        each ancestor's own slots counted once per module (IDispatch's for every
        dispatch interface, a long chain's for each of its members)."""
        count = 0
        names: set[str] = set()
        for owner in self.document.ancestry(interface)[1:]:
            own = self._own_slots.get(id(owner))
            if own is None:
                own = self._own_slots[id(owner)] = (
                    owner,
                    sum(not method.has("call_as") for method in owner.methods),
                    frozenset(method.vtable_name for method in owner.methods),
                )
            count += own[1]
            names |= own[2]
        return count, frozenset(names)

    def _rpc_version(self, interface: model.Interface) -> str | None:
        """`(major, minor)` for a plain (non-object) RPC interface, from `version(M.m)`."""
        if interface.is_object or interface.kind == "dispinterface":
            return None
        version = interface.attribute("version")
        major, minor = 0, 0
        if version is not None and version.args and isinstance(version.args[0], syntax.Number):
            text = version.args[0].text
            whole, _, fraction = text.partition(".")
            major, minor = int(float(whole or "0")), int(fraction or "0")
        return f"({major}, {minor})"

    def _proxy_base(self, interface: model.Interface) -> str | None:
        """The parent's proxy class, or the runtime's base for children of IUnknown."""
        if interface.is_local or interface.kind == "dispinterface" or not interface.is_object:
            return None
        parent = interface.parent
        if parent in (None, "IUnknown"):
            return "_rt.InterfaceProxy"
        found = self.document.interface(parent or "")
        if found is None or found.is_local or parent in RUNTIME_INTERFACES:
            return "_rt.InterfaceProxy"
        spelled = self.qualify(parent or "")
        return f"{spelled}_Proxy" if spelled else "_rt.InterfaceProxy"

    def _async_view(
        self, interface: model.Interface, methods: tuple[MethodView, ...]
    ) -> AsyncView | None:
        if interface.async_partner is None or interface.name in RUNTIME_INTERFACES:
            return None
        partner = self.document.interface(interface.async_partner)
        if partner is None or partner.uuid is None:
            return None
        base = (
            "_rt.AsyncInterface"
            if partner.parent == "IUnknown"
            else self.qualify(partner.parent or "")
        )
        return AsyncView(
            name=py_name(partner.name),
            iid_name=py_name("IID_" + partner.name),
            iid=_guid_literal(partner.uuid) or "",
            base=base or "_rt.AsyncInterface",
            sync_name=py_name(interface.name),
            methods=methods,
            doc=_described(interface, f"Call objects for {interface.name}."),
        )

    def _method(
        self,
        interface: model.Interface,
        method: model.Method,
        opnum: int,
        inherited: frozenset[str],
        own_names: frozenset[str],
        slot: str,
    ) -> MethodView:
        """`slot` is the method's vtable name, `inherited` its ancestors' slot names and
        `own_names` the Python names of its interface's methods (asked once per
        interface, not once per method)."""
        # One pass over the parameters: an [in, out] one is in both lists, with one type.
        in_views: list[ParamView] = []
        outs: list[ParamView] = []
        for p in method.params:
            annotation = self._param_type(p).annotation
            if p.direction is model.Direction.IN:
                in_views.append(ParamView(param_name(p.name, False), annotation))
            elif p.direction is model.Direction.OUT:
                outs.append(ParamView(param_name(p.name, True), annotation))
            else:
                view = ParamView(param_name(p.name, True), annotation)
                in_views.append(view)
                outs.append(view)
        ins = tuple(in_views)
        hresult = _returns_hresult(method)
        if not hresult and not _returns_void(method):
            returned = self.types.type(method.return_type).annotation
            outs.insert(0, ParamView("return_", returned))
        name = py_attr(slot)
        if slot in inherited:
            # A method redeclaring an ancestor's name is another vtable slot; widl names
            # it `<Interface>_<name>` in C, and so do we (else it would override).
            name = py_attr(f"{interface.name}_{slot}")
        if name in RUNTIME_ATTRIBUTES:
            name += "_"  # `close` would override RpcClient.close in the client stub
        result_class = f"{name}Result" if len(outs) >= 2 else None
        while result_class and result_class in own_names:
            result_class += "_"  # a method `GetResult` beside `Get`'s result tuple
        if result_class:
            returns = f"{py_name(interface.name)}.{result_class}"
        elif outs:
            returns = outs[0].annotation
        else:
            returns = "int" if hresult else "None"
        wire = self.wire.method(interface, method, opnum)
        # The C return value, first in the NamedTuple of a non-HRESULT method, is not a
        # parameter of `_rt.Method(outs=...)`.
        table_outs = outs[1:] if outs and outs[0].name == "return_" else outs
        return MethodView(
            name,
            ins,
            tuple(outs),
            result_class,
            returns,
            hresult,
            _described(method),
            opnum,
            wire.source,
            comment_text(wire.reason),
            signature=def_lines(name, _param_decls(ins), returns),
            table_ins=tuple_lines("ins=", [py_literal(p.name) for p in ins], ",", 12),
            table_outs=tuple_lines("outs=", [py_literal(p.name) for p in table_outs], ",", 12),
            call=return_call(
                "self._call_", [str(opnum), _ins_tuple(ins)], _any_return_note(returns)
            ),
        )

    # -- NDR descriptors for structs and enums -----------------------------------

    def _has_descriptor(self, idl_name: str) -> bool:
        """Whether struct or enum `idl_name` gets an NDR descriptor, here or in the module
        of the file that declares it (the same rules run there). Asked lazily and
        remembered: most imported structs are never used by this module's methods."""
        known = self._wire_supported.get(idl_name)
        if known is not None:
            return known
        struct = self._structs.get(idl_name)
        if struct is None:
            supported = idl_name in self._enums
        else:
            self._wire_supported[idl_name] = False  # a cycle through pointers: refuse
            imports = dict(self.imports)  # trying descriptors must not add imports
            try:
                for index, item in enumerate(struct.fields):
                    self.wire.field(item, index)
                supported = True
            except Unsupported:
                supported = False
            self.imports = imports
        self._wire_supported[idl_name] = supported
        return supported

    def _wire_types(self) -> list[WireTypeView]:
        views: list[WireTypeView] = []
        for enum in self._local_enums:
            wire = "_ndr.ENUM32" if enum.has("v1_enum") else "_ndr.ENUM16"
            name = self._class_name(enum.name)
            source = f"_ndr.Enum({py_literal(enum.name)}, {wire}, factory={name})"
            views.append(WireTypeView("_ndr_" + name, source))
        local = {id(struct) for struct in self._local_structs}
        for struct in dependency_order(self.document.structs, self.document.typedefs):
            if id(struct) not in local:
                continue
            if not self._has_descriptor(struct.name):
                continue  # methods using it are not remotable: `qualify` refuses it
            fields = [self.wire.field(f, i) for i, f in enumerate(struct.fields)]
            name = self._class_name(struct.name)
            body = ", ".join(fields) + ("," if len(fields) == 1 else "")
            source = f"_ndr.Struct({py_literal(struct.name)}, ({body}), factory={name})"
            views.append(WireTypeView("_ndr_" + name, source))
        return views

    def _exports(self, *groups: Sequence[object]) -> list[str]:
        names: list[str] = []
        for group in groups:
            for item in group:
                attributes: tuple[str, ...] = ("name",)
                if getattr(item, "clsid", None):
                    attributes += ("clsid_name",)
                if not getattr(item, "rpc_version", None):
                    attributes += ("iid_name",)
                for attribute in attributes:
                    value = getattr(item, attribute, None)
                    if isinstance(value, str) and "." not in value:
                        names.append(value)
                if getattr(item, "rpc_version", None):
                    names.append(f"{item.name}_Client")  # type: ignore[attr-defined]
                elif getattr(item, "proxy_base", None) and not getattr(
                    item, "runtime_alias", False
                ):
                    names.append(f"{item.name}_Proxy")  # type: ignore[attr-defined]
                partner = getattr(item, "async_partner", None)
                if partner is not None:
                    names += [partner.name, partner.iid_name]
                names += list(getattr(item, "aliases", ()))
        return names


# Public attributes of the runtime classes a generated class is mixed with (RpcClient
# for RPC client stubs, InterfaceProxy for proxies, ComObject for servers), apart from
# IUnknown's methods: a method by such a name would override the runtime's. Spelled
# out so code generation does not import the runtime; a test compares it with them.
RUNTIME_ATTRIBUTES = frozenset({"close", "connection", "create", "timeout"})


def _emitted_here(origin: model.Origin) -> bool:
    """Declared by the main file, or by a `.h` file it imports: a header has no module
    of its own, so its declarations land in every module that imports it."""
    return not origin.imported or origin.file.endswith(".h")


class _Declared(Protocol):
    @property
    def origin(self) -> model.Origin: ...


_D = TypeVar("_D", bound=_Declared)


def _here(items: Iterable[_D]) -> list[_D]:
    """The items of one table emitted here (`_emitted_here`)."""
    return [i for i in items if _emitted_here(i.origin)]


class _Named(Protocol):
    @property
    def name(self) -> str: ...


_N = TypeVar("_N", bound=_Named)


def _named(items: list[_N]) -> list[_N]:
    """Without the anonymous structs, enums and unions: they get no class."""
    return [i for i in items if not i.name.startswith("__anonymous")]


def _parents_first(interfaces: list[model.Interface]) -> list[model.Interface]:
    """Source order, except that a class comes after the class it derives from (IDL
    may define a parent after a child that names it through a forward declaration)."""
    by_name = {i.name: i for i in interfaces}
    ordered: list[model.Interface] = []
    placed: set[str] = set()

    def place(interface: model.Interface, path: frozenset[str]) -> None:
        if interface.name in placed or interface.name in path:
            return
        parent = by_name.get(interface.parent or "")
        if parent is not None:
            place(parent, path | {interface.name})
        placed.add(interface.name)
        ordered.append(interface)

    for interface in interfaces:
        place(interface, frozenset())
    return ordered


def _vtable_methods(interface: model.Interface) -> tuple[model.Method, ...]:
    """The methods that occupy vtable slots: a `[call_as]` method is only a wire form."""
    if interface.kind == "dispinterface":
        return ()
    return tuple(m for m in interface.methods if not m.has("call_as"))


def _export_group(name: str) -> int:
    """ruff's RUF022 groups: SCREAMING_CASE names, then CamelCase, then the rest."""
    if name.isupper() and len(name) > 1:
        return 0  # (ruff counts a single capital as CamelCase)
    return 1 if name[:1].isupper() else 2


_DIGIT_RUNS = re.compile(r"(\d+)")


def _natural_key(name: str) -> tuple[object, ...]:
    """Natural order as ruff applies it: digit runs compare by value, except that a
    run with a leading zero compares digit by digit (so `P010` < `P8`). `re.split`
    alternates text and digit runs, so two keys always hold the same kind at the same
    place; a zero-led run sorts as text, before any run without a leading zero."""
    parts: list[object] = []
    for index, part in enumerate(_DIGIT_RUNS.split(name)):
        if index % 2 == 0:
            parts.append(part)
        elif part[0] == "0":
            parts.append((0, 0, part))
        else:
            parts.append((1, len(part), part))
    return tuple(parts)


def _export_key(name: str) -> tuple[int, tuple[object, ...]]:
    return _export_group(name), _natural_key(name)


def _member_name(name: str) -> str:
    """Enum members: attributes, but `mro` is refused by Enum."""
    name = py_attr(name)
    return "mro_" if name == "mro" else name


def _returns_hresult(method: model.Method) -> bool:
    type_ = method.return_type
    return isinstance(type_, syntax.NamedType) and type_.name in ("HRESULT", "SCODE")


def _returns_void(method: model.Method) -> bool:
    type_ = method.return_type
    return isinstance(type_, syntax.BaseType) and type_.name == "void"


def _guid_literal(uuid: str | None) -> str | None:
    """The GUID's string literal; an interface without a uuid gets GUID_NULL's."""
    return py_literal("{" + (uuid or "00000000-0000-0000-0000-000000000000").upper() + "}")


def _doc(item: model.HasAttributes) -> str | None:
    text = _helpstring(item)
    return docstring(text) if text is not None else None


def _helpstring(item: model.HasAttributes) -> str | None:
    helpstring = item.attribute("helpstring")
    if helpstring is None or not helpstring.args:
        return None
    arg = helpstring.args[0]
    return arg.value if isinstance(arg, syntax.String) else None


def _described(item: model.Interface | model.Method, lead: str = "") -> str | None:
    """An interface's or method's docstring: its helpstring, then the comment written
    above it in the IDL (both escaped by `docstring`). `lead` prefixes a derived class's
    docstring and is used only when there is something to say."""
    parts = [text for text in (_helpstring(item), comment_above(item.origin)) if text]
    if not parts:
        return None
    return docstring(" ".join([lead, *parts]).strip())


def _default(mapped: object) -> str:
    annotation = getattr(mapped, "annotation", "object")
    kind = getattr(mapped, "kind", "object")
    if annotation.endswith("| None") or kind in ("object", "interface", "union", "guid", "enum"):
        return "None"
    return {
        "int": "0",
        "float": "0.0",
        "bool": "False",
        "str": '""',
        "bytes": 'b""',
        "list": "_dc.field(default_factory=list)",
    }.get(kind, "None")
