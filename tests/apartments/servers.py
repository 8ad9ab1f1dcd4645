"""Server objects for the apartment tests, written as a user writes them."""

from __future__ import annotations

import threading
from typing import Any

from apartment_fixtures import WAIT
from stream_handwritten import ICalc, ICallback, IEventSource, ISeekableStream, ISimpleStream

from idlgen import runtime as _rt


class Calc(_rt.ComObject, ICalc):
    """No call objects: asynchronous calls through a proxy must still work."""

    def __init__(self, outer: Any = None) -> None:
        super().__init__(outer)
        self.released = threading.Event()
        self.threads: list[int] = []

    def Add(self, a: int, b: int) -> int:
        self.threads.append(threading.get_ident())
        return a + b

    def _final_release_(self) -> None:
        self.released.set()


class Stream(_rt.CallFactory, ISeekableStream):
    """Serves Begin_/Finish_ itself (CallFactory): marshaled calls go through call objects."""

    def __init__(self, data: bytes = b"", outer: Any = None) -> None:
        super().__init__(outer)
        self.data = bytearray(data)
        self.pos = 0

    def Read(self, cb: int) -> Any:
        chunk = bytes(self.data[self.pos : self.pos + cb])
        self.pos += len(chunk)
        if len(chunk) < cb:
            return _rt.with_hresult(_rt.S_FALSE, (chunk, len(chunk)))
        return chunk, len(chunk)

    def Write(self, pv: bytes, cb: int) -> int:
        if cb > len(pv):
            raise _rt.InvalidArgError()
        self.data[self.pos : self.pos + cb] = pv[:cb]
        self.pos += cb
        return cb

    def Seek(self, pos: int) -> int:
        if pos > len(self.data):
            raise _rt.InvalidArgError()
        self.pos = pos
        return _rt.S_OK


class SyncStream(_rt.ComObject, ISimpleStream):
    """No call objects: same behaviour as Stream, run synchronously on the apartment thread."""

    def __init__(self, data: bytes = b"", outer: Any = None) -> None:
        super().__init__(outer)
        self.data = bytes(data)

    def Read(self, cb: int) -> Any:
        chunk = self.data[:cb]
        return chunk, len(chunk)

    def Write(self, pv: bytes, cb: int) -> int:
        return cb


class Gate:
    """Lets a test hold a server method until it has done what it wants meanwhile."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.started = threading.Event()
        self.saw_cancel: bool | None = None
        self.test_cancel: int | None = None
        self.checked = threading.Event()

    def hold(self) -> None:
        self.started.set()
        assert self.open.wait(WAIT), "the test never opened the gate"
        self.saw_cancel = _rt.call_canceled()
        try:
            _rt.CoTestCancel()
        except _rt.COMError as exc:
            self.test_cancel = exc.hresult
        self.checked.set()


class GatedStream(Stream):
    def __init__(self, data: bytes = b"", outer: Any = None) -> None:
        super().__init__(data, outer)
        self.gate = Gate()

    def Read(self, cb: int) -> Any:
        self.gate.hold()
        return super().Read(cb)


class GatedSyncStream(SyncStream):
    """Runs on the server STA's thread; a client cancel still reaches its call context."""

    def __init__(self, data: bytes = b"", outer: Any = None) -> None:
        super().__init__(data, outer)
        self.gate = Gate()

    def Read(self, cb: int) -> Any:
        self.gate.hold()
        if _rt.call_canceled():
            raise _rt.CallCanceledError()
        return super().Read(cb)


class Faulty(_rt.ComObject, ICalc):
    def __init__(self, error: BaseException, outer: Any = None) -> None:
        super().__init__(outer)
        self.error = error

    def Add(self, a: int, b: int) -> int:
        raise self.error


class Recorder(_rt.ComObject, ICallback):
    """A client-side callback object: records which thread each notification ran on."""

    def __init__(self, source: Any = None, outer: Any = None) -> None:
        super().__init__(outer)
        self.values: list[int] = []
        self.threads: list[int] = []
        self.source = source
        self.sink_seen: Any = None

    def Notify(self, v: int) -> int:
        self.values.append(v)
        self.threads.append(threading.get_ident())
        if self.source is not None:
            # Call back into the server, which is itself waiting for this Notify.
            self.sink_seen = self.source.GetSink()
        return _rt.S_OK


class EventSource(_rt.ComObject, IEventSource):
    def __init__(self, outer: Any = None) -> None:
        super().__init__(outer)
        self.sinks: list[Any] = []
        self.threads: list[int] = []

    def Advise(self, sink: Any) -> int:
        sink.AddRef()  # COM: a server that keeps an [in] pointer AddRefs it
        self.sinks.append(sink)
        return _rt.S_OK

    def Fire(self, v: int) -> int:
        self.threads.append(threading.get_ident())
        for sink in self.sinks:
            sink.Notify(v)
        return len(self.sinks)

    def GetSink(self) -> Any:
        self.threads.append(threading.get_ident())
        sink = self.sinks[0]
        sink.AddRef()  # the reference an [out] pointer carries goes to the caller
        return sink
