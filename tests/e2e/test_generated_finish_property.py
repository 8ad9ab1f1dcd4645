"""Property, on a generated module: `Finish_X` returns exactly what `X` returns,
failures and success codes included, in one apartment and through a proxy.

The runtime's own version of this test uses a hand-written module; this one holds the
templates to the same contract.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_generated_remoting import WAIT, load, proxy_to

from idlgen import runtime as rt
from idlgen.runtime.apartments.apartment import Apartment

STREAM_IDL = """
import "unknwn.idl";

[object, uuid(3c1d2e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f),
 async_uuid(3c1d2e50-5a6b-4c7d-8e9f-0a1b2c3d4e5f), pointer_default(unique)]
interface IPropertyStream : IUnknown
{
    HRESULT Read([out, size_is(cb), length_is(*pcbRead)] byte *pv, [in] ULONG cb,
                 [out] ULONG *pcbRead);
    HRESULT Write([in, size_is(cb)] const byte *pv, [in] ULONG cb, [out] ULONG *pcbWritten);
    HRESULT Skip([in] ULONG cb);
    HRESULT Swap([in, out] LONG *pValue, [out] LONG *pOld);
}
"""

HRESULTS = [
    rt.S_OK,
    rt.S_FALSE,
    0x00040000,  # another success code
    rt.E_FAIL,
    rt.E_INVALIDARG,
    rt.RPC_E_DISCONNECTED,
    0x80041001,  # a failure with no class of its own
]

operations = st.one_of(
    st.tuples(st.just("Read"), st.integers(0, 12)),
    st.tuples(st.just("Write"), st.binary(max_size=8), st.integers(0, 10)),
    st.tuples(st.just("Skip"), st.integers(0, 40)),
    st.tuples(st.just("Swap"), st.integers(-(2**31), 2**31 - 1)),
)


@pytest.fixture(scope="module")
def module(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    return load(tmp_path_factory.mktemp("prop") / "property_stream.idl", STREAM_IDL)


def scripted_stream(module: ModuleType, data: bytes) -> Any:
    class ScriptedStream(rt.CallFactory, module.IPropertyStream):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.data = bytearray(data)
            self.value = 0

        def Read(self, cb: int) -> Any:
            chunk = bytes(self.data[:cb])
            del self.data[:cb]
            if len(chunk) < cb:
                return rt.with_hresult(rt.S_FALSE, (chunk, len(chunk)))
            return chunk, len(chunk)

        def Write(self, pv: bytes, cb: int) -> int:
            if cb > len(pv):
                raise rt.InvalidArgError()
            self.data += pv[:cb]
            return cb

        def Skip(self, cb: int) -> int:
            return HRESULTS[cb % len(HRESULTS)]

        def Swap(self, pValue: int) -> tuple[int, int]:
            old, self.value = self.value, pValue
            return pValue, old

    return ScriptedStream()


def outcome(thunk: Any) -> tuple[str, Any, int]:
    try:
        value = thunk()
    except rt.COMError as error:
        return ("raised", (type(error), error.hresult), rt.last_hresult())
    return ("returned", value, rt.last_hresult())


def call_object(module: ModuleType, target: Any) -> Any:
    factory = target.QueryInterface(rt.ICallFactory)
    iid = module.IID_AsyncIPropertyStream
    return factory.CreateCall(iid, None, iid)


def run_both(module: ModuleType, sync: Any, call: Any, ops: list[tuple[Any, ...]]) -> None:
    for name, *args in ops:
        expected = outcome(lambda: getattr(sync, name)(*args))  # noqa: B023
        begun = outcome(lambda: getattr(call, "Begin_" + name)(*args))  # noqa: B023
        if begun[0] == "raised":
            # The proxy refused to marshal the inputs (e.g. bytes longer than size_is):
            # as in COM, Begin_ itself fails, with the error the synchronous call gives.
            assert begun[:2] == expected[:2]
            continue
        assert begun[1] == rt.S_OK
        actual = outcome(getattr(call, "Finish_" + name))
        assert actual == expected
        if expected[0] == "returned" and isinstance(expected[1], tuple):
            assert type(actual[1]) is type(expected[1])  # the same NamedTuple class


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=st.lists(operations, max_size=10), data=st.binary(max_size=16))
def test_finish_matches_sync_in_one_apartment(
    module: ModuleType, ops: list[tuple[Any, ...]], data: bytes
) -> None:
    sync = scripted_stream(module, data)
    call = call_object(module, scripted_stream(module, data))
    run_both(module, sync, call, ops)


@pytest.fixture(scope="module")
def server_sta() -> Iterator[Apartment]:
    apartment = Apartment.sta("property-server")
    apartment.call_timeout = WAIT
    yield apartment
    apartment.shutdown()


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=st.lists(operations, max_size=6), data=st.binary(max_size=16))
def test_finish_matches_sync_through_a_proxy(
    module: ModuleType, server_sta: Apartment, ops: list[tuple[Any, ...]], data: bytes
) -> None:
    iface = module.IPropertyStream
    sync = proxy_to(server_sta, lambda: scripted_stream(module, data), iface)
    call = call_object(module, proxy_to(server_sta, lambda: scripted_stream(module, data), iface))
    run_both(module, sync, call, ops)


def test_generated_module_is_used(module: ModuleType, tmp_path: Path) -> None:
    assert module.__file__ is not None and module.__file__.endswith("property_stream_idl.py")
    assert module.AsyncIPropertyStream._sync_ is module.IPropertyStream
