"""Registers the fixtures and hooks of `apartment_fixtures.py` for this folder.

Shared names live in `apartment_fixtures`, a module with a name of its own: every folder's
conftest is imported as a module named `conftest`, so importing names from it
would pick whichever folder's conftest came first.
"""

from apartment_fixtures import (  # noqa: F401 (registered by being imported here)
    _bounded_process_mta,
    client_sta,
    server_sta,
)
