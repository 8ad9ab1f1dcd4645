"""Hostile buffers: the decoders raise NdrFault and nothing else, never hang, never over-allocate.

Mutations start from valid encodings (so they reach deep code paths) and are seeded, so a
failure reproduces.  A fault whose message says "unexpected" came from the engine's catch-all,
i.e. a real bug that a specific check should have caught: the tests reject it too.
"""

from __future__ import annotations

import random
import struct
import tracemalloc
import uuid

import pytest

from idlgen.runtime import ndr as n

NODE = n.Forward("Node")
NODE.resolve(n.Struct("Node", (n.Field("v", n.LONG), n.Field("next", n.Pointer("unique", NODE)))))
MIXED = n.Struct(
    "Mixed",
    (
        n.Field("k", n.SHORT),
        n.Field("u", n.Union(n.SHORT, (n.Arm((1,), n.HYPER), n.Arm((2,), n.BSTR)), switch_is="k")),
        n.Field("names", n.Pointer("unique", n.ConformantArray(n.Pointer("unique", n.String())))),
        n.Field("var", n.VARIANT),
        n.Field("ip", n.InterfacePointer(uuid.UUID(int=5))),
        n.Field("cnt", n.ULONG),
        n.Field("tail", n.ConformantVaryingArray(n.SHORT, size_is="cnt", length_is="cnt")),
    ),
)
MIXED_VALUE = {
    "k": 2,
    "u": "bstr",
    "names": ["a", None, "ccc"],
    "var": n.Variant(8, "v"),
    "ip": b"MEOW" + bytes(20),
    "cnt": 2,
    "tail": [1, 2],
}
LIST_VALUE = {"v": 1, "next": {"v": 2, "next": {"v": 3, "next": None}}}
FULL = n.Struct(
    "Full", (n.Field("a", n.Pointer("full", NODE)), n.Field("b", n.Pointer("full", NODE)))
)
SHARED = {"v": 4, "next": None}
CASES = [
    (MIXED, MIXED_VALUE),
    (n.Pointer("unique", NODE), LIST_VALUE),
    (FULL, {"a": SHARED, "b": SHARED}),
    (n.String(n.CHAR), "plain"),
    (n.VARIANT, n.Variant(20, -(2**40))),
]


def mutate(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        choice = rng.randrange(5)
        if choice == 0 and buf:
            buf[rng.randrange(len(buf))] = rng.randrange(256)
        elif choice == 1 and len(buf) >= 4:
            pos = rng.randrange(len(buf) - 3) & ~3
            word = rng.choice([0, 1, 0xFFFFFFFF, 0x7FFFFFFF, 0x20000, rng.getrandbits(32)])
            buf[pos : pos + 4] = struct.pack("<I", word)
        elif choice == 2:
            del buf[rng.randrange(len(buf) + 1) :]
        elif choice == 3:
            pos = rng.randrange(len(buf) + 1)
            buf[pos:pos] = rng.randbytes(rng.randint(1, 8))
        else:
            buf = bytearray(rng.randbytes(rng.randint(0, 64)))
    return bytes(buf)


def decode_only_faults(t: n.NdrType, data: bytes) -> None:
    try:
        n.decode(t, data)
    except n.NdrFault as fault:
        assert "unexpected" not in fault.message, fault.message


@pytest.mark.parametrize("index", range(len(CASES)))
def test_mutated_buffers_only_fault(index):
    t, value = CASES[index]
    valid = n.encode(t, value)
    assert n.decode(t, valid) is not None  # the seed itself is well-formed
    rng = random.Random(index)
    for _ in range(1500):
        decode_only_faults(t, mutate(valid, rng))


def test_random_method_requests_only_fault():
    method = n.MethodMarshaler(
        n.Method("M", (n.Param("m", MIXED), n.Param("s", n.Pointer("ref", n.String()))))
    )
    valid = method.encode_request({"m": MIXED_VALUE, "s": "x"})
    rng = random.Random(99)
    for _ in range(1500):
        try:
            method.decode_request(mutate(valid, rng))
        except n.NdrFault as fault:
            assert "unexpected" not in fault.message, fault.message


def test_huge_count_is_refused_before_allocating():
    # conformant array of hypers claiming 2**32-1 elements in a 20-byte buffer
    data = struct.pack("<I", 0xFFFFFFFF) + bytes(16)
    for elem in (n.HYPER, n.Struct("S", (n.Field("p", n.Pointer("unique", n.LONG)),))):
        tracemalloc.start()
        with pytest.raises(n.NdrFault):
            n.decode(n.ConformantArray(elem), data)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert peak < 64 * 1024


def test_deep_pointer_chain_is_refused_not_a_crash():
    # a list longer than MAX_DEPTH: each node is v, next-id; the decoder must refuse it
    count = n.MAX_DEPTH + 10
    data = struct.pack("<I", 0x20000)
    for i in range(count):
        data += struct.pack("<iI", i, 0x20000 + 4 * (i + 1) if i < count - 1 else 0)
    with pytest.raises(n.NdrFault):
        n.decode(n.Pointer("unique", NODE), data)


def test_trailing_garbage_is_a_fault():
    with pytest.raises(n.NdrFault):
        n.decode(n.LONG, bytes(5))


@pytest.mark.parametrize(
    "data,code",
    [
        # string: offset must be 0, actual <= max, NUL terminated
        (struct.pack("<III", 2, 1, 1) + b"a\0", n.RPC_S_INVALID_BOUND),
        (struct.pack("<III", 1, 0, 2) + b"a\0", n.RPC_S_INVALID_BOUND),
        (struct.pack("<III", 2, 0, 2) + b"ab", n.RPC_X_BAD_STUB_DATA),
        (struct.pack("<III", 3, 0, 3) + b"a\0b", n.RPC_X_BAD_STUB_DATA),
    ],
)
def test_string_checks(data, code):
    with pytest.raises(n.NdrFault) as info:
        n.decode(n.String(n.CHAR), data)
    assert info.value.hresult == code


def test_conformance_must_match_its_size_is_field():
    t = n.Struct("C", (n.Field("n", n.LONG), n.Field("a", n.ConformantArray(n.SHORT, "n"))))
    bad = struct.pack("<IIhh", 2, 3, 1, 2)  # max_count 2 but n == 3
    with pytest.raises(n.NdrFault) as info:
        n.decode(t, bad)
    assert info.value.hresult == n.RPC_S_INVALID_BOUND


def test_unknown_union_tag_is_invalid_tag():
    u = n.Union(n.LONG, (n.Arm((1,), n.LONG),), switch_is="k")
    with pytest.raises(n.NdrFault) as info:
        n.decode(u, struct.pack("<ii", 7, 0), {"k": 7})
    assert info.value.hresult == n.RPC_S_INVALID_TAG


def test_null_embedded_ref_pointer_is_a_fault():
    t = n.Struct("R", (n.Field("p", n.Pointer("ref", n.LONG)),))
    with pytest.raises(n.NdrFault) as info:
        n.decode(t, bytes(4))
    assert info.value.hresult == n.RPC_X_NULL_REF_POINTER
