"""The hardening tests reuse the ORPC, apartment and DCE/RPC tests' helpers and objects."""

from __future__ import annotations

import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
for folder in (TESTS / "orpc", TESTS / "apartments", TESTS / "dcerpc"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
