"""A WMI-shaped server over an in-memory table (samples/wmi_lite.idl).

`LiteServices` answers `SELECT * FROM <table> [WHERE <prop> = '<value>']`:
- `ExecQueryAsync` pushes rows to the caller's sink, with progress reports when asked
  (WBEM_FLAG_SEND_STATUS), through `idlgen.runtime.wmi.AsyncCallTable`;
- `ExecQuery` with WBEM_FLAG_RETURN_IMMEDIATELY returns an enumerator at once
  (semisynchronous); without it, it returns once every row is in the enumerator;
- `GetObject` with WBEM_FLAG_RETURN_IMMEDIATELY returns an ILiteCallResult;
- `CancelAsyncCall` cancels every pending call that uses a sink.

`python samples/wmi_server.py --binding 'ncacn_ip_tcp:127.0.0.1[0]'` serves it to other
processes over ORPC (`PacedServices`: rows paced, plus an endless `Tick` table to cancel) and
prints the published string for `wmi_client.py --connect`.

The module comes from the IDL through `idlgen.load` when this file is imported, so the
sample needs no generated file on disk. Rows are produced one by one from a generator that
may wait on a `gate` (a threading.Event per row) -- that is how the tests hold an operation
in the middle without sleeping.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import idlgen
from idlgen import runtime as _rt
from idlgen.runtime import wmi

IDL = Path(__file__).with_name("wmi_lite.idl")


# Compiled from the IDL when first loaded (and cached beside it), registered as
# `wmi_lite_idl`; a second load in the process returns the same module.
lite: Any = idlgen.load(IDL)

# -- the data ---------------------------------------------------------------------------------

Row = dict[str, str]

PLANETS: list[Row] = [
    {"Name": name, "Kind": kind, "Moons": moons}
    for name, kind, moons in [
        ("Mercury", "rocky", "0"),
        ("Venus", "rocky", "0"),
        ("Earth", "rocky", "1"),
        ("Mars", "rocky", "2"),
        ("Jupiter", "giant", "95"),
        ("Saturn", "giant", "146"),
        ("Uranus", "giant", "28"),
        ("Neptune", "giant", "16"),
    ]
]

_QUERY = re.compile(
    r"^\s*SELECT\s+\*\s+FROM\s+(\w+)(?:\s+WHERE\s+(\w+)\s*=\s*'([^']*)')?\s*$", re.IGNORECASE
)


class LiteObject(_rt.ComObject, lite.ILiteObject):  # type: ignore[misc]  # a loaded module is Any
    """One row. Get of an unknown property is WBEM_E_NOT_FOUND."""

    def __init__(self, row: Row, outer: Any = None) -> None:
        super().__init__(outer)
        self.row = dict(row)

    def Get(self, strName: str) -> str:
        if strName not in self.row:
            raise _rt.COMError(wmi.WBEM_E_NOT_FOUND, f"no property {strName}")
        return self.row[strName]

    def GetObjectText(self, lFlags: int) -> str:
        body = "; ".join(f"{k} = {v!r}" for k, v in self.row.items())
        return "instance of Planet { " + body + "; }"


LiteEnumerator = wmi.enumerator_class(lite.IEnumLiteObject)
LiteCallResult = wmi.call_result_class(lite.ILiteCallResult)


class LiteServices(_rt.ComObject, lite.ILiteServices):  # type: ignore[misc]
    """The service. `gates`, when given, makes row i wait for `gates[i]` before it goes out."""

    def __init__(
        self,
        tables: dict[str, list[Row]] | None = None,
        gates: list[threading.Event] | None = None,
        outer: Any = None,
        runner: wmi.Runner = wmi.thread_runner,
    ) -> None:
        super().__init__(outer)
        self.tables = tables if tables is not None else {"Planet": PLANETS}
        self.gates = gates
        # parked[i] is set when the worker has delivered rows < i and waits for gates[i]
        self.parked = [threading.Event() for _ in gates or ()]
        self.produced = 0  # rows the provider made (a released enumerator stops it early)
        self.calls = wmi.AsyncCallTable(runner)
        self.runner = runner

    # -- ILiteServices -------------------------------------------------------------------

    def CancelAsyncCall(self, pSink: Any) -> int:
        return self.calls.cancel(pSink)

    def ExecQueryAsync(
        self, strQueryLanguage: str, strQuery: str, lFlags: int, pResponseHandler: Any
    ) -> int:
        return self.calls.start(pResponseHandler, self._query(strQueryLanguage, strQuery), lFlags)

    def ExecQuery(self, strQueryLanguage: str, strQuery: str, lFlags: int) -> Any:
        source = self._query(strQueryLanguage, strQuery)
        if lFlags & wmi.WBEM_FLAG_RETURN_IMMEDIATELY:
            return wmi.start_semisync(LiteEnumerator, source, lFlags, self.runner)
        rows = list(source())  # synchronous: everything is in before we return
        finished = wmi.start_semisync(LiteEnumerator, lambda: iter(rows), lFlags, _inline)
        return finished

    def GetObject(self, strObjectPath: str, lFlags: int) -> Any:
        def work() -> Any:
            return self._lookup(strObjectPath)

        if lFlags & wmi.WBEM_FLAG_RETURN_IMMEDIATELY:
            return None, wmi.start_call_result(LiteCallResult, work, self.runner)
        return work(), None

    # -- the "provider" ------------------------------------------------------------------

    def _query(self, language: str, query: str) -> Callable[[], Iterator[Any]]:
        """Validate now (a bad query fails the call and never reaches the sink), run later."""
        if language.upper() != "WQL":
            raise _rt.COMError(lite_code("WBEM_E_INVALID_QUERY_TYPE"), language)
        match = _QUERY.match(query or "")
        if match is None:
            raise _rt.COMError(lite_code("WBEM_E_INVALID_QUERY"), query)
        table, prop, value = match.groups()
        if table not in self.tables:
            raise _rt.COMError(lite_code("WBEM_E_INVALID_CLASS"), table)
        rows = [r for r in self.tables[table] if prop is None or r.get(prop) == value]
        return lambda: self._rows(rows)

    def _rows(self, rows: list[Row]) -> Iterator[Any]:
        total = len(rows)
        for index, row in enumerate(rows):
            if self.gates is not None and index < len(self.gates):
                self.parked[index].set()
                self.gates[index].wait(30.0)  # a safety net: the tests always open the gate
            self.produced += 1
            yield LiteObject(row)
            yield wmi.Progress(index + 1, total)

    def _lookup(self, path: str) -> Any:
        table, _, key = path.partition(".Name=")
        for row in self.tables.get(table, []):
            if row.get("Name") == key.strip("'\""):
                return LiteObject(row)
        raise _rt.COMError(wmi.WBEM_E_NOT_FOUND, path)


def _inline(job: Callable[[], None]) -> None:
    job()


def lite_code(name: str) -> int:
    """A WBEMSTATUS value by name (from the bundled wbemcli module)."""
    from idlgen.runtime.base import wbemcli_idl

    return int(getattr(wbemcli_idl, name))


# -- serving other processes ------------------------------------------------------------------

TICKER = "Tick"  # `SELECT * FROM Tick`: an endless query, one row per pace, until cancelled
MAX_TICKS = 10_000  # a safety net: a query nobody cancels still ends


class PacedServices(LiteServices):
    """LiteServices for other processes: rows come out `pace` seconds apart (so a progress bar
    moves and a cancel has something to stop), and the `Tick` table never ends by itself."""

    def __init__(self, pace: float = 0.05, outer: Any = None) -> None:
        super().__init__(outer=outer)
        self.pace = pace

    def _query(self, language: str, query: str) -> Callable[[], Iterator[Any]]:
        match = _QUERY.match(query or "")
        if language.upper() == "WQL" and match is not None and match.group(1) == TICKER:
            return self._ticks
        return super()._query(language, query)

    def _rows(self, rows: list[Row]) -> Iterator[Any]:
        for item in super()._rows(rows):
            if not isinstance(item, wmi.Progress):
                time.sleep(self.pace)
            yield item

    def _ticks(self) -> Iterator[Any]:
        for n in range(1, MAX_TICKS + 1):
            time.sleep(self.pace)
            yield LiteObject({"Name": f"tick {n}"})


def serve(binding: str, pace: float, until_eof: bool) -> int:
    """Publish a PacedServices on `binding`, print the published string, serve until told."""
    from idlgen.runtime.rpc import orpc

    services = PacedServices(pace)
    try:
        text = orpc.publish(services, lite.ILiteServices, binding)
    except (ValueError, OSError) as exc:
        print(f"wmi_server: cannot publish on {binding}: {exc}", file=sys.stderr)
        return 2
    services.Release()  # the publication holds it now
    print(text, flush=True)
    print("serving ILiteServices; Ctrl-C stops", file=sys.stderr, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        if until_eof:
            sys.stdin.read()
        else:
            while True:
                time.sleep(3600)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The WMI-shaped sample service.")
    parser.add_argument("--binding", help="serve other processes here (else: a local query)")
    parser.add_argument("--pace", type=float, default=0.05, help="seconds between rows")
    parser.add_argument("--until-eof", action="store_true", help="stop when stdin closes")
    args = parser.parse_args(argv)
    if args.binding:
        return serve(args.binding, args.pace, args.until_eof)
    services = LiteServices()
    enum = services.ExecQuery("WQL", "SELECT * FROM Planet WHERE Kind = 'giant'", 0)
    for obj in enum:
        print(obj.GetObjectText(0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
