"""Property tests: decode(encode(v)) == v for every type family, over random descriptors too."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from idlgen.runtime import ndr as n
from idlgen.runtime.ndr import oaut as ndr_oaut

PRIMS = [n.SMALL, n.USMALL, n.SHORT, n.USHORT, n.LONG, n.ULONG, n.HYPER, n.UHYPER, n.WCHAR]
text = st.text(st.characters(blacklist_characters="\0", blacklist_categories=("Cs",)), max_size=8)


def prim_values(p: n.Primitive) -> st.SearchStrategy[Any]:
    return st.integers(p.lo, p.hi)


@st.composite
def type_and_value(draw: st.DrawFn, depth: int = 0, fixed: bool = False) -> tuple[Any, Any]:
    """A random descriptor (bounded depth) with a value of that type.

    `fixed` asks for a fixed-size type: what IDL allows as an array element, a union arm or a
    struct member other than the last (conformant data is reached only through pointers there).
    """
    leaf = depth >= 2
    kinds = (
        ["prim", "bytes", "double"]
        if leaf
        else ["prim", "struct", "fixed", "pointer", "eunion", "bstr"]
    )
    if not fixed:
        kinds += ["string"] if leaf else ["string", "carray", "cvarray"]
    kind = draw(st.sampled_from(kinds))
    if kind == "prim":
        p = draw(st.sampled_from(PRIMS))
        return p, draw(prim_values(p))
    if kind == "double":
        return n.DOUBLE, draw(st.floats(allow_nan=False))
    if kind == "string":
        return n.String(n.WCHAR), draw(text)
    if kind == "bytes":
        size = draw(st.integers(0, 6))
        return n.FixedArray(n.BYTE, size), draw(st.binary(min_size=size, max_size=size))
    if kind == "bstr":
        return n.BSTR, draw(st.none() | text)
    if kind == "pointer":
        inner, value = draw(type_and_value(depth + 1))
        kind_ = draw(st.sampled_from(["unique", "full"]))
        return n.Pointer(kind_, inner), draw(st.none() | st.just(value))
    inner, value = draw(type_and_value(depth + 1, fixed=True))
    if kind in ("fixed", "carray", "cvarray"):
        items = draw(st.lists(_values_for(inner), max_size=4))
        if kind == "fixed":
            return n.FixedArray(inner, len(items)), items
        if kind == "carray":
            return n.ConformantArray(inner), items
        return n.ConformantVaryingArray(inner), items
    if kind == "eunion":
        other, other_value = draw(type_and_value(depth + 1, fixed=True))
        union = n.EncapsulatedUnion("U", n.LONG, (n.Arm((1,), inner), n.Arm((2,), other)))
        tag = draw(st.sampled_from([1, 2]))
        return union, n.Tagged(tag, value if tag == 1 else other_value)
    fields = [(inner, value)]
    fields += [draw(type_and_value(depth + 1, fixed=True)) for _ in range(draw(st.integers(0, 1)))]
    if not fixed and draw(st.booleans()):
        fields.append(draw(type_and_value(depth + 1)))  # the last member may be conformant
    struct = n.Struct("S", tuple(n.Field(f"f{i}", t) for i, (t, _) in enumerate(fields)))
    return struct, {f"f{i}": v for i, (_, v) in enumerate(fields)}


def _values_for(t: n.NdrType) -> st.SearchStrategy[Any]:
    if isinstance(t, n.Primitive):
        return st.floats(allow_nan=False) if t.kind == "float" else prim_values(t)
    if isinstance(t, n.String):
        return text
    if isinstance(t, n.FixedArray) and t.elem is n.BYTE:
        return st.binary(min_size=t.count, max_size=t.count)
    if isinstance(t, n.WireMarshal):
        return st.none() | text
    if isinstance(t, n.Struct):
        return st.fixed_dictionaries({f.name: _values_for(f.type) for f in t.fields})
    if isinstance(t, n.Pointer):
        return st.none() | _values_for(t.target)
    if isinstance(t, n.FixedArray):
        return st.lists(_values_for(t.elem), min_size=t.count, max_size=t.count)
    if isinstance(t, n.ConformantArray | n.ConformantVaryingArray):
        return st.lists(_values_for(t.elem), max_size=3)
    if isinstance(t, n.EncapsulatedUnion):
        return st.sampled_from(t.arms).flatmap(
            lambda arm: _values_for(arm.type).map(lambda v: n.Tagged(arm.cases[0], v))
        )
    raise AssertionError(t)


@settings(max_examples=300, deadline=None)
@given(type_and_value())
def test_random_descriptors_round_trip(tv):
    t, value = tv
    data = n.encode(t, value)
    assert n.decode(t, data) == value


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(-(2**31), 2**31 - 1), max_size=20), text)
def test_method_request_round_trips(values, name):
    method = n.MethodMarshaler(
        n.Method(
            "Put",
            (
                n.Param("count", n.ULONG),
                n.Param("items", n.Pointer("ref", n.ConformantArray(n.LONG, size_is="count"))),
                n.Param("name", n.Pointer("unique", n.String())),
                n.Param("out", n.Pointer("ref", n.LONG), "out"),
            ),
        )
    )
    request = {"count": len(values), "items": values, "name": name or None}
    assert method.decode_request(method.encode_request(request)) == request


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**16 - 1), st.integers(-(2**63), 2**63 - 1), st.none() | text)
def test_variant_round_trips(vt_pick, number, bstr):
    vt, value = [(ndr_oaut.VT_I8, number), (ndr_oaut.VT_BSTR, bstr), (0, None)][vt_pick % 3]
    variant = n.Variant(vt, value)
    assert n.decode(n.VARIANT, n.encode(n.VARIANT, variant)) == variant


def test_dataclass_values_encode_like_dicts_and_factory_builds_them():
    from dataclasses import dataclass

    @dataclass
    class Point:
        x: int
        label: str | None

    t = n.Struct(
        "Point",
        (n.Field("x", n.LONG), n.Field("label", n.Pointer("unique", n.String()))),
        factory=Point,
    )
    data = n.encode(t, Point(3, "p"))
    assert data == n.encode(t, {"x": 3, "label": "p"})
    assert n.decode(t, data) == Point(3, "p")  # the deferred pointee is filled in afterwards
