"""widl agrees: a synchronous child (and grandchild) of an async interface has the
parent's vtable plus its own methods, and no async partner (DESIGN.md section 3)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from differential import compare
from widl_header import parse_header_file
from widl_runner import run_widl

import idlgen

if TYPE_CHECKING:
    from shared_fixtures import WineCorpus

SYNC_CHILD_IDL = """
import "unknwn.idl";
[object, uuid(0c1a5e10-0000-4000-8000-000000000031),
 async_uuid(0c1a5e10-0000-4000-8000-000000000032)]
interface ISink : IUnknown { HRESULT Twice([in] DWORD x, [out] DWORD *y); }
[object, uuid(0c1a5e10-0000-4000-8000-000000000033)]
interface ISinkEx : ISink { HRESULT Add([in] DWORD a, [in] DWORD b, [out] DWORD *sum); }
[object, uuid(0c1a5e10-0000-4000-8000-000000000034)]
interface ISinkEx2 : ISinkEx { HRESULT Negate([in] LONG v, [out] LONG *r); }
"""


def test_sync_children_of_an_async_interface_match_widl(
    widl: str, wine_corpus: WineCorpus, tmp_path: Path
) -> None:
    idl = tmp_path / "sync_child.idl"
    idl.write_text(SYNC_CHILD_IDL, encoding="utf-8")
    run = run_widl(widl, idl, tmp_path, wine_corpus.include_dirs)
    assert run.accepted, run.stderr
    header = parse_header_file(run.header)
    assert set(header) == {"ISink", "AsyncISink", "ISinkEx", "ISinkEx2"}
    doc = idlgen.compile_json(idl, include_dirs=wine_corpus.include_dirs)
    problems = compare(header, doc)
    assert not problems, "\n".join(problems)
