"""`python rpc_serve.py BINDING`: serve `Calc` in its own process for the two-process tests.

Prints the real binding on one line, then serves until stdin closes.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from rpc_calc_server import Calc

from idlgen.runtime.rpc.dcerpc import RpcServer


def main() -> None:
    server = RpcServer()
    server.register(Calc())
    print(server.listen(sys.argv[1]), flush=True)
    sys.stdin.read()
    server.close()


if __name__ == "__main__":
    main()
