"""GUIDs and HRESULTs: real winerror.h values and the error class mapping."""

from __future__ import annotations

import pickle

import pytest

from idlgen import runtime as _rt

WINERROR = {
    "S_OK": 0x0,
    "S_FALSE": 0x1,
    "E_NOTIMPL": 0x80004001,
    "E_NOINTERFACE": 0x80004002,
    "E_POINTER": 0x80004003,
    "E_FAIL": 0x80004005,
    "E_UNEXPECTED": 0x8000FFFF,
    "E_OUTOFMEMORY": 0x8007000E,
    "E_INVALIDARG": 0x80070057,
    "CLASS_E_NOAGGREGATION": 0x80040110,
    "CO_E_NOTINITIALIZED": 0x800401F0,
    "RPC_E_CALL_CANCELED": 0x80010002,
    "RPC_E_OUT_OF_RESOURCES": 0x80010101,
    "RPC_E_SERVERFAULT": 0x80010105,
    "RPC_E_DISCONNECTED": 0x80010108,
    "RPC_E_CANTCALLOUT_ININPUTSYNCCALL": 0x8001010D,
    "RPC_E_WRONG_THREAD": 0x8001010E,
    "RPC_S_CALLPENDING": 0x80010115,
    "RPC_E_CALL_COMPLETE": 0x80010117,
    "RPC_E_TIMEOUT": 0x8001011F,
    "RPC_E_NO_SYNC": 0x80010120,
    "RPC_X_BAD_STUB_DATA": 0x800706F7,
}


@pytest.mark.parametrize(("name", "value"), sorted(WINERROR.items()))
def test_hresult_constants_match_winerror(name: str, value: int) -> None:
    assert getattr(_rt, name) == value
    assert _rt.hresult_name(value) == name


def test_hresult_from_win32_and_tests() -> None:
    assert _rt.HRESULT_FROM_WIN32(1783) == _rt.RPC_X_BAD_STUB_DATA
    assert _rt.HRESULT_FROM_WIN32(0) == _rt.S_OK
    assert _rt.HRESULT_FROM_WIN32(0x80004005) == _rt.E_FAIL  # already an HRESULT
    assert _rt.SUCCEEDED(_rt.S_FALSE) and _rt.FAILED(_rt.RPC_S_CALLPENDING)


@pytest.mark.parametrize(
    ("hresult", "cls"),
    [
        (_rt.E_NOINTERFACE, _rt.NoInterfaceError),
        (_rt.RPC_S_CALLPENDING, _rt.CallPendingError),
        (_rt.RPC_E_CALL_COMPLETE, _rt.CallCompleteError),
        (_rt.RPC_E_CALL_CANCELED, _rt.CallCanceledError),
        (_rt.RPC_E_TIMEOUT, _rt.RpcTimeoutError),
        (_rt.RPC_E_DISCONNECTED, _rt.DisconnectedError),
        (_rt.RPC_E_SERVERFAULT, _rt.ServerFaultError),
        (_rt.RPC_X_BAD_STUB_DATA, _rt.BadStubDataError),
        (0x80001234, _rt.COMError),
    ],
)
def test_error_factory_maps_hresult_to_class(hresult: int, cls: type) -> None:
    error = _rt.error_for(hresult)
    assert type(error) is cls
    assert error.hresult == hresult
    with pytest.raises(cls):
        _rt.check(hresult)
    assert _rt.check(_rt.S_FALSE) == _rt.S_FALSE


def test_guid_forms_and_identity() -> None:
    text = "{00000000-0000-0000-C000-000000000046}"
    guid = _rt.GUID(text.lower().strip("{}"))
    assert str(guid) == text
    assert guid == _rt.IID_IUnknown and hash(guid) == hash(_rt.IID_IUnknown)
    assert _rt.GUID.from_bytes_le(guid.bytes_le) == guid
    assert guid.bytes_le[:4] == b"\x00\x00\x00\x00" and guid.bytes_le[8] == 0xC0
    assert pickle.loads(pickle.dumps(guid)) == guid
    assert guid == guid.uuid and hash(guid) == hash(guid.uuid)  # interoperates with uuid.UUID
    assert len({_rt.GUID(text), _rt.GUID(text.lower())}) == 1
    with pytest.raises(ValueError):
        _rt.GUID("not-a-guid")
    with pytest.raises(AttributeError):
        guid._int = 1  # type: ignore[misc]
