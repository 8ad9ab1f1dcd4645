"""The cost of NTLM on a DCE/RPC call: no authentication, connect, integrity, privacy.

    python bench/bench_auth.py [--calls N]

Same shape as bench_dcerpc.py: the server runs in a child process pinned to one CPU, the
client here pinned to another (os.sched_setaffinity; one CPU: both on CPU 0, and the output
says so). Rows: a synchronous Add(int, int) and a 4 KiB Write through idlgen's RPC client
and server, unauthenticated (the anchor, in the same run) and with NTLM at each level (the
client is pyspnego, the server idlgen's ntlm.py). Figures are medians of per-batch means.
Needs pyspnego (`pip install -e '.[ntlm]'`). Prints a markdown table.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "dcerpc"))
sys.path.insert(0, str(ROOT))

from pinned import spawn, timed  # noqa: E402  (bench/ is the script's folder)
from rpc_calc import calc_Client  # noqa: E402

from idlgen.runtime.rpc.dcerpc.auth import AuthLevel, ClientAuth  # noqa: E402

USER, PASSWORD, DOMAIN = "bench", "Bench-pass-1", "WORKGROUP"


def cpus() -> tuple[int, int]:
    available = sorted(os.sched_getaffinity(0))
    return (available[0], available[1]) if len(available) > 1 else (available[0], available[0])


def rpc_server(secure: bool) -> None:
    from rpc_calc_server import Calc

    from idlgen.runtime.rpc.dcerpc import RpcServer
    from idlgen.runtime.rpc.dcerpc.auth import Credentials, ServerSecurity

    class Sink(Calc):
        def Write(self, cb: int, pv: bytes) -> int:  # do not keep the data
            return len(pv)

    security = None
    if secure:
        creds = Credentials()
        creds.add(DOMAIN, USER, PASSWORD)
        security = ServerSecurity(creds)
    server = RpcServer(security=security)
    server.register(Sink())
    print(server.listen("ncacn_ip_tcp:127.0.0.1[0]"), flush=True)
    sys.stdin.read()


def measure(binding: str, auth: ClientAuth | None, calls: int) -> tuple[float, float]:
    c = calc_Client(binding, auth=auth)
    data = bytes(4096)
    try:
        return timed(lambda: c.Add(1, 2), calls), timed(lambda: c.Write(4096, data), calls)
    finally:
        c.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--rpc-server", choices=("open", "ntlm"))
    args = parser.parse_args()
    if args.rpc_server:
        return rpc_server(args.rpc_server == "ntlm")
    client_cpu, server_cpu = cpus()
    os.sched_setaffinity(0, {client_cpu})
    rows: list[tuple[str, float, float]] = []
    proc, binding = spawn(__file__, server_cpu, "--rpc-server", "open")
    try:
        rows.append(("none (anchor)", *measure(binding, None, args.calls)))
    finally:
        proc.kill()
        proc.wait()
    proc, binding = spawn(__file__, server_cpu, "--rpc-server", "ntlm")
    try:
        for name, level in (
            ("NTLM connect", AuthLevel.CONNECT),
            ("NTLM integrity", AuthLevel.PKT_INTEGRITY),
            ("NTLM privacy", AuthLevel.PKT_PRIVACY),
        ):
            auth = ClientAuth(USER, PASSWORD, DOMAIN, level)
            rows.append((name, *measure(binding, auth, args.calls)))
    finally:
        proc.kill()
        proc.wait()
    print(f"client on CPU {client_cpu}, server on CPU {server_cpu}, {args.calls} calls x 7 batches")
    print()
    print("| level | Add(int, int) (us) | ratio | Write 4 KiB (us) | ratio |")
    print("|---|---:|---:|---:|---:|")
    base_add, base_write = rows[0][1], rows[0][2]
    for name, add, write in rows:
        print(
            f"| {name} | {add * 1e6:.1f} | {add / base_add:.2f}x | {write * 1e6:.1f} | "
            f"{write / base_write:.2f}x |"
        )


if __name__ == "__main__":
    main()
