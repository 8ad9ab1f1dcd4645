"""Who sent the ORPC request being served (both server paths set it; endpoint.py reads it
to decide where callbacks may connect)."""

from __future__ import annotations

from contextvars import ContextVar

__all__ = ["current_peer"]

_PEER: ContextVar[object | None] = ContextVar("idlgen_orpc_peer", default=None)


def current_peer() -> object | None:
    """Who sent the request being served here: an IP address string, ("uid", n) for a
    Unix-socket client, None outside a remote request."""
    return _PEER.get()
