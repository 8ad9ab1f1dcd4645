"""A fixed sample of one-token mutants of Wine's IDL files, judged against widl.

idlgen must never be silently wrong: a mutant widl refuses must not compile without
an error, a mutant widl accepts must give the same vtables, and nothing may crash.
The mutants come from tests/corpus/mutation.py (seeded: the same sample on every
run with the same corpus), from both rounds' operators: the first round's one-token
changes, and the second round's changes that keep a file well formed more often
(swapped methods or parameters, a flipped direction, a `*` more or less, another
type, a deleted attribute list, a number off by one, a declaration twice), where
both compilers accept and the vtables and parameter types must agree, or both
refuse and idlgen's first error must be on widl's line or on a changed one. A
failure names each mutant with its one-line repro.
A mutant widl accepts and idlgen refuses is a failure too, unless idlgen's error is
one of the deliberate strictnesses below, and so is one widl refuses and idlgen
accepts unless it is a deliberate leniency (each written down in docs/dialect.md).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from mutation import (
    NEW_MUTATORS,
    QUIET,
    Mutant,
    Verdict,
    candidate_files,
    judge_all,
    make_mutant,
)

if TYPE_CHECKING:
    from shared_fixtures import WineCorpus

SEED = 10
COUNT = 300
NEW_SEED = 21  # the second round's operators
NEW_COUNT = 200
# Every sixth small or medium corpus file (about 48): each is compiled unmutated once
# as well, so fewer files leave more of the time for mutants.
FILE_STRIDE = 6
# Too few judged mutants means the corpus or widl is broken and the test vacuous.
MIN_JUDGED = (COUNT + NEW_COUNT) // 2

# idlgen's error message -> why refusing what widl 7 accepts is right (docs/dialect.md).
DELIBERATE_REFUSALS = {
    r"expression is not an integer constant|is not a positive integer constant": (
        "widl 7 takes a floating enum value or array size (`= 1.5`) and truncates it"
    ),
    r"a string is not allowed in arithmetic": "widl 7 does arithmetic on string constants",
    r"attribute '\w+' needs an argument": "widl 7 takes `size_is()` with nothing to size by",
    r"given twice with different arguments": "widl keeps the last of two different values",
    r"cannot be resolved in expression for attribute": (
        "widl 7 takes an unknown name in iid_is/size_is and leaves it to the C compiler"
    ),
    r"inapplicable attribute \w+ for field": "widl does not check an empty union arm's attributes",
}

# (the mutation, widl's error, idlgen's warning) -> why accepting what widl 7 refuses
# is right.
DELIBERATE_ACCEPTANCES = {
    (r"(add|duplicate) ';'", r"unexpected ';'", r""): (
        "a stray ';' declares nothing and changes no output (C and MIDL take it)"
    ),
    (r"", r"redefinition error", r"-Wtypedef-redefinition"): (
        "the Windows SDK's headers redefine typedefs: a warning (docs/cli.md)"
    ),
    (
        r"delete-attributes",
        r"unexpected (':'|'\{'), expecting ';'|unexpected tLIBRARY",
        r"",
    ): "widl 7 needs an attribute list, `[]` at least, before a definition: same output",
}


def deliberate(verdict: Verdict) -> bool:
    """A disagreement docs/dialect.md decides; a misplaced first error counts as one
    when widl's is a refusal idlgen deliberately does not share (idlgen then reports
    the next real problem)."""
    if verdict.category in ("silent", "misplaced"):
        lines = verdict.detail.splitlines()
        widl_error = next((line for line in lines if line.startswith("widl: ")), "")
        warnings = "\n".join(line for line in lines if not line.startswith("widl: "))
        return any(
            re.search(change, verdict.mutant.change)
            and re.search(error, widl_error)
            and re.search(warning, warnings)
            for change, error, warning in DELIBERATE_ACCEPTANCES
        )
    if verdict.category != "false-rejection":
        return False
    errors = [line for line in verdict.detail.splitlines() if ": error: " in line]
    return bool(errors) and all(
        any(re.search(pattern, line) for pattern in DELIBERATE_REFUSALS) for line in errors
    )


def test_mutants_are_never_silently_wrong(widl: str, wine_corpus: WineCorpus) -> None:
    files = candidate_files(wine_corpus.windows_dir)[::FILE_STRIDE]
    mutants = [make_mutant(n, SEED, files) for n in range(COUNT)]
    mutants += [make_mutant(n, NEW_SEED, files, NEW_MUTATORS) for n in range(NEW_COUNT)]
    verdicts = judge_all(mutants, wine_corpus.include_dirs)
    judged = [v for v in verdicts if v.category != "base-disagrees"]
    assert len(judged) >= MIN_JUDGED, f"only {len(judged)} of {COUNT} mutants could be judged"
    findings = [v for v in verdicts if v.category not in QUIET and not deliberate(v)]
    assert not findings, f"{len(findings)} mutant(s) judged differently from widl:\n" + "\n".join(
        describe(v) for v in findings
    )


def is_new(mutant: Mutant) -> bool:
    """Whether the second round's operators made it (the change names the operator)."""
    return mutant.change.split(": ")[1] in NEW_MUTATORS


def describe(verdict: Verdict) -> str:
    m = verdict.mutant
    options = f"--operators new --seed {NEW_SEED}" if is_new(m) else f"--seed {SEED}"
    repro = (
        f"python tests/corpus/mutation.py {options} --stride {FILE_STRIDE} --only {m.number} --show"
    )
    detail = "\n    ".join(verdict.detail.splitlines()[:6])
    return f"- {verdict.category}: {m.source.name} {m.change}\n    {detail}\n    repro: {repro}"
