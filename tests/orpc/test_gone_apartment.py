"""An OBJREF for an apartment of this process that has shut down is RPC_E_DISCONNECTED,
also once the process serves ORPC (its OBJREFs then name its own endpoint, and asking the
network would reach this very process instead of failing)."""

from __future__ import annotations

import orpc_helpers  # noqa: F401  (puts the hand-written interfaces on sys.path)
import pytest
from servers import Calc
from stream_handwritten import ICalc

from idlgen import runtime as rt
from idlgen.runtime.apartments.apartment import Apartment
from idlgen.runtime.rpc import orpc


def test_unmarshal_after_the_apartment_is_gone_with_orpc_serving() -> None:
    orpc.serve("ncacn_ip_tcp:127.0.0.1[0]")
    apartment = Apartment.sta("gone")

    def export() -> bytes:
        calc = Calc()
        objref = rt.marshal_interface(calc, ICalc)
        calc.Release()
        return objref

    objref = apartment.run(export)
    apartment.shutdown()
    with pytest.raises(rt.DisconnectedError):
        rt.unmarshal_interface(objref)
