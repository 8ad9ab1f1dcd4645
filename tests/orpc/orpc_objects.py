"""Server objects the ORPC tests serve from a second process (`python -m idlgen.runtime
serve orpc_objects:FACTORY`). The hand-written interfaces of tests/apartments are reused."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "apartments"))

from stream_handwritten import ICalc, IEventSource, ISimpleStream

from idlgen import runtime as _rt
from idlgen.runtime.apartments.marshal import marshaler_for

WAIT = 20.0  # safety net only

_hub: Hub | None = None


class Hub(_rt.ComObject, ICalc, IEventSource, ISimpleStream):
    """Add; sinks called back; a Read that blocks until the client cancels it (one of
    LARGE_READ bytes or more answers at once: `pattern(cb)`); Write(b"", 0) reports the
    public references the export of this object holds (the tests' census)."""

    def __init__(self, outer: Any = None) -> None:
        super().__init__(outer)
        self.sinks: list[Any] = []
        self.data = bytearray()

    def Add(self, a: int, b: int) -> int:
        return a + b

    def Advise(self, sink: Any) -> int:
        sink.AddRef()  # COM: a server that keeps an [in] pointer AddRefs it
        self.sinks.append(sink)
        return _rt.S_OK

    def Fire(self, v: int) -> int:
        for sink in self.sinks:
            sink.Notify(v)
        return len(self.sinks)

    def GetSink(self) -> Any:
        sink = self.sinks[0]
        sink.AddRef()
        return sink

    def Read(self, cb: int) -> Any:
        if cb >= LARGE_READ:
            return ISimpleStream.ReadResult(pattern(cb), cb)
        for _ in range(int(WAIT * 100)):  # polls CoTestCancel, as a COM server would
            try:
                _rt.CoTestCancel()  # raises CallCanceledError once the client's cancel is in
            except _rt.CallPendingError:
                threading.Event().wait(0.01)
        return ISimpleStream.ReadResult(b"late", 4)

    def Write(self, pv: bytes, cb: int) -> int:
        if cb == 0:  # the census: public references the export of this object holds
            return _refs_of(self)
        self.data += pv
        return cb


LARGE_READ = 4096


def pattern(size: int) -> bytes:
    """Bytes a large Read answers with (they show a cut or shifted buffer)."""
    return bytes(i * 7 & 0xFF for i in range(size))


def _refs_of(obj: Any) -> int:
    exporter = marshaler_for(_rt.current_apartment()).exporter
    with exporter._lock:
        for export in exporter._by_identity.values():
            if export.identity is obj or getattr(export.identity, "_outer_", None) is obj:
                return export.refs
        return sum(e.refs for e in exporter._by_identity.values())


def hub() -> Hub:
    global _hub
    _hub = Hub()
    return _hub
