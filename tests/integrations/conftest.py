"""Registers the fixtures and hooks of `venv_fixtures.py` for this folder.

Shared names live in `venv_fixtures`, a module with a name of its own: every folder's
conftest is imported as a module named `conftest`, so importing names from it
would pick whichever folder's conftest came first.
"""

from venv_fixtures import (  # noqa: F401 (registered by being imported here)
    build_env,
    idlgen_wheel,
    pytest_configure,
    run_env,
    runtime_wheel,
)
