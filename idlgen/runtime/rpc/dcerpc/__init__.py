"""Connection-oriented DCE/RPC (ncacn_ip_tcp, ncacn_unix_stream) and plain RPC interfaces.

docs/dcerpc.md is the guide. Module map: `pdu` (PDU codec), `fragments` (fragmentation and
reassembly), `wire` (reading PDUs from a socket; `Limits`), `binding` (string bindings and
sockets), `status` (fault codes <-> HRESULTs), `server` (`RpcServer`), `client`
(`Connection`, associations), `rpcif` (`RpcInterface`, the calling convention on the wire),
`rpcclient` (`RpcClient`, `connect`).
"""

from __future__ import annotations

from idlgen.runtime.dcerpc.binding import Binding, BindingError
from idlgen.runtime.dcerpc.binding import parse as parse_binding
from idlgen.runtime.dcerpc.client import ClientCall, Connection, RpcUnavailableError
from idlgen.runtime.dcerpc.rpcclient import PendingRpc, RpcClient, connect
from idlgen.runtime.dcerpc.rpcif import RpcInterface
from idlgen.runtime.dcerpc.server import CallState, RpcServer, call_canceled, current_call
from idlgen.runtime.dcerpc.wire import Limits

__all__ = [
    "Binding",
    "BindingError",
    "CallState",
    "ClientCall",
    "Connection",
    "Limits",
    "PendingRpc",
    "RpcClient",
    "RpcInterface",
    "RpcServer",
    "RpcUnavailableError",
    "call_canceled",
    "connect",
    "current_call",
    "parse_binding",
]
