"""Make `servants` importable by name (here and in the server processes the tests start)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
