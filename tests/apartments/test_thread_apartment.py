"""Which apartment a thread's calls wait in, asked without a call per proxy call
(`apartment.this_thread.apartment or apartment.unentered`): the thread's own apartment,
else the process MTA while it is open, else a new process MTA."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from idlgen.runtime.apartments import apartment as _apartment
from idlgen.runtime.apartments.apartment import (
    Apartment,
    current_apartment,
    process_mta,
    this_thread,
)

WAIT = 10.0  # a safety net against hangs, never a timing assertion


def on_a_new_thread(fn: Any) -> Any:
    """`fn()` on a thread that never entered an apartment."""
    box: list[Any] = []
    thread = threading.Thread(target=lambda: box.append(fn()))
    thread.start()
    thread.join(WAIT)
    return box[0]


def test_a_thread_in_no_apartment_calls_from_the_open_process_mta() -> None:
    mta = process_mta()
    assert on_a_new_thread(lambda: this_thread.apartment or _apartment.unentered) is mta
    with Apartment.mta(1, "joined").join() as joined:
        assert (this_thread.apartment or _apartment.unentered) is joined
        assert current_apartment() is joined
    assert current_apartment() is (this_thread.apartment or mta)


def test_a_process_mta_that_shut_down_answers_no_more(monkeypatch: pytest.MonkeyPatch) -> None:
    """Once the process MTA shut down, its successor answers (with its own, unset
    `call_timeout`), not the closed one with what was set on it."""
    stand_in = Apartment.mta(1, "process-mta")
    monkeypatch.setattr(_apartment, "_process_mta", stand_in)
    monkeypatch.setattr(_apartment, "unentered", stand_in)
    stand_in.call_timeout = 1.0
    stand_in.shutdown()
    assert _apartment.unentered is None
    successor = on_a_new_thread(current_apartment)
    try:
        assert successor is not stand_in and not successor.closed
        assert successor.call_timeout is None
        assert on_a_new_thread(lambda: _apartment.unentered) is successor
    finally:
        successor.shutdown()
