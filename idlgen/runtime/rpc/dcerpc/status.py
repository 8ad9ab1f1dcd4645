"""Fault status codes <-> HRESULTs ([MS-RPCE] 3.1.1.5.5).

On the wire a fault carries an NCA status or a Win32 code; callers in this runtime see
HRESULTs. Servers send Win32 codes for FACILITY_WIN32 HRESULTs (0x800706F7 goes out as
0x000006F7, as Windows' NDR does) and any other HRESULT as is.
"""

from __future__ import annotations

from idlgen.runtime.com.hresult import HRESULT_FROM_WIN32, RPC_E_CALL_CANCELED, COMError, error_for
from idlgen.runtime.rpc.dcerpc import pdu as P

RPC_S_SERVER_OUT_OF_MEMORY = 1130
RPC_S_UNKNOWN_IF = 1717
RPC_S_SERVER_TOO_BUSY = 1723
RPC_S_CALL_FAILED = 1726
RPC_S_PROTOCOL_ERROR = 1728
RPC_S_PROCNUM_OUT_OF_RANGE = 1745
RPC_S_INVALID_TAG = 1733
RPC_S_INVALID_BOUND = 1734
ERROR_INVALID_HANDLE = 6

_NCA_TO_WIN32 = {
    P.NCA_S_OP_RNG_ERROR: RPC_S_PROCNUM_OUT_OF_RANGE,
    P.NCA_S_UNK_IF: RPC_S_UNKNOWN_IF,
    P.NCA_S_PROTO_ERROR: RPC_S_PROTOCOL_ERROR,
    P.NCA_S_SERVER_TOO_BUSY: RPC_S_SERVER_TOO_BUSY,
    P.NCA_S_FAULT_REMOTE_NO_MEMORY: RPC_S_SERVER_OUT_OF_MEMORY,
    P.NCA_S_FAULT_INVALID_TAG: RPC_S_INVALID_TAG,
    P.NCA_S_FAULT_INVALID_BOUND: RPC_S_INVALID_BOUND,
    P.NCA_S_FAULT_CONTEXT_MISMATCH: ERROR_INVALID_HANDLE,
    P.NCA_S_UNSPEC_REJECT: RPC_S_CALL_FAILED,
}


def fault_hresult(status: int) -> int:
    """The HRESULT a client reports for a fault PDU's status."""
    status &= 0xFFFFFFFF
    if status == P.NCA_S_FAULT_CANCEL:
        return RPC_E_CALL_CANCELED
    if status in _NCA_TO_WIN32:
        return HRESULT_FROM_WIN32(_NCA_TO_WIN32[status])
    if 0 < status <= 0xFFFF:
        return HRESULT_FROM_WIN32(status)
    return status


def fault_error(status: int) -> COMError:
    hr = fault_hresult(status)
    return error_for(hr, f"server fault 0x{status:08X}")


def wire_status(hresult: int) -> int:
    """The status a server puts in a fault PDU for a failure HRESULT."""
    hresult &= 0xFFFFFFFF
    if hresult == RPC_E_CALL_CANCELED:
        return P.NCA_S_FAULT_CANCEL
    if hresult & 0xFFFF0000 == 0x80070000:
        return hresult & 0xFFFF
    return hresult
