"""Which words are names and which are reserved, as widl 7 reads them (swept against widl).

widl 7 reserves `NULL`, `methods` and `properties` everywhere (not only before the `:`
of a dispinterface), and takes MIDL's extra words (`__int8`, `__int16`, `__inline`)
and the Windows calling-convention macros (`WINAPI`, `CALLBACK`, `__RPC_USER`...) as
ordinary names: a field may be called `WINAPI`. Reading a name as a keyword refuses
files widl compiles; reading a reserved word as a name accepts files it refuses.
Each word is tried in every place a name is declared, and idlgen must accept exactly
where widl does.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_attribute_names_as_names import PLACES, PRELUDE
from test_attributes_widl import _widl_errors

import idlgen

MACROS = (
    "WINAPI",
    "WINAPIV",
    "APIENTRY",
    "CALLBACK",
    "STDMETHODCALLTYPE",
    "STDAPICALLTYPE",
    "RPC_ENTRY",
    "__RPC_API",
    "__RPC_USER",
    "__RPC_STUB",
)
WORDS = ("__int8", "__int16", "__inline", "NULL", "methods", "properties", *MACROS)


def _idlgen_refuses(text: str) -> str:
    try:
        idlgen.compile(text=text, filename="m.idl", emit="model")
    except idlgen.IdlError as error:
        return str(error).splitlines()[0]
    return ""


def test_words_are_names_exactly_where_widl_takes_them(widl: str, tmp_path: Path) -> None:
    texts = {
        f"{word}|{place}": PRELUDE + PLACES[place].format(W=word) + "\n"
        for word in WORDS
        for place in PLACES
    }
    theirs = _widl_errors(widl, tmp_path, texts)
    differ = []
    for key, text in texts.items():
        ours = _idlgen_refuses(text)
        if bool(ours) != bool(theirs[key]):
            differ.append(f"{key}: idlgen {ours or 'accepts'}; widl {theirs[key] or 'accepts'}")
    assert differ == []


@pytest.mark.parametrize("word", ["NULL", "methods", "properties"])
def test_a_reserved_word_as_a_name_is_refused_at_the_word(word: str) -> None:
    text = PRELUDE + f"struct S {{ long {word}; }};\n"
    assert _idlgen_refuses(text).startswith("m.idl:3:17: error: syntax error")


def test_a_macro_is_a_name_not_a_calling_convention() -> None:
    text = PRELUDE + "struct S { long WINAPI; long CALLBACK; };\n"
    result = idlgen.compile(text=text, filename="m.idl", emit="model")
    (struct,) = result.document.structs  # type: ignore[union-attr]
    assert [field.name for field in struct.fields] == ["WINAPI", "CALLBACK"]
