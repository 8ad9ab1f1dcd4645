"""Plain RPC constructs the Microsoft protocols use ([MS-RPCE], [MS-WKST]) get wire forms:
explicit binding handles stay off the wire, context handles are 20 bytes, a union parameter
is discriminated by another parameter (an enum one too)."""

from __future__ import annotations

import struct
from pathlib import Path
from types import ModuleType

import pytest

import idlgen
from idlgen.runtime.com.guid import GUID
from idlgen.runtime.ndr import ContextHandle

IDL = """
[uuid(7b1a2c3d-0000-4000-8000-00000000c0de), version(1.0), pointer_default(unique)]
interface wireforms
{
    typedef [context_handle] void *ctx_t;
    typedef enum { KIND_A = 1, KIND_B = 2 } KIND;
    typedef struct { long a; } INFO_A;
    typedef struct { [string] wchar_t *b; } INFO_B;
    typedef [switch_type(unsigned long)] union { [case(1)] INFO_A *a; [case(2)] INFO_B *b;
                                                 [default] ; } INFO, *LPINFO;
    typedef [switch_type(KIND)] union { [case(KIND_A)] long x; [case(KIND_B)] short y; } BYKIND;

    long Open([in] handle_t h, [in] long seed, [in, out] ctx_t *ctx);
    long Get([in] handle_t h, [in] unsigned long level, [out, switch_is(level)] LPINFO info);
    long Pick([in] KIND kind, [in, switch_is(kind)] BYKIND *value);
    long Ping([in] unsigned short n, [in, unique, size_is(n)] hyper ids[]);
}
"""


@pytest.fixture(scope="module")
def mod(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    path: Path = tmp_path_factory.mktemp("wireforms") / "wireforms.idl"
    path.write_text(IDL)
    return idlgen.load(path)


def test_an_explicit_binding_handle_is_not_marshaled(mod: ModuleType) -> None:
    wire = mod.wireforms._wire_[0]
    assert wire is not None
    assert [p.name for p in wire.method.params] == ["seed", "ctx"]
    handle = ContextHandle(0, GUID("00112233-4455-6677-8899-aabbccddeeff"))
    data = wire.encode_request({"h": None, "seed": 7, "ctx": handle})
    assert data == struct.pack("<iI", 7, 0) + handle.uuid.bytes_le  # seed, then 20 bytes
    assert wire.decode_request(data) == {"seed": 7, "ctx": handle}


def test_a_null_context_handle_is_twenty_zero_bytes(mod: ModuleType) -> None:
    wire = mod.wireforms._wire_[0]
    data = wire.encode_request({"seed": 0, "ctx": ContextHandle()})
    assert data[4:] == bytes(20) and ContextHandle().is_null


def test_a_union_parameter_is_discriminated_by_another_parameter(mod: ModuleType) -> None:
    wire = mod.wireforms._wire_[1]
    assert wire is not None
    reply = wire.encode_response({"info": mod.INFO_B("hi")}, 0, scope={"level": 2})
    back = wire.decode_response(reply, scope={"level": 2})
    assert back.outs["info"] == mod.INFO_B("hi")
    assert struct.unpack_from("<I", reply)[0] == 2  # the discriminant goes first
    other = wire.encode_response({"info": None}, 0, scope={"level": 9})  # the empty default
    assert wire.decode_response(other, scope={"level": 9}).outs["info"] is None


def test_an_enum_discriminant_uses_the_enums_wire_type(mod: ModuleType) -> None:
    wire = mod.wireforms._wire_[2]
    assert wire is not None
    data = wire.encode_request({"kind": mod.KIND.KIND_B, "value": 5})
    assert wire.decode_request(data) == {"kind": mod.KIND.KIND_B, "value": 5}


def test_a_unique_array_parameter_is_a_unique_pointer_on_the_wire(mod: ModuleType) -> None:
    """MIDL passes an array parameter as a pointer: [unique] gives it a referent id, so a
    NULL array is possible (ComplexPing's AddToSet/DelFromSet)."""
    wire = mod.wireforms._wire_[3]
    assert wire is not None
    absent = wire.encode_request({"n": 0, "ids": None})
    assert absent == struct.pack("<HHI", 0, 0, 0)  # n, pad, NULL referent
    present = wire.encode_request({"n": 2, "ids": [5, 6]})
    referent, count = struct.unpack_from("<II", present, 4)
    assert referent != 0 and count == 2
    assert wire.decode_request(present) == {"n": 2, "ids": [5, 6]}
    assert wire.decode_request(absent) == {"n": 0, "ids": None}
