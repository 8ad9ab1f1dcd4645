"""Instructions the ORPC client process executes per call, counted by callgrind.

    python bench/client_instructions.py [--tree DIR] [--calls N] [--rounds R]

CPU time per call moves with the machine's load (other processes evict caches and share
the core); instruction counts do not, so an A/B comparison of two trees holds on a busy
machine. The client (this script in `--loop` mode, every thread of it) runs under
`valgrind --tool=callgrind` with the `bench_orpc.py` ORPC server as a child on the same
CPU, not under valgrind. Start-up cancels out: each figure is the difference between a run
of N + 300 calls and one of 300, divided by N (user-space instructions only; system calls
count as one instruction each). Three figures: a synchronous `Add`, an `Add` call object
in rounds of 256 outstanding (`bench_orpc.add_calls`, R + 2 rounds against 2), and a
synchronous 4 KiB `ISimpleStream.Write`.

`--tree` measures another checkout (its `idlgen` and `bench/`); about a minute per tree.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from callgrind import instructions_of

HERE = Path(__file__).resolve()
BASE_CALLS, BASE_ROUNDS = 300, 2


def loop(tree: Path, kind: str, count: int) -> None:
    """The measured client: `count` synchronous calls, or `count` rounds of 256 outstanding."""
    sys.path[:0] = [str(tree / "bench"), str(tree / "tests" / "apartments"), str(tree)]
    import bench_orpc  # type: ignore[import-not-found]
    from stream_handwritten import ICalc, ISimpleStream  # type: ignore[import-not-found]

    from idlgen.runtime.rpc import orpc

    os.sched_setaffinity(0, {0})
    with bench_orpc.child(0, "--server", "orpc") as (published, _):
        calc = orpc.connect(published, ICalc)
        for _ in range(100):
            calc.Add(1, 2)
        if kind == "sync":
            for _ in range(count):
                calc.Add(1, 2)
        elif kind == "write":
            stream, payload = calc.QueryInterface(ISimpleStream), bytes(4096)
            for _ in range(count):
                stream.Write(payload, len(payload))
            stream.Release()
        else:
            round_, release = bench_orpc.add_calls(calc, 256)
            for _ in range(count):
                round_()
            release()
        calc.Release()


def instructions(tree: Path, kind: str, count: int) -> int:
    """Instructions of one client run under callgrind."""
    return instructions_of([str(HERE), "--loop", kind, str(count), "--tree", str(tree)], tree)


def per_call(tree: Path, kind: str, extra: int, base: int, calls_per: int) -> float:
    more = instructions(tree, kind, base + extra)
    less = instructions(tree, kind, base)
    return (more - less) / (extra * calls_per)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tree", type=Path, default=HERE.parents[1], help="checkout to measure")
    parser.add_argument("--calls", type=int, default=1000, help="synchronous calls measured")
    parser.add_argument("--rounds", type=int, default=8, help="rounds of 256 measured")
    parser.add_argument("--loop", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    tree = args.tree.resolve()
    if args.loop:
        return loop(tree, args.loop[0], int(args.loop[1]))
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed")
    sync = per_call(tree, "sync", args.calls, BASE_CALLS, 1)
    burst = per_call(tree, "burst", args.rounds, BASE_ROUNDS, 256)
    write = per_call(tree, "write", args.calls, BASE_CALLS, 1)
    print(f"{tree}: client instructions per call (callgrind, one CPU)")
    print(f"  synchronous Add:              {sync:,.0f}")
    print(f"  Add, 256 outstanding objects: {burst:,.0f}")
    print(f"  synchronous 4 KiB Write:      {write:,.0f}")


if __name__ == "__main__":
    main()
