"""The threads a server runs calls on: as many as there are calls, up to a limit.

Unlike a fixed pool, slow calls cannot hold every thread while others queue behind them
without bound: a call that finds every thread busy starts a new one, and when the pool is at
its limit `submit` says no, so the server answers RPC_S_SERVER_TOO_BUSY at once instead of
queueing. A thread that cannot be started (the process is out of threads or memory) is a
"no" too, never an exception in the caller. Threads idle for `idle_exit` seconds leave.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

__all__ = ["CallPool"]

log = logging.getLogger(__name__)


class CallPool:
    def __init__(self, max_threads: int, idle_exit: float = 30.0, name: str = "rpc-call") -> None:
        self.max_threads = max_threads
        self.idle_exit = idle_exit
        self.name = name
        self._cond = threading.Condition()
        self._jobs: deque[tuple[Callable[..., Any], tuple[Any, ...]]] = deque()
        self._threads = 0
        self._idle = 0
        self._closed = False

    @property
    def threads(self) -> int:
        return self._threads

    def submit(self, fn: Callable[..., Any], *args: Any) -> bool:
        """Run `fn(*args)` on a pool thread; False if every thread is busy at the limit."""
        with self._cond:
            if self._closed:
                return False
            need_thread = len(self._jobs) >= self._idle
            if need_thread and (self._threads >= self.max_threads or not self._start_thread()):
                return False
            self._jobs.append((fn, args))
            self._cond.notify()
        return True

    def _start_thread(self) -> bool:
        try:
            threading.Thread(target=self._work, name=self.name, daemon=True).start()
        except RuntimeError as exc:  # can't start new thread
            log.warning("%s pool: cannot start a thread (%s)", self.name, exc)
            return False
        self._threads += 1
        return True

    def _work(self) -> None:
        while True:
            with self._cond:
                self._idle += 1
                while not self._jobs and not self._closed:
                    if not self._cond.wait(self.idle_exit) and not self._jobs:
                        break
                self._idle -= 1
                if not self._jobs:
                    self._threads -= 1
                    return
                fn, args = self._jobs.popleft()
            try:
                fn(*args)
            except Exception:  # a thread must survive any job
                log.exception("%s pool: a job raised", self.name)

    def shutdown(self) -> None:
        """Drop queued jobs and let idle threads leave; running jobs finish on their own."""
        with self._cond:
            self._closed = True
            self._jobs.clear()
            self._cond.notify_all()
