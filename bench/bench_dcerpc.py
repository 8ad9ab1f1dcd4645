"""DCE/RPC across processes on loopback against a raw-socket ping-pong of the same sizes.

    python bench/bench_dcerpc.py [--calls N]

The server runs in a child process pinned to one CPU, the client here pinned to another
(os.sched_setaffinity; on a single-CPU machine both share CPU 0 and the table says so).
Rows: a synchronous Add(int, int) and a 4 KiB Write through idlgen's RPC client and server,
then a raw TCP ping-pong moving the same number of bytes each way (the PDU sizes). Figures are
medians of per-batch means. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from pathlib import Path

from pinned import spawn, timed
from raw_socket import echo_server  # bench/ is the script's folder

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "dcerpc"))
sys.path.insert(0, str(ROOT))

from rpc_calc import calc_Client  # noqa: E402

ADD_SIZES = (32, 28)  # request PDU (24 + two longs), response PDU (24 + a long)
WRITE_SIZES = (24 + 8 + 4096, 28)  # cb, conformance, 4 KiB; response: pcbWritten + HRESULT


def cpus() -> tuple[int, int]:
    available = sorted(os.sched_getaffinity(0))
    return (available[0], available[1]) if len(available) > 1 else (available[0], available[0])


def rpc_server() -> None:
    from rpc_calc_server import Calc

    from idlgen.runtime.rpc.dcerpc import RpcServer

    class Sink(Calc):
        def Write(self, cb: int, pv: bytes) -> int:  # do not keep the data
            return len(pv)

    server = RpcServer()
    server.register(Sink())
    print(server.listen("ncacn_ip_tcp:127.0.0.1[0]"), flush=True)
    sys.stdin.read()


def raw(cpu: int, sizes: tuple[int, int], calls: int) -> float:
    proc, port = spawn(__file__, cpu, "--echo", f"{sizes[0]},{sizes[1]}")
    try:
        sock = socket.create_connection(("127.0.0.1", int(port)))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        request = bytes(sizes[0])
        buf = bytearray(sizes[1])
        view = memoryview(buf)

        def ping() -> None:
            sock.sendall(request)
            got = 0
            while got < sizes[1]:
                got += sock.recv_into(view[got:])

        result = timed(ping, calls)
        sock.close()
        return result
    finally:
        proc.kill()
        proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--echo")
    parser.add_argument("--rpc-server", action="store_true")
    args = parser.parse_args()
    if args.echo:
        return echo_server(args.echo)
    if args.rpc_server:
        return rpc_server()
    client_cpu, server_cpu = cpus()
    os.sched_setaffinity(0, {client_cpu})
    proc, binding = spawn(__file__, server_cpu, "--rpc-server")
    try:
        c = calc_Client(binding)
        data = bytes(4096)
        add = timed(lambda: c.Add(1, 2), args.calls)
        write = timed(lambda: c.Write(4096, data), args.calls)
        c.close()
    finally:
        proc.kill()
        proc.wait()
    raw_add = raw(server_cpu, ADD_SIZES, args.calls)
    raw_write = raw(server_cpu, WRITE_SIZES, args.calls)
    print(f"client on CPU {client_cpu}, server on CPU {server_cpu}, {args.calls} calls x 7 batches")
    print()
    print("| call | idlgen DCE/RPC (us) | raw socket (us) | ratio |")
    print("|---|---:|---:|---:|")
    for name, rpc, base in (("Add(int, int)", add, raw_add), ("Write 4 KiB", write, raw_write)):
        print(f"| {name} | {rpc * 1e6:.1f} | {base * 1e6:.1f} | {rpc / base:.1f}x |")


if __name__ == "__main__":
    main()
