"""Records behave as frozen dataclasses of the same fields would: equality, hash, repr
and pickling are what the parse cache, the parse store and the tests rely on, however
cheaply `record` builds them."""

from __future__ import annotations

import math
import pickle
from dataclasses import field, fields, make_dataclass
from typing import Any

import pytest

from idlgen.records import record


@record
class Empty:
    pass


@record
class One:
    value: object


@record
class Many:
    name: str
    count: int = 0
    items: tuple[object, ...] = ()


@record
class Hidden:
    """A field out of comparison and repr, as `model.Document` has."""

    name: str
    index: dict[str, int] = field(default_factory=dict, compare=False, repr=False)


@record
class Twin:
    """Another class with Many's fields: never equal to a Many."""

    name: str
    count: int = 0
    items: tuple[object, ...] = ()


def twin(cls: type) -> Any:
    """A frozen dataclass with `cls`'s fields: what a record must behave as."""
    specs = [
        (
            f.name,
            f.type,
            field(
                default=f.default,
                default_factory=f.default_factory,
                compare=f.compare,
                repr=f.repr,
            ),
        )
        for f in fields(cls)
    ]
    made = make_dataclass(cls.__name__ + "D", specs, frozen=True)
    made.__module__ = __name__  # pickled by name: bound below under the same name
    return made


EmptyD, OneD, ManyD, HiddenD = (twin(cls) for cls in (Empty, One, Many, Hidden))


NAN = math.nan
PAIRS: list[tuple[Any, Any, Any, Any]] = [
    (Empty(), Empty(), EmptyD(), EmptyD()),
    (One(1), One(1), OneD(1), OneD(1)),
    (One(1), One(2), OneD(1), OneD(2)),
    (One(NAN), One(NAN), OneD(NAN), OneD(NAN)),  # the same NaN: equal inside a tuple
    (One(float("nan")), One(float("nan")), OneD(float("nan")), OneD(float("nan"))),
    (Many("a", 1, (2,)), Many("a", 1, (2,)), ManyD("a", 1, (2,)), ManyD("a", 1, (2,))),
    (Many("a", 1), Many("a", 2), ManyD("a", 1), ManyD("a", 2)),
    (Hidden("a", {"x": 1}), Hidden("a", {}), HiddenD("a", {"x": 1}), HiddenD("a", {})),
    (Hidden("a"), Hidden("b"), HiddenD("a"), HiddenD("b")),
]


@pytest.mark.parametrize(("left", "right", "left_d", "right_d"), PAIRS)
def test_equality_hash_and_repr_are_a_frozen_dataclass_s(
    left: Any, right: Any, left_d: Any, right_d: Any
) -> None:
    assert (left == right) == (left_d == right_d)
    assert (left != right) == (left_d != right_d)
    assert left != right or hash(left) == hash(right)
    assert repr(left) == repr(left_d).replace("D(", "(", 1)
    copy, copy_d = pickle.loads(pickle.dumps(left)), pickle.loads(pickle.dumps(left_d))
    assert (copy == left) == (copy_d == left_d)


def test_records_of_other_classes_are_never_equal() -> None:
    many: Any = Many("a")
    assert many != Twin("a")
    assert many.__eq__(Twin("a")) is NotImplemented
    assert many != ("a", 0, ())


def test_a_class_s_own_methods_win() -> None:
    @record
    class Custom:
        name: str

        def __repr__(self) -> str:
            return "custom"

    assert repr(Custom("x")) == "custom"
    assert Custom("x") == Custom("x")
