"""The threads a server runs calls on: as many as there are calls, up to a limit.

Unlike a fixed pool, slow calls cannot hold every thread while others queue behind them
without bound: a call that finds every thread busy starts a new one; at the thread limit up
to `max_queued` calls wait, and past that `submit` says no, so the server answers
RPC_S_SERVER_TOO_BUSY at once. A thread that cannot be started (the process is out of
threads or memory) counts as a busy one, never an exception in the caller; with no thread
at all, the call is refused. Threads idle for `idle_exit` seconds leave.
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
    def __init__(
        self, max_threads: int, max_queued: int = 0, idle_exit: float = 30.0, name: str = "rpc-call"
    ) -> None:
        self.max_threads = max_threads
        self.max_queued = max_queued
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
        """Run `fn(*args)` on a pool thread; False if every thread is busy at the limit and
        `max_queued` jobs already wait."""
        with self._cond:
            if self._closed:
                return False
            waiting = len(self._jobs) - self._idle  # jobs no idle thread will take
            grown = waiting < 0 or (self._threads < self.max_threads and self._start_thread())
            if not grown and (self._threads == 0 or waiting >= self.max_queued):
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
