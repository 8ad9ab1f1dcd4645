"""Context switches and system calls per call in rounds of 256 outstanding call objects.

    python bench/burst_counts.py [--rounds R] [--depth N] [--cpus one|two] [--strace] [--tree DIR]

Load-independent counts for `bench_orpc.add_calls(calc, 256)` (CreateCall x256, Begin_Add
x256, Finish_Add + Release x256; `--depth` another count): per call, each side's
voluntary and involuntary context switches (the sum over its threads of
`/proc/PID/task/*/status`), and with `--strace` each side's system calls by name
(`strace -c -f`, client and server attached in turn, so each run counts one side: strace
slows the side it watches and so changes how calls batch; the counts are what to
compare, not the timing). Placement: "one" = client and server on CPU 0 (the default),
"two" = client on CPU 0, server on CPU 1.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()
DEPTH = 256


def switches(pid: int) -> tuple[int, int]:
    """(voluntary, involuntary) context switches of all of a process's threads so far."""
    vol = invol = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            text = (task / "status").read_text()
        except OSError:
            continue
        vol += int(re.search(r"^voluntary_ctxt_switches:\s+(\d+)", text, re.M)[1])  # type: ignore[index]
        invol += int(re.search(r"^nonvoluntary_ctxt_switches:\s+(\d+)", text, re.M)[1])  # type: ignore[index]
    return vol, invol


def strace_of(pid: int, out: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        ["strace", "-c", "-f", "-o", out, "-p", str(pid)], stderr=subprocess.DEVNULL
    )
    time.sleep(0.5)  # attached to every thread
    return proc


def syscalls(path: str) -> dict[str, int]:
    """System call counts from an `strace -c` summary."""
    counts = {}
    for line in Path(path).read_text().splitlines():
        parts = line.split()
        if len(parts) >= 5 and parts[0][0].isdigit() and parts[-1] != "total":
            counts[parts[-1]] = int(parts[3])
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--depth", type=int, default=DEPTH, help="call objects outstanding")
    parser.add_argument("--cpus", choices=("one", "two"), default="one")
    parser.add_argument("--strace", choices=("client", "server"))
    parser.add_argument("--tree", type=Path, default=HERE.parents[1])
    args = parser.parse_args()
    tree = args.tree.resolve()
    sys.path[:0] = [str(tree / "bench"), str(tree / "tests" / "apartments"), str(tree)]
    import bench_orpc  # type: ignore[import-not-found]
    from stream_handwritten import ICalc  # type: ignore[import-not-found]

    from idlgen.runtime.rpc import orpc

    os.sched_setaffinity(0, {0})
    server_cpu = 0 if args.cpus == "one" else 1
    with bench_orpc.child(server_cpu, "--server", "orpc") as (published, server):
        calc = orpc.connect(published, ICalc)
        round_, release = bench_orpc.add_calls(calc, args.depth)
        for _ in range(5):
            round_()
        tracer, out = None, tempfile.mktemp(suffix=".strace")
        if args.strace:
            tracer = strace_of(os.getpid() if args.strace == "client" else server.pid, out)
        c0, s0 = switches(os.getpid()), switches(server.pid)
        cpu0, run0 = time.process_time(), bench_orpc.run_ns(server.pid)
        t0 = time.perf_counter()
        for _ in range(args.rounds):
            round_()
        elapsed = time.perf_counter() - t0
        cpu, run = time.process_time() - cpu0, bench_orpc.run_ns(server.pid) - run0
        c1, s1 = switches(os.getpid()), switches(server.pid)
        if tracer is not None:
            tracer.send_signal(signal.SIGINT)
            tracer.wait()
        release()
        calc.Release()
    calls = args.rounds * args.depth
    print(f"{tree} ({args.cpus} CPU): {calls} calls, {calls / elapsed:,.0f}/s")
    print(f"  CPU per call: client {cpu / calls * 1e6:.1f} µs, server {run / calls / 1e3:.1f} µs")
    for side, (a, b) in (("client", (c0, c1)), ("server", (s0, s1))):
        vol, invol = ((y - x) / calls for x, y in zip(a, b, strict=True))
        print(f"  {side} context switches per call: voluntary {vol:.3f}, involuntary {invol:.3f}")
    if tracer is not None:
        counts = syscalls(out)
        os.unlink(out)
        print(f"  {args.strace} system calls per call (strace):")
        for name, n in sorted(counts.items(), key=lambda kv: -kv[1]):
            print(f"    {name:16} {n / calls:.3f}")


if __name__ == "__main__":
    main()
