"""HRESULT values (winerror.h), their tests, and the exceptions failures become.

Generated code and the runtime raise `COMError` (or the subclass registered for the code)
for every failure HRESULT, so callers can `except CallCanceledError` instead of comparing
numbers. HRESULTs are kept as unsigned 32-bit ints, the way winerror.h prints them.
"""

from __future__ import annotations

__all__ = [
    "CLASS_E_NOAGGREGATION",
    "CO_E_CANCEL_DISABLED",
    "CO_E_NOTINITIALIZED",
    "E_ABORT",
    "E_ACCESSDENIED",
    "E_FAIL",
    "E_INVALIDARG",
    "E_NOINTERFACE",
    "E_NOTIMPL",
    "E_OUTOFMEMORY",
    "E_POINTER",
    "E_UNEXPECTED",
    "FAILED",
    "HRESULT_FROM_WIN32",
    "INFINITE",
    "RPC_E_CALL_CANCELED",
    "RPC_E_CALL_COMPLETE",
    "RPC_E_CANTCALLOUT_ININPUTSYNCCALL",
    "RPC_E_DISCONNECTED",
    "RPC_E_INVALIDMETHOD",
    "RPC_E_NO_SYNC",
    "RPC_E_OUT_OF_RESOURCES",
    "RPC_E_SERVERFAULT",
    "RPC_E_TIMEOUT",
    "RPC_E_WRONG_THREAD",
    "RPC_S_CALLPENDING",
    "RPC_X_BAD_STUB_DATA",
    "SUCCEEDED",
    "S_FALSE",
    "S_OK",
    "AccessDeniedError",
    "BadStubDataError",
    "COMError",
    "CallCanceledError",
    "CallCompleteError",
    "CallPendingError",
    "ClassNoAggregationError",
    "DisconnectedError",
    "InvalidArgError",
    "NoInterfaceError",
    "NotImplError",
    "RpcTimeoutError",
    "ServerFaultError",
    "UnexpectedError",
    "check",
    "error_for",
    "hresult_name",
]

INFINITE = 0xFFFFFFFF

S_OK = 0x00000000
S_FALSE = 0x00000001
E_NOTIMPL = 0x80004001
E_NOINTERFACE = 0x80004002
E_POINTER = 0x80004003
E_ABORT = 0x80004004
E_FAIL = 0x80004005
E_UNEXPECTED = 0x8000FFFF
E_OUTOFMEMORY = 0x8007000E
E_INVALIDARG = 0x80070057
E_ACCESSDENIED = 0x80070005
CLASS_E_NOAGGREGATION = 0x80040110
CO_E_NOTINITIALIZED = 0x800401F0
RPC_E_CALL_CANCELED = 0x80010002
RPC_E_OUT_OF_RESOURCES = 0x80010101
RPC_E_SERVERFAULT = 0x80010105
RPC_E_INVALIDMETHOD = 0x80010107
RPC_E_DISCONNECTED = 0x80010108
RPC_E_CANTCALLOUT_ININPUTSYNCCALL = 0x8001010D
RPC_E_WRONG_THREAD = 0x8001010E
RPC_S_CALLPENDING = 0x80010115
RPC_E_CALL_COMPLETE = 0x80010117
RPC_E_TIMEOUT = 0x8001011F
RPC_E_NO_SYNC = 0x80010120
CO_E_CANCEL_DISABLED = 0x80010140


def HRESULT_FROM_WIN32(code: int) -> int:
    """Map a Win32 error code to its HRESULT (FACILITY_WIN32), as the macro does."""
    code &= 0xFFFFFFFF
    if code == 0 or code & 0x80000000:
        return code
    return (code & 0x0000FFFF) | 0x80070000


RPC_X_BAD_STUB_DATA = HRESULT_FROM_WIN32(1783)  # 0x800706F7


def SUCCEEDED(hr: int) -> bool:
    return not (hr & 0x80000000)


def FAILED(hr: int) -> bool:
    return bool(hr & 0x80000000)


_NAMES: dict[int, str] = {
    value: name
    for name, value in list(globals().items())
    if name.isupper() and isinstance(value, int) and name != "INFINITE"
}


def hresult_name(hr: int) -> str:
    """The winerror.h name for messages, or the hex value when we do not know it."""
    hr &= 0xFFFFFFFF
    return _NAMES.get(hr, f"0x{hr:08X}")


class COMError(Exception):
    """A failure HRESULT. Subclasses exist for codes that callers branch on."""

    hresult: int = E_FAIL

    def __init__(self, hresult: int | None = None, message: str | None = None) -> None:
        if hresult is not None:
            self.hresult = hresult & 0xFFFFFFFF
        text = message or hresult_name(self.hresult)
        super().__init__(text)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({hresult_name(self.hresult)})"


class NoInterfaceError(COMError):
    hresult = E_NOINTERFACE


class NotImplError(COMError):
    hresult = E_NOTIMPL


class InvalidArgError(COMError):
    hresult = E_INVALIDARG


class UnexpectedError(COMError):
    hresult = E_UNEXPECTED


class ClassNoAggregationError(COMError):
    hresult = CLASS_E_NOAGGREGATION


class CallPendingError(COMError):
    hresult = RPC_S_CALLPENDING


class CallCompleteError(COMError):
    hresult = RPC_E_CALL_COMPLETE


class CallCanceledError(COMError):
    hresult = RPC_E_CALL_CANCELED


class RpcTimeoutError(COMError):
    hresult = RPC_E_TIMEOUT


class DisconnectedError(COMError):
    hresult = RPC_E_DISCONNECTED


class ServerFaultError(COMError):
    hresult = RPC_E_SERVERFAULT


class BadStubDataError(COMError):
    hresult = RPC_X_BAD_STUB_DATA


class AccessDeniedError(COMError):
    hresult = E_ACCESSDENIED


_CLASSES: dict[int, type[COMError]] = {
    cls.hresult: cls
    for cls in (
        NoInterfaceError,
        NotImplError,
        InvalidArgError,
        UnexpectedError,
        ClassNoAggregationError,
        CallPendingError,
        CallCompleteError,
        CallCanceledError,
        RpcTimeoutError,
        DisconnectedError,
        ServerFaultError,
        BadStubDataError,
        AccessDeniedError,
    )
}


def error_for(hr: int, message: str | None = None) -> COMError:
    """The exception for a failure HRESULT: the named subclass when there is one."""
    hr &= 0xFFFFFFFF
    cls = _CLASSES.get(hr, COMError)
    return cls(hr, message)


def check(hr: int) -> int:
    """Return a success HRESULT unchanged, raise the matching COMError for a failure."""
    hr &= 0xFFFFFFFF
    if hr & 0x80000000:
        raise error_for(hr)
    return hr
