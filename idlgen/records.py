"""Immutable records that are cheap to create: syntax nodes, the model, positions.

A frozen dataclass sets each field through `object.__setattr__` in its `__init__`,
which makes creating one four times slower than a plain slotted dataclass (0.55
against 0.14 µs for three fields on the development VM), and the front end creates
millions of them per corpus run. So these classes are slotted dataclasses with the
equality and hash a frozen one has, frozen for the type checker only: `mypy --strict`
rejects any assignment to a field. The parse cache shares trees between compiles, so
nothing may change a record once built; tests/semantics/test_shared_trees.py checks
that compiling leaves cached trees and models as they were.

Defining the classes is paid by every process that compiles (about a hundred of them,
imported before the first file is read), and most of what `dataclass` spends there is
compiling the source it writes for each method. So only `__init__`, which must be fast
per node, is written that way; equality, hash and repr are shared functions that read
the fields through one `operator.attrgetter` per class, with the results a dataclass's
own would give.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, TypeVar, dataclass_transform

__all__ = ["record"]

_T = TypeVar("_T")
Values = Callable[[object], tuple[Any, ...]]


@dataclass_transform(frozen_default=True, eq_default=True)
def record(cls: type[_T]) -> type[_T]:
    """`@dataclass(frozen=True, slots=True)` without the cost of freezing at run time.

    Records pickle as their class and field values (the parse store keeps syntax
    trees): half the size and twice as fast both ways as pickle's generic form for
    slotted objects, which writes a dict of slot names per object."""
    if not cls.__doc__:
        cls.__doc__ = cls.__name__  # else dataclass writes one with inspect.signature
    made = dataclass(slots=True, eq=False, repr=False)(cls)
    fields = made.__dataclass_fields__.values()  # type: ignore[attr-defined]
    compared = _getter([f.name for f in fields if f.compare])
    methods: dict[str, Callable[..., Any]] = {
        "__eq__": _equality(compared),
        "__hash__": lambda self: hash(compared(self)),
        "__repr__": _representation([f.name for f in fields if f.repr]),
    }
    if all(f.init for f in fields):
        values = _getter([f.name for f in fields])
        methods["__reduce__"] = lambda self: (type(self), values(self))
    for name, method in methods.items():
        if name not in cls.__dict__:  # a class's own method wins, as with dataclass
            setattr(made, name, method)
    return made


def _getter(names: list[str]) -> Values:
    """The named fields as a tuple, whatever their number (attrgetter of one name
    returns the bare value; a tuple keeps `==` and `hash` what a dataclass's are)."""
    if len(names) > 1:
        return attrgetter(*names)
    if names:
        name = names[0]
        return lambda record: (getattr(record, name),)
    return lambda record: ()


def _equality(compared: Values) -> Callable[[object, object], bool]:
    def __eq__(self: object, other: object) -> bool:
        if other.__class__ is self.__class__:
            return compared(self) == compared(other)
        return NotImplemented

    return __eq__


def _representation(names: list[str]) -> Callable[[object], str]:
    def __repr__(self: object) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        return f"{type(self).__qualname__}({shown})"

    return __repr__
