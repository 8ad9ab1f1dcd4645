"""Nothing a compile does changes what the parse cache shares with later compiles.

Syntax nodes and model records are frozen for the type checker only (idlgen/records.py:
freezing them at run time made creating them four times slower), and the parse cache
hands the same trees, and the recorded resolution of imported files, to every compile
that imports them. So a compile that changed a shared node in place would change what
the next compile generates.
"""

from __future__ import annotations

import copy
from pathlib import Path

from idl_snippets import write

import idlgen
from idlgen.semantics import loader as loader_module

SHARED = """
import "unknwn.idl";
typedef [v1_enum] enum { RED, GREEN = 5, BLUE } COLOUR;
typedef struct { LONG n; [size_is(n)] BYTE *data; COLOUR c; } BLOB_T;
typedef [switch_type(LONG)] union { [case(1)] LONG a; [case(2)] BLOB_T b; [default] ; } CHOICE;
const LONG LIMIT = (RED + 3) << 2;
[object, uuid(0c1a5e10-0000-4000-8000-000000000041),
 async_uuid(0c1a5e10-0000-4000-8000-000000000042)]
interface IShared : IUnknown {
  [local] HRESULT Get([in] LONG i, [out] BLOB_T *v);
  [call_as(Get)] HRESULT RemoteGet([in] LONG i, [out] BLOB_T *v);
  HRESULT Pick([in] LONG kind, [in, switch_is(kind)] CHOICE *c, [out, retval] COLOUR *r);
}
"""


def compile_importer(folder: Path, name: str, body: str, emit: str) -> idlgen.CompileResult:
    path = write(folder, name, f'import "shared.idl";\n{body}')
    return idlgen.compile(path, emit=emit)  # type: ignore[arg-type]


def test_compiles_leave_the_shared_trees_and_models_as_parsed(tmp_path: Path) -> None:
    write(tmp_path, "shared.idl", SHARED)
    loader_module._PARSE_CACHE.clear()
    first = compile_importer(
        tmp_path, "first.idl", "typedef BLOB_T FIRST_T;\ninterface IShared;\n", "python"
    )
    cached = [loaded for entries in loader_module._PARSE_CACHE.values() for loaded in entries]
    assert any(loaded.path.endswith("shared.idl") for loaded in cached)
    trees = copy.deepcopy([loaded.tree for loaded in cached])
    document = copy.deepcopy(first.document)
    for emit in ("python", "json", "python"):
        body = "[object, uuid(0c1a5e10-0000-4000-8000-000000000043)]\n"
        body += "interface IMore : IShared { HRESULT More([in] CHOICE *c); }\n"
        compile_importer(tmp_path, "second.idl", body, emit)
    assert [loaded.tree for loaded in cached] == trees
    assert first.document == document
