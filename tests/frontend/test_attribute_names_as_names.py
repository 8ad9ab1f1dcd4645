"""Attribute names are not reserved words: `[in] DWORD in` declares a parameter `in`.

widl 7 reads an attribute name as a keyword only inside `[...]`; everywhere else
`in`, `out`, `uuid`, `string`... are ordinary identifiers (swept against widl for
every attribute name in each place below: all accepted). A lexer that reserved them
would refuse real files, and one that took `out` for the attribute outside the
brackets would change a parameter's direction.
"""

from __future__ import annotations

import pytest

import idlgen
from idlgen.frontend.attributes import ATTRIBUTES

PRELUDE = (
    "typedef long HRESULT; typedef unsigned long DWORD;\n"
    "[object, local, uuid(00000000-0000-0000-c000-000000000046)]"
    " interface IUnknown { HRESULT QueryInterface(); }\n"
)
U = "0c1a5e10-0000-4000-8000-000000000001"
# {W} is the name; each place declares one thing called {W}.
OBJECT = f"[object, uuid({U})] interface I : IUnknown "
PLACES = {
    "parameter": OBJECT + "{{ HRESULT F([in] DWORD {W}); }}",
    "method": OBJECT + "{{ HRESULT {W}([in] DWORD x); }}",
    "rpc parameter": f"[uuid({U})] interface R " + "{{ HRESULT F([in] DWORD {W}); }}",
    "field": "struct S {{ DWORD {W}; }};",
    "typedef": "typedef DWORD {W};",
    "enum member": "enum E {{ {W} }};",
    "constant": "const DWORD {W} = 1;",
    "struct tag": "struct {W} {{ DWORD x; }};",
    "interface": f"[object, uuid({U})] interface " + "{W} : IUnknown {{ HRESULT F(); }}",
}
# A C keyword or base type is reserved whatever else it is (`case`, `default`...).
NAMES = sorted(n for n in ATTRIBUTES if n not in ("case", "default", "const", "switch"))


@pytest.mark.parametrize("place", sorted(PLACES))
def test_every_attribute_name_is_an_ordinary_name_outside_brackets(place: str) -> None:
    refused = []
    for name in NAMES:
        text = PRELUDE + PLACES[place].format(W=name) + "\n"
        try:
            idlgen.compile(text=text, filename="m.idl", emit="model")
        except idlgen.IdlError as error:
            refused.append(f"{name}: {str(error).splitlines()[0]}")
    assert refused == []


def test_a_parameter_named_out_is_an_input() -> None:
    text = PRELUDE + PLACES["parameter"].format(W="out") + "\n"
    result = idlgen.compile(text=text, filename="m.idl", emit="model")
    (param,) = result.document.interface("I").methods[0].params  # type: ignore[union-attr]
    assert (param.name, param.direction.value) == ("out", "in")
