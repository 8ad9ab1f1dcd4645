"""The pages users read stay about what users have.

- no page points at files users do not have (the design notes of the development
  machine, its paths) and every relative link resolves;
- the CLI's exit codes read the same in README.md and docs/cli.md as in the code;
- the samples get their bindings the way the README teaches (`idlgen.load` or the import
  hook), never by executing compiled source by hand.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from idlgen import job

REPO = Path(__file__).resolve().parents[2]
PAGES = [REPO / "README.md", REPO / "runtime" / "README.md", *sorted((REPO / "docs").glob("*.md"))]
NOT_FOR_USERS = re.compile(r"DESIGN(\.md| \d| section)|/work/|/root/|/home/|seeds?/")
LINK = re.compile(r"\]\(([^)#:\s]+)(#[^)]*)?\)")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_pages_refer_only_to_what_users_have(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    assert NOT_FOR_USERS.findall(text) == []
    missing = [target for target, _ in LINK.findall(text) if not (page.parent / target).exists()]
    assert missing == []


def test_exit_codes_read_the_same_everywhere() -> None:
    codes = {
        job.EXIT_IDL_ERROR: "IDL",
        job.EXIT_USAGE: "usage",
        job.EXIT_INTERNAL: "internal error",
    }
    for page in (REPO / "README.md", REPO / "docs" / "cli.md"):
        text = " ".join(page.read_text(encoding="utf-8").split())
        for code, meaning in codes.items():
            assert re.search(rf"\b{code}\b[^.;]{{0,30}}{meaning}", text), (page.name, code)


def test_samples_load_their_bindings_as_the_readme_teaches() -> None:
    for sample in sorted((REPO / "samples").glob("*.py")):
        text = sample.read_text(encoding="utf-8")
        assert not re.search(r"\bexec\(|(?<![.\w])compile\(|idlgen\.compile\(", text), sample.name
