"""The two exceptions the NDR engine raises, and the status codes they carry.

A peer's bad buffer must never surface as an IndexError or a MemoryError: stubs turn exactly one
exception type into a fault PDU, so every decoding problem becomes `NdrFault`.  A caller's bad
*value* (an int out of range, a missing field) is a programming error on our side of the wire,
so it gets its own subclass that is also a `ValueError`.
"""

from __future__ import annotations

# HRESULT_FROM_WIN32 of the RPC status codes (winerror.h), as MIDL stubs report them.
RPC_S_INVALID_TAG = 0x800706C5
RPC_S_INVALID_BOUND = 0x800706C6
RPC_X_NULL_REF_POINTER = 0x800706F4
RPC_X_ENUM_VALUE_OUT_OF_RANGE = 0x800706F5
RPC_X_BAD_STUB_DATA = 0x800706F7
E_INVALIDARG = 0x80070057
E_NOINTERFACE = 0x80004002


class NdrFault(Exception):
    """A buffer that does not follow the IDL; `hresult` is what the stub reports to the peer."""

    def __init__(self, hresult: int, message: str) -> None:
        super().__init__(f"0x{hresult:08X}: {message}")
        self.hresult = hresult
        self.message = message


class NdrMarshalError(NdrFault, ValueError):
    """A Python value that cannot be represented on the wire (caller's mistake, not the peer's)."""

    def __init__(self, message: str, hresult: int = E_INVALIDARG) -> None:
        super().__init__(hresult, message)


def bad_stub(message: str) -> NdrFault:
    return NdrFault(RPC_X_BAD_STUB_DATA, message)


def bad_bound(message: str) -> NdrFault:
    return NdrFault(RPC_S_INVALID_BOUND, message)
