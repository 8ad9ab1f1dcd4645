"""A minimal worker pool for server calls the runtime runs on the server's behalf.

`concurrent.futures.ThreadPoolExecutor.submit` allocates a Future and a work item per
call; a call object already is the future, so the queue here carries bare
`(function, args)` tuples. Threads start lazily and are daemons: an abandoned call
must never keep the interpreter alive.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from queue import SimpleQueue
from typing import Any

__all__ = ["WorkerPool", "default_pool"]


class WorkerPool:
    __slots__ = ("_idle", "_lock", "_max", "_queue", "_queued", "_threads")

    def __init__(self, max_workers: int | None = None) -> None:
        self._max = max_workers or min(32, (os.cpu_count() or 1) + 4)
        self._queue: SimpleQueue[tuple[Callable[..., Any], tuple[Any, ...]]] = SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0
        self._queued = 0
        self._threads = 0

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        with self._lock:
            self._queued += 1
            spawn = self._queued > self._idle and self._threads < self._max
            if spawn:
                self._threads += 1
        self._queue.put((fn, args))
        if not spawn:
            return
        threading.Thread(target=self._work, name="idlgen-worker", daemon=True).start()

    def _work(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
            fn, args = self._queue.get()
            with self._lock:
                self._idle -= 1
                self._queued -= 1
            with contextlib.suppress(Exception):  # a worker must survive any task
                fn(*args)


_default: WorkerPool | None = None
_default_lock = threading.Lock()


def default_pool() -> WorkerPool:
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = WorkerPool()
    return _default
