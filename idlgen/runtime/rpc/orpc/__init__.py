"""ORPC across processes and machines: DCOM's object layer over connection-oriented DCE/RPC.

docs/orpc.md is the guide. `publish(obj, iface, binding)` exports an object at an endpoint of
this process and returns the string a client passes to `connect(text, iface)` to get a proxy;
`serve(binding)` starts (or extends) the process's endpoint without publishing anything;
`configure(ServerLimits(...))` before it sets the limits (docs/security.md), `shutdown()`
stops it cleanly.
Module map: `wire` (ORPCTHIS/ORPCTHAT), `server` (requests into apartments, references per
connection), `client` (a Port per remote OXID), `endpoint` (the process endpoint, hooks).
"""

from __future__ import annotations

from idlgen.runtime.rpc.dcerpc.limits import ServerLimits
from idlgen.runtime.rpc.orpc.endpoint import (
    Endpoint,
    configure,
    connect,
    endpoint,
    limits,
    publish,
    serve,
    shutdown,
    unpublish,
)

__all__ = [
    "Endpoint",
    "ServerLimits",
    "configure",
    "connect",
    "endpoint",
    "limits",
    "publish",
    "serve",
    "shutdown",
    "unpublish",
]
