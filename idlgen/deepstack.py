"""Running a compile where deep recursion fits: its own thread, a large stack, a high limit.

Resolution, constant evaluation, type rendering and NDR descriptor building walk
nested declarations recursively, a few Python frames per level. The nesting limits of
idlgen/limits.py match what widl accepts (2,000 nested structs, 5,000 pointer levels,
10,000 parentheses in `#if`, typedef chains of 20,000), which takes some 100,000
frames: far beyond Python's default limit of 1,000 and the main thread's C stack.
So a compile runs in a thread of its own with a 512 MiB stack (address space: only
the pages a deep input touches become memory), with the interpreter's recursion limit
raised while any such compile runs. The limit is per interpreter, so it is raised once
for all concurrent compiles and put back by the last one, unless someone else changed
it meanwhile. Where no such thread can be started (a tight address-space limit), the
compile runs in the caller's thread and a too-deep input ends in `RecursionError`,
which the API reports as a diagnostic.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

STACK_BYTES = 512 << 20
RECURSION_LIMIT = 250_000

_lock = threading.Lock()
_stack_lock = threading.Lock()
_active = 0
_saved_limit = 0


def _raise_limit() -> None:
    global _active, _saved_limit
    with _lock:
        if _active == 0:
            _saved_limit = sys.getrecursionlimit()
            if _saved_limit < RECURSION_LIMIT:
                sys.setrecursionlimit(RECURSION_LIMIT)
        _active += 1


def _restore_limit() -> None:
    global _active
    with _lock:
        _active -= 1
        if _active == 0 and sys.getrecursionlimit() == RECURSION_LIMIT:
            sys.setrecursionlimit(max(_saved_limit, 1000))


def _start_with_large_stack(worker: threading.Thread) -> bool:
    """Start `worker` with STACK_BYTES of stack (the size applies to threads started
    while it is set, so setting and starting happen under one lock)."""
    with _stack_lock:
        previous = threading.stack_size()
        try:
            threading.stack_size(STACK_BYTES)
            worker.start()
        except (ValueError, RuntimeError, MemoryError):
            return False
        finally:
            threading.stack_size(previous)
    return True


def run_deep(function: Callable[[], T]) -> T:
    """`function()`, run in a thread whose stack takes the deepest input allowed."""
    outcome: list[T] = []
    failure: list[BaseException] = []

    def target() -> None:
        try:
            outcome.append(function())
        except BaseException as error:  # handed to the caller's thread as is
            failure.append(error)

    worker = threading.Thread(target=target, name="idlgen-compile", daemon=True)
    _raise_limit()
    try:
        started = _start_with_large_stack(worker)
        if started:
            worker.join()
    finally:
        _restore_limit()
    if not started:  # no room for the stack: do without, at the default limit
        return function()
    if failure:
        raise failure[0]
    return outcome[0]
