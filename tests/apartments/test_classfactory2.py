"""An interface derived from IClassFactory (IClassFactory2, as ocidl.idl declares it) through
a cross-apartment proxy: the inherited CreateInstance and LockServer travel as IClassFactory's
[call_as] partners (opnums 3 and 4), the interface's own methods with their generated
marshalers (opnums 5 and 6)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from apartment_fixtures import WAIT
from helpers import connect
from stream_handwritten import ICalc

import idlgen
from idlgen import runtime as rt
from idlgen.runtime.apartments.apartment import Apartment

cf2: Any = idlgen.load(Path(__file__).with_name("classfactory2.idl"))


class Calc(rt.ComObject, ICalc):
    def Add(self, a: int, b: int) -> int:
        return a + b


class LicensedFactory(rt.ComObject, cf2.IClassFactory2):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.locks = 0
        self.outers: list[Any] = []
        self.apartments: list[Apartment] = []

    def CreateInstance(self, pUnkOuter: Any, riid: Any) -> Any:
        self.outers.append(pUnkOuter)
        self.apartments.append(rt.current_apartment())
        calc = Calc()
        try:
            return calc.QueryInterface(riid)
        finally:
            calc.Release()

    def LockServer(self, fLock: bool) -> int:
        self.locks += 1 if fLock else -1
        return rt.S_OK

    def GetLicInfo(self) -> Any:
        return cf2.LICINFO(12, 1, 0)

    def RequestLicKey(self, dwReserved: int) -> str:
        return f"key-{dwReserved}"


@pytest.fixture
def factory(server_sta: Apartment) -> Any:
    obj, proxy = connect(server_sta, LicensedFactory, cf2.IClassFactory2)
    rt.set_call_timeout(proxy, WAIT)
    yield obj, proxy
    proxy.Release()


def test_inherited_methods_cross_as_iclassfactorys_wire_form(
    factory: tuple[LicensedFactory, Any], server_sta: Apartment
) -> None:
    obj, proxy = factory
    assert type(proxy) is cf2.IClassFactory2_Proxy
    calc = proxy.CreateInstance(None, ICalc)  # opnum 3: RemoteCreateInstance
    try:
        assert type(calc).__name__ == "ICalc_Proxy"  # made in the server's apartment
        assert calc.Add(40, 2) == 42
        assert obj.outers == [None] and obj.apartments == [server_sta]
    finally:
        calc.Release()
    assert proxy.LockServer(True) == rt.S_OK  # opnum 4: RemoteLockServer
    assert obj.locks == 1
    assert proxy.LockServer(False) == rt.S_OK
    assert obj.locks == 0


def test_own_methods_use_their_generated_marshalers(factory: tuple[LicensedFactory, Any]) -> None:
    _obj, proxy = factory
    assert proxy.GetLicInfo() == cf2.LICINFO(12, 1, 0)  # opnum 5
    assert proxy.RequestLicKey(7) == "key-7"  # opnum 6


def test_aggregation_is_refused_before_anything_is_sent(
    factory: tuple[LicensedFactory, Any],
) -> None:
    obj, proxy = factory
    with pytest.raises(rt.ClassNoAggregationError):
        proxy.CreateInstance(Calc(), ICalc)
    assert obj.outers == []


def test_a_local_only_method_is_not_sent(factory: tuple[LicensedFactory, Any]) -> None:
    _obj, proxy = factory
    with pytest.raises(rt.COMError) as info:
        proxy.CreateInstanceLic(None, None, ICalc._iid_, "key")
    assert info.value.hresult == rt.RPC_E_INVALIDMETHOD
