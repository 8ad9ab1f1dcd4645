"""String bindings and the sockets behind them.

Forms accepted (DCE 1.1 appendix "String Bindings", Microsoft's string binding syntax):

    [object-uuid@]ncacn_ip_tcp:HOST[PORT]
    [object-uuid@]ncacn_unix_stream:[/path/to/socket]

`ncacn_unix_stream` is the protocol sequence DCE and Samba use for a stream Unix socket; the
endpoint is the socket's file-system path (there is no host part). A server may listen on
TCP port 0 and report the port it got through `Binding.with_endpoint`.
"""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass, replace

from idlgen.runtime.com.guid import GUID

NCACN_IP_TCP = "ncacn_ip_tcp"
NCACN_UNIX_STREAM = "ncacn_unix_stream"

_FORM = re.compile(
    r"^(?:(?P<obj>[0-9A-Fa-f-]{36})@)?(?P<seq>[a-z_]+):(?P<addr>[^\[\]]*)"
    r"(?:\[(?P<ep>[^\]]*)\])?$"
)


class BindingError(ValueError):
    """A string binding we cannot parse or use."""


@dataclass(frozen=True)
class Binding:
    protseq: str
    address: str
    endpoint: str
    object: GUID | None = None

    def __str__(self) -> str:
        prefix = f"{self.object.uuid}@" if self.object is not None else ""
        return f"{prefix}{self.protseq}:{self.address}[{self.endpoint}]"

    def with_endpoint(self, endpoint: str) -> Binding:
        return replace(self, endpoint=endpoint)

    @property
    def port(self) -> int:
        try:
            port = int(self.endpoint.split(",")[0])
        except ValueError:
            raise BindingError(f"{self}: TCP endpoint must be a port number") from None
        if not 0 <= port <= 0xFFFF:
            raise BindingError(f"{self}: port out of range")
        return port


def parse(text: str) -> Binding:
    m = _FORM.match(text.strip())
    if m is None:
        raise BindingError(f"not a string binding: {text!r}")
    obj = GUID(m["obj"]) if m["obj"] else None
    seq, addr, ep = m["seq"], m["addr"], m["ep"] or ""
    if seq == NCACN_IP_TCP:
        b = Binding(seq, addr or "127.0.0.1", ep, obj)
        if ep:  # no endpoint: a client asks the host's endpoint mapper (dcerpc/epm.py)
            b.port  # noqa: B018  (validates)
        return b
    if seq == NCACN_UNIX_STREAM:
        if addr or not ep:
            raise BindingError(f"{text!r}: use ncacn_unix_stream:[/path/to/socket]")
        return Binding(seq, "", ep, obj)
    raise BindingError(f"unsupported protocol sequence {seq!r}")


def as_binding(value: str | Binding) -> Binding:
    return value if isinstance(value, Binding) else parse(value)


def connect(binding: Binding, timeout: float | None) -> socket.socket:
    """An open stream socket to the binding's endpoint (OSError on failure or timeout)."""
    if binding.protseq == NCACN_IP_TCP:
        sock = socket.create_connection((binding.address, binding.port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    else:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect(binding.endpoint)
        except BaseException:
            sock.close()
            raise
    sock.settimeout(None)
    return sock


def listen(
    binding: Binding, backlog: int = 128, mode: int = 0o600
) -> tuple[socket.socket, Binding]:
    """A listening socket and the binding clients should use (the real port for port 0).

    A Unix socket gets `mode` before it listens (nobody can connect between the two), so
    the umask never decides who may connect."""
    if binding.protseq == NCACN_IP_TCP:
        sock = socket.create_server((binding.address, binding.port), backlog=backlog)
        return sock, binding.with_endpoint(str(sock.getsockname()[1]))
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(binding.endpoint)
        os.chmod(binding.endpoint, mode)
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    return sock, binding
