"""Vtable and async-partner method order for every interleaving of `[local]`/`[call_as]`.

A `[call_as(X)]` method is only the wire form of the `[local]` method X: it has no
vtable slot and no Begin_/Finish_ pair. Where the two sit in the interface must not
matter (objidl.idl's IAdviseSink lists every local method first, then every remote
one). The sweep puts each permutation of two local/call_as pairs and a plain method
into its own interface, some with a child that has its own pairs, and checks, for
every one: widl's vtable equals idlgen's JSON vtable, and the generated Python module
imports, lists the same methods in `_methods_` with the same proxy opnums, and its
`Async<Iface>` class has Begin_X/Finish_X in widl's order.
"""

from __future__ import annotations

import importlib.util
import itertools
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from differential import compare
from widl_header import Vtable, parse_header_file
from widl_runner import run_widl

import idlgen

if TYPE_CHECKING:
    from shared_fixtures import WineCorpus

METHODS = {
    "A": "[local] void A([in] DWORD x);",
    "B": "[local] HRESULT B([out] DWORD *y);",
    "RemoteA": "[call_as(A)] HRESULT RemoteA([in] DWORD x);",
    "RemoteB": "[call_as(B)] HRESULT RemoteB([out] DWORD *y);",
    "C": "HRESULT C([in] DWORD z, [out] DWORD *w);",
}
CHILD_METHODS = {
    "D": "[local] void D();",
    "RemoteD": "[call_as(D)] HRESULT RemoteD();",
    "E": "HRESULT E([in] DWORD e);",
}
CHILD_EVERY = 10  # one in ten permutations also gets a derived async interface


def _uuid(number: int) -> str:
    return f"5a17e000-0000-4000-8000-{number:012x}"


def _interface(name: str, parent: str, number: int, body: list[str]) -> str:
    lines = "\n".join(f"    {line}" for line in body)
    return (
        f"[object, uuid({_uuid(2 * number)}), async_uuid({_uuid(2 * number + 1)})]\n"
        f"interface {name} : {parent}\n{{\n{lines}\n}}\n"
    )


def sweep_idl() -> str:
    parts = ['import "unknwn.idl";\n']
    number = 1
    for index, order in enumerate(itertools.permutations(METHODS)):
        parts.append(_interface(f"ISweep{index}", "IUnknown", number, [METHODS[m] for m in order]))
        number += 1
        if index % CHILD_EVERY == 0:
            child_order = list(CHILD_METHODS)[:: 1 if index % 20 else -1]
            body = [CHILD_METHODS[m] for m in child_order]
            parts.append(_interface(f"IChild{index}", f"ISweep{index}", number, body))
            number += 1
    return "\n".join(parts)


def import_path(path: Path) -> ModuleType:
    sys.modules.pop(path.stem, None)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


def _generated_order(module: object, name: str) -> tuple[list[str], list[int]]:
    interface = getattr(module, name)
    proxy = getattr(module, f"{name}_Proxy")
    names = [m.name for m in interface.__dict__["_methods_"]]
    opnums: list[int] = []
    for method in names:
        source = proxy.__dict__[method].__code__
        opnums.append(next(c for c in source.co_consts if isinstance(c, int)))
    return names, opnums


def _async_order(module: object, name: str) -> list[str]:
    partner = getattr(module, f"Async{name}")
    return [m for m in partner.__dict__ if re.match(r"(Begin|Finish)_", m)]


def test_every_local_call_as_interleaving_matches_widl(
    widl: str, wine_corpus: WineCorpus, tmp_path: Path
) -> None:
    idl = tmp_path / "order_sweep.idl"
    idl.write_text(sweep_idl(), encoding="utf-8")
    run = run_widl(widl, idl, tmp_path, wine_corpus.include_dirs)
    assert run.accepted, run.stderr
    header: dict[str, Vtable] = parse_header_file(run.header)
    problems = compare(header, idlgen.compile_json(idl, include_dirs=wine_corpus.include_dirs))
    assert not problems, "\n".join(problems)

    result = idlgen.compile(idl, include_dirs=wine_corpus.include_dirs)
    assert result.output is not None
    target = tmp_path / f"{result.module_name}.py"
    target.write_text(result.output, encoding="utf-8")
    module = import_path(target)
    checked = 0
    for name, vtable in header.items():
        if vtable.async_of is not None:
            continue
        own = [m.name for m in vtable.methods if m.declared_in == name]
        first_opnum = len(vtable.methods) - len(own)
        names, opnums = _generated_order(module, name)
        assert names == own, name
        assert opnums == list(range(first_opnum, first_opnum + len(own))), name
        partner = header[f"Async{name}"]
        widl_async = [m.name for m in partner.methods if m.declared_in == f"Async{name}"]
        assert _async_order(module, name) == widl_async, name
        checked += 1
    assert checked == len(list(itertools.permutations(METHODS))) + 12
