"""Small helpers shared by the apartment tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from idlgen.runtime.apartments.apartment import Apartment
from idlgen.runtime.apartments.channel import HEADER, parse
from idlgen.runtime.apartments.marshal import marshal_interface, unmarshal_interface


def serve(apartment: Apartment, make: Callable[[], Any], iface: Any) -> tuple[Any, bytes]:
    """Create an object inside `apartment`, marshal it from there and drop the creator's
    reference, as a COM server does: (object, OBJREF)."""

    def create() -> tuple[Any, bytes]:
        obj = make()
        objref = marshal_interface(obj, iface)
        obj.Release()  # the creator's reference: from now on the export owns the object
        return obj, objref

    return apartment.run(create)  # type: ignore[no-any-return]


def connect(apartment: Apartment, make: Callable[[], Any], iface: Any) -> tuple[Any, Any]:
    """(server object living in `apartment`, proxy to it in the calling apartment)."""
    obj, objref = serve(apartment, make, iface)
    return obj, unmarshal_interface(objref)


class Tap:
    """Records every frame the channel moves; `bodies(kind)` gives (opnum/status, stub data)."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []

    def __call__(self, frame: bytes) -> None:
        self.frames.append(frame)

    def of_kind(self, kind: int) -> list[bytes]:
        return [f for f in self.frames if f[0] == kind]

    def bodies(self, kind: int) -> list[tuple[int, bytes]]:
        out = []
        for frame in self.of_kind(kind):
            parsed = parse(frame)
            assert parsed is not None
            out.append((parsed.code, bytes(frame[HEADER.size :])))
        return out
