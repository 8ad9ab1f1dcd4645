"""WMI-style asynchronous calls: result sinks, progress, cancellation, semisynchronous calls.

Generic over any IDL that follows the IWbemObjectSink contract (the bundled wbemcli.idl,
or user interfaces of the same shape): the server helpers call the sink's `Indicate` and
`SetStatus` by name and never need wbemcli's classes. docs/wmi.md is the guide.

- server, asynchronous: `AsyncCallTable.start(sink, source, flags)` / `.cancel(sink)`
  (operation.py);
- server, semisynchronous: `start_semisync(enumerator_class(IEnum...), source, flags)`,
  `start_call_result(call_result_class(ICallResult...), work)` (results.py);
- client: `ObjectSink` / `sink_class(ISink...)`, `iterate(enum)`, `aiterate(enum)`
  (client.py).
"""

from __future__ import annotations

from idlgen.runtime.wmi.client import ObjectSink, aiterate, iterate, sink_class
from idlgen.runtime.wmi.codes import (
    WBEM_E_CALL_CANCELLED,
    WBEM_E_FAILED,
    WBEM_E_INVALID_OPERATION,
    WBEM_E_INVALID_PARAMETER,
    WBEM_E_NOT_FOUND,
    WBEM_E_NOT_SUPPORTED,
    WBEM_FLAG_FORWARD_ONLY,
    WBEM_FLAG_RETURN_IMMEDIATELY,
    WBEM_FLAG_SEND_STATUS,
    WBEM_INFINITE,
    WBEM_NO_WAIT,
    WBEM_S_FALSE,
    WBEM_S_NO_ERROR,
    WBEM_S_TIMEDOUT,
    WBEM_STATUS_COMPLETE,
    WBEM_STATUS_PROGRESS,
    as_long,
    pack_progress,
    timeout_seconds,
    unpack_progress,
)
from idlgen.runtime.wmi.operation import (
    AsyncCallTable,
    AsyncOperation,
    Outcome,
    Progress,
    Runner,
    com_identity,
    drive,
    thread_runner,
)
from idlgen.runtime.wmi.results import (
    CallResultBase,
    ResultBuffer,
    ResultEnumerator,
    call_result_class,
    enumerator_class,
    start_call_result,
    start_semisync,
)

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
    "AsyncCallTable",
    "AsyncOperation",
    "CallResultBase",
    "ObjectSink",
    "Outcome",
    "Progress",
    "ResultBuffer",
    "ResultEnumerator",
    "Runner",
    "aiterate",
    "as_long",
    "call_result_class",
    "com_identity",
    "drive",
    "enumerator_class",
    "iterate",
    "pack_progress",
    "sink_class",
    "start_call_result",
    "start_semisync",
    "thread_runner",
    "timeout_seconds",
    "unpack_progress",
]
