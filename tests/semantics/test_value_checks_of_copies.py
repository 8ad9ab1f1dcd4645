"""The constant checks after resolution (`id(...)`, sizes, duplicate attributes) pass
over a dispinterface member the parser rebuilt from an identical earlier one found
clean (idlgen/semantics/attribute_values.py): counted evaluations, never timings; and a
copy of a member that reported still reports, at its own position."""

from __future__ import annotations

import pytest

import idlgen
from idlgen.diagnostics import IdlError
from idlgen.semantics.consteval import Evaluator

PRELUDE = 'import "oaidl.idl";\n'
# What mshtml.idl's macros expand to: a dispinterface's methods on one line.
MEMBERS = (
    "[propput, id(((0x80010000+500)+1))] void title(BSTR v); "
    "[propget, id(((0x80010000+500)+1))] BSTR title(); "
    "[id(((0x80010000+500)+2))] void setAttribute([in] BSTR name, [in] VARIANT value); "
    "[id(4)] HRESULT item([in] long index, [out, retval] IDispatch **p);"
)


def dispinterfaces(count: int, members: str = MEMBERS) -> str:
    uuid = "uuid(3050f1d8-98b5-11cf-bb82-00aa00bdce0{})"
    return PRELUDE + "".join(
        f"[{uuid.format(index)}] dispinterface D{index}\n{{\nproperties:\nmethods:\n"
        f"    {members}\n}};\n"
        for index in range(count)
    )


@pytest.fixture
def evaluations(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    seen: list[int] = []
    original = Evaluator.evaluate_int

    def counting(self: Evaluator, expr: object) -> int:
        seen.append(1)
        return original(self, expr)  # type: ignore[arg-type]

    monkeypatch.setattr(Evaluator, "evaluate_int", counting)
    return seen


def test_copies_of_clean_members_are_not_evaluated_again(evaluations: list[int]) -> None:
    idlgen.compile(text=dispinterfaces(1), filename="warm.idl", emit="model")  # oaidl.idl
    evaluations.clear()
    idlgen.compile(text=dispinterfaces(1), filename="one.idl", emit="model")
    once = len(evaluations)
    evaluations.clear()
    idlgen.compile(text=dispinterfaces(6), filename="six.idl", emit="model")
    assert 0 < len(evaluations) < 2 * once  # not 6 times the members of one


def test_the_output_is_that_of_a_compile_without_copies() -> None:
    text = dispinterfaces(4)
    spread = text.replace("; [", ";\n    [")  # one member a line: nothing is rebuilt
    with_copies = idlgen.compile(text=text, filename="m.idl")
    without = idlgen.compile(text=spread, filename="m.idl")
    assert with_copies.output is not None and without.output is not None
    strip = "\n".join(line for line in with_copies.output.splitlines() if "m.idl:" not in line)
    assert strip == "\n".join(line for line in without.output.splitlines() if "m.idl:" not in line)


def test_every_copy_of_a_member_that_reported_reports_at_its_own_place() -> None:
    bad = MEMBERS.replace("id(4)", "id(NOT_A_CONSTANT)")
    with pytest.raises(IdlError) as raised:
        idlgen.compile(text=dispinterfaces(3, bad), filename="m.idl", emit="model")
    lines = sorted(
        d.position.line
        for d in raised.value.diagnostics
        if "NOT_A_CONSTANT" in d.message and d.position is not None
    )
    assert len(lines) == 3 and len(set(lines)) == 3


def test_every_copy_of_a_duplicate_attribute_warns(monkeypatch: pytest.MonkeyPatch) -> None:
    twice = MEMBERS.replace("[id(4)]", "[id(4), id(4)]")
    result = idlgen.compile(text=dispinterfaces(3, twice), filename="m.idl", emit="model")
    warned = [d for d in result.diagnostics if "duplicate attribute id" in d.message]
    assert len({d.position.line for d in warned if d.position is not None}) == 3
