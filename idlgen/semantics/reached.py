"""The structs and unions a type reaches, through pointers, arrays, typedefs and fields.

widl checks some rules only on the types a remotable method marshals (a union's
discriminant, for one), and lets the same declaration by when nothing sends it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from idlgen import model
from idlgen.frontend import syntax

Unwrap = Callable[[syntax.Type], tuple[int, object]]
Aggregate = model.Struct | model.Union | syntax.StructType | syntax.UnionType


def reached_aggregates(
    document: model.Document, types: Iterable[syntax.Type], unwrap: Unwrap
) -> Iterator[Aggregate]:
    """Each struct and union `types` reach, once; a reference by tag (`struct S *`)
    is followed to the definition."""
    pending = list(types)
    seen: set[int] = set()
    while pending:
        _, found = unwrap(pending.pop())
        aggregate = _definition(document, found)
        if aggregate is None or id(aggregate) in seen:
            continue
        seen.add(id(aggregate))
        yield aggregate
        pending.extend(_member_types(aggregate))


def _definition(document: model.Document, found: object) -> Aggregate | None:
    if isinstance(found, model.Struct | model.Union):
        return found
    if not isinstance(found, syntax.StructType | syntax.UnionType):
        return None
    if found.fields is not None or getattr(found, "cases", None) is not None:
        return found
    by_tag = document.lookup(f"tag:{found.tag}") if found.tag else None
    return by_tag if isinstance(by_tag, model.Struct | model.Union) else None


def _member_types(aggregate: Aggregate) -> Iterator[syntax.Type]:
    if isinstance(aggregate, model.Struct):
        yield from (f.type for f in aggregate.fields)
    elif isinstance(aggregate, model.Union):
        yield from (arm.field.type for arm in aggregate.arms if arm.field is not None)
    elif isinstance(aggregate, syntax.StructType):
        yield from (f.type for f in aggregate.fields or ())
    else:
        yield from (f.type for f in aggregate.fields or ())
        yield from (c.field.type for c in aggregate.cases or () if c.field is not None)
