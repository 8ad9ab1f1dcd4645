"""An interface's methods are numbered after the slots its ancestors take; each
ancestor's own slots are counted once per module, not once per descendant (counted
reads of `Method.vtable_name`, never timings), with the same numbers as before."""

from __future__ import annotations

import re

import pytest

import idlgen
from idlgen import model

PRELUDE = """
typedef long HRESULT;
[object, uuid(00000000-0000-0000-C000-000000000046)]
interface IUnknown { HRESULT QueryInterface(); HRESULT AddRef(); HRESULT Release(); };
[object, uuid(11111111-2222-3333-4444-000000000000)]
interface IBase : IUnknown {
    HRESULT A(); HRESULT B([in] long x);
    [call_as(B)] HRESULT RemoteB([in] long x);
    [propget] HRESULT C([out, retval] long *p);
};
"""


def _module(children: int) -> str:
    return PRELUDE + "".join(
        f"[object, uuid(11111111-2222-3333-4444-{index + 1:012d})]\n"
        f"interface IChild{index} : IBase {{ HRESULT Own{index}(); }};\n"
        for index in range(children)
    )


def _compile_counting(text: str, monkeypatch: pytest.MonkeyPatch) -> tuple[str, int]:
    reads: list[int] = []
    original = model.Method.vtable_name

    def counting(self: model.Method) -> str:
        reads.append(1)
        return original.fget(self)  # type: ignore[attr-defined, no-any-return]

    with monkeypatch.context() as patch:
        patch.setattr(model.Method, "vtable_name", property(counting))
        result = idlgen.compile(text=text, filename="m.idl")
    assert result.output is not None
    return result.output, len(reads)


def test_ancestors_slots_are_counted_once_per_module(monkeypatch: pytest.MonkeyPatch) -> None:
    _, five = _compile_counting(_module(5), monkeypatch)
    output, ten = _compile_counting(_module(10), monkeypatch)
    assert ten - five == 5  # each new child's own slot, nothing of its ancestors'
    # IUnknown's 3 slots and IBase's 3 (RemoteB is only B's wire form): Own* is 6.
    assert re.search(r"self\._call_\(6\b", output) is not None
    assert re.search(r"self\._call_\(7\b", output) is None
