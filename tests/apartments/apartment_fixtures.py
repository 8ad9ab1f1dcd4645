"""Apartments for the tests: every wait is bounded so a bug fails a test instead of hanging it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from idlgen.runtime.apartments.apartment import Apartment, process_mta

WAIT = 10.0  # seconds: a safety net against hangs, never a timing assertion


@pytest.fixture(autouse=True)
def _bounded_process_mta() -> Iterator[None]:
    mta = process_mta()
    previous = mta.call_timeout
    mta.call_timeout = WAIT
    yield
    mta.call_timeout = previous


@pytest.fixture
def server_sta() -> Iterator[Apartment]:
    apt = Apartment.sta("server")
    apt.call_timeout = WAIT
    yield apt
    apt.shutdown()


@pytest.fixture
def client_sta() -> Iterator[Apartment]:
    apt = Apartment.sta("client")
    apt.call_timeout = WAIT
    yield apt
    apt.shutdown()
