"""The endpoint map: which interface this process serves at which binding.

Every `RpcServer` records here what it serves once it listens; the endpoint mapper
(`epm.EndpointMapper`) answers ept_map and ept_lookup from it. Kept apart from `epm.py`,
which needs the generated epmp bindings, so the server can fill it without importing them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from idlgen.runtime.com.guid import GUID
from idlgen.runtime.rpc.dcerpc import binding as B
from idlgen.runtime.rpc.dcerpc import pdu as P

__all__ = ["EndpointMap", "Registration", "process_map"]


@dataclass(frozen=True)
class Registration:
    object: GUID
    syntax: P.SyntaxId
    binding: B.Binding
    annotation: str


@dataclass
class EndpointMap:
    """What this process serves where: filled by `register`, read by `EndpointMapper`."""

    _elements: list[Registration] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def register(
        self,
        syntax: P.SyntaxId,
        bindings: list[B.Binding],
        annotation: str = "",
        obj: GUID | None = None,
    ) -> None:
        with self._lock:
            for binding in bindings:
                element = Registration(obj or GUID(0), syntax, binding, annotation[:63])
                if element not in self._elements:
                    self._elements.append(element)

    def unregister(self, syntax: P.SyntaxId) -> None:
        with self._lock:
            self._elements = [e for e in self._elements if e.syntax != syntax]

    def withdraw(self, bindings: list[B.Binding]) -> None:
        """Forget everything served at `bindings` (a server that closed)."""
        gone = set(bindings)
        with self._lock:
            self._elements = [e for e in self._elements if e.binding not in gone]

    def snapshot(self) -> list[Registration]:
        with self._lock:
            return list(self._elements)


process_map = EndpointMap()
