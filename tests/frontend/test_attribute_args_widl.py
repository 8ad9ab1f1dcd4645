"""Every attribute that takes arguments, with arguments of every kind, against widl.

widl's grammar gives each attribute its own argument shape (a string, an integer, a
type, one of a few keywords); idlgen reads them all as generic expressions and checks
the shape afterwards (idlgen/frontend/attribute_args.py). The sweep writes each
attribute where widl accepts its usual form, then swaps the arguments for a string,
a number, an unknown name, a type, two values, a keyword..., and requires idlgen's
verdict to be widl's: accepted by both, or refused by both (idlgen with an error at
the attribute or its argument). Found by differential mutation testing
(tests/corpus/mutation.py): `pointer_default(unirue)` compiled without a word.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_attributes_widl import (
    MIDL_ONLY,
    PRELUDE,
    PRELUDE_LINES,
    SAMPLES,
    _widl_errors,
    idlgen_errors,
    place_line,
)

from idlgen.frontend.attribute_args import SHAPES
from idlgen.frontend.attributes import ATTRIBUTES

# widl 7 reads these only in WinRT files; their arguments are not widl's to judge.
FORMS = {**SAMPLES, "lcid": "lcid(0x409)"}
# What must stand next to an attribute for widl to take it: `length_is` needs a size.
COMPANIONS = {"length_is": "size_is(n), "}
# `call_as` names a method: whether it exists is tests/semantics' business.
CHECKED = sorted(
    name
    for name in set(SHAPES) | {"pointer_default", "threading"}
    if name in ATTRIBUTES and name not in MIDL_ONLY and name != "call_as"
)
# Where idlgen is deliberately not widl 7 (docs/dialect.md, "Attributes"):
DELIBERATE = {
    # MIDL and newer widl take floating default values; widl 7 has no floating literal.
    "defaultvalue(1.5)": "accepts",
    # idlgen requires iid_is to name a parameter (it is the IID the proxy marshals by).
    "iid_is(undeclared_name)": "refuses",
    'iid_is("s")': "refuses",
}
# Where the table lets each place's attribute stand, in the sweep's order of preference.
PLACE_OF = {
    "rpc interface": "interface",
    "interface": "interface",
    "parameter": "argument",
    "method": "function",
    "function": "function",
    "module function": "function",
    "typedef": "typedef",
    "struct": "struct",
    "union": "union",
    "enum": "enum",
    "enum member": "enum member",
    "field": "field",
    "union arm": "field",
    "library": "library",
    "dispinterface": "dispinterface",
    "module": "module",
    "coclass": "coclass",
}
ARGUMENTS = [
    '"s"',
    "1",
    "0x10",
    "-1",
    "1.5",
    "undeclared_name",
    "n",
    "ULONG",
    "unsigned long",
    "ULONG *",
    "1, 2",
    '"s", "t"',
    "unique",
    "both",
    "n,",
    ",",
]


def with_arguments(name: str, arguments: str) -> str:
    return f"{COMPANIONS.get(name, '')}{name}({arguments})"


def candidate_places(name: str) -> list[str]:
    allowed = ATTRIBUTES[name][1]
    return [place for place, kind in PLACE_OF.items() if kind in allowed]


@pytest.fixture(scope="module")
def home(widl: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Each attribute's place: the first where widl and idlgen both accept its sample."""
    folder = tmp_path_factory.mktemp("attribute-homes")
    texts = {
        f"{name}|{place}": PRELUDE
        + place_line(place, COMPANIONS.get(name, "") + FORMS[name], 1)
        + "\n"
        for name in CHECKED
        for place in candidate_places(name)
    }
    refusals = _widl_errors(widl, folder, texts)
    homes = {}
    for name in CHECKED:
        for place in candidate_places(name):
            key = f"{name}|{place}"
            if not refusals[key] and not idlgen_errors(texts[key]):
                homes[name] = place
                break
    return homes


@pytest.fixture(scope="module")
def widl_verdicts(
    widl: str, home: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("attribute-args")
    texts = {
        f"{name}|{arguments}": variant(name, arguments, home[name])
        for name in home
        for arguments in ARGUMENTS
    }
    return _widl_errors(widl, folder, texts)


def variant(name: str, arguments: str, place: str) -> str:
    return PRELUDE + place_line(place, with_arguments(name, arguments), 1) + "\n"


def test_every_checked_attribute_has_a_home(home: dict[str, str]) -> None:
    """Guards the sweep: an attribute without a place would be checked vacuously."""
    assert sorted(home) == CHECKED


@pytest.mark.parametrize("name", CHECKED)
def test_arguments_are_accepted_and_refused_as_widl_does(
    name: str, home: dict[str, str], widl_verdicts: dict[str, str], tmp_path: Path
) -> None:
    place = home[name]
    line = place_line(place, with_arguments(name, "\0"), 1)
    column = line.index(f"{name}(") + 1
    disagreements = []
    for arguments in ARGUMENTS:
        errors = idlgen_errors(variant(name, arguments, place))
        widl_error = widl_verdicts[f"{name}|{arguments}"]
        deliberate = DELIBERATE.get(f"{name}({arguments})")
        if deliberate is not None:  # decided, whatever widl says: idlgen must keep to it
            if deliberate != ("refuses" if errors else "accepts"):
                disagreements.append(f"{name}({arguments}): idlgen {deliberate} it? {errors}")
            continue
        if bool(widl_error) != bool(errors):
            disagreements.append(f"{name}({arguments}): widl {widl_error or 'accepts'}, {errors}")
        elif errors:
            at_attribute = [c for ln, c, _ in errors if ln == PRELUDE_LINES + 1 and c >= column]
            if not at_attribute:
                disagreements.append(f"{name}({arguments}): error not at the attribute {errors}")
    assert not disagreements, "\n".join(disagreements)
