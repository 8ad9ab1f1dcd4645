"""Which of the reactor's sockets are ready: epoll itself where there is one, else `selectors`.

The reactor wakes up once per synchronous call. `selectors.DefaultSelector.select` spends
more Python work per wake-up than the `epoll_wait` under it (a timeout rounding, a Python
call and a key tuple per ready descriptor, a list): about 5 % of what the server executes
per synchronous call. `Poller.poll` is epoll's own method, which returns (descriptor,
events) pairs with the data registered for each in `Poller.data`; where there is no epoll,
`Poller` gives the same answers through `selectors`.
"""

from __future__ import annotations

import contextlib
import select
import selectors
import socket
from collections.abc import Callable
from typing import Any

__all__ = ["READ", "WRITE", "Poller", "readable", "writable"]

# Event bits as `Poller.poll` reports them (epoll's).
READ = getattr(select, "EPOLLIN", 1)
WRITE = getattr(select, "EPOLLOUT", 4)


def readable(events: int) -> bool:
    """Anything but writability alone (an error or a hang-up too: the read tells which),
    as `selectors` counts it."""
    return bool(events & ~WRITE)


def writable(events: int) -> bool:
    return bool(events & ~READ)


class Poller:
    """Sockets with their events (READ, WRITE or both) and data; `poll(timeout)` says which
    are ready as (descriptor, events) pairs, blocking up to `timeout` seconds (None: no
    limit). An error or hang-up may come with bits that were not asked for: `readable`
    counts it, and writability is for the caller to mask by what it asked."""

    def __init__(self, epoll: bool = True) -> None:
        self.data: dict[int, Any] = {}  # descriptor -> what it was registered with
        self.files: dict[int, socket.socket] = {}
        self._selector: selectors.BaseSelector | None = None
        self.poll: Callable[[float | None], list[tuple[int, int]]]
        if epoll and hasattr(select, "epoll"):
            self._epoll: Any = select.epoll()
            self.poll = self._epoll.poll
        else:
            self._epoll = None
            self._selector = selectors.DefaultSelector()
            self.poll = self._select

    def register(self, sock: socket.socket, events: int, data: Any) -> None:
        """Watch `sock` (KeyError if it is watched already, as a selector says)."""
        fd = sock.fileno()
        if fd in self.data:
            raise KeyError(f"{sock!r} is already registered")
        if self._selector is not None:
            self._selector.register(sock, _selector_events(events), data)
        else:
            self._epoll.register(fd, events)
        self.data[fd] = data
        self.files[fd] = sock

    def modify(self, sock: socket.socket, events: int) -> None:
        if self._selector is not None:
            fd = sock.fileno()
            self._selector.modify(sock, _selector_events(events), self.data[fd])
        else:
            self._epoll.modify(sock.fileno(), events)

    def unregister(self, sock: socket.socket) -> None:
        """Forget `sock` (KeyError if it was not registered), closed already or not."""
        fd = sock.fileno()
        if self.files.get(fd) is not sock:  # closed (-1): look for it
            fd = next((fd for fd, known in self.files.items() if known is sock), -1)
        if fd < 0:
            raise KeyError(f"{sock!r} is not registered")
        if self._selector is not None:
            self._selector.unregister(sock)
        else:
            with contextlib.suppress(OSError):  # closed: the kernel forgot it already
                self._epoll.unregister(fd)
        del self.data[fd]
        del self.files[fd]

    def close(self) -> None:
        if self._selector is not None:
            self._selector.close()
        else:
            self._epoll.close()
        self.data.clear()
        self.files.clear()

    def _select(self, timeout: float | None) -> list[tuple[int, int]]:
        assert self._selector is not None
        return [
            (key.fd, (READ if mask & selectors.EVENT_READ else 0) | (WRITE if mask & _W else 0))
            for key, mask in self._selector.select(timeout)
        ]


_W = selectors.EVENT_WRITE


def _selector_events(events: int) -> int:
    return (selectors.EVENT_READ if events & READ else 0) | (
        selectors.EVENT_WRITE if events & WRITE else 0
    )
