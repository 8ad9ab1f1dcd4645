"""Instructions per in-process cross-apartment call (both threads), counted by callgrind.

    python bench/apartment_instructions.py [--tree PATH] [--base PATH]

Wall-clock figures of bench_apartments.py move with the machine's load; instruction counts
do not. One process (a client thread and an STA server thread, as bench_apartments.py's
one-cpu placement) makes a loop of synchronous `ICalc.Add` calls, or rounds of 16 call
objects (Begin_ on all, then Finish_ on all), under `valgrind --tool=callgrind`. It runs
with a short and a long loop; their difference divided by the extra calls is the cost of
one call, start-up and warm-up cancelled out. `--base` measures a second tree the same
way (A/B against a worktree of main).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from callgrind import instructions_of  # noqa: E402  (bench/ is the script's folder)

SHORT, LONG = 400, 2000


def loop(tree: Path, mode: str, calls: int) -> None:
    """The measured program (run as `--loop` in the child under callgrind)."""
    sys.path[:0] = [str(tree), str(tree / "tests" / "apartments")]
    from servers import Calc
    from stream_handwritten import ICalc, IID_AsyncICalc

    from idlgen import runtime as _rt
    from idlgen.runtime.apartments.apartment import Apartment
    from idlgen.runtime.apartments.marshal import marshal_interface, unmarshal_interface

    server = Apartment.sta("bench-server")
    calc = unmarshal_interface(server.run(lambda: marshal_interface(Calc(), ICalc)))
    factory = calc.QueryInterface(_rt.ICallFactory)
    kept = [factory.CreateCall(IID_AsyncICalc, None, IID_AsyncICalc) for _ in range(16)]
    for i in range(50):  # warm-up: routes, codecs and memos made
        calc.Add(i, 1)
    if mode == "add":
        for i in range(calls):
            calc.Add(i, 1)
    else:
        for _ in range(calls // 16):
            for i, call in enumerate(kept):
                call.Begin_Add(i, 1)
            for call in kept:
                call.Finish_Add()
    server.shutdown()


def per_call(tree: Path, mode: str) -> int:
    def run(calls: int) -> int:
        argv = [__file__, "--loop", mode, "--calls", str(calls), "--tree", str(tree)]
        return instructions_of(argv, tree)

    return (run(LONG) - run(SHORT)) // (LONG - SHORT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tree", type=Path, default=ROOT)
    parser.add_argument("--base", type=Path)
    parser.add_argument("--loop", choices=["add", "async16"])
    parser.add_argument("--calls", type=int, default=SHORT)
    args = parser.parse_args()
    if args.loop:
        loop(args.tree.resolve(), args.loop, args.calls)
        return
    trees = [args.tree] if args.base is None else [args.base, args.tree]
    print("| tree | sync Add | 16 outstanding |")
    print("|---|---:|---:|")
    for tree in trees:
        tree = tree.resolve()
        add, async16 = per_call(tree, "add"), per_call(tree, "async16")
        print(f"| {tree} | {add:,} | {async16:,} |")


if __name__ == "__main__":
    main()
