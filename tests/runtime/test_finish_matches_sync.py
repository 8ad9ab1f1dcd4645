"""Property: Finish_X returns exactly what X returns, failures and success codes included.

Runs against the hand-written module; the codegen tests re-point `stream_module` at a
generated module to hold the templates to the same contract.
"""

from __future__ import annotations

from typing import Any

import simple_stream_handwritten as stream_module
from hypothesis import given, settings
from hypothesis import strategies as st
from stream_servers import MemoryStream, new_call

from idlgen import runtime as _rt

HRESULTS = [
    _rt.S_OK,
    _rt.S_FALSE,
    0x00040000,  # some other success code
    _rt.E_FAIL,
    _rt.E_INVALIDARG,
    _rt.RPC_E_DISCONNECTED,
    _rt.RPC_X_BAD_STUB_DATA,
    0x80041001,  # an HRESULT with no named class
]


class ScriptedStream(MemoryStream):
    """Deterministic in its inputs: Skip's argument picks the HRESULT it returns."""

    def Skip(self, cb: int) -> int:
        return HRESULTS[cb % len(HRESULTS)]


operations = st.one_of(
    st.tuples(st.just("Read"), st.integers(0, 12)),
    st.tuples(st.just("Write"), st.binary(max_size=8), st.integers(0, 10)),
    st.tuples(st.just("Skip"), st.integers(0, 40)),
    st.tuples(st.just("Swap"), st.integers(-(2**31), 2**31 - 1)),
)


def _outcome(thunk: Any) -> tuple[str, Any, int]:
    try:
        value = thunk()
    except _rt.COMError as exc:
        return ("raised", (type(exc), exc.hresult), _rt.last_hresult())
    return ("returned", value, _rt.last_hresult())


@settings(max_examples=60, deadline=None)
@given(ops=st.lists(operations, max_size=12), data=st.binary(max_size=16))
def test_finish_returns_what_sync_method_returns(ops: list[tuple[Any, ...]], data: bytes) -> None:
    direct = ScriptedStream(data).QueryInterface(stream_module.ISimpleStream)
    call = new_call(ScriptedStream(data))
    for name, *args in ops:
        expected = _outcome(lambda: getattr(direct, name)(*args))  # noqa: B023
        call_begin = getattr(call, "Begin_" + name)
        assert call_begin(*args) == _rt.S_OK
        actual = _outcome(getattr(call, "Finish_" + name))
        assert actual == expected
        if expected[0] == "returned" and isinstance(expected[1], tuple):
            assert type(actual[1]) is type(expected[1])  # the same NamedTuple class


class RawCall(_rt.ServerCall, stream_module.AsyncISimpleStream):
    """A server call object that completes with the server method's raw return value (plain
    tuples, bare HRESULTs, `with_hresult`), as a hand-written call object would."""

    __slots__ = ()

    def _start_(self, ticket: int, method: Any, ins: tuple[Any, ...]) -> None:
        raw = getattr(type(self.server), method.name).__wrapped__  # before ComObject's wrapping
        try:
            value = raw(self.server, *ins)
        except _rt.COMError as exc:
            self._fail_(ticket, exc)
            return
        self._complete_(ticket, value)


class RawCallStream(ScriptedStream):
    _call_objects_ = (RawCall,)


@settings(max_examples=60, deadline=None)
@given(ops=st.lists(operations, max_size=12), data=st.binary(max_size=16))
def test_finish_normalizes_what_a_server_call_object_completes_with(
    ops: list[tuple[Any, ...]], data: bytes
) -> None:
    direct = ScriptedStream(data).QueryInterface(stream_module.ISimpleStream)
    call = new_call(RawCallStream(data))
    for name, *args in ops:
        expected = _outcome(lambda: getattr(direct, name)(*args))  # noqa: B023
        assert getattr(call, "Begin_" + name)(*args) == _rt.S_OK
        actual = _outcome(getattr(call, "Finish_" + name))
        assert actual == expected
        if expected[0] == "returned":
            assert type(actual[1]) is type(expected[1])  # the same NamedTuple class, or int
