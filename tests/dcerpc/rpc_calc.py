"""A plain RPC interface written by hand in exactly the shape the code generator emits.

IDL it stands for:

    [uuid(5A3E0F1C-8B2D-4E6A-9C71-2B4D6F8A0C13), version(1.2)]
    interface calc {
        long Add([in] long a, [in] long b);
        HRESULT Write([in] unsigned long cb, [in, size_is(cb)] byte *pv,
                      [out] unsigned long *pcbWritten);
        HRESULT Divmod([in] long a, [in] long b, [out] long *q, [out] long *r);
        long Sum([in] unsigned long n, [in, size_is(n)] long *v, [out] long *items);
        HRESULT Upper([in, string] wchar_t *s, [out, string] wchar_t **out);
        HRESULT WaitCancel([in] unsigned long ms);
        void Local([in] long x);   /* [local]: no wire form */
        HRESULT Read([in] unsigned long cb, [out, size_is(cb), length_is(*pcbRead)] byte *pv,
                     [out] unsigned long *pcbRead);
    }
"""

from __future__ import annotations

from typing import ClassVar, NamedTuple

from idlgen import runtime as _rt
from idlgen.runtime import ndr as _ndr
from idlgen.runtime.rpc.dcerpc import PendingRpc, RpcClient, RpcInterface


class DivmodResult(NamedTuple):
    q: int
    r: int


class SumResult(NamedTuple):
    return_: int
    items: int


class ReadResult(NamedTuple):
    pv: bytes
    pcbRead: int


_ADD = _ndr.MethodMarshaler(
    _ndr.Method(
        "Add",
        (_ndr.Param("a", _ndr.LONG, "in"), _ndr.Param("b", _ndr.LONG, "in")),
        returns=_ndr.LONG,
        opnum=0,
    )
)
_WRITE = _ndr.MethodMarshaler(
    _ndr.Method(
        "Write",
        (
            _ndr.Param("cb", _ndr.ULONG, "in"),
            _ndr.Param(
                "pv",
                _ndr.Pointer("ref", _ndr.ConformantArray(_ndr.BYTE, size_is=_ndr.Name("cb"))),
                "in",
            ),
            _ndr.Param("pcbWritten", _ndr.Pointer("ref", _ndr.ULONG), "out"),
        ),
        opnum=1,
    )
)
_DIVMOD = _ndr.MethodMarshaler(
    _ndr.Method(
        "Divmod",
        (
            _ndr.Param("a", _ndr.LONG, "in"),
            _ndr.Param("b", _ndr.LONG, "in"),
            _ndr.Param("q", _ndr.Pointer("ref", _ndr.LONG), "out"),
            _ndr.Param("r", _ndr.Pointer("ref", _ndr.LONG), "out"),
        ),
        opnum=2,
    )
)
_SUM = _ndr.MethodMarshaler(
    _ndr.Method(
        "Sum",
        (
            _ndr.Param("n", _ndr.ULONG, "in"),
            _ndr.Param(
                "v",
                _ndr.Pointer("ref", _ndr.ConformantArray(_ndr.LONG, size_is=_ndr.Name("n"))),
                "in",
            ),
            _ndr.Param("items", _ndr.Pointer("ref", _ndr.LONG), "out"),
        ),
        returns=_ndr.LONG,
        opnum=3,
    )
)
_UPPER = _ndr.MethodMarshaler(
    _ndr.Method(
        "Upper",
        (
            _ndr.Param("s", _ndr.Pointer("ref", _ndr.String(_ndr.WCHAR)), "in"),
            _ndr.Param(
                "out", _ndr.Pointer("ref", _ndr.Pointer("unique", _ndr.String(_ndr.WCHAR))), "out"
            ),
        ),
        opnum=4,
    )
)
_WAITCANCEL = _ndr.MethodMarshaler(
    _ndr.Method("WaitCancel", (_ndr.Param("ms", _ndr.ULONG, "in"),), opnum=5)
)
_READ = _ndr.MethodMarshaler(
    _ndr.Method(
        "Read",
        (
            _ndr.Param("cb", _ndr.ULONG, "in"),
            _ndr.Param(
                "pv",
                _ndr.Pointer(
                    "ref",
                    _ndr.ConformantVaryingArray(
                        _ndr.BYTE, size_is=_ndr.Name("cb"), length_is=_ndr.Name("pcbRead")
                    ),
                ),
                "out",
            ),
            _ndr.Param("pcbRead", _ndr.Pointer("ref", _ndr.ULONG), "out"),
        ),
        opnum=7,
    )
)


