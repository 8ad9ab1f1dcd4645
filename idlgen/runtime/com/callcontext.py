"""The call a server method is serving, as a context variable.

Its own module, below both `servercall` (which sets it around synchronous methods) and
`aioservant` (which carries it into the task of an `async def` method), so neither has to
import the other to reach it.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from idlgen.runtime.com.callobj import CallObject

# (call object, ticket): the ticket tells a call's later run from an earlier one's.
_CALL_CONTEXT: ContextVar[tuple[CallObject, int] | None] = ContextVar(
    "idlgen_call_context", default=None
)
