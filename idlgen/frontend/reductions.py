"""What happens when the LALR parser reduces a rule: which children the transformer
sees, and which of its methods runs.

Lark's own machinery (ParseTreeBuilder) does this through a chain of generic wrapper
objects per rule; on Wine's headers (a million reductions for mshtml.idl) that chain
is a fifth of the parse time. Here each rule gets one closure, specialised to what
the rule needs, following Lark's conventions:
- terminals named `_X` are dropped; children produced by `_rule`s and Lark's own
  helper rules (`__x_star_0`, for `x*`) are spliced into the parent's list;
- `[optional]` parts absent from the input become None (`empty_indices`);
- a `?rule` without an alias hands over its only child instead of calling a method.
"""

from __future__ import annotations

from collections.abc import Callable, Container
from operator import itemgetter
from typing import Any

from idlgen.records import record

Callback = Callable[[list[Any]], Any]
# The kind of callback a rule gets and the children it picks (see `plan`).
Plan = tuple[str, list[int]]


@record
class RuleShape:
    """How to turn a reduced rule's stack values into the method's argument."""

    method: str  # transformer method; for `_` rules, splice into the parent
    include: tuple[tuple[int, bool, int], ...]  # (index, splice?, Nones to insert before)
    trailing_nones: int
    inline_single: bool  # a `?rule`: one child is passed through as is
    identity: bool  # keep every child as is: the method gets the stack slice


def rule_shape(rule: Any) -> RuleShape:
    """Reads a lark.grammar.Rule (compiled with maybe_placeholders=True)."""
    expansion = rule.expansion
    flags = rule.options.empty_indices
    if flags:
        runs = "".join(str(int(b)) for b in flags).split("0")
        nones = [len(run) for run in runs]
    else:
        nones = [0] * (len(expansion) + 1)
    include = []
    pending = 0
    for index, symbol in enumerate(expansion):
        pending += nones[index]
        if symbol.is_term and symbol.filter_out:
            continue
        splice = not symbol.is_term and symbol.name.startswith("_")
        include.append((index, splice, pending))
        pending = 0
    pending += nones[len(expansion)]
    identity = (
        len(include) == len(expansion)
        and not pending
        and not any(splice or added for _, splice, added in include)
    )
    return RuleShape(
        rule.alias or rule.origin.name,
        tuple(include),
        pending,
        bool(rule.options.expand1) and not rule.alias,
        identity,
    )


def passthrough_index(shape: RuleShape, returns_child: Container[str] = ()) -> int | None:
    """The child a `?rule` hands over untouched whatever the input, if it always keeps
    exactly one child (`?expr: term`, `?atom: "(" expr ")"`): the driver then moves
    that value down the stack itself, with no call (most reductions of an expression
    are such chains, one per precedence level). The same for a rule keeping one child
    whose method is in `returns_child` (methods that return a single child as is)."""
    passes = shape.inline_single or shape.method in returns_child
    if not passes or shape.trailing_nones or len(shape.include) != 1:
        return None
    index, splice, nones = shape.include[0]
    return None if splice or nones else index


def make_callback(shape: RuleShape, transformer: Any, planned: Plan | None = None) -> Callback:
    """The reduction's callback: the common shapes get a closure of their own (a
    quarter of a million reductions for mshtml.idl), the others the general one.
    `planned` is `plan(shape)`, when the caller kept it: every parse makes its
    callbacks again (they call its builder), and working the plan out again per rule
    and parse cost more than a small file's parse."""
    method = _method(shape, transformer)
    kind, indices = planned or plan(shape)
    if kind == "method":
        return list if method is _splice else method  # `list`: a copy, without a call
    if kind == "pick":
        return _picker(method, indices)
    if kind == "extend":
        return _extender(method, indices)
    if kind == "fill":
        return _filler(method, indices)
    return general_callback(shape, method)


