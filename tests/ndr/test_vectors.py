"""Byte vectors worked out by hand from DCE 1.1 RPC chapter 14 / [MS-RPCE] 2.2.5 (NDR 2.0, LE).

Each expected buffer is written as the sequence of wire items, with padding spelled out, so a
reader can check the derivation against the spec without running anything.
"""

from __future__ import annotations

import struct
import uuid

import pytest

from idlgen.runtime.ndr import (
    BOOLEAN,
    BSTR,
    BYTE,
    CHAR,
    DOUBLE,
    ENUM16,
    GUID,
    HRESULT,
    HYPER,
    LONG,
    SHORT,
    SMALL,
    ULONG,
    USHORT,
    VARIANT,
    WCHAR,
    Arm,
    ConformantArray,
    ConformantVaryingArray,
    EncapsulatedUnion,
    Enum,
    Field,
    FixedArray,
    Forward,
    InterfacePointer,
    Method,
    MethodMarshaler,
    Param,
    Pointer,
    String,
    Struct,
    Tagged,
    Union,
    Variant,
    VaryingArray,
    decode,
    encode,
)


def u8(v: int) -> bytes:
    return struct.pack("<B", v)


def u16(v: int) -> bytes:
    return struct.pack("<H", v)


def u32(v: int) -> bytes:
    return struct.pack("<I", v)


def i64(v: int) -> bytes:
    return struct.pack("<q", v)


PAD1, PAD2, PAD3, PAD4 = b"\0", b"\0" * 2, b"\0" * 3, b"\0" * 4
ID1, ID2, ID3 = u32(0x20000), u32(0x20004), u32(0x20008)  # MIDL-style referent ids


def check(t, value, expected: bytes, scope=None) -> None:
    assert encode(t, value, scope) == expected
    assert decode(t, expected, scope) == value


def test_primitives_align_to_their_size():
    # struct { small a; short b; small c; hyper d; double e; boolean f; }
    # a@0, pad to 2, b@2, c@4, pad to 8, d@8, e@16, f@24
    s = Struct(
        "P",
        (
            Field("a", SMALL),
            Field("b", SHORT),
            Field("c", SMALL),
            Field("d", HYPER),
            Field("e", DOUBLE),
            Field("f", BOOLEAN),
        ),
    )
    value = {"a": -1, "b": 0x1234, "c": 7, "d": -2, "e": 1.5, "f": True}
    expected = (
        b"\xff" + PAD1 + u16(0x1234) + u8(7) + PAD3 + i64(-2) + struct.pack("<d", 1.5) + u8(1)
    )
    check(s, value, expected)


def test_enum_is_two_bytes_and_hresult_decodes_unsigned():
    check(Enum("E", ENUM16), 5, u16(5))
    assert encode(HRESULT, -0x7FFFBFFB) == u32(0x80004005)  # E_FAIL given as a signed LONG
    assert decode(HRESULT, u32(0x80004005)) == 0x80004005


def test_conformant_struct_hoists_max_count_to_the_front():
    # struct { long n; [size_is(n)] short a[]; }: max_count(2) first, then n, then elements
    s = Struct("C", (Field("n", LONG), Field("a", ConformantArray(SHORT, size_is="n"))))
    check(s, {"n": 2, "a": [1, 2]}, u32(2) + u32(2) + u16(1) + u16(2))


def test_conformant_varying_string_counts_include_nul():
    # [string] wchar_t *: max_count 3, offset 0, actual 3, "ab\0" in UTF-16LE
    expected = u32(3) + u32(0) + u32(3) + "ab\0".encode("utf-16-le")
    check(String(WCHAR), "ab", expected)
    # [string] char *: same shape with 1-byte units
    check(String(CHAR), "hi", u32(3) + u32(0) + u32(3) + b"hi\0")


def test_fixed_and_varying_arrays():
    check(FixedArray(BYTE, 3), b"abc", b"abc")  # fixed: elements only
    # [length_is(2), first_is(1)] long a[5]: offset 1, actual count 2, elements
    t = VaryingArray(LONG, 5, length_is="n", first_is="f")
    check(t, [7, 8], u32(1) + u32(2) + u32(7) + u32(8), {"n": 2, "f": 1})
    # [size_is(4), length_is(1)] short a[]: max 4, offset 0, actual 1, one short
    cv = ConformantVaryingArray(SHORT, size_is="m", length_is="n")
    check(cv, [9], u32(4) + u32(0) + u32(1) + u16(9), {"m": 4, "n": 1})


def test_embedded_pointers_are_deferred_depth_first():
    # struct S { long x; [unique] long *p; [unique] S2 *q; }, S2 { [unique] short *r; }
    # flat part: x, id(p), id(q); then *p; then *q (= id(r)), then *r.
    s2 = Struct("S2", (Field("r", Pointer("unique", SHORT)),))
    s = Struct(
        "S",
        (
            Field("x", LONG),
            Field("p", Pointer("unique", LONG)),
            Field("q", Pointer("unique", s2)),
        ),
    )
    value = {"x": 1, "p": 5, "q": {"r": 6}}
    expected = u32(1) + ID1 + ID2 + u32(5) + ID3 + u16(6)
    check(s, value, expected)


def test_null_unique_pointer_is_a_zero_id():
    s = Struct("S", (Field("p", Pointer("unique", LONG)), Field("x", LONG)))
    check(s, {"p": None, "x": 3}, u32(0) + u32(3))


