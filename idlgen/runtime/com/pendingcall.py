"""What the asyncio and concurrent.futures adapters need of a call object.

A protocol, so the adapters (which `CallObject` imports when first awaited or turned into
a future) do not import `callobj` back, not even for their type hints.
"""

from __future__ import annotations

from typing import Any, Protocol

from idlgen.runtime.com.waitable import Waiter


class PendingCall(Protocol):
    def _pending_name(self) -> str: ...

    def _subscribe(self, waiter: Waiter) -> bool: ...

    def _unsubscribe(self, waiter: Waiter) -> None: ...

    def _finish_(self, name: str) -> Any: ...

    def Cancel(self, ulSeconds: int) -> int: ...
