"""A user's IDL that imports a bundled file compiles with only the bundle on -I.

This is how users meet the bundle: `import "unknwn.idl"` with no Windows SDK,
plus an `[async_uuid]` interface deriving from IUnknown (the async pattern the
whole project is about).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from base_idl_widl import BASE_IDL_DIR, bundled_files, parse_header, run_widl

USER_IDL = """\
import "{imported}";

[
    object,
    uuid(6a3c9a52-52d1-4d3e-9f3a-0b1e3f6c2d71),
    async_uuid(6a3c9a53-52d1-4d3e-9f3a-0b1e3f6c2d71),
    pointer_default(unique)
]
interface ISampleCalc : IUnknown
{{
    HRESULT Add([in] LONG a, [in] LONG b, [out, retval] LONG *sum);
    HRESULT Echo([in] BSTR text, [in, out] ULONG *count, [out] BSTR *copy);
}}
"""


@pytest.mark.parametrize("imported", [p.name for p in bundled_files()])
def test_user_idl_with_async_uuid_compiles(widl: str, imported: str, tmp_path: Path) -> None:
    source = tmp_path / "sample.idl"
    # wtypes/wtypesbase alone do not declare IUnknown: bring it in as well.
    text = USER_IDL.format(imported=imported)
    if imported in ("wtypesbase.idl", "wtypes.idl"):
        text = 'import "unknwn.idl";\n' + text
    source.write_text(text)
    out = tmp_path / "sample.h"

    result = run_widl(widl, source, [BASE_IDL_DIR], out)

    assert result.returncode == 0, result.stderr
    interfaces = parse_header(out.read_text())
    assert interfaces["AsyncISampleCalc"].methods == (
        "QueryInterface", "AddRef", "Release",
        "Begin_Add", "Finish_Add", "Begin_Echo", "Finish_Echo",
    )  # fmt: skip
    assert interfaces["AsyncISampleCalc"].iid == "6a3c9a53-52d1-4d3e-9f3a-0b1e3f6c2d71"
