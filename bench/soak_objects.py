"""The object bench_soak.py's server publishes: Add for the legitimate clients; Advise and
Fire for the misbehavers' never-answering callbacks (Fire calls back the sink advised last
and forgets it, so misbehavers do not pile up sinks)."""

from __future__ import annotations

import threading
from typing import Any

from stream_handwritten import ICalc, IEventSource

from idlgen import runtime as rt


class SoakHub(rt.ComObject, ICalc, IEventSource):
    def __init__(self, outer: Any = None) -> None:
        super().__init__(outer)
        self._lock = threading.Lock()
        self._sinks: list[Any] = []

    def Add(self, a: int, b: int) -> int:
        return a + b

    def Advise(self, sink: Any) -> int:
        sink.AddRef()
        with self._lock:
            self._sinks.append(sink)
        return rt.S_OK

    def Fire(self, v: int) -> int:
        with self._lock:
            sink = self._sinks.pop() if self._sinks else None
        if sink is None:
            return 0
        try:
            sink.Notify(v)
        finally:
            sink.Release()
        return 1


def hub() -> SoakHub:
    return SoakHub()
