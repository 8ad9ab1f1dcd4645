"""Connection-oriented DCE/RPC (ncacn_ip_tcp, ncacn_unix_stream) and plain RPC interfaces.

docs/dcerpc.md is the guide. Module map: `pdu` (PDU codec), `fragments` (fragmentation and
reassembly), `wire` (reading PDUs from a socket; `Limits`), `binding` (string bindings and
sockets), `status` (fault codes <-> HRESULTs), `server` (`RpcServer`), `client`
(`Connection`, associations), `rpcif` (`RpcInterface`, the calling convention on the wire),
`rpcclient` (`RpcClient`, `connect`), `epm` (the endpoint mapper: client and service),
`generated` (what generated modules import as `_rpc`).
"""

from __future__ import annotations

from idlgen.runtime.rpc.dcerpc import client as _client
from idlgen.runtime.rpc.dcerpc import epm as _epm
from idlgen.runtime.rpc.dcerpc.binding import Binding, BindingError
from idlgen.runtime.rpc.dcerpc.binding import parse as parse_binding
from idlgen.runtime.rpc.dcerpc.client import ClientCall, Connection, RpcUnavailableError
from idlgen.runtime.rpc.dcerpc.rpcclient import PendingRpc, RpcClient, connect
from idlgen.runtime.rpc.dcerpc.rpcif import RpcInterface
from idlgen.runtime.rpc.dcerpc.server import CallState, RpcServer, call_canceled, current_call
from idlgen.runtime.rpc.dcerpc.wire import Limits

# Bindings without a port ask the host's endpoint mapper. Done here, the one module every
# use of dcerpc runs first, because the mapper's client is generated code built on
# Connection and so cannot be imported by it.
_client.use_endpoint_mapper(_epm.map_endpoint)

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
