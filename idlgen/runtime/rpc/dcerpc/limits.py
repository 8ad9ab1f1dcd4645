"""Every bound a server puts on what peers may make it hold, in one place.

A peer that is slow, idle, malicious or gone must cost the server a bounded amount of
memory, descriptors and threads, for a bounded time; hitting a bound is a fault, a bind_nak
or a closed connection, never a dead listener. docs/security.md lists each field with its
default and what happens when it is reached. `ServerLimits.connection` holds the
per-connection wire bounds both ends share (fragment sizes, call size, PDU timeout).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from typing import Any

from idlgen.runtime.rpc.dcerpc.wire import Limits

__all__ = ["ServerLimits", "parse_limit"]


@dataclass(frozen=True)
class ServerLimits:
    """Server-wide bounds (see docs/security.md for each one's effect)."""

    connection: Limits = field(default_factory=Limits)
    # connections
    max_connections: int = 1024
    max_connections_per_peer: int = 128  # TCP: per address; Unix socket: per uid
    idle_timeout: float = 120.0  # no call, no byte, no reference held: closed after this
    # unfinished calls (fragments received, last one missing)
    max_buffered_per_connection: int = 16 * 1024 * 1024
    max_buffered_total: int = 256 * 1024 * 1024
    incomplete_call_timeout: float = 60.0
    max_unsent_per_connection: int = 16 * 1024 * 1024  # replies a peer does not read
    # calls running
    max_call_threads: int = 64  # the pool a server grows to while every thread is busy
    max_queued_calls: int = 256  # waiting for a thread at that limit; more: TOO_BUSY
    max_running_per_connection: int = 16  # more from one connection wait their turn
    # the accept loop
    accept_backoff: float = 0.05  # first pause after EMFILE/ENFILE, doubled up to the max
    accept_backoff_max: float = 2.0
    # Unix sockets
    unix_socket_mode: int = 0o600
    allowed_uids: frozenset[int] | None = None  # None: the server's own uid only
    # outbound connections (callbacks to client objects)
    callback_hosts: tuple[str, ...] = ()  # besides the peer's own host; "*": anywhere
    callback_unix_any_owner: bool = False  # Unix callbacks only to sockets the peer owns
    outbound_connect_timeout: float = 5.0
    outbound_bind_timeout: float = 5.0
    # stopping
    shutdown_grace: float = 5.0  # running calls get this long to finish after a cancel

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
                raise ValueError(f"ServerLimits.{f.name} must not be negative")
        if self.max_connections < 1 or self.max_call_threads < 1:
            raise ValueError("max_connections and max_call_threads must be at least 1")

    def uid_allowed(self, uid: int) -> bool:
        allowed = self.allowed_uids if self.allowed_uids is not None else {os.getuid()}
        return uid in allowed


def parse_limit(limits: ServerLimits, text: str) -> ServerLimits:
    """`limits` with one `NAME=VALUE` changed (the CLI's --limit); ValueError if invalid."""
    name, sep, raw = text.partition("=")
    name = name.strip()
    known = {f.name: f for f in fields(ServerLimits) if f.name != "connection"}
    wire = {f.name for f in fields(Limits)}
    if not sep or (name not in known and name not in wire):
        raise ValueError(
            f"--limit {text!r}: expected NAME=VALUE with NAME one of "
            f"{', '.join(sorted([*known, *wire]))}"
        )
    current = getattr(limits.connection if name in wire else limits, name)
    value = _convert(name, raw.strip(), current)
    if name in wire:
        return replace(limits, connection=replace(limits.connection, **{name: value}))
    return replace(limits, **{name: value})


def _convert(name: str, raw: str, current: Any) -> Any:
    try:
        if name == "unix_socket_mode":
            return int(raw, 8)
        if name == "allowed_uids":
            return frozenset(int(u) for u in raw.split(",") if u)
        if name == "callback_hosts":
            return tuple(h for h in raw.split(",") if h)
        if isinstance(current, bool):
            return raw.lower() in ("1", "true", "yes")
        if isinstance(current, int):
            return int(raw)
        if raw.lower() == "none":
            return None
        return float(raw)
    except ValueError:
        raise ValueError(f"--limit {name}: {raw!r} is not a valid value") from None