def test_full_pointer_aliasing_reuses_the_referent_id():
    # two [ptr] fields to the same object: the second sends the first id and no pointee
    inner = Struct("I", (Field("v", LONG),))
    s = Struct("S", (Field("a", Pointer("full", inner)), Field("b", Pointer("full", inner))))
    shared = {"v": 9}
    data = encode(s, {"a": shared, "b": shared})
    assert data == ID1 + ID1 + u32(9)
    decoded = decode(s, data)
    assert decoded["a"] is decoded["b"] and decoded["a"] == {"v": 9}


def test_linked_list_through_forward_reference():
    node = Forward("Node")
    node.resolve(Struct("Node", (Field("v", LONG), Field("next", Pointer("unique", node)))))
    value = {"v": 1, "next": {"v": 2, "next": None}}
    # top-level unique pointer: id, node1 {1, id}, node2 {2, 0}
    check(Pointer("unique", node), value, ID1 + u32(1) + ID2 + u32(2) + u32(0))


def test_non_encapsulated_union_aligns_to_largest_of_tag_and_arms():
    # [switch_type(short)] union { [case(1)] long l; [case(2)] hyper h; } with switch_is(k)
    # union alignment max(2, 4, 8) = 8: tag at 0, arm hyper aligned to 8
    u = Union(SHORT, (Arm((1,), LONG), Arm((2,), HYPER)), switch_is="k")
    check(u, -3, u16(2) + b"\0" * 6 + i64(-3), {"k": 2})
    # the long arm: tag, pad to 4, long
    check(u, 4, u16(1) + PAD2 + u32(4), {"k": 1})


def test_encapsulated_union_tag_then_arm():
    # union switch (long t) { case 1: short s; case 2: [unique] long *p; }
    eu = EncapsulatedUnion("EU", LONG, (Arm((1,), SHORT), Arm((2,), Pointer("unique", LONG))))
    check(eu, Tagged(1, 5), u32(1) + u16(5))
    check(eu, Tagged(2, 8), u32(2) + ID1 + u32(8))


def test_guid_is_bytes_le():
    g = uuid.UUID("00000000-0000-0000-c000-000000000046")
    data = encode(GUID, g)
    assert data == u32(0) + u16(0) + u16(0) + bytes([0xC0, 0, 0, 0, 0, 0, 0, 0x46])
    assert decode(GUID, data).bytes_le == g.bytes_le


def test_bstr_is_a_unique_flagged_word_blob():
    # id, max_count(clSize=2) hoisted, cBytes 4, clSize 2, "hi"
    check(BSTR, "hi", ID1 + u32(2) + u32(4) + u32(2) + "hi".encode("utf-16-le"))
    # NULL BSTR (2.2.23.2): cBytes 0xFFFFFFFF, clSize 0, no data
    check(BSTR, None, ID1 + u32(0) + u32(0xFFFFFFFF) + u32(0))
    check(BSTR, "", ID1 + u32(0) + u32(0) + u32(0))


def test_variant_i4():
    # id, pad to 8, clSize 3 (24 bytes), rpcReserved, vt=3, 3 reserved shorts,
    # union tag (ULONG vt) at 16, long arm at 20
    expected = ID1 + PAD4 + u32(3) + u32(0) + u16(3) + u16(0) * 3 + u32(3) + u32(42)
    check(VARIANT, Variant(3, 42), expected)


def test_interface_pointer_is_unique_mInterfacePointer():
    ip = InterfacePointer(uuid.UUID(int=1))
    # id, max_count (hoisted), ulCntData, abData
    check(ip, b"MEOWxx", ID1 + u32(6) + u32(6) + b"MEOWxx")
    check(ip, None, u32(0))


def test_method_top_level_ref_has_no_referent_id():
    # HRESULT Read([out, size_is(cb), length_is(*pcbRead)] byte *pv, [in] ULONG cb,
    #              [out] ULONG *pcbRead)
    m = MethodMarshaler(
        Method(
            "Read",
            (
                Param(
                    "pv",
                    Pointer("ref", ConformantVaryingArray(BYTE, "cb", None, "*pcbRead")),
                    "out",
                ),
                Param("cb", ULONG, "in"),
                Param("pcbRead", Pointer("ref", ULONG), "out"),
            ),
        )
    )
    assert m.encode_request({"cb": 8}) == u32(8)
    reply = m.encode_response({"pv": b"abc", "pcbRead": 3}, 0, scope={"cb": 8})
    # pv: max 8, offset 0, actual 3, "abc", pad to 4; pcbRead 3; HRESULT 0
    assert reply == u32(8) + u32(0) + u32(3) + b"abc" + PAD1 + u32(3) + u32(0)
    resp = m.decode_response(reply, scope={"cb": 8})
    assert resp.outs == {"pv": b"abc", "pcbRead": 3} and resp.result == 0


def test_wchar_and_ushort_scalars():
    check(Struct("W", (Field("c", WCHAR), Field("u", USHORT))), {"c": 65, "u": 2}, u16(65) + u16(2))


@pytest.mark.parametrize("t,bad", [(SMALL, 128), (USHORT, -1), (LONG, 2**31), (ULONG, "1")])
def test_out_of_range_values_are_refused_when_marshaling(t, bad):
    from idlgen.runtime.ndr import NdrMarshalError

    with pytest.raises(NdrMarshalError):
        encode(t, bad)
