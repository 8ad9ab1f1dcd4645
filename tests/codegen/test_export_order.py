"""`__all__` is in the order ruff's RUF022 wants (isort-style groups, natural order),
so generated modules stay clean under a user's `ruff check --select RUF022`."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

from idlgen.codegen.view import _export_key

# Names with the shapes that make natural order subtle: case groups, digit runs of
# several lengths, leading zeros, underscores, single letters.
ALPHABET = "aAbBzZ_0019"


def _random_names(rng: random.Random) -> list[str]:
    names = {"".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 6))) for _ in range(12)}
    return [name for name in names if name.isidentifier()]


def test_export_order_is_rufs(tmp_path: Path) -> None:
    rng = random.Random(2026)
    lists = [sorted(_random_names(rng), key=_export_key) for _ in range(300)]
    module = tmp_path / "exports.py"
    module.write_text("".join(f"__all__ = {names!r}\n" for names in lists))
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--isolated", "--select", "RUF022", module],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:]
