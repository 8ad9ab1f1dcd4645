"""Soak: an ORPC server under legitimate load and a rolling set of misbehaving clients.

    python bench/bench_soak.py [--duration 60] [--clients 200] [--quick]

The server is `python -m idlgen.runtime serve` in a child process (pinned to CPU 1), serving
a hub with Add, Advise and Fire (bench/soak_objects.py). This process (pinned to CPU 0)
runs `--clients` legitimate clients, each a thread with its own DCE/RPC connection calling
Add in a loop and checking every answer, plus a rolling set of misbehavers, a few of each
kind alive at any time, each replaced when it ends:

- half-sent calls: bind, send the first fragment of a 1 MiB request, never the rest;
- idle sockets: connect and say nothing;
- never-answering callbacks: Advise a sink whose OBJREF names a listener on this host that
  accepts and never answers, then Fire (the server's bind to it must time out).

Every few seconds it samples the server's RSS, open descriptors and threads. At the end it
prints a table per sample and the totals: calls made, calls answered correctly, calls
failed (must be 0: nothing lost), latency percentiles, and the ranges of RSS, descriptors
and threads (must stay bounded). All clients share 127.0.0.1, so the server runs with
`max_connections_per_peer` raised to fit them; every other limit is the default.
`--quick` is a 10-second run with 50 clients (a smoke test of the script).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "apartments"), str(Path(__file__).parent)]

from stream_handwritten import ICalc, ICallback, IEventSource  # noqa: E402

from idlgen import runtime as rt  # noqa: E402
from idlgen.runtime.apartments import marshal as _marshal  # noqa: E402
from idlgen.runtime.apartments.registry import opnums, wire_table  # noqa: E402
from idlgen.runtime.com.guid import GUID  # noqa: E402
from idlgen.runtime.rpc import orpc  # noqa: E402
from idlgen.runtime.rpc.dcerpc import binding as B  # noqa: E402
from idlgen.runtime.rpc.dcerpc import pdu as P  # noqa: E402
from idlgen.runtime.rpc.dcerpc.client import Connection  # noqa: E402
from idlgen.runtime.rpc.dcerpc.pdu import SyntaxId  # noqa: E402
from idlgen.runtime.rpc.orpc.client import ORPC_LIMITS, dualstringarray  # noqa: E402
from idlgen.runtime.rpc.orpc.wire import orpcthis, split_orpcthat  # noqa: E402

SAMPLE_EVERY = 5.0


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    issued: int = 0
    answered: int = 0
    failed: int = 0
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    misbehavers: dict[str, int] = field(default_factory=dict)

    def error(self, exc: BaseException) -> None:
        with self.lock:
            self.failed += 1
            name = type(exc).__name__ + ":" + str(exc)[:60]
            self.errors[name] = self.errors.get(name, 0) + 1


def start_server(per_peer: int) -> tuple[subprocess.Popen[str], str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(Path(__file__).parent), str(ROOT / "tests" / "apartments"), str(ROOT)]
    )
    cmd = [sys.executable, "-m", "idlgen.runtime", "serve", "soak_objects:hub"]
    cmd += ["--binding", "ncacn_ip_tcp:127.0.0.1[0]", "--until-eof"]
    cmd += ["--limit", f"max_connections_per_peer={per_peer}"]
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    text = proc.stdout.readline().strip()
    if not text:
        raise SystemExit("the server did not start")
    with contextlib.suppress(OSError):
        os.sched_setaffinity(proc.pid, {1})
    return proc, text


def sample(pid: int) -> tuple[int, int, int]:
    """(RSS in KiB, open descriptors, threads) of the server process."""
    rss = 0
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    return rss, len(os.listdir(f"/proc/{pid}/fd")), len(os.listdir(f"/proc/{pid}/task"))


def legit_client(binding: B.Binding, ipid: bytes, tally: Tally, stop: threading.Event) -> None:
    opnum = opnums(ICalc)["Add"]
    wire = wire_table(ICalc)[opnum]
    syntax = SyntaxId(ICalc._iid_, 0, 0)
    obj = GUID.from_bytes_le(ipid)
    conn = Connection(binding, ORPC_LIMITS)
    i = 0
    try:
        while not stop.is_set():
            i += 1
            args = {"a": i, "b": 1000}
            with tally.lock:
                tally.issued += 1
            start = time.perf_counter()
            try:
                reply = conn.call(syntax, opnum, orpcthis() + wire.encode_request(args), obj, 30)
                response = wire.decode_response(split_orpcthat(reply), scope=args)
            except Exception as exc:  # counted: a legitimate call must never fail
                tally.error(exc)
                continue
            took = time.perf_counter() - start
            if response.outs["sum"] != i + 1000:
                tally.error(ValueError("wrong sum"))
                continue
            with tally.lock:
                tally.answered += 1
                tally.latencies.append(took)
    finally:
        conn.close()


# -- misbehavers ---------------------------------------------------------------------------


def half_sent_call(port: int, hold: float) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        ctx = P.ContextElem(0, SyntaxId(ICalc._iid_, 0, 0), (P.NDR20,))
        sock.sendall(P.encode(P.Bind(1, 5840, 5840, 0, (ctx,), 0x03)))
        sock.recv(4096)
        req = P.Request(2, 0, 3, bytes(4096), None, 1 << 20, P.PFC_FIRST_FRAG)
        sock.sendall(P.encode(req))
        time.sleep(hold)


def idle_socket(port: int, hold: float) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10):
        time.sleep(hold)


class Sink(rt.ComObject, ICallback):
    def Notify(self, v: int) -> int:
        return rt.S_OK


def never_answering_callback(source: Any) -> None:
    """Advise a sink whose OBJREF names the silent listener, then Fire: the server's bind
    to it must time out (RPC_S_SERVER_UNAVAILABLE comes back)."""
    source.Advise(Sink())
    source.Fire(1)


def misbehave(kind: str, port: int, source: Any, tally: Tally, stop: threading.Event) -> None:
    while not stop.is_set():
        outcome = kind
        try:
            if kind == "half-sent":
                half_sent_call(port, 3.0)
            elif kind == "idle":
                idle_socket(port, 3.0)
            else:
                never_answering_callback(source)
        except OSError:
            outcome += " (closed by the server)"
        except rt.COMError as exc:
            outcome += f" (0x{exc.hresult:08X})"
        with tally.lock:
            tally.misbehavers[outcome] = tally.misbehavers.get(outcome, 0) + 1


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--misbehavers", type=int, default=4, help="of each kind at a time")
    parser.add_argument("--quick", action="store_true", help="10 s, 50 clients")
    args = parser.parse_args()
    if args.quick:
        args.duration, args.clients = 10.0, 50
    with contextlib.suppress(OSError):
        os.sched_setaffinity(0, {0})
    proc, text = start_server(per_peer=args.clients + 3 * args.misbehavers * 4 + 64)
    ipid_text, _, binding_text = text.partition("@")
    binding = B.parse(binding_text)
    ipid = uuid.UUID(ipid_text).bytes_le
    silent = socket.create_server(("127.0.0.1", 0), backlog=1024)
    where = B.Binding(B.NCACN_IP_TCP, "127.0.0.1", str(silent.getsockname()[1]))
    sources = [orpc.connect(text, IEventSource) for _ in range(args.misbehavers)]
    _marshal.remote_hooks.resolver = lambda oxid: dualstringarray([where])  # our OBJREFs lie
    tally, stop = Tally(), threading.Event()
    threads = [
        threading.Thread(target=legit_client, args=(binding, ipid, tally, stop), daemon=True)
        for _ in range(args.clients)
    ]
    for kind in ("half-sent", "idle", "callback"):
        for source in sources:
            threads.append(
                threading.Thread(
                    target=misbehave, args=(kind, binding.port, source, tally, stop), daemon=True
                )
            )
    start = time.monotonic()
    for t in threads:
        t.start()
    rows = []
    last = 0
    while time.monotonic() - start < args.duration:
        time.sleep(SAMPLE_EVERY)
        with tally.lock:
            answered = tally.answered
        rss, fds, tasks = sample(proc.pid)
        rows.append((time.monotonic() - start, answered - last, rss, fds, tasks))
        last = answered
    stop.set()
    for t in threads:
        t.join(40)
    rss, fds, tasks = sample(proc.pid)
    proc.kill()
    proc.wait()
    print_report(args, rows, tally, (rss, fds, tasks))


def print_report(args: Any, rows: list[Any], tally: Tally, final: tuple[int, int, int]) -> None:
    print(
        f"soak: {args.clients} clients, {args.misbehavers} misbehavers of each kind, "
        f"{args.duration:.0f} s; server on CPU 1, clients on CPU 0"
    )
    print("| t (s) | calls answered | server RSS (MiB) | server fds | server threads |")
    print("|---:|---:|---:|---:|---:|")
    for t, n, rss, fds, tasks in rows:
        print(f"| {t:.0f} | {n} | {rss / 1024:.1f} | {fds} | {tasks} |")
    lat = sorted(tally.latencies)
    pct = (lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000) if lat else (lambda q: 0)
    print()
    print(
        f"calls issued {tally.issued}, answered correctly {tally.answered}, "
        f"failed {tally.failed} {tally.errors or ''}"
    )
    print(
        f"latency ms: p50 {pct(0.5):.2f}, p99 {pct(0.99):.2f}, max {pct(1.0):.2f}; "
        f"calls/s median per sample {statistics.median(r[1] for r in rows) / SAMPLE_EVERY:.0f}"
        if rows
        else "no samples"
    )
    print(f"misbehavers run: {tally.misbehavers}")
    rss = [r[2] for r in rows]
    fds = [r[3] for r in rows]
    tasks = [r[4] for r in rows]
    if rows:
        print(
            f"RSS MiB {min(rss) / 1024:.1f}..{max(rss) / 1024:.1f}, fds {min(fds)}..{max(fds)}, "
            f"threads {min(tasks)}..{max(tasks)}; after the clients stopped: "
            f"RSS {final[0] / 1024:.1f}, fds {final[1]}, threads {final[2]}"
        )


if __name__ == "__main__":
    main()
