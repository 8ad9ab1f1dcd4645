"""DCE/RPC tests: helper modules live next to the tests (imported by file name)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
