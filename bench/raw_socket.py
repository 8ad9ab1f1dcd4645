"""The raw-socket anchor the cross-process benchmarks compare against.

`echo_server` runs in the server process: it accepts one loopback connection and, until
the client closes it, reads `req` bytes and answers `resp` bytes (a request and reply of
the same sizes as the RPC call being compared).
"""

from __future__ import annotations

import socket


def echo_server(sizes: str) -> None:
    """`sizes` is "REQ,RESP"; prints the port first so the parent can connect."""
    req, resp = (int(x) for x in sizes.split(","))
    lsock = socket.create_server(("127.0.0.1", 0))
    print(lsock.getsockname()[1], flush=True)
    conn, _ = lsock.accept()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    reply, view = bytes(resp), memoryview(bytearray(req))
    while True:
        got = 0
        while got < req:
            k = conn.recv_into(view[got:])
            if k == 0:
                return
            got += k
        conn.sendall(reply)
