"""Immutable records that are cheap to create: syntax nodes, the model, positions.

A frozen dataclass sets each field through `object.__setattr__` in its `__init__`,
which makes creating one four times slower than a plain slotted dataclass (0.55
against 0.14 µs for three fields on the development VM), and the front end creates
millions of them per corpus run. So these classes are slotted dataclasses with the
equality and hash a frozen one has, frozen for the type checker only: `mypy --strict`
rejects any assignment to a field. The parse cache shares trees between compiles, so
nothing may change a record once built; tests/semantics/test_shared_trees.py checks
that compiling leaves cached trees and models as they were.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter
from typing import TypeVar, dataclass_transform

__all__ = ["record"]

_T = TypeVar("_T")


@dataclass_transform(frozen_default=True, eq_default=True)
def record(cls: type[_T]) -> type[_T]:
    """`@dataclass(frozen=True, slots=True)` without the cost of freezing at run time.

    Records pickle as their class and field values (the parse store keeps syntax
    trees): half the size and twice as fast both ways as pickle's generic form for
    slotted objects, which writes a dict of slot names per object."""
    made = dataclass(slots=True, unsafe_hash=True)(cls)
    fields = made.__dataclass_fields__  # type: ignore[attr-defined]
    if all(f.init for f in fields.values()):
        values = attrgetter(*fields) if len(fields) > 1 else _one(next(iter(fields), None))
        made.__reduce__ = lambda self: (type(self), values(self))  # type: ignore[method-assign]
    return made


def _one(name: str | None) -> Callable[[object], tuple[object, ...]]:
    if name is None:
        return lambda record: ()
    return lambda record: (getattr(record, name),)
