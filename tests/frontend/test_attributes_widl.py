"""Every attribute, in every place, against widl (sweep over idlgen's attribute table).

- placement: an attribute is refused ("inapplicable attribute") exactly where widl
  refuses it, for every attribute of `idlgen.frontend.attributes.ATTRIBUTES` in every
  place a declaration can carry attributes;
- spelling: every attribute misspelt (a letter dropped, doubled, or two swapped) is an
  error naming the misspelling at its own column, refused by widl too;
- arguments: an attribute that needs arguments is refused bare, one that takes none is
  refused with some, as widl does;
- uuids: malformed uuids in `uuid`, `async_uuid` and `custom`, quoted or not.
"""

from __future__ import annotations

import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import idlgen
from idlgen import IdlError
from idlgen.frontend.attributes import (
    ATTRIBUTES,
    KNOWN_ATTRIBUTES,
    REQUIRED,
    SDK_WINRT_ATTRIBUTES,
)

U = "0c1a5e10-0000-4000-8000-0000000000{:02x}"
PRELUDE = (
    "typedef long HRESULT; typedef unsigned long ULONG;\n"
    "[object, local, uuid(00000000-0000-0000-c000-000000000046)]"
    " interface IUnknown { HRESULT QueryInterface(); }\n"
    "[object, uuid(00020400-0000-0000-c000-000000000046)]"
    " interface IDispatch : IUnknown { HRESULT Invoke(); }\n"
    f"[object, uuid({U.format(90)})] interface IOther : IUnknown {{ HRESULT Z(); }}\n"
)
PRELUDE_LINES = PRELUDE.count("\n")

# How each attribute is written with its arguments (widl checks their shape too).
SAMPLES = {
    "annotation": 'annotation("x")',
    "async_uuid": f"async_uuid({U.format(91)})",
    "call_as": "call_as(F{n})",
    "case": "case(1)",
    "custom": f"custom({U.format(92)}, 1)",
    "defaultvalue": "defaultvalue(1)",
    "dllname": 'dllname("x.dll")',
    "endpoint": 'endpoint("ncalrpc:")',
    "entry": "entry(1)",
    "helpcontext": "helpcontext(1)",
    "helpfile": 'helpfile("x")',
    "helpstring": 'helpstring("x")',
    "helpstringcontext": "helpstringcontext(1)",
    "helpstringdll": 'helpstringdll("x")',
    "id": "id(1)",
    "iid_is": "iid_is(n)",
    "implicit_handle": "implicit_handle(handle_t h)",
    "length_is": "length_is(n)",
    "optimize": 'optimize("x")',
    "overload": 'overload("x")',
    "pointer_default": "pointer_default(unique)",
    "progid": 'progid("x")',
    "range": "range(0, 10)",
    "represent_as": "represent_as(ULONG)",
    "size_is": "size_is(n)",
    "switch_is": "switch_is(n)",
    "switch_type": "switch_type(ULONG)",
    "threading": "threading(both)",
    "transmit_as": "transmit_as(ULONG)",
    "user_marshal": "user_marshal(ULONG)",
    "uuid": f"uuid({U.format(93)})",
    "version": "version(1.0)",
    "vi_progid": 'vi_progid("x")',
    "wire_marshal": "wire_marshal(ULONG)",
}
MIDL_ONLY = {"first_is", "last_is", "max_is", "min_is"}  # widl does not know them
WIDL_CHECKED = sorted(set(ATTRIBUTES) - MIDL_ONLY)

# One line each; {A} is the attribute, {n} makes names unique within one file.
PLACES = {
    "interface": "[object, uuid(%s), {A}] interface IP{n} : IUnknown {{ HRESULT F{n}(); }}",
    "rpc interface": "[uuid(%s), {A}] interface RP{n} {{ HRESULT F{n}(void); }}",
    "method": "[object, uuid(%s)] interface IM{n} : IUnknown "
    "{{ [{A}] HRESULT F{n}([in] ULONG n, [out] ULONG *x); }}",
    "parameter": "[object, uuid(%s)] interface IA{n} : IUnknown "
    "{{ HRESULT F{n}([in] ULONG n, [{A}] ULONG *x); }}",
    "typedef": "typedef [{A}] ULONG *T{n};",
    "struct": "[{A}] struct S{n} {{ ULONG n; ULONG *x; }};",
    "union": "[{A}] union U{n} switch (ULONG d) u {{ case 1: ULONG a; }};",
    "enum": "[{A}] enum E{n} {{ E{n}_0 }};",
    "enum member": "enum M{n} {{ [{A}] M{n}_0 }};",
    "field": "struct SF{n} {{ ULONG n; [{A}] ULONG *x; }};",
    "union arm": "union UA{n} switch (ULONG d) u {{ case 1: [{A}] ULONG *a; }};",
    "library": "[uuid(%s), {A}] library L{n} {{ }}",
    "dispinterface": "[uuid(%s), {A}] dispinterface D{n} {{ properties: methods: }}",
    "dispinterface property": "[uuid(%s)] dispinterface DP{n} "
    "{{ properties: [id(1), {A}] ULONG *x; methods: }}",
    "dispinterface method": "[uuid(%s)] dispinterface DM{n} "
    "{{ properties: methods: [id(1), {A}] HRESULT F{n}([in] ULONG n, [out] ULONG *x); }}",
    "module": "[{A}] module MO{n} {{ }}",
    "module function": '[dllname("x.dll")] module MF{n} '
    "{{ [entry(1), {A}] HRESULT F{n}([in] ULONG n, [out] ULONG *x); }}",
    "function": "[{A}] HRESULT F{n}([in] ULONG n, [out] ULONG *x);",
    "coclass": "[uuid(%s), {A}] coclass C{n} {{ interface IOther; }}",
    "coclass member": "[uuid(%s)] coclass CM{n} {{ [{A}] interface IOther; }}",
}


