"""Waiting for what another thread or process does, bounded: a safety net against hangs,
never a timing assertion (the bound is each suite's WAIT, seconds)."""

from __future__ import annotations

import time
from collections.abc import Callable


def until(condition: Callable[[], object], within: float, what: str = "the condition") -> None:
    """Return once `condition()` is true; AssertionError naming `what` after `within` s."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.002)
