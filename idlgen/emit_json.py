"""`idlgen --emit json`: the resolved model as a JSON document.

The schema is documented in docs/json-schema.md; tests (including the widl
differential test) read this document, so its shape is a public contract.
"""

from __future__ import annotations

from typing import Any

from idlgen import __version__, model
from idlgen.spelling import attribute_args, expr_text, type_text

JsonDict = dict[str, Any]
SCHEMA_VERSION = 1


def document_to_json(document: model.Document) -> JsonDict:
    return {
        "schema": SCHEMA_VERSION,
        "idlgen": __version__,
        "source": document.source,
        "files_read": list(document.files_read),
        "winrt": document.winrt,
        "interfaces": [_interface(i) for i in document.interfaces],
        "typedefs": [_typedef(t) for t in document.typedefs],
        "structs": [_struct(s) for s in document.structs],
        "unions": [_union(u) for u in document.unions],
        "enums": [_enum(e) for e in document.enums],
        "constants": [_constant(c) for c in document.constants],
        "coclasses": [_coclass(c) for c in document.coclasses],
        "libraries": [_library(lib) for lib in document.libraries],
        "functions": [_function(f) for f in document.functions],
        "cpp_quotes": [{"text": q.text, **_origin(q.origin)} for q in document.cpp_quotes],
    }


def _origin(origin: model.Origin) -> JsonDict:
    return {"imported": origin.imported, "file": origin.file, "line": origin.line}


def _attributes(attributes: tuple[model.Attribute, ...]) -> list[JsonDict]:
    return [{"name": a.name, "args": attribute_args(a)} for a in attributes]


def _interface(interface: model.Interface) -> JsonDict:
    return {
        "name": interface.name,
        "kind": interface.kind,
        "uuid": interface.uuid,
        "parent": interface.parent,
        "async": interface.async_partner,
        "async_of": interface.async_of,
        "namespace": interface.namespace,
        **_origin(interface.origin),
        "attributes": _attributes(interface.attributes),
        "methods": [_method(m) for m in interface.methods],
        "properties": [_field(f) for f in interface.properties],
    }


def _method(method: model.Method) -> JsonDict:
    return {
        "name": method.name,
        "vtable_name": method.vtable_name,
        "return_type": type_text(method.return_type),
        "attributes": _attributes(method.attributes),
        "params": [_param(p) for p in method.params],
    }


def _param(param: model.Param) -> JsonDict:
    return {
        "name": param.name if param.named else None,
        "type": type_text(param.type),
        "direction": param.direction.value,
        "attributes": _attributes(param.attributes),
    }


def _field(field: model.Field) -> JsonDict:
    return {
        "name": field.name,
        "type": type_text(field.type),
        "attributes": _attributes(field.attributes),
        "bits": field.bits,
    }


def _typedef(typedef: model.Typedef) -> JsonDict:
    return {
        "name": typedef.name,
        "type": type_text(typedef.type),
        "attributes": _attributes(typedef.attributes),
        **_origin(typedef.origin),
    }


def _struct(struct: model.Struct) -> JsonDict:
    return {
        "name": struct.name,
        "fields": [_field(f) for f in struct.fields],
        "attributes": _attributes(struct.attributes),
        **_origin(struct.origin),
    }


def _union(union: model.Union) -> JsonDict:
    return {
        "name": union.name,
        "encapsulated": union.encapsulated,
        "switch_type": type_text(union.switch_type) if union.switch_type else None,
        "switch_name": union.switch_name,
        "union_name": union.union_name,
        "arms": [
            {
                "cases": list(arm.cases),
                "default": arm.default,
                "field": _field(arm.field) if arm.field else None,
            }
            for arm in union.arms
        ],
        "attributes": _attributes(union.attributes),
        **_origin(union.origin),
    }


def _enum(enum: model.Enum) -> JsonDict:
    return {
        "name": enum.name,
        "members": [{"name": m.name, "value": m.value} for m in enum.members],
        "attributes": _attributes(enum.attributes),
        **_origin(enum.origin),
    }


def _constant(constant: model.Constant) -> JsonDict:
    return {
        "name": constant.name,
        "type": type_text(constant.type),
        "value": constant.value,
        "expression": expr_text(constant.expression),
        **_origin(constant.origin),
    }


def _coclass(coclass: model.Coclass) -> JsonDict:
    return {
        "name": coclass.name,
        "kind": coclass.kind,
        "uuid": coclass.uuid,
        "namespace": coclass.namespace,
        "parent": coclass.parent,
        "interfaces": [
            {"name": m.name, "attributes": _attributes(m.attributes)} for m in coclass.interfaces
        ],
        "attributes": _attributes(coclass.attributes),
        **_origin(coclass.origin),
    }


def _library(library: model.Library) -> JsonDict:
    return {
        "name": library.name,
        "uuid": library.uuid,
        "members": list(library.members),
        "attributes": _attributes(library.attributes),
        **_origin(library.origin),
    }


def _function(function: model.Function) -> JsonDict:
    return {
        "name": function.name,
        "owner": function.owner,
        "return_type": type_text(function.return_type),
        "attributes": _attributes(function.attributes),
        "params": [_param(p) for p in function.params],
        **_origin(function.origin),
    }
