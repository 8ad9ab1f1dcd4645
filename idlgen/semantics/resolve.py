"""Resolution: from parsed files to the resolved `Document`.

Walks the files in dependency order, registers every declaration (flattening
libraries, modules, namespaces and interface bodies, as widl's global scope does),
evaluates constants and enum values, checks names and inheritance, and derives the
async partners. Problems become diagnostics; resolution goes on so a run reports as
many as it can.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from idlgen import model
from idlgen.diagnostics import DiagnosticSink, Position
from idlgen.frontend import syntax
from idlgen.limits import DEFAULT_LIMITS, Limits, exceeded
from idlgen.semantics.asyncderive import derive_async_partners
from idlgen.semantics.attribute_duplicates import duplicates_checker
from idlgen.semantics.attribute_values import check_values
from idlgen.semantics.checks import check_document
from idlgen.semantics.consteval import WIDE_LITERAL_LIMIT, ConstError, Evaluator, Value
from idlgen.semantics.loader import Journal, LoadedFile, walk

# A tuple, not `Pointer | Array`: a union type is built anew at every evaluation, and
# isinstance against it is 2.5 times slower (asked for every parameter and field).
_WRAPPERS = (syntax.Pointer, syntax.Array)


@dataclass
class _Scope:
    """What the walk has seen so far, by name; the resolved model is built from it."""

    interfaces: dict[str, model.Interface] = field(default_factory=dict)
    forward_interfaces: set[str] = field(default_factory=set)
    structs: dict[str, model.Struct] = field(default_factory=dict)
    unions: dict[str, model.Union] = field(default_factory=dict)
    enums: dict[str, model.Enum] = field(default_factory=dict)
    typedefs: dict[str, model.Typedef] = field(default_factory=dict)
    constants: dict[str, model.Constant] = field(default_factory=dict)
    enum_values: dict[str, int] = field(default_factory=dict)
    coclasses: dict[str, model.Coclass] = field(default_factory=dict)
    libraries: list[model.Library] = field(default_factory=list)
    functions: list[model.Function] = field(default_factory=list)
    cpp_quotes: list[model.CppQuote] = field(default_factory=list)
    other_types: set[str] = field(default_factory=set)  # delegates, contracts, ...
    contracts: dict[str, Position] = field(default_factory=dict)  # defined, by full name
    # While a file is walked, every write is also noted here, table by table and in
    # order, so the file's whole contribution can be replayed when another compile
    # imports the same parse: a dict table gets (key, value) pairs, the others values.
    journal: Journal | None = None

    def put(self, table: str, key: str, value: object) -> None:
        getattr(self, table)[key] = value
        if self.journal is not None:
            self.journal.setdefault(table, []).append((key, value))

    def append(self, table: str, value: object) -> None:
        getattr(self, table).append(value)
        if self.journal is not None:
            self.journal.setdefault(table, []).append(value)

    def add(self, table: str, value: str) -> None:
        getattr(self, table).add(value)
        if self.journal is not None:
            self.journal.setdefault(table, []).append(value)

    def replay(self, journal: Journal) -> None:
        """Each table's writes at once (every import of every compile is replayed): the
        tables are independent, and within one the order of writes is kept."""
        for table, writes in journal.items():
            target = getattr(self, table)
            if isinstance(target, list):
                target.extend(writes)
            else:
                target.update(writes)  # a dict from its pairs, a set from its values


class Resolver:
    def __init__(
        self,
        main: LoadedFile,
        sink: DiagnosticSink,
        explain: Callable[[str], str] | None = None,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self.main = main
        self.sink = sink
        self.explain = explain
        self.limits = limits
        self._chain_lengths: dict[str, int] = {}
        self.scope = _Scope()
        self.evaluator = Evaluator(self._constant_value, self._resolve_typedefs)
        self.wide_evaluator = Evaluator(
            self._constant_value, self._resolve_typedefs, WIDE_LITERAL_LIMIT
        )
        self._imported = True
        self._namespace: str | None = None

    def resolve(self) -> model.Document:
        files = walk([self.main])
        for loaded in files:
            self._imported = loaded is not self.main
            self._namespace = None
            self._walk_file(loaded)
        interfaces = derive_async_partners(list(self.scope.interfaces.values()), self.sink)
        self._check_inheritance(interfaces)
        read: list[str] = []
        for loaded in files:
            read += [f for f in loaded.files_read if f not in read]
        s = self.scope
        document = model.Document(
            source=self.main.path,
            files_read=tuple(read),
            interfaces=tuple(interfaces),
            structs=tuple(s.structs.values()),
            unions=tuple(s.unions.values()),
            enums=tuple(s.enums.values()),
            typedefs=tuple(s.typedefs.values()),
            constants=tuple(s.constants.values()),
            coclasses=tuple(s.coclasses.values()),
            libraries=tuple(s.libraries),
            functions=tuple(s.functions),
            cpp_quotes=tuple(s.cpp_quotes),
            winrt=self.main.tree.winrt,
        )
        check_document(document, self.sink)
        check_values(
            self.main.tree,
            self.evaluator,
            self.sink,
            duplicates_checker(self.sink),
            self.main.copies,
        )
        return document

    def _walk_file(self, loaded: LoadedFile) -> None:
        """Register one file's declarations, or replay them from an earlier compile.

        An imported file that parsed on its own (nothing taken from its importer's
        scope) resolves the same way every time its imports are the same parses, which
        the parse cache guarantees; so its contribution is recorded once and replayed.
        The main file is always walked (it is the one whose origins are not imported).
        """
        reusable = self._imported and not loaded.external
        if reusable and loaded.resolution is not None:
            self.scope.replay(loaded.resolution)
            return
        errors_before = len(self.sink.diagnostics)
        self.scope.journal = {} if reusable else None
        try:
            self._items(loaded.tree.items)
        finally:
            journal, self.scope.journal = self.scope.journal, None
        if journal is not None and len(self.sink.diagnostics) == errors_before:
            loaded.resolution = journal

    # -- walking items -----------------------------------------------------

    def _items(self, items: tuple[syntax.Item, ...] | tuple[object, ...]) -> None:
        for item in items:
            handler = getattr(self, "_item_" + type(item).__name__, None)
            if handler is None:  # a construct the parser builds and nobody reads
                pos = getattr(item, "pos", None)
                self.sink.error(f"internal error: {type(item).__name__} is not handled", pos)
                continue
            handler(item)

    # Items with no declaration to register, each for a reason: imports were loaded
    # by the loader, `importlib` names a type library (a binary file idlgen does not
    # read: it only matters to widl's typelib output), pragmas only tune widl's own
    # warnings, and a WinRT `declare` block lists instantiations widl writes into C++.
    def _item_Import(self, item: syntax.Import) -> None:
        pass

    def _item_ImportLib(self, item: syntax.ImportLib) -> None:
        pass

    def _item_MidlPragma(self, item: syntax.MidlPragma) -> None:
        pass

    def _item_Declare(self, item: syntax.Declare) -> None:
        pass

    def _origin(self, pos: Position) -> model.Origin:
        return model.Origin(pos.file, pos.line, pos.column, self._imported)

    def _item_CppQuote(self, item: syntax.CppQuote) -> None:
        self.scope.append("cpp_quotes", model.CppQuote(item.text, self._origin(item.pos)))

    def _item_Library(self, item: syntax.Library) -> None:
        members = tuple(n for n in (_item_name(i) for i in item.items) if n)
        uuid = _uuid_of(item.attributes)
        library = model.Library(item.name, uuid, item.attributes, members, self._origin(item.pos))
        self.scope.append("libraries", library)
        self._items(item.items)

    def _item_ModuleDecl(self, item: syntax.ModuleDecl) -> None:
        for member in item.items:
            if isinstance(member, syntax.Declaration) and isinstance(
                member.type, syntax.FunctionType
            ):
                self._function(member, item.name)
            else:
                self._items((member,))

    def _item_Namespace(self, item: syntax.Namespace) -> None:
        outer = self._namespace
        self._namespace = item.name if outer is None else f"{outer}.{item.name}"
        self._items(item.items)
        self._namespace = outer

    def _item_Declaration(self, item: syntax.Declaration) -> None:
        if isinstance(item.type, syntax.FunctionType):
            self._function(item, "")
        elif item.storage not in ("extern", "static") and not getattr(item.type, "const", False):
            self.sink.error("instantiation of data is illegal", item.pos)
        # An `extern`/`static`/`const` variable is a C declaration with no value in the
        # IDL: widl copies it into the header, and it has no Python counterpart.

    def _function(self, item: syntax.Declaration, owner: str) -> None:
        assert isinstance(item.type, syntax.FunctionType)
        params = self._params(item.type.params)
        function = model.Function(
            item.name,
            item.type.return_type,
            params,
            item.attributes,
            self._origin(item.pos),
            owner,
        )
        self.scope.append("functions", function)

    def _item_Typedef(self, item: syntax.Typedef) -> None:
        self._register_inline_types(item.type, item.attributes, typedef_name=item.name)
        existing = self.scope.typedefs.get(item.name)
        if existing is not None and existing.type != item.type and not self._imported:
            self.sink.warning(
                f"redefinition of typedef '{item.name}'", item.pos, option="typedef-redefinition"
            )
        typedef = model.Typedef(item.name, item.type, item.attributes, self._origin(item.pos))
        self.scope.put("typedefs", item.name, typedef)
        if self._chain_length(item.name) > self.limits.typedef_chain:
            limit = self.limits.typedef_chain
            self.sink.error(exceeded("a chain of typedefs", "typedef_chain", limit), item.pos)

    def _chain_length(self, name: str) -> int:
        """How many typedefs `name` goes through to reach a type that is no typedef
        (pointers and arrays of a typedef count as the typedef): code generation
        follows such chains recursively. Walked without recursion, each name once."""
        chain: list[str] = []
        known = 0
        while name not in self._chain_lengths and name not in chain:
            typedef = self.scope.typedefs.get(name)
            if typedef is None:
                break
            chain.append(name)
            inner = typedef.type
            while isinstance(inner, syntax.Pointer | syntax.Array):
                inner = inner.target if isinstance(inner, syntax.Pointer) else inner.element
            if not isinstance(inner, syntax.NamedType):
                break
            name = inner.name
        else:
            known = self._chain_lengths.get(name, 0)
        for offset, link in enumerate(reversed(chain), start=1):
            self._chain_lengths[link] = known + offset
        return self._chain_lengths.get(chain[0], 0) if chain else known

    def _item_TypeDeclaration(self, item: syntax.TypeDeclaration) -> None:
        self._register_inline_types(item.type, item.attributes)

    def _item_Const(self, item: syntax.Const) -> None:
        kind = self.evaluator.integer_kind(item.type)
        wide = kind is not None and kind.bits == 64
        try:
            value = (self.wide_evaluator if wide else self.evaluator).evaluate(item.value)
        except ConstError as error:
            self.sink.error(error.message, error.pos)
            return
        if kind is not None and isinstance(value, int):
            value = kind.wrap(value)
        if item.name in self.scope.constants and not self._imported:
            previous = self.scope.constants[item.name]
            if previous.value != value:
                self.sink.error(f"redefinition of constant '{item.name}'", item.pos)
        constant = model.Constant(item.name, item.type, value, item.value, self._origin(item.pos))
        self.scope.put("constants", item.name, constant)

    def _item_Coclass(self, item: syntax.Coclass) -> None:
        self._coclass(item, "coclass")

    def _item_RuntimeClass(self, item: syntax.RuntimeClass) -> None:
        self._coclass(item, "runtimeclass")

    def _coclass(self, item: syntax.Coclass | syntax.RuntimeClass, kind: str) -> None:
        if item.forward:
            if isinstance(item, syntax.RuntimeClass):
                self.scope.add("other_types", item.name)
            return
        parent = None
        if isinstance(item, syntax.RuntimeClass) and item.parent is not None:
            parent = _type_name(item.parent)
            short = parent.rsplit(".", 1)[-1]
            known = self.scope.coclasses.get(short) or self.scope.coclasses.get(parent)
            if (known is None or known.kind != "runtimeclass") and short not in (
                self.scope.other_types
            ):
                self.sink.error(f"runtimeclass '{parent}' not found", item.parent.pos)
        members = tuple(model.CoclassMember(m.name, m.attributes) for m in item.interfaces)
        coclass = model.Coclass(
            item.name,
            _uuid_of(item.attributes),
            members,
            item.attributes,
            self._origin(item.pos),
            kind,
            self._namespace,
            parent,
        )
        self._check_redefinition(self.scope.coclasses.get(item.name), coclass, kind, item.name)
        self.scope.put("coclasses", item.name, coclass)

    def _item_Delegate(self, item: syntax.Delegate) -> None:
        self.scope.add("other_types", item.name)

    def _item_ApiContract(self, item: syntax.ApiContract) -> None:
        self.scope.add("other_types", item.name)
        if item.forward:
            return
        full = item.name if self._namespace is None else f"{self._namespace}.{item.name}"
        first = self.scope.contracts.get(full)
        if first is None:
            self.scope.put("contracts", full, item.pos)
        elif not self._imported:
            # widl's wording; a second definition would replace the first without a word
            self.sink.error(
                f"apicontract '{item.name}' already defined at {first.file}:{first.line}",
                item.pos,
            )

    def _item_Interface(self, item: syntax.Interface) -> None:
        if item.forward:
            self.scope.add("forward_interfaces", item.name)
            return
        if item.type_params:
            self.scope.add("other_types", item.name)  # a WinRT template, not a vtable
            return
        methods: list[model.Method] = []
        is_object = item.kind == "dispinterface" or any(
            a.name in ("object", "odl") for a in item.attributes
        )
        for member in item.members:
            if isinstance(member, syntax.Method):
                methods.append(self._method(member))
                if not is_object:
                    self._function_from_method(member, item.name)
            else:
                self._items((member,))
        parent = self._parent_name(item)
        if item.kind == "dispinterface" and item.base_interface:
            base = self.scope.interfaces.get(item.base_interface)
            methods = list(base.methods) if base else []
        interface = model.Interface(
            name=item.name,
            kind=item.kind,
            uuid=_uuid_of(item.attributes),
            parent=parent,
            methods=tuple(methods),
            attributes=item.attributes,
            origin=self._origin(item.pos),
            properties=tuple(self._fields(item.properties)),
            namespace=self._namespace,
            requires=tuple(_type_name(t) for t in item.requires),
        )
        previous = self.scope.interfaces.get(item.name)
        if (
            previous is not None
            and previous.origin != interface.origin
            and not (previous.origin.imported or self._imported)
        ):
            self.sink.error(f"redefinition of interface '{item.name}'", item.pos)
        self.scope.put("interfaces", item.name, interface)

    def _function_from_method(self, member: syntax.Method, owner: str) -> None:
        function = model.Function(
            member.name,
            member.return_type,
            self._params(member.params),
            member.attributes,
            self._origin(member.pos),
            owner,
        )
        self.scope.append("functions", function)

    def _parent_name(self, item: syntax.Interface) -> str | None:
        if item.kind == "dispinterface":
            return "IDispatch"
        if item.parent is None:
            return None
        name = _type_name(item.parent)
        known = name in self.scope.interfaces or name in self.scope.forward_interfaces
        if not known and not self._short_name_known(name):
            where = item.parent.pos if item.parent.pos != syntax.NOWHERE else item.pos
            self.sink.error(f"interface '{name}' not found", where)
            if self.explain is not None:
                self.sink.note(self.explain(name), where)
        return name

    def _short_name_known(self, name: str) -> bool:
        """WinRT code names interfaces by dotted, relative or short names."""
        short = name.rsplit(".", 1)[-1]
        return short in self.scope.interfaces or short in self.scope.forward_interfaces

    def _method(self, member: syntax.Method) -> model.Method:
        return model.Method(
            name=member.name,
            return_type=member.return_type,
            params=self._params(member.params),
            attributes=member.attributes,
            origin=self._origin(member.pos),
        )

    def _params(self, params: tuple[syntax.Param, ...]) -> tuple[model.Param, ...]:
        result: list[model.Param] = []
        for index, param in enumerate(params):
            type_ = param.type
            if type_.__class__ is syntax.BaseType:
                if type_.name == "void" and param.name is None and len(params) == 1:
                    continue  # `f(void)`
            elif type_.__class__ is not syntax.NamedType:  # those define nothing inline
                self._register_inline_types(type_, ())
            is_in = is_out = False
            for attribute in param.attributes:
                name = attribute.name
                if name == "in":
                    is_in = True
                elif name == "out":
                    is_out = True
            if is_out:
                direction = model.Direction.INOUT if is_in else model.Direction.OUT
            else:
                direction = model.Direction.IN
            name = param.name if param.name is not None else f"arg{index}"
            result.append(
                model.Param(name, param.type, direction, param.attributes, param.name is not None)
            )
        return tuple(result)

    def _fields(self, fields: tuple[syntax.Field, ...]) -> list[model.Field]:
        result: list[model.Field] = []
        for item in fields:
            self._register_inline_types(item.type, item.attributes)
            bits = None
            if item.bits is not None:
                try:
                    bits = self.evaluator.evaluate_int(item.bits)
                except ConstError as error:
                    self.sink.error(error.message, error.pos)
            result.append(model.Field(item.name, item.type, item.attributes, bits))
        return result

    # -- inline struct, union and enum definitions -------------------------

    def _register_inline_types(
        self,
        type_: syntax.Type,
        attributes: syntax.Attributes,
        typedef_name: str | None = None,
    ) -> None:
        while isinstance(type_, _WRAPPERS):
            type_ = type_.target if isinstance(type_, syntax.Pointer) else type_.element
        if isinstance(type_, syntax.StructType) and type_.fields is not None:
            self._struct(type_, attributes, typedef_name)
        elif isinstance(type_, syntax.UnionType) and (
            type_.fields is not None or type_.cases is not None
        ):
            self._union(type_, attributes, typedef_name)
        elif isinstance(type_, syntax.EnumType) and type_.values is not None:
            self._enum(type_, attributes, typedef_name)
        elif isinstance(type_, syntax.FunctionType):
            self._params(type_.params)

    def _type_key(self, tag: str | None, typedef_name: str | None, pos: Position) -> str:
        """A struct's name: its tag, else the typedef naming it, else one made from where
        it is (the same in every compile, so replayed files cannot collide)."""
        if tag:
            return tag
        if typedef_name:
            return typedef_name
        stem = "".join(
            c if c.isascii() and c.isalnum() else "_" for c in os.path.basename(pos.file)
        )
        return f"__anonymous_{stem}_{pos.line}_{pos.column}"

    def _struct(
        self, type_: syntax.StructType, attributes: syntax.Attributes, typedef_name: str | None
    ) -> None:
        name = self._type_key(type_.tag, typedef_name, type_.pos)
        if _same_place(self.scope.structs.get(name), type_.pos):
            return  # the same definition met again (`typedef struct S {...} A, *PA;`)
        fields = tuple(self._fields(type_.fields or ()))
        struct = model.Struct(name, fields, attributes, self._origin(type_.pos))
        self._check_redefinition(self.scope.structs.get(name), struct, "struct", type_.tag)
        self.scope.put("structs", name, struct)

    def _union(
        self, type_: syntax.UnionType, attributes: syntax.Attributes, typedef_name: str | None
    ) -> None:
        name = self._type_key(type_.tag, typedef_name, type_.pos)
        if _same_place(self.scope.unions.get(name), type_.pos):
            return  # the same definition met again (`typedef struct S {...} A, *PA;`)
        arms = self._union_arms(type_)
        union = model.Union(
            name,
            tuple(arms),
            attributes,
            self._origin(type_.pos),
            type_.switch_type,
            type_.switch_name,
            type_.union_name,
        )
        self._check_redefinition(self.scope.unions.get(name), union, "union", type_.tag)
        self.scope.put("unions", name, union)

    def _union_arms(self, type_: syntax.UnionType) -> list[model.UnionArm]:
        arms: list[model.UnionArm] = []
        for case in type_.cases or ():
            field_ = self._fields((case.field,))[0] if case.field else None
            arms.append(model.UnionArm(self._case_values(case.labels), case.default, field_))
        for item in type_.fields or ():
            resolved = self._fields((item,))[0]
            labels: list[syntax.Expr] = []
            default = False
            for attribute in item.attributes:
                if attribute.name == "case":
                    labels += [a for a in attribute.args if not isinstance(a, syntax.Uuid)]  # type: ignore[misc]
                default = default or attribute.name == "default"
            arms.append(model.UnionArm(self._case_values(labels), default, resolved))
        return arms

    def _case_values(self, labels: tuple[syntax.Expr, ...] | list[syntax.Expr]) -> tuple[int, ...]:
        values: list[int] = []
        for label in labels:
            try:
                values.append(self.evaluator.evaluate_int(label))
            except ConstError as error:
                self.sink.error(error.message, error.pos)
        return tuple(values)

    def _enum(
        self, type_: syntax.EnumType, attributes: syntax.Attributes, typedef_name: str | None
    ) -> None:
        name = self._type_key(type_.tag, typedef_name, type_.pos)
        members: list[model.EnumMember] = []
        next_value = 0
        for value in type_.values or ():
            if value.value is not None:
                try:
                    next_value = self.evaluator.evaluate_int(value.value)
                except ConstError as error:
                    self.sink.error(error.message, error.pos)
            members.append(model.EnumMember(value.name, next_value))
            self.scope.put("enum_values", value.name, next_value)
            next_value += 1
        enum = model.Enum(name, tuple(members), attributes, self._origin(type_.pos))
        self._check_redefinition(self.scope.enums.get(name), enum, "enum", type_.tag)
        self.scope.put("enums", name, enum)

    def _check_redefinition(
        self,
        previous: model.Struct | model.Union | model.Enum | model.Coclass | None,
        new: model.Struct | model.Union | model.Enum | model.Coclass,
        kind: str,
        tag: str | None,
    ) -> None:
        """A second definition of a tag (or coclass) in the files being compiled
        replaced the first without a word: widl's `redefinition of enum E`. A tagless
        type is named after its typedef, whose redefinition is only a warning
        (docs/dialect.md); a definition in an import is checked where it is compiled."""
        if (
            previous is None
            or tag is None
            or previous.origin == new.origin
            or previous.origin.imported
            or self._imported
        ):
            return
        pos = Position(new.origin.file, new.origin.line, new.origin.column)
        self.sink.error(f"redefinition of {kind} '{tag}'", pos)

    # -- lookups for the evaluator -----------------------------------------

    def _constant_value(self, name: str) -> Value | None:
        if name in self.scope.enum_values:
            return self.scope.enum_values[name]
        constant = self.scope.constants.get(name)
        return constant.value if constant is not None else None

    def _resolve_typedefs(self, type_: syntax.Type) -> syntax.Type:
        seen: set[str] = set()
        while isinstance(type_, syntax.NamedType) and type_.name not in seen:
            seen.add(type_.name)
            typedef = self.scope.typedefs.get(type_.name)
            if typedef is None:
                break
            type_ = typedef.type
        return type_

    # -- checks --------------------------------------------------------------

    def _check_inheritance(self, interfaces: list[model.Interface]) -> None:
        """Every interface whose chain of parents comes back on itself is an error.
        A chain that ends is remembered name by name, so a later interface stops where
        it meets one (each compile sees every imported interface)."""
        by_name = {i.name: i for i in interfaces}
        ends: set[str] = set()  # names whose chain of parents ends
        for interface in interfaces:
            seen = {interface.name}
            parent = interface.parent
            while parent is not None and parent not in ends:
                if parent in seen:
                    pos = Position(interface.origin.file, interface.origin.line, 1)
                    self.sink.error(f"interface '{interface.name}' inherits from itself", pos)
                    break
                seen.add(parent)
                found = by_name.get(parent)
                parent = found.parent if found else None
            else:
                ends |= seen


def _same_place(known: model.Struct | model.Union | None, pos: Position) -> bool:
    return known is not None and (known.origin.file, known.origin.line, known.origin.column) == (
        pos.file,
        pos.line,
        pos.column,
    )


def _uuid_of(attributes: syntax.Attributes) -> str | None:
    attribute = model.find_attribute(attributes, "uuid")
    if attribute is None or not attribute.args:
        return None
    arg = attribute.args[0]
    if isinstance(arg, syntax.Uuid):
        return arg.text
    if isinstance(arg, syntax.String):
        return arg.value.strip("{}").lower()
    return None


def _type_name(type_: syntax.Type) -> str:
    if isinstance(type_, syntax.NamedType | syntax.BaseType):
        return type_.name
    if isinstance(type_, syntax.ParameterizedType):
        return type_.name
    return str(type_)


def _item_name(item: object) -> str | None:
    name = getattr(item, "name", None)
    return name if isinstance(name, str) else None


def resolve(
    main: LoadedFile,
    sink: DiagnosticSink,
    explain: Callable[[str], str] | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> model.Document:
    """The resolved document; `explain(name)` notes where an unknown interface lives."""
    return Resolver(main, sink, explain, limits).resolve()