def place_line(place: str, attribute: str, n: int) -> str:
    template = PLACES[place]
    if "%s" in template:
        template = template % U.format(n % 80)
    return template.format(A=attribute, n=n)


def written(name: str) -> str:
    return SAMPLES.get(name, name)


def _widl_errors(widl: str, folder: Path, texts: dict[str, str]) -> dict[str, str]:
    """widl's first error line for each text (empty when it accepts the text)."""

    def run(item: tuple[str, str]) -> tuple[str, str]:
        key, text = item
        path = folder / f"{re.sub(r'[^A-Za-z0-9_]', '_', key)}.idl"
        path.write_text(text, encoding="utf-8")
        done = subprocess.run(
            [widl, "-h", "-o", str(path.with_suffix(".h")), str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
        lines = done.stderr.strip().splitlines()
        return key, (lines[0] if lines else "") if done.returncode else ""

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        return dict(pool.map(run, texts.items()))


@pytest.fixture(scope="module")
def widl_refusals(widl: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("attributes")
    texts = {
        f"{form}|{place}": PRELUDE + place_line(place, form, 1) + "\n"
        for _, form in PLACED_FORMS
        for place in PLACES
    }
    for name in WIDL_CHECKED:
        arguments = ATTRIBUTES[name][0]
        if arguments is REQUIRED:
            texts[f"{name}|bare"] = PRELUDE + place_line("parameter", name, 1) + "\n"
        elif name in SAMPLES or name == "lcid":
            continue
        else:
            texts[f"{name}|args"] = PRELUDE + place_line("parameter", f"{name}(1)", 1) + "\n"
    return _widl_errors(widl, folder, texts)


def idlgen_errors(text: str) -> list[tuple[int, int, str]]:
    """(line, column, message) of every error idlgen reports for `text`."""
    try:
        idlgen.compile(text=text, filename="attrs.idl", emit="model")
    except IdlError as error:
        return [
            (d.position.line, d.position.column, d.message)
            for d in error.errors
            if d.position is not None
        ]
    return []


# Every attribute as SAMPLES writes it, and the forms whose placement depends on them.
PLACED_FORMS = [(name, written(name)) for name in WIDL_CHECKED] + [("lcid", "lcid(0)")]


@pytest.mark.parametrize(("name", "form"), PLACED_FORMS)
def test_attribute_is_refused_exactly_where_widl_refuses_it(
    name: str, form: str, widl_refusals: dict[str, str]
) -> None:
    places = list(PLACES)
    lines = [place_line(place, form, n) for n, place in enumerate(places, 1)]
    errors = idlgen_errors(PRELUDE + "\n".join(lines) + "\n")
    ours = {
        places[line - PRELUDE_LINES - 1]
        for line, _, message in errors
        if message.startswith(f"inapplicable attribute {name} ")
    }
    theirs = {p for p in places if "inapplicable attribute" in widl_refusals[f"{form}|{p}"]}
    assert ours == theirs


@pytest.mark.parametrize("name", WIDL_CHECKED)
def test_argument_shape_is_checked_as_widl_does(name: str, widl_refusals: dict[str, str]) -> None:
    for key in (f"{name}|bare", f"{name}|args"):
        if key not in widl_refusals:
            continue
        form = name if key.endswith("bare") else f"{name}(1)"
        errors = idlgen_errors(PRELUDE + place_line("parameter", form, 1) + "\n")
        widl_refused = "syntax error" in widl_refusals[key]
        ours = any(f"'{name}'" in m and "argument" in m for _, _, m in errors)
        assert ours == widl_refused, (key, widl_refusals[key], errors)


def misspellings(name: str) -> list[str]:
    """A letter dropped, a letter doubled, two neighbours swapped: unknown names only."""
    candidates = {name[:i] + name[i + 1 :] for i in range(len(name))}
    candidates |= {name[: i + 1] + name[i:] for i in range(len(name))}
    candidates |= {name[:i] + name[i + 1] + name[i] + name[i + 2 :] for i in range(len(name) - 1)}
    usable = sorted(
        c for c in candidates if c not in KNOWN_ATTRIBUTES and re.fullmatch(r"[a-z_]\w*", c)
    )
    return usable[:: max(1, len(usable) // 3)]


@pytest.mark.parametrize("name", sorted(KNOWN_ATTRIBUTES))
def test_every_misspelt_attribute_is_an_error_at_its_own_position(name: str) -> None:
    for wrong in misspellings(name):
        line = (
            f"[object, uuid({U.format(5)})] interface IX : IUnknown "
            f"{{ HRESULT F([in, {wrong}] ULONG *x); }}"
        )
        errors = idlgen_errors(PRELUDE + line + "\n")
        column = line.index(f"[in, {wrong}]") + len("[in, ") + 1
        found = [(c, m) for ln, c, m in errors if f"unknown attribute '{wrong}'" in m]
        assert found, (wrong, errors)
        assert found[0][0] == column
        hint = re.search(r"did you mean '(\w+)'", found[0][1])
        assert hint is None or hint.group(1) in KNOWN_ATTRIBUTES


def test_widl_refuses_the_misspellings_too(widl: str, tmp_path: Path) -> None:
    texts = {
        f"{wrong}": PRELUDE + place_line("parameter", wrong, 1) + "\n"
        for name in sorted(ATTRIBUTES)
        for wrong in misspellings(name)[:1]
    }
    refusals = _widl_errors(widl, tmp_path, texts)
    assert all("syntax error" in error for error in refusals.values())


@pytest.mark.parametrize(
    ("wrong", "meant"),
    [("outt", "out"), ("inn", "in"), ("asyncuuid", "async_uuid"), ("helpstrng", "helpstring")],
)
def test_the_reported_misspellings_get_the_right_hint(wrong: str, meant: str) -> None:
    errors = idlgen_errors(PRELUDE + place_line("parameter", f"{wrong}, retval", 1) + "\n")
    assert any(f"unknown attribute '{wrong}'; did you mean '{meant}'?" == m for _, _, m in errors)


BAD_UUIDS = ["1", "zz", "1234-not-a-uuid", '"zz"', '"1"', '"{' + U.format(1) + '}"', '""']


@pytest.mark.parametrize("bad", BAD_UUIDS)
@pytest.mark.parametrize(
    "form",
    [
        "[uuid({bad})] interface R {{ HRESULT F(void); }}",
        "[object, uuid(" + U.format(2) + "), async_uuid({bad})] interface IA : IUnknown "
        "{{ HRESULT F(); }}",
        "[object, uuid(" + U.format(3) + "), custom({bad}, 1)] interface IC : IUnknown "
        "{{ HRESULT F(); }}",
        "[uuid({bad})] coclass C {{ interface IOther; }}",
        "[uuid({bad})] library L {{ }}",
    ],
)
def test_malformed_uuid_is_an_error_at_the_uuid(bad: str, form: str) -> None:
    marked = form.format(bad="\0")
    line = marked.replace("\0", bad)
    errors = idlgen_errors(PRELUDE + line + "\n")
    invalid = [(c, m) for _, c, m in errors if m.startswith("invalid UUID")]
    assert invalid, errors
    assert invalid[0][0] == marked.index("\0") + 1


@pytest.mark.parametrize("good", [U.format(1), U.format(1).upper(), f'"{U.format(1)}"'])
def test_well_formed_uuids_are_accepted_quoted_or_not(good: str) -> None:
    line = f"[uuid({good})] interface R {{ HRESULT F(void); }}"
    assert idlgen_errors(PRELUDE + line + "\n") == []


@pytest.mark.parametrize("name", sorted(SDK_WINRT_ATTRIBUTES))
def test_sdk_winrt_attributes_are_known_in_winrt_files_only(name: str) -> None:
    declaration = f"[uuid({U.format(7)}), {name}] interface IW : IUnknown {{ HRESULT F(); }}\n"
    winrt = "#pragma winrt ns_prefix\n" + PRELUDE + "namespace N {\n" + declaration + "}\n"
    assert idlgen_errors(winrt) == []
    errors = idlgen_errors(PRELUDE + declaration.replace("[", "[object, ", 1))
    assert any(m.startswith(f"unknown attribute '{name}'") for _, _, m in errors)