class calc(RpcInterface):
    _uuid_ = _rt.GUID("{5A3E0F1C-8B2D-4E6A-9C71-2B4D6F8A0C13}")
    _version_ = (1, 2)
    _methods_: ClassVar[tuple[_rt.Method, ...]] = _rt.methods(
        _rt.Method("Add", ins=("a", "b"), hresult=False),
        _rt.Method("Write", ins=("cb", "pv"), outs=("pcbWritten",)),
        _rt.Method("Divmod", ins=("a", "b"), outs=("q", "r"), result=DivmodResult),
        _rt.Method("Sum", ins=("n", "v"), outs=("items",), result=SumResult, hresult=False),
        _rt.Method("Upper", ins=("s",), outs=("out",)),
        _rt.Method("WaitCancel", ins=("ms",)),
        _rt.Method("Local", ins=("x",), hresult=False),
        _rt.Method("Read", ins=("cb",), outs=("pv", "pcbRead"), result=ReadResult),
    )
    _wire_: ClassVar[tuple[_ndr.MethodMarshaler | None, ...]] = (
        _ADD,
        _WRITE,
        _DIVMOD,
        _SUM,
        _UPPER,
        _WAITCANCEL,
        None,
        _READ,
    )

    def Add(self, a: int, b: int) -> int:
        raise _rt.NotImplError()

    def Write(self, cb: int, pv: bytes) -> int:
        raise _rt.NotImplError()

    def Divmod(self, a: int, b: int) -> DivmodResult:
        raise _rt.NotImplError()

    def Sum(self, n: int, v: list[int]) -> SumResult:
        raise _rt.NotImplError()

    def Upper(self, s: str) -> str:
        raise _rt.NotImplError()

    def WaitCancel(self, ms: int) -> int:
        raise _rt.NotImplError()

    def Local(self, x: int) -> None:
        raise _rt.NotImplError()

    def Read(self, cb: int) -> ReadResult:
        raise _rt.NotImplError()


class calc_Client(RpcClient, calc):
    """Client stub of the RPC interface calc: calls go over a DCE/RPC connection.

    `Begin_X(...)` sends X without waiting; its PendingRpc gives what X returns.
    """

    __slots__ = ()

    def Add(self, a: int, b: int) -> int:
        return self._call_(0, (a, b))  # type: ignore[no-any-return]

    def Write(self, cb: int, pv: bytes) -> int:
        return self._call_(1, (cb, pv))  # type: ignore[no-any-return]

    def Divmod(self, a: int, b: int) -> DivmodResult:
        return self._call_(2, (a, b))  # type: ignore[no-any-return]

    def Sum(self, n: int, v: list[int]) -> SumResult:
        return self._call_(3, (n, v))  # type: ignore[no-any-return]

    def Upper(self, s: str) -> str:
        return self._call_(4, (s,))  # type: ignore[no-any-return]

    def WaitCancel(self, ms: int) -> int:
        return self._call_(5, (ms,))  # type: ignore[no-any-return]

    def Local(self, x: int) -> None:
        return self._call_(6, (x,))  # type: ignore[no-any-return]

    def Read(self, cb: int) -> ReadResult:
        return self._call_(7, (cb,))  # type: ignore[no-any-return]

    def Begin_Add(self, a: int, b: int) -> PendingRpc[int]:
        return self._begin_call_(0, (a, b))

    def Begin_Write(self, cb: int, pv: bytes) -> PendingRpc[int]:
        return self._begin_call_(1, (cb, pv))

    def Begin_Divmod(self, a: int, b: int) -> PendingRpc[DivmodResult]:
        return self._begin_call_(2, (a, b))

    def Begin_Sum(self, n: int, v: list[int]) -> PendingRpc[SumResult]:
        return self._begin_call_(3, (n, v))

    def Begin_Upper(self, s: str) -> PendingRpc[str]:
        return self._begin_call_(4, (s,))

    def Begin_WaitCancel(self, ms: int) -> PendingRpc[int]:
        return self._begin_call_(5, (ms,))

    def Begin_Local(self, x: int) -> PendingRpc[None]:
        return self._begin_call_(6, (x,))

    def Begin_Read(self, cb: int) -> PendingRpc[ReadResult]:
        return self._begin_call_(7, (cb,))
