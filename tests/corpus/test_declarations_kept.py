"""No declaration the grammar accepts is dropped without a word.

Every form of declaration (a method, the C++ pure-virtual `= 0` suffix, data, `extern`
and `static` data, constants, typedefs, function pointers) in every place a declaration
can stand (top level, object and RPC interface bodies, a module, a library, a
dispinterface's methods section). For each pair, widl decides: where widl refuses
the file, idlgen refuses it too; where widl accepts it, idlgen accepts it and the
declaration is in idlgen's document (a method, function, constant or typedef), or it
is one of the C-only forms that have no Python counterpart (docs/dialect.md).

One deliberate difference: widl ignores any initializer after a function; idlgen
takes only `= 0` and refuses other values (they mean nothing a reader would expect).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from widl_runner import run_widl_many

import idlgen
from idlgen import IdlError

if TYPE_CHECKING:
    from shared_fixtures import WineCorpus

UUID = "5a17e000-0000-4000-8000-0000000000{:02x}"

PLACES = {
    "top level": "{decl}",
    "object interface": "[object, uuid({uuid})] interface IHolder : IUnknown {{ {decl} }}",
    "rpc interface": "[uuid({uuid}), version(1.0)] interface RHolder {{ {decl} }}",
    "module": '[dllname("holder.dll")] module MHolder {{ {decl} }}',
    "library": "[uuid({uuid})] library LHolder {{ {decl} }}",
    "dispinterface methods": (
        "[uuid({uuid})] dispinterface DHolder {{ properties: methods: {decl} }}"
    ),
}
FORMS = {
    "method": "HRESULT X([in] int a);",
    "pure virtual": "HRESULT X([in] int a) = 0;",
    "data": "int X;",
    "pointer data": "int *X;",
    "function pointer": "int (*X)(int);",
    "extern data": "extern int X;",
    "static data": "static int X;",
    "const data": "const int X;",
    "constant": "const int X = 3;",
    "typedef": "typedef int X;",
    "extern function": "extern HRESULT X(int a);",
}
# Accepted by widl, with nothing for Python: a C variable whose value the IDL lacks.
C_ONLY_FORMS = {"extern data", "static data", "const data"}
STRICTER_THAN_WIDL = {"non-zero initializer": "HRESULT X([in] int a) = 1;"}


def idl_text(place: str, form: str) -> str:
    body = PLACES[place].format(decl=form, uuid=UUID.format(1))
    return f'import "oaidl.idl";\n{body}\n'


# Where each form that widl keeps must be in idlgen's document.
KEPT_AS = {"constant": "constants", "typedef": "typedefs"}  # the rest: a function or method


def _declared(doc: dict[str, Any], kind: str) -> set[str]:
    if kind != "functions":
        return {item["name"] for item in doc[kind]}
    names = {f["name"] for f in doc["functions"]}
    for interface in doc["interfaces"]:
        names |= {m["name"] for m in interface["methods"]}
    return names


@pytest.fixture(scope="module")
def widl_verdicts(
    widl: str, wine_corpus: WineCorpus, tmp_path_factory: pytest.TempPathFactory
) -> dict[tuple[str, str], bool]:
    folder = tmp_path_factory.mktemp("declarations")
    files: dict[tuple[str, str], Path] = {}
    for place_index, place in enumerate(PLACES):
        for form_index, form in enumerate(FORMS):
            path = folder / f"case_{place_index}_{form_index}.idl"
            path.write_text(idl_text(place, FORMS[form]), encoding="utf-8")
            files[place, form] = path
    runs = run_widl_many(widl, list(files.values()), folder / "out", wine_corpus.include_dirs)
    return {key: runs[path].accepted for key, path in files.items()}


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("form", FORMS)
def test_declaration_is_kept_or_refused_as_widl_does(
    place: str,
    form: str,
    widl_verdicts: dict[tuple[str, str], bool],
    wine_corpus: WineCorpus,
    tmp_path: Path,
) -> None:
    path = tmp_path / "case.idl"
    path.write_text(idl_text(place, FORMS[form]), encoding="utf-8")
    if not widl_verdicts[place, form]:
        with pytest.raises(IdlError):
            idlgen.compile_json(path, include_dirs=wine_corpus.include_dirs)
        return
    doc = idlgen.compile_json(path, include_dirs=wine_corpus.include_dirs)
    if form not in C_ONLY_FORMS:
        kind = KEPT_AS.get(form, "functions")
        assert "X" in _declared(doc, kind), f"{form} in {place} is not among the {kind}"


@pytest.mark.parametrize("place", PLACES)
def test_initializer_other_than_zero_after_a_function_is_refused(
    place: str, wine_corpus: WineCorpus, tmp_path: Path
) -> None:
    path = tmp_path / "case.idl"
    path.write_text(idl_text(place, STRICTER_THAN_WIDL["non-zero initializer"]), "utf-8")
    with pytest.raises(IdlError):
        idlgen.compile_json(path, include_dirs=wine_corpus.include_dirs)
