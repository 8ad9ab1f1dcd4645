"""What a parameter's Python annotation and wire descriptor depend on, without positions.

Most parameters of a module are spelled alike (`[in] REFIID riid`, `[out] IUnknown
**ppv`, `[out, retval] BSTR *p`), yet each used to be mapped again: a type walk, a
document lookup and a string built per parameter (a third of building a method's
view). Within one module the answers depend only on the type's shape, the attribute
names and the direction, so a view builder maps each distinct key once. Attributes
with arguments (`size_is(n)`, `iid_is(riid)`) and types other than named or base
types under pointers get no key: their answers read expressions and declarations.
"""

from __future__ import annotations

from idlgen import model
from idlgen.frontend import syntax

ParamKey = tuple[object, ...]

_LEAVES = (syntax.NamedType, syntax.BaseType)


def param_key(param: model.Param) -> ParamKey | None:
    """Every field of the parameter's type and attributes except positions, or None."""
    names: list[str] = []
    for attribute in param.attributes:
        if attribute.args:
            return None
        names.append(attribute.name)
    consts: list[bool] = []
    type_ = param.type
    while isinstance(type_, syntax.Pointer):  # no class derives from the three used here
        consts.append(type_.const)
        type_ = type_.target
    if not isinstance(type_, _LEAVES):
        return None
    return (param.direction, tuple(names), tuple(consts), type_.__class__, type_.name, type_.const)
