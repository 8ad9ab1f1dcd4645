"""Registers the fixtures and hooks of `shared_fixtures.py` for this folder.

Shared names live in `shared_fixtures`, a module with a name of its own: every folder's
conftest is imported as a module named `conftest`, so importing names from it
would pick whichever folder's conftest came first.
"""

from shared_fixtures import (  # noqa: F401 (registered by being imported here)
    private_cache_home,
    pytest_generate_tests,
    widl,
    wine_corpus,
    wine_idl_dir,
)
