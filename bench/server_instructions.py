"""Instructions the ORPC server process executes per call, counted by callgrind.

    python bench/server_instructions.py [--calls N] [--depth D]

CPU time on a shared machine moves with whatever else runs (caches, wake-ups); the number
of instructions a process executes does not, so it is the figure to compare two trees by
while other work runs (A/B, alternated). The server of `bench_orpc_server.py` runs under
`valgrind --tool=callgrind` with instrumentation off; after a warm-up the client switches
it on (`callgrind_control -i on`), makes N synchronous `Add` calls (then N calls as rounds
of D call objects, then N synchronous 4 KiB `Write`s), switches it off and asks for a
dump. Counts are user space only: the system calls themselves (three per synchronous call)
are not in them. About 50x slower than a normal run: the defaults take under a minute.
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "apartments"))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_orpc_server import run_async, run_sync, run_write  # noqa: E402  (bench/ is the script's folder)


class Server:
    """`bench_orpc_server.py --server time` under callgrind, instrumentation off."""

    def __init__(self, out: str) -> None:
        self.out = out
        script = str(ROOT / "bench" / "bench_orpc_server.py")
        self.proc = subprocess.Popen(
            [
                "valgrind",
                "--tool=callgrind",
                "--instr-atstart=no",
                f"--callgrind-out-file={out}.%p",
                sys.executable,
                script,
                "--server",
                "time",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.proc.stdout is not None
        self.binding = self.proc.stdout.readline().strip()

    def control(self, *args: str) -> None:
        """Send a callgrind_control command; the server's main thread then reads a few
        stdin lines, so valgrind gets to run the command while nothing else happens."""
        subprocess.Popen(
            ["callgrind_control", *args, str(self.proc.pid)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        for _ in range(20):
            time.sleep(0.05)
            self.proc.stdin.write("start\n")
            self.proc.stdin.flush()
            self.proc.stdout.readline()

    def count(self, fn: Any, calls: int) -> float:
        """Instructions per call over `fn(calls)`."""
        for stale in glob.glob(f"{self.out}.*"):
            os.unlink(stale)
        self.control("-i", "on")
        fn(calls)
        self.control("-i", "off")
        self.control("-d")
        time.sleep(0.3)
        total = 0
        for dump in glob.glob(f"{self.out}.*.*"):
            match = re.search(r"^totals: (\d+)", Path(dump).read_text(), re.MULTILINE)
            total += int(match.group(1)) if match else 0
        return total / calls

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description="Server instructions per ORPC call.")
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--depth", type=int, default=256)
    args = parser.parse_args()
    from stream_handwritten import ICalc, ISimpleStream

    from idlgen.runtime.rpc import orpc

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        rounds = max(1, args.calls // args.depth) * args.depth  # whole rounds of call objects
        for name, fn, calls in (
            ("synchronous Add", lambda calc, n: run_sync(calc, n), args.calls),
            (
                f"Add, {args.depth} outstanding",
                lambda calc, n: run_async(calc, n, args.depth),
                rounds,
            ),
            (
                "synchronous 4 KiB Write",
                lambda calc, n: run_write(calc.QueryInterface(ISimpleStream), n),
                args.calls,
            ),
        ):
            server = Server(os.path.join(tmp, "callgrind.out"))
            calc = orpc.connect(server.binding, ICalc)
            try:
                fn(calc, 512)  # warm-up: connection, lean-path caches, call objects
                rows.append((name, server.count(lambda n: fn(calc, n), calls)))  # noqa: B023
            finally:
                calc.Release()
                server.close()
    print("| per call, server process (user space) | instructions |")
    print("|---|---:|")
    for name, per_call in rows:
        print(f"| {name} | {per_call:,.0f} |")


if __name__ == "__main__":
    main()
