"""User code as a demanding developer writes it; the test runs mypy --strict on it.

Each `reveal_type` line is preceded by `# revealed: TYPE`, which the test compares with
what mypy reveals (`M.`, `N.`, `P.`, `S.` and `D.` abbreviate the generated modules,
idlgen.runtime.com.stdiface and idlgen.runtime.rpc.dcerpc.rpcclient).
"""

from __future__ import annotations

from typing import reveal_type

from hookpkg import simple_stream_idl as H
from userpkg import nullable_idl as n
from userpkg import plain_rpc_idl as P
from userpkg import simple_stream_idl as M

from idlgen import runtime as rt
from idlgen.runtime.rpc import orpc


class MemoryStream(rt.CallFactory, M.ISimpleStream):
    def __init__(self) -> None:
        super().__init__()
        self.data = bytearray()

    def Read(self, cb: int) -> M.ISimpleStream.ReadResult:
        chunk, self.data = bytes(self.data[:cb]), self.data[cb:]
        return M.ISimpleStream.ReadResult(chunk, len(chunk))

    def Write(self, pv: bytes, cb: int) -> int:
        self.data += pv[:cb]
        return cb


def calls(text: str) -> None:
    stream = orpc.connect(text, M.ISimpleStream)
    # revealed: M.ISimpleStream
    reveal_type(stream)
    # revealed: Any
    reveal_type(orpc.connect(text))
    # revealed: S.ICallFactory
    reveal_type(rt.query(stream, rt.ICallFactory))
    factory = stream.QueryInterface(rt.ICallFactory)
    # revealed: S.ICallFactory
    reveal_type(factory)
    call = factory.CreateCall(M.AsyncISimpleStream)
    # revealed: M.AsyncISimpleStream
    reveal_type(call)
    # revealed: S.ICancelMethodCalls
    reveal_type(factory.CreateCall(M.AsyncISimpleStream, None, rt.ICancelMethodCalls))
    # revealed: int
    reveal_type(call.Begin_Read(3))
    # revealed: bytes
    reveal_type(call.Finish_Read().pv)
    # revealed: bool
    reveal_type(call.wait(1.0))
    # revealed: int
    reveal_type(rt.query(call, rt.ISynchronize).Wait(0, 100))
    # revealed: int
    reveal_type(rt.query(call, rt.ICancelMethodCalls).Cancel(0))
    local = MemoryStream()
    # revealed: M.ISimpleStream
    reveal_type(local.QueryInterface(M.ISimpleStream))
    # revealed: M.AsyncISimpleStream
    reveal_type(local.CreateCall(M.AsyncISimpleStream))


def nullability() -> None:
    # revealed: def (self: N.INullable, p: N.IThing | None) -> int
    reveal_type(n.INullable.TakeDefault)
    # revealed: def (self: N.INullable, p: N.IThing | None) -> int
    reveal_type(n.INullable.TakeUnique)
    # revealed: def (self: N.INullable, p: N.IThing) -> int
    reveal_type(n.INullable.TakeRef)
    # revealed: def (self: N.INullable) -> N.IThing
    reveal_type(n.INullable.Give)


async def awaiting(call: M.AsyncISimpleStream) -> None:
    call.Begin_Read(3)
    # revealed: Any
    reveal_type(await call)


def plain_rpc(text: str) -> None:
    with P.plain_Client(text) as c:
        pending = c.Begin_Divmod(7, 2)
        # revealed: D.PendingRpc[tuple[int, int, int, fallback=P.plain.DivmodResult]]
        reveal_type(pending)
        # revealed: int
        reveal_type(pending.result(1.0).q)
        # revealed: bool
        reveal_type(pending.cancel())
        # revealed: int
        reveal_type(c.Begin_Add(1, 2).as_future().result())
        # revealed: None
        reveal_type(c.Begin_Ping().result())


async def awaiting_rpc(c: P.plain_Client) -> None:
    # revealed: int
    reveal_type(await c.Begin_Add(1, 2))
    # revealed: int
    reveal_type((await c.Begin_Divmod(7, 2)).r)


def through_the_import_hook(text: str) -> None:
    """`hookpkg` holds only the .idl and the stub `idlgen --pyi` wrote beside it."""
    stream = orpc.connect(text, H.ISimpleStream)
    # revealed: int
    reveal_type(stream.Read(1).pcbRead)
