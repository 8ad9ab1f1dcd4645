"""The marshaling checks ask for a parameter's type through typedefs several times
(`_unwrap`: out-pointer, void, function pointer, string, iid_is...); the answer is worked
out once per type node and document (counted calls, never timings)."""

from __future__ import annotations

import pytest

import idlgen
from idlgen.semantics import checks

TEXT = """
typedef long HRESULT;
[object, uuid(00000000-0000-0000-C000-000000000046)]
interface IUnknown { HRESULT QueryInterface(); };
typedef long *PLONG;
typedef PLONG *PPLONG;
[object, uuid(11111111-2222-3333-4444-555555555555)]
interface I : IUnknown {
    HRESULT f([in] long a, [out] PLONG b, [in, out] PPLONG c, [out] long *d);
    HRESULT g([in, size_is(n)] PLONG p, [in] long n);
};
"""


def test_each_type_is_unwrapped_once_per_document(monkeypatch: pytest.MonkeyPatch) -> None:
    walked: list[object] = []
    original = checks._unwrap_walk

    def counting(document: object, known: object, type_: object) -> tuple[int, object]:
        walked.append(type_)
        return original(document, known, type_)  # type: ignore[arg-type]

    monkeypatch.setattr(checks, "_unwrap_walk", counting)
    idlgen.compile(text=TEXT, filename="m.idl", emit="model")
    assert walked
    assert len({id(type_) for type_ in walked}) == len(walked)
    first = len(walked)
    idlgen.compile(text=TEXT, filename="m.idl", emit="model")  # another document
    assert len(walked) == 2 * first
