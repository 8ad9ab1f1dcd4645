"""What the hardening tests share: a server child process with chosen limits, and a raw ORPC
client (its own DCE/RPC connection, so a test can be two clients at once)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from orpc_helpers import WAIT, child_env, first_line

from idlgen.runtime.apartments.registry import opnums, wire_table
from idlgen.runtime.apartments.remunknown import (
    REM_ADD_REF,
    REM_QUERY_INTERFACE,
    REM_RELEASE,
    IID_IRemUnknown,
    RemInterfaceRef,
)
from idlgen.runtime.com.guid import GUID
from idlgen.runtime.com.hresult import error_for
from idlgen.runtime.rpc.dcerpc import binding as B
from idlgen.runtime.rpc.dcerpc.client import Connection
from idlgen.runtime.rpc.dcerpc.pdu import SyntaxId
from idlgen.runtime.rpc.orpc.client import ORPC_LIMITS, rem_unknown_ipid
from idlgen.runtime.rpc.orpc.wire import orpcthis, split_orpcthat

__all__ = ["WAIT", "RawClient", "child_env", "serve_child", "stop_child"]

HERE = Path(__file__).resolve().parent


def security_env() -> dict[str, str]:
    env = child_env()
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env["PYTHONPATH"]])
    return env


@contextlib.contextmanager
def serve_child(
    *options: str,
    factory: str = "orpc_objects:hub",
    binding: str = "ncacn_ip_tcp:127.0.0.1[0]",
    stdin: Any = subprocess.PIPE,
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`python -m idlgen.runtime serve` with `options`; yields (process, published string)."""
    cmd = [sys.executable, "-m", "idlgen.runtime", "serve", factory, "--binding", binding]
    proc = subprocess.Popen(
        [*cmd, *options],
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=security_env(),
    )
    try:
        yield proc, first_line(proc)
    finally:
        stop_child(proc)


def stop_child(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGCONT)
        proc.kill()
    with contextlib.suppress(subprocess.TimeoutExpired, ValueError):  # ValueError: done
        proc.communicate(timeout=WAIT)


def split_published(text: str) -> tuple[bytes, B.Binding]:
    ipid_text, _, binding = text.partition("@")
    return uuid.UUID(ipid_text).bytes_le, B.parse(binding)


class RawClient:
    """One client = one DCE/RPC connection to the server, ORPC calls made by hand."""

    def __init__(self, binding: B.Binding) -> None:
        self.conn = Connection(binding, ORPC_LIMITS)

    def close(self) -> None:
        self.conn.close()

    def call(self, iface: Any, method: str, ipid: bytes, **args: Any) -> Any:
        """`method` of `iface` on `ipid`: the decoded response, or the COMError fault."""
        opnum = opnums(iface)[method]
        wire = wire_table(iface)[opnum]
        stub = orpcthis() + wire.encode_request(args)
        syntax = SyntaxId(iface._iid_, 0, 0)
        reply = self.conn.call(syntax, opnum, stub, GUID.from_bytes_le(ipid), timeout=WAIT)
        return wire.decode_response(split_orpcthat(reply), scope=args)

    def _rem(self, marshaler: Any, opnum: int, ipid: bytes, args: dict[str, Any]) -> Any:
        oxid = uuid.UUID(bytes_le=ipid).int >> 64
        stub = orpcthis() + marshaler.encode_request(args)
        syntax = SyntaxId(IID_IRemUnknown, 0, 0)
        rem = GUID.from_bytes_le(rem_unknown_ipid(oxid))
        reply = self.conn.call(syntax, opnum, stub, rem, timeout=WAIT)
        response = marshaler.decode_response(split_orpcthat(reply), scope=args)
        if response.result is not None and response.result & 0x80000000:
            raise error_for(response.result)
        return response

    def rem_query(self, ipid: bytes, iid: GUID, refs: int = 1) -> Any:
        """RemQueryInterface: the REMQIRESULT for `iid` (its hResult and STDOBJREF)."""
        args = {"ripid": GUID.from_bytes_le(ipid), "cRefs": refs, "cIids": 1, "iids": [iid]}
        return self._rem(REM_QUERY_INTERFACE, 3, ipid, args).outs["ppQIResults"][0]

    def rem_add_ref(self, ipid: bytes, refs: int) -> int:
        ref = RemInterfaceRef(GUID.from_bytes_le(ipid), refs, 0)
        args = {"cInterfaceRefs": 1, "InterfaceRefs": [ref]}
        return int(self._rem(REM_ADD_REF, 4, ipid, args).outs["pResults"][0])

    def rem_release(self, ipid: bytes, refs: int) -> None:
        ref = RemInterfaceRef(GUID.from_bytes_le(ipid), refs, 0)
        self._rem(REM_RELEASE, 5, ipid, {"cInterfaceRefs": 1, "InterfaceRefs": [ref]})
