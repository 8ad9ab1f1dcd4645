"""The WMI numbers the sink contract uses, as plain ints, and the two encodings around them.

The values are wbemcli.idl's ([MS-WMI] 2.2); they are read from the generated base module so
there is one source of truth, then turned into ints so user IDL of the same shape (which
may declare its own enums, or none) compares equal without depending on wbemcli's classes.
"""

from __future__ import annotations

from idlgen.runtime.base import wbemcli_idl as _w

__all__ = [
    "WBEM_E_CALL_CANCELLED",
    "WBEM_E_FAILED",
    "WBEM_E_INVALID_OPERATION",
    "WBEM_E_INVALID_PARAMETER",
    "WBEM_E_NOT_FOUND",
    "WBEM_E_NOT_SUPPORTED",
    "WBEM_FLAG_FORWARD_ONLY",
    "WBEM_FLAG_RETURN_IMMEDIATELY",
    "WBEM_FLAG_SEND_STATUS",
    "WBEM_INFINITE",
    "WBEM_NO_WAIT",
    "WBEM_STATUS_COMPLETE",
    "WBEM_STATUS_PROGRESS",
    "WBEM_S_FALSE",
    "WBEM_S_NO_ERROR",
    "WBEM_S_TIMEDOUT",
    "as_long",
    "pack_progress",
    "timeout_seconds",
    "unpack_progress",
]

WBEM_S_NO_ERROR = int(_w.WBEM_S_NO_ERROR)
WBEM_S_FALSE = int(_w.WBEM_S_FALSE)
WBEM_S_TIMEDOUT = int(_w.WBEM_S_TIMEDOUT)
WBEM_E_FAILED = int(_w.WBEM_E_FAILED)
WBEM_E_NOT_FOUND = int(_w.WBEM_E_NOT_FOUND)
WBEM_E_INVALID_PARAMETER = int(_w.WBEM_E_INVALID_PARAMETER)
WBEM_E_NOT_SUPPORTED = int(_w.WBEM_E_NOT_SUPPORTED)
WBEM_E_INVALID_OPERATION = int(_w.WBEM_E_INVALID_OPERATION)
WBEM_E_CALL_CANCELLED = int(_w.WBEM_E_CALL_CANCELLED)

WBEM_FLAG_RETURN_IMMEDIATELY = int(_w.WBEM_FLAG_RETURN_IMMEDIATELY)
WBEM_FLAG_FORWARD_ONLY = int(_w.WBEM_FLAG_FORWARD_ONLY)
WBEM_FLAG_SEND_STATUS = int(_w.WBEM_FLAG_SEND_STATUS)

WBEM_STATUS_COMPLETE = int(_w.WBEM_STATUS_COMPLETE)
WBEM_STATUS_PROGRESS = int(_w.WBEM_STATUS_PROGRESS)

WBEM_NO_WAIT = int(_w.WBEM_NO_WAIT)
WBEM_INFINITE = int(_w.WBEM_INFINITE)


def timeout_seconds(timeout_ms: int) -> float | None:
    """An `lTimeout` in milliseconds as a wait bound: None is WBEM_INFINITE.

    `lTimeout` is a signed `long` on the wire, so WBEM_INFINITE (0xFFFFFFFF) arrives as -1
    from a proxy and as 0xFFFFFFFF from an in-process caller: both mean "wait for ever".
    Any other negative value is a caller error.
    """
    if timeout_ms in (WBEM_INFINITE, -1):
        return None
    if timeout_ms < 0:
        from idlgen.runtime.com.hresult import COMError

        raise COMError(WBEM_E_INVALID_PARAMETER, "negative lTimeout")
    return timeout_ms / 1000.0


def pack_progress(done: int, total: int) -> int:
    """SetStatus(WBEM_STATUS_PROGRESS)'s hResult: LOWORD done, HIWORD total.

    Sixteen bits each, so larger counts are scaled down together (the ratio is what a
    progress bar needs); done never exceeds total.
    """
    done, total = max(0, done), max(0, total)
    while total > 0xFFFF:
        done, total = done >> 1, total >> 1
    return (min(done, total) & 0xFFFF) | ((total & 0xFFFF) << 16)


def unpack_progress(hresult: int) -> tuple[int, int]:
    """(done, total) from a progress report's hResult."""
    hresult &= 0xFFFFFFFF
    return hresult & 0xFFFF, hresult >> 16


def as_long(value: int) -> int:
    """A 32-bit value as the signed `long` the wire carries (WBEM_INFINITE becomes -1).

    `lTimeout` and `plStatus` are `long` in the IDL while WMI spells their constants as
    unsigned (0xFFFFFFFF, 0x8004xxxx); a proxy range-checks, so convert before the call.
    """
    value &= 0xFFFFFFFF
    return value - 0x100000000 if value & 0x80000000 else value
