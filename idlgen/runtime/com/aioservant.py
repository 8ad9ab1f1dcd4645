"""`async def` server methods: run on an asyncio loop, the COM call completes when they do.

asyncio is imported the first time such a method is called, so servers without them
never import it. The coroutine runs on the servant loop: one the program gave with
`set_servant_loop(loop)` (it keeps running it), else one the runtime owns on a daemon
thread. Two ways in:

- `start_call`: a call object's Begin_ (in the apartment, or from a stub serving another
  apartment or process through ICallFactory). No thread waits; the task's end completes
  the call object. Cancelling the call cancels the task, and a task that ends cancelled
  completes the call with RPC_E_CALL_CANCELED.
- `run_blocking`: a synchronous call (a direct call, or a stub without a call factory).
  The caller's thread waits for the task; a cancel the client sends cancels the task.

The coroutine sees the call it serves (`CoGetCallContext`, `call_canceled`), as a
synchronous method does.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from idlgen.runtime.com.callcontext import _CALL_CONTEXT
from idlgen.runtime.com.hresult import RPC_E_WRONG_THREAD, CallCanceledError, COMError

if TYPE_CHECKING:
    import asyncio
    import concurrent.futures

__all__ = ["run_blocking", "servant_loop", "set_servant_loop", "start_call"]

log = logging.getLogger("idlgen.runtime.com.aio")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None


def set_servant_loop(loop: asyncio.AbstractEventLoop | None) -> None:
    """Run `async def` server methods on `loop` (the program runs it); None: the runtime's."""
    global _loop
    with _lock:
        _loop = loop


def servant_loop() -> asyncio.AbstractEventLoop:
    """The loop `async def` server methods run on, started on first use."""
    global _loop
    import asyncio

    with _lock:
        if _loop is None or _loop.is_closed():
            _loop = asyncio.new_event_loop()
            thread = threading.Thread(
                target=_loop.run_forever, name="idlgen-asyncio-servants", daemon=True
            )
            thread.start()
        return _loop


async def _serve(coroutine: Coroutine[Any, Any, Any], context: Any) -> Any:
    _CALL_CONTEXT.set(context)  # the task's own context: the caller's is untouched
    return await coroutine


def _submit(coroutine: Coroutine[Any, Any, Any]) -> concurrent.futures.Future[Any]:
    import asyncio

    loop = servant_loop()
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        coroutine.close()
        raise COMError(
            RPC_E_WRONG_THREAD,
            "a synchronous call of an async def method from its own event loop would "
            "deadlock: await it (idlgen.runtime.awaitable(obj).Method(...)) instead",
        )
    return asyncio.run_coroutine_threadsafe(_serve(coroutine, _CALL_CONTEXT.get()), loop)


def run_blocking(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Wait for the method on the servant loop; cancelled -> CallCanceledError."""
    import concurrent.futures

    future = _submit(coroutine)
    current = _CALL_CONTEXT.get()
    watch = getattr(current[0], "_watch_cancel_", None) if current is not None else None
    if watch is not None:
        watch(future.cancel)
    try:
        return future.result()
    except concurrent.futures.CancelledError:
        log.debug("async servant method cancelled")
        raise CallCanceledError() from None


class StartedCall:
    """A call object's task on the servant loop; `cancel()` may be called from any thread."""

    __slots__ = ("loop", "task")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.task: asyncio.Task[Any] | None = None

    def cancel(self) -> None:
        self.loop.call_soon_threadsafe(self._cancel_now)

    def _cancel_now(self) -> None:
        if self.task is not None:  # created first: call_soon_threadsafe keeps the order
            self.task.cancel()


def start_call(
    coroutine: Coroutine[Any, Any, Any], done: Callable[[asyncio.Task[Any]], None]
) -> StartedCall:
    """Start the method for a call object; `done(task)` runs on the loop when it ends.

    Nothing waits, so this may be called from the servant loop itself. A task without a
    concurrent.futures.Future in between: one hop to the loop and one back."""
    loop = servant_loop()
    started = StartedCall(loop)
    context = _CALL_CONTEXT.get()

    def create() -> None:
        task = loop.create_task(_serve(coroutine, context))
        started.task = task
        task.add_done_callback(done)

    loop.call_soon_threadsafe(create)
    return started
