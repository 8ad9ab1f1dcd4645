"""Private network namespaces for tests that need well-known ports (135) of their own.

`namespace()` makes a fresh namespace with only a loopback interface (so 127.0.0.1:135 there
is ours whatever the host runs) and removes it afterwards. `run_in(ns, fn)` calls `fn` on a
thread that has joined the namespace with setns(2): sockets it opens, and threads it starts,
live there, so in-process clients can talk to servers started with `ip netns exec`. Needs
root and `ip`; `skip_or_fail` otherwise (a failure under CI=true).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import TypeVar

from shared_fixtures import skip_or_fail

T = TypeVar("T")
CLONE_NEWNET = 0x40000000
WAIT = 30.0


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=WAIT)


@contextlib.contextmanager
def namespace(prefix: str = "idlgen") -> Iterator[str]:
    if shutil.which("ip") is None:
        skip_or_fail("iproute2 (`ip`) is not installed")
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    try:
        _ip("netns", "add", name)
    except (subprocess.CalledProcessError, OSError) as exc:
        skip_or_fail(f"cannot create a network namespace (needs root): {exc}")
    try:
        _ip("-n", name, "link", "set", "lo", "up")
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=WAIT)


def run_in(ns: str, fn: Callable[[], T], timeout: float = 120.0) -> T:
    """`fn()` on a thread inside namespace `ns`; its result, or its exception re-raised."""
    box: dict[str, object] = {}

    def body() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
        try:
            if libc.setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns failed")
        finally:
            os.close(fd)
        try:
            box["value"] = fn()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=body, name=f"netns-{ns}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError(f"{fn!r} did not finish in {timeout} s inside {ns}")
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]
