"""`python rpc_call.py BINDING`: start a long call, say so, and wait (the test kills us)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from rpc_calc import calc_Client


def main() -> None:
    c = calc_Client(sys.argv[1])
    assert c.Add(1, 1) == 2
    pending = c.Begin_WaitCancel(600_000)
    print("calling", flush=True)
    pending.result()


if __name__ == "__main__":
    main()
