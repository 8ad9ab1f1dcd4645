"""Per-method marshalers: directions, scopes from saved inputs, interface pointers, errors."""

from __future__ import annotations

import struct
import uuid
from typing import Any

import pytest

from idlgen.runtime import ndr as n

IID_IFOO = uuid.UUID("11111111-2222-3333-4444-555555555555")
READ = n.MethodMarshaler(
    n.Method(
        "Read",
        (
            n.Param(
                "pv",
                n.Pointer(
                    "ref", n.ConformantVaryingArray(n.BYTE, size_is="cb", length_is="*pcbRead")
                ),
                "out",
            ),
            n.Param("cb", n.ULONG, "in"),
            n.Param("pcbRead", n.Pointer("ref", n.ULONG), "out"),
        ),
    )
)


def test_finish_decodes_with_the_saved_begin_inputs():
    # Finish_Read's pv is sized by Begin_Read's cb: the caller passes the saved inputs as scope
    request = READ.encode_request({"cb": 16})
    saved = READ.decode_request(request)
    reply = READ.encode_response({"pv": b"xyz", "pcbRead": 3}, 0, scope=saved)
    response = READ.decode_response(reply, scope={"cb": 16})
    assert response.outs == {"pv": b"xyz", "pcbRead": 3}


def test_response_checked_against_saved_inputs():
    reply = READ.encode_response({"pv": b"xyz", "pcbRead": 3}, 0, scope={"cb": 16})
    with pytest.raises(n.NdrFault) as info:
        READ.decode_response(reply, scope={"cb": 8})  # the server claims a bigger buffer
    assert info.value.hresult == n.RPC_S_INVALID_BOUND
    with pytest.raises(n.NdrFault):
        READ.decode_response(reply)  # without the saved inputs the check cannot pass


def test_inout_params_appear_in_request_and_response():
    m = n.MethodMarshaler(
        n.Method("Swap", (n.Param("v", n.Pointer("ref", n.LONG), "inout"),), returns=n.HRESULT)
    )
    assert m.decode_request(m.encode_request({"v": 5})) == {"v": 5}
    reply = m.encode_response({"v": 6}, 0x00000001)  # S_FALSE stays observable
    assert reply == struct.pack("<iI", 6, 1)
    assert m.decode_response(reply) == n.Response({"v": 6}, 1)


@pytest.mark.parametrize(
    "values,code",
    [
        ({}, n.E_INVALIDARG),  # missing parameter
        ({"cb": -1}, n.E_INVALIDARG),  # out of range for ULONG
        ({"cb": "8"}, n.E_INVALIDARG),  # wrong Python type
    ],
)
def test_bad_caller_values_raise_marshal_error(values, code):
    with pytest.raises(n.NdrMarshalError) as info:
        READ.encode_request(values)
    assert info.value.hresult == code
    assert isinstance(info.value, ValueError)


def test_null_ref_and_unknown_union_arm_are_refused():
    m = n.MethodMarshaler(
        n.Method("M", (n.Param("p", n.Struct("S", (n.Field("r", n.Pointer("ref", n.LONG)),))),))
    )
    with pytest.raises(n.NdrMarshalError) as info:
        m.encode_request({"p": {"r": None}})
    assert info.value.hresult == n.RPC_X_NULL_REF_POINTER
    u = n.Union(n.LONG, (n.Arm((1,), n.LONG),), switch_is="k")
    with pytest.raises(n.NdrMarshalError) as info:
        n.encode(u, 3, {"k": 2})
    assert info.value.hresult == n.RPC_S_INVALID_TAG


class FakeMarshaler:
    """Stands in for an apartment: objects are exported by name inside a custom OBJREF."""

    def __init__(self) -> None:
        self.seen_iids: list[Any] = []

    def marshal(self, obj: Any, iid: Any) -> bytes:
        self.seen_iids.append(iid)
        clsid = uuid.UUID(int=0xC0FFEE)
        return n.encode_objref(
            n.ObjRef(n.OBJREF_CUSTOM, iid, clsid=clsid, custom_data=obj.encode())
        )

    def unmarshal(self, data: bytes, iid: Any) -> Any:
        self.seen_iids.append(iid)
        return n.decode_objref(data).custom_data.decode()


def test_iid_is_interface_pointer_through_a_marshaler():
    # HRESULT QueryThing([in] REFIID riid, [out, iid_is(riid)] void **ppv)
    m = n.MethodMarshaler(
        n.Method(
            "QueryThing",
            (
                n.Param("riid", n.Pointer("ref", n.GUID)),
                n.Param("ppv", n.Pointer("ref", n.InterfacePointer(iid_is="riid")), "out"),
            ),
        )
    )
    marshaler = FakeMarshaler()
    request = m.encode_request({"riid": IID_IFOO}, marshaler=marshaler)
    inputs = m.decode_request(request)
    reply = m.encode_response({"ppv": "object-7"}, 0, scope={"riid": IID_IFOO}, marshaler=marshaler)
    response = m.decode_response(reply, scope={"riid": IID_IFOO}, marshaler=marshaler)
    assert response.outs["ppv"] == "object-7"
    assert marshaler.seen_iids == [IID_IFOO, IID_IFOO]
    assert inputs["riid"].bytes_le == IID_IFOO.bytes_le


def test_marshaler_rejection_becomes_a_fault():
    class Refuses(FakeMarshaler):
        def unmarshal(self, data: bytes, iid: Any) -> Any:
            raise ValueError("unknown OXID")

    ip = n.InterfacePointer(IID_IFOO)
    data = n.encode(ip, "x", marshaler=FakeMarshaler())
    with pytest.raises(n.NdrFault):
        n.decode(ip, data, marshaler=Refuses())


def test_standard_objref_round_trip_and_strictness():
    ref = n.ObjRef(
        n.OBJREF_STANDARD,
        IID_IFOO,
        n.StdObjRef(0, 5, 0x1122, 0x3344, uuid.UUID(int=9)),
        n.DualStringArray(
            (n.StringBinding(0x07, "127.0.0.1[4000]"),), (n.SecurityBinding(0x0A, 0xFFFF, ""),)
        ),
    )
    data = n.encode_objref(ref)
    assert data[:4] == b"MEOW" and n.decode_objref(data) == ref
    # DUALSTRINGARRAY: 1 tower id + 16 wide chars (with NUL) + 0 terminator; security at 18
    offset = 8 + 16 + 40
    entries, security = struct.unpack_from("<HH", data, offset)
    assert (entries, security) == (18 + 4, 18)
    for cut in range(len(data)):
        with pytest.raises(n.NdrFault):
            n.decode_objref(data[:cut])
    with pytest.raises(n.NdrFault):
        n.decode_objref(b"WOEM" + data[4:])


def test_expression_arithmetic_is_c_like():
    assert n.evaluate(n.parse_expr("(a * 2 + 1) / 2"), {"a": 3}) == 3
    assert n.evaluate(n.parse_expr("-7 / 2"), {}) == -3  # truncates toward zero
    assert n.evaluate(n.parse_expr("-7 % 2"), {}) == -1
    assert n.evaluate(n.parse_expr("x ? 0x10 : 010"), {"x": 0}) == 8
    assert n.evaluate(n.parse_expr("*pcb - 1"), {"pcb": 4}) == 3
