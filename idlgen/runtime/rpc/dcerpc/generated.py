"""What generated modules of plain RPC interfaces reach as `_rpc`: the interface
description, the client base class and the type `Begin_X` returns.

Narrower than the `dcerpc` package, which also wires in the endpoint mapper: the endpoint
mapper's own client is generated code (epm_idl), so what generated code imports has to sit
below it.
"""

from __future__ import annotations

from idlgen.runtime.rpc.dcerpc.rpcclient import PendingRpc, RpcClient
from idlgen.runtime.rpc.dcerpc.rpcif import RpcInterface

__all__ = ["PendingRpc", "RpcClient", "RpcInterface"]
