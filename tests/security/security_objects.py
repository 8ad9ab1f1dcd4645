"""Objects the hardening tests serve from a child process (`python -m idlgen.runtime serve
security_objects:FACTORY`): the ORPC tests' Hub, with the server's log on stderr and a line
on stderr when the hub's last reference is released (the clean-stop test looks for it)."""

from __future__ import annotations

import logging
import sys
from typing import Any

from orpc_objects import Hub


class LoggedHub(Hub):
    def _final_release_(self) -> None:
        print("hub released", file=sys.stderr, flush=True)
        super()._final_release_()


def hub() -> Any:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    return LoggedHub()
