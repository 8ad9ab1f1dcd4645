"""Python function calls per round trip, counted with `sys.setprofile`.

The profile hook sees a 'call' event for every Python function entered and a 'c_call' event
for every built-in called from Python; the two are counted apart (a built-in call is much
cheaper). `CallCounter.install()` hooks the current thread and every thread started after it
(`threading.setprofile`), so install it before the connection whose reader threads should
be counted; counting only happens between `start()` and `stop()`.
"""

from __future__ import annotations

import sys
import threading
from types import FrameType
from typing import Any


class CallCounter:
    def __init__(self) -> None:
        self.on = False
        self.calls = 0
        self.c_calls = 0

    def _hook(self, frame: FrameType, event: str, arg: Any) -> None:
        if self.on:
            if event == "call":
                self.calls += 1
            elif event == "c_call":
                self.c_calls += 1

    def install(self, this_thread: bool = True) -> None:
        threading.setprofile(self._hook)
        if this_thread:
            sys.setprofile(self._hook)

    def uninstall(self) -> None:
        sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type]

    def start(self) -> None:
        self.calls = self.c_calls = 0
        self.on = True

    def stop(self) -> tuple[int, int]:
        self.on = False
        return self.calls, self.c_calls


class ThreadCallCounter(CallCounter):
    """The same counts, per thread (`threads[ident] = [calls, c_calls]`): for benchmarks
    whose two sides are threads of one process (bench_apartments.py)."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: dict[int, list[int]] = {}

    def _hook(self, frame: FrameType, event: str, arg: Any) -> None:
        if self.on and (event == "call" or event == "c_call"):
            tally = self.threads.setdefault(threading.get_ident(), [0, 0])
            tally[event == "c_call"] += 1

    def start(self) -> None:
        self.threads = {}
        super().start()
