"""Remembered macro expansions: reused across unrelated #defines, forgotten exactly when
a name they depend on changes. Counted (substitutions made), never timed."""

from __future__ import annotations

import pytest

from idlgen.diagnostics import DiagnosticSink
from idlgen.frontend import ppmacro
from idlgen.frontend.preprocess import preprocess


def _expand(text: str) -> str:
    sink = DiagnosticSink()
    result = preprocess(text, "main.idl", sink=sink, read_file=lambda path: "")
    assert sink.diagnostics == []
    return result.text


def _words(text: str) -> list[str]:
    return text.split()


@pytest.fixture
def substitutions(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How many times each macro's body was substituted."""
    counts: dict[str, int] = {}
    original = ppmacro.Expander._subst

    def counting(
        self: ppmacro.Expander,
        macro: ppmacro.Macro,
        args: list[list[ppmacro.Tok]],
        hide: frozenset[str],
    ) -> list[ppmacro.Tok]:
        counts[macro.name] = counts.get(macro.name, 0) + 1
        return original(self, macro, args, hide)

    monkeypatch.setattr(ppmacro.Expander, "_subst", counting)
    return counts


def _big_macro(tokens: int) -> str:
    """`#define BIG` over PART, a macro of `tokens` tokens: far more than 4,096 in all."""
    part = " ".join(f"m{k};" for k in range(100))
    uses = " ".join(["PART"] * (tokens // 200))
    return f"#define PART {part}\n#define BIG {uses}\n"


def test_a_big_expansion_is_remembered_across_unrelated_defines(
    substitutions: dict[str, int],
) -> None:
    text = _big_macro(20_000) + "BIG\n#define OTHER 1\nBIG\n#define MORE 2\nBIG\n"
    out = _expand(text)
    assert _words(out).count("m99;") == 3 * 100
    # Expanded once on its own, then reused: the header's defines between the uses
    # (mshtml.idl has thousands) touch nothing it depends on.
    assert substitutions["BIG"] == 1
    assert substitutions["PART"] == 1


def test_redefining_a_macro_an_expansion_went_through_is_seen() -> None:
    text = "#define B 1\n#define A (B + 1)\nA\n#undef B\n#define B 7\nA\n#undef B\nA\n"
    lines = [line.split() for line in _expand(text).splitlines() if line.strip()]
    assert lines == [["(1", "+", "1)"], ["(7", "+", "1)"], ["(B", "+", "1)"]]


def test_defining_a_name_a_remembered_expansion_outputs_is_seen() -> None:
    text = "#define A x + y\nA\n#define y 3\nA\n#define x(n) n\nA (5)\n"
    lines = [line.split() for line in _expand(text).splitlines() if line.strip()]
    assert lines == [["x", "+", "y"], ["x", "+", "3"], ["x", "+", "3", "(5)"]]


def test_a_function_like_name_defined_later_expands_in_a_remembered_result() -> None:
    text = "#define A F\nA(2)\n#define F(n) [n]\nA(2)\n"
    lines = [line.split() for line in _expand(text).splitlines() if line.strip()]
    assert lines == [["F(2)"], ["[2]"]]


def test_remembered_tokens_stay_within_the_budget(
    monkeypatch: pytest.MonkeyPatch, substitutions: dict[str, int]
) -> None:
    monkeypatch.setattr(ppmacro, "_MAX_REMEMBERED", 5_000)
    text = _big_macro(20_000) + "BIG\nBIG\n"
    assert _words(_expand(text)).count("m0;") == 2 * 100
    # Too big for the budget: each use expands it in place, as before remembering.
    assert substitutions["BIG"] == 3