def plan(shape: RuleShape) -> Plan:
    """Which kind of callback a shape gets, and the children it picks."""
    if shape.identity and not shape.inline_single:
        return "method", []
    splices = any(splice for _, splice, _ in shape.include)
    if shape.inline_single or (splices and shape.trailing_nones):
        return "general", []
    if any(n for _, _, n in shape.include) or shape.trailing_nones:
        layout = [*_layout(shape.include), *[_ABSENT_INDEX] * shape.trailing_nones]
        return ("general", []) if splices or len(layout) < 2 else ("fill", layout)
    if not splices:
        return "pick", [index for index, _, _ in shape.include]
    first, *rest = shape.include
    if first[:2] == (0, True) and not any(splice for _, splice, _ in rest):
        return "extend", [index for index, _, _ in rest]
    return "general", []


# Where a "fill" layout puts None: the index of the None appended to the children.
_ABSENT_INDEX = -1
_ABSENT = [None]


def _layout(include: tuple[tuple[int, bool, int], ...]) -> list[int]:
    """The children picked, with `_ABSENT_INDEX` before each for its absent parts."""
    return [i for index, _, nones in include for i in (*[_ABSENT_INDEX] * nones, index)]


def _filler(method: Callback, layout: list[int]) -> Callback:
    """Children picked by position, and None for each `[optional]` part left out
    (`declarator [= expr]` without the value): no loop over the rule's shape."""
    pick = itemgetter(*layout)
    if method is _splice:
        return lambda children: list(pick(children + _ABSENT))
    return lambda children: method(list(pick(children + _ABSENT)))


def _picker(method: Callback, indices: list[int]) -> Callback:
    """Children picked by position (the punctuation dropped); a helper rule's list is
    made here, with no call to `_splice`."""
    if not indices:
        return lambda children: method([])
    if len(indices) == 1:
        (only,) = indices
        if method is _splice:
            return lambda children: [children[only]]
        return lambda children: method([children[only]])
    pick = itemgetter(*indices)
    if method is _splice:
        return lambda children: list(pick(children))
    return lambda children: method(list(pick(children)))


def _extender(method: Callback, indices: list[int]) -> Callback:
    """A left-recursive list (`x*`, `x (, x)*`): the first child is the list so far,
    grown in place by the children picked from the rest."""
    if method is _splice and len(indices) == 1:
        (only,) = indices

        def append(children: list[Any]) -> Any:
            kept = children[0]
            kept.append(children[only])
            return kept

        return append

    def extend(children: list[Any]) -> Any:
        kept = children[0]
        kept.extend([children[index] for index in indices])
        return method(kept)

    return extend


def general_callback(shape: RuleShape, method: Callback) -> Callback:
    """Any shape: splices, Nones for absent `[optional]` parts, `?rule` inlining."""
    include = shape.include
    trailing = [None] * shape.trailing_nones
    inline_single = shape.inline_single

    def reduce(children: list[Any]) -> Any:
        kept: list[Any] = []
        for index, splice, nones in include:
            if nones:
                kept.extend([None] * nones)
            if splice:
                if kept:
                    kept.extend(children[index])
                else:
                    kept = children[index]  # left recursion: grow the same list
            else:
                kept.append(children[index])
        if trailing:
            kept.extend(trailing)
        if inline_single and len(kept) == 1:
            return kept[0]
        return method(kept)

    return reduce


def _method(shape: RuleShape, transformer: Any) -> Callback:
    if shape.method.startswith("_"):
        return _splice  # helper rules hand their children to the parent as a list
    found: Callback | None = getattr(transformer, shape.method, None)
    if found is None:  # only `?rule`s that always have one child may lack a method
        return _missing(shape.method)
    return found


def _missing(name: str) -> Callback:
    def fail(children: list[Any]) -> Any:
        raise LookupError(f"grammar rule {name!r} has no transformer method")

    return fail


def _splice(children: list[Any]) -> list[Any]:
    return children
