"""Differential mutation testing: one token-level change to a real IDL file, widl as judge.

The corpus tests show idlgen agrees with widl on files that are *right*; idlgen's worst
failure is being silently wrong on files that are not (issue 10: a dropped method
shifts every later opnum). So we take Wine corpus files widl and idlgen agree on,
break each in one small way a person might (delete, duplicate or swap a token;
misspell a name by one edit; junk a number, string or uuid; drop or add `;` `,` `]`
`)` `}`; move an attribute to another list; put another of the file's names in a
name's place) and ask both compilers again:

- `silent`: widl rejects, idlgen compiles without a word (warnings are listed);
- `false-rejection`: widl accepts, idlgen rejects;
- `crash`: idlgen raised something other than `IdlError`, or an error without position;
- `different`: both accept, the vtables differ (`differential.compare`).

Everything is seeded: mutant `n` of seed `s` is the same change to the same file on
every machine with the same corpus, so a finding is a one-line repro
(`python tests/corpus/mutation.py --seed S --only N --show`).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import re
import sys
import tempfile
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from differential import compare
from widl_header import parse_header_file
from widl_runner import run_widl

WIDL = "x86_64-w64-mingw32-widl"
# Small and medium files: both compilers answer well under a second.
MIN_FILE_BYTES = 600
MAX_FILE_BYTES = 40_000

_TOKEN_RE = re.compile(
    r"""
    (?P<comment>//[^\n]*|/\*.*?\*/)
  | (?P<directive>^[ \t]*\#(?:[^\n]*\\\n)*[^\n]*)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<uuid>[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})
  | (?P<number>0[xX][0-9A-Fa-f]+[uUlL]*|\d+(?:\.\d+)?(?:[eE][-+]?\d+)?[uUlLfF]*)
  | (?P<name>[A-Za-z_]\w*)
  | (?P<punct><<|>>|==|!=|<=|>=|&&|\|\||::|\S)
  | (?P<space>\s+)
    """,
    re.VERBOSE | re.DOTALL | re.MULTILINE,
)
_SKIPPED = frozenset({"comment", "directive", "space"})
_INSERTED_PUNCT = (";", ",", "]", ")", "}")
_JUNK = ("0", "-1", "zz", "1.5", '"junk"', "0x", "4294967296", "12345678-1234")
_LETTERS = "abcdefghijklmnopqrstuvwxyz_"
# An attribute list opens where a declaration, parameter, field or list item starts.
_ATTR_LIST_FOLLOWS = frozenset({";", "{", "}", "(", ",", "typedef", "]"})


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Mutant:
    number: int
    source: Path
    text: str
    change: str  # what was done, with the line: `line 12: delete ';'`


def tokenize(text: str) -> list[Token]:
    """The code tokens of `text`; comments, directives and blanks are never mutated."""
    tokens = []
    for match in _TOKEN_RE.finditer(text):
        kind = match.lastgroup or "punct"
        if kind not in _SKIPPED:
            tokens.append(Token(kind, match.group(), match.start(), match.end()))
    return tokens


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _splice(text: str, start: int, end: int, new: str) -> str:
    return text[:start] + new + text[end:]


Mutator = Callable[[random.Random, str, list[Token]], tuple[str, str] | None]


def _delete(rng: random.Random, text: str, tokens: list[Token]) -> tuple[str, str] | None:
    tok = rng.choice(tokens)
    return _splice(text, tok.start, tok.end, " "), f"delete {tok.text!r}"


def _duplicate(rng: random.Random, text: str, tokens: list[Token]) -> tuple[str, str] | None:
    tok = rng.choice(tokens)
    return _splice(text, tok.end, tok.end, f" {tok.text}"), f"duplicate {tok.text!r}"


def _swap(rng: random.Random, text: str, tokens: list[Token]) -> tuple[str, str] | None:
    i = rng.randrange(len(tokens) - 1)
    a, b = tokens[i], tokens[i + 1]
    if a.text == b.text:
        return None
    middle = text[a.end : b.start]
    return (
        _splice(text, a.start, b.end, b.text + middle + a.text),
        f"swap {a.text!r} and {b.text!r}",
    )


def _one_edit(rng: random.Random, word: str) -> str:
    i = rng.randrange(len(word))
    edit = rng.choice(("delete", "insert", "replace", "transpose"))
    if edit == "delete" and len(word) > 1:
        return word[:i] + word[i + 1 :]
    if edit == "transpose" and i + 1 < len(word) and word[i] != word[i + 1]:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if edit == "replace":
        return word[:i] + rng.choice(_LETTERS.replace(word[i].lower(), "")) + word[i + 1 :]
    return word[:i] + rng.choice(_LETTERS) + word[i:]


def _misspell(rng: random.Random, text: str, tokens: list[Token]) -> tuple[str, str] | None:
    names = [t for t in tokens if t.kind == "name"]
    if not names:
        return None
    tok = rng.choice(names)
    new = _one_edit(rng, tok.text)
    if new == tok.text or not re.fullmatch(r"[A-Za-z_]\w*", new):
        return None
    return _splice(text, tok.start, tok.end, new), f"misspell {tok.text!r} as {new!r}"


def _junk_literal(rng: random.Random, text: str, tokens: list[Token]) -> tuple[str, str] | None:
    literals = [t for t in tokens if t.kind in ("number", "string", "uuid")]
    if not literals:
        return None
    tok = rng.choice(literals)
    new = rng.choice(_JUNK)
    if new == tok.text:
        return None
    return _splice(text, tok.start, tok.end, new), f"replace {tok.text!r} with {new!r}"


def _drop_punct(rng: random.Random, text: str, tokens: list[Token]) -> tuple[str, str] | None:
    marks = [t for t in tokens if t.text in _INSERTED_PUNCT]
    if not marks:
        return None
    tok = rng.choice(marks)
    return _splice(text, tok.start, tok.end, " "), f"drop {tok.text!r}"


def _add_punct(rng: random.Random, text: str, tokens: list[Token]) -> tuple[str, str] | None:
    tok = rng.choice(tokens)
    mark = rng.choice(_INSERTED_PUNCT)
    return _splice(text, tok.end, tok.end, f" {mark}"), f"add {mark!r} after {tok.text!r}"


def _replace_name(rng: random.Random, text: str, tokens: list[Token]) -> tuple[str, str] | None:
    names = [t for t in tokens if t.kind == "name"]
    if len(names) < 2:
        return None
    tok, other = rng.sample(names, 2)
    if tok.text == other.text:
        return None
    return (
        _splice(text, tok.start, tok.end, other.text),
        f"replace {tok.text!r} with {other.text!r}",
    )


def attribute_lists(tokens: Sequence[Token]) -> list[list[tuple[int, int]]]:
    """Each attribute list as the token ranges [first, last] of its attributes."""
    lists = []
    for i, tok in enumerate(tokens):
        if tok.text != "[" or (i and tokens[i - 1].text not in _ATTR_LIST_FOLLOWS):
            continue
        items, depth, first = [], 0, i + 1
        for j in range(i + 1, len(tokens)):
            t = tokens[j].text
            if t in "([":
                depth += 1
            elif t == ")" or (t == "]" and depth):
                depth -= 1
            elif depth == 0 and t in (",", "]"):
                if j > first:
                    items.append((first, j - 1))
                first = j + 1
                if t == "]":
                    break
        if items and tokens[items[0][0]].kind == "name":
            lists.append(items)
    return lists


def _move_attribute(rng: random.Random, text: str, tokens: list[Token]) -> tuple[str, str] | None:
    lists = attribute_lists(tokens)
    if len(lists) < 2:
        return None
    source, target = rng.sample(lists, 2)
    first, last = rng.choice(source)
    attribute = text[tokens[first].start : tokens[last].end]
    insert_at = tokens[target[-1][1]].end
    cut_start, cut_end = tokens[first].start, tokens[last].end
    if len(source) > 1:  # take a neighbouring comma with it
        index = source.index((first, last))
        if index + 1 < len(source):
            cut_end = tokens[last + 1].end
        else:
            cut_start = tokens[first - 1].start
    pieces = [(insert_at, insert_at, f", {attribute}"), (cut_start, cut_end, " ")]
    for start, end, new in sorted(pieces, reverse=True):
        text = _splice(text, start, end, new)
    line = _line(text, cut_start)
    return text, f"move attribute {attribute!r} from line {line} to another list"


MUTATORS: dict[str, Mutator] = {
    "delete": _delete,
    "duplicate": _duplicate,
    "swap": _swap,
    "misspell": _misspell,
    "junk-literal": _junk_literal,
    "drop-punct": _drop_punct,
    "add-punct": _add_punct,
    "replace-name": _replace_name,
    "move-attribute": _move_attribute,
}


def make_mutant(number: int, seed: int, files: Sequence[Path]) -> Mutant:
    """Mutant `number` of `seed`: a deterministic file, mutator and place."""
    rng = random.Random(f"{seed}:{number}")
    while True:
        source = rng.choice(files)
        text = source.read_text(encoding="utf-8", errors="replace")
        tokens = tokenize(text)
        if len(tokens) < 2:
            continue
        kind = rng.choice(sorted(MUTATORS))
        done = MUTATORS[kind](rng, text, tokens)
        if done is not None and done[0] != text:
            new_text, change = done
            line = _first_changed_line(text, new_text)
            return Mutant(number, source, new_text, f"line {line}: {kind}: {change}")


def _first_changed_line(old: str, new: str) -> int:
    offset = next((i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b), 0)
    return _line(old, offset)


# Verdicts that are no finding: both accept alike, both refuse, or the corpus file
# itself is not one both compilers agree on (its mutants prove nothing).
QUIET = frozenset({"agree", "both-reject", "base-disagrees"})


@dataclass(frozen=True)
class Verdict:
    mutant: Mutant
    category: str  # "agree", "both-reject", "silent", "false-rejection", "crash", "different"
    detail: str


def run_idlgen(path: Path, include_dirs: Sequence[Path]) -> tuple[str, object, str]:
    """("ok", json, warnings) | ("error", None, diagnostics) | ("crash", None, traceback)."""
    from idlgen import IdlError, compile
    from idlgen.emit_json import document_to_json

    try:
        result = compile(path, include_dirs=include_dirs, emit="python")
    except IdlError as error:
        if not error.errors or any(d.position is None for d in error.errors):
            return "crash", None, f"error without a position: {error}"
        return "error", None, str(error)
    except Exception:  # any other exception is the finding
        return "crash", None, traceback.format_exc(limit=-6)
    warnings = "\n".join(str(d) for d in result.diagnostics)
    return "ok", document_to_json(result.document), warnings


def judge(mutant: Mutant, include_dirs: Sequence[Path], workdir: Path) -> Verdict:
    """Judge in a folder of its own: a mutant left behind would be found by the next
    mutant's imports in place of the corpus file."""
    with tempfile.TemporaryDirectory(dir=workdir) as folder:
        return _judge_in(mutant, include_dirs, Path(folder))


def _judge_in(mutant: Mutant, include_dirs: Sequence[Path], workdir: Path) -> Verdict:
    path = workdir / mutant.source.name
    path.write_text(mutant.text, encoding="utf-8")
    widl = run_widl(WIDL, path, workdir, include_dirs)
    widl_ok, widl_err, header = widl.accepted, widl.stderr.strip(), widl.header
    status, doc, message = run_idlgen(path, include_dirs)
    if status == "crash":
        return Verdict(mutant, "crash", message)
    if not widl_ok and status == "ok":
        errors = [line for line in widl_err.splitlines() if "error" in line]
        first = (errors or widl_err.splitlines() or ["(no message)"])[0]
        return Verdict(mutant, "silent", f"widl: {first}\nidlgen warnings: {message or '-'}")
    if widl_ok and status == "error":
        return Verdict(mutant, "false-rejection", message)
    if widl_ok and status == "ok":
        problems = compare(parse_header_file(header), doc)  # type: ignore[arg-type]
        if problems:
            return Verdict(mutant, "different", "\n".join(problems))
        return Verdict(mutant, "agree", "")
    return Verdict(mutant, "both-reject", "")


_WORKER: dict[str, object] = {}


def _init_worker(include_dirs: Sequence[Path], base: Path) -> None:
    _WORKER["include_dirs"] = list(include_dirs)
    _WORKER["workdir"] = Path(tempfile.mkdtemp(prefix="worker-", dir=base))


def _judge_in_worker(mutant: Mutant) -> Verdict:
    include_dirs = _WORKER["include_dirs"]
    workdir = _WORKER["workdir"]
    assert isinstance(include_dirs, list) and isinstance(workdir, Path)
    if not _base_agrees(mutant.source, include_dirs, workdir):
        return Verdict(mutant, "base-disagrees", "")
    return judge(mutant, include_dirs, workdir)


def _base_agrees(source: Path, include_dirs: list[Path], workdir: Path) -> bool:
    """Whether both compilers accept the unmutated file alike (once per file and
    worker): a mutant's disagreement is then the mutation's doing."""
    known = _WORKER.setdefault("bases", {})
    assert isinstance(known, dict)
    if source not in known:
        text = source.read_text(encoding="utf-8", errors="replace")
        base = judge(Mutant(-1, source, text, "unmutated"), include_dirs, workdir)
        known[source] = base.category == "agree"
    return bool(known[source])


def candidate_files(windows_dir: Path) -> list[Path]:
    """Small and medium corpus files (the parent folder's few files are left out)."""
    return [
        path
        for path in sorted(windows_dir.glob("*.idl"))
        if MIN_FILE_BYTES <= path.stat().st_size <= MAX_FILE_BYTES
    ]


def judge_all(
    mutants: Iterable[Mutant],
    include_dirs: Sequence[Path],
    processes: int | None = None,
    report: Callable[[Verdict], None] | None = None,
) -> list[Verdict]:
    """Judge on a pool (one worker per core); each worker keeps idlgen's import cache.
    `report` sees each verdict as it arrives; the result is in mutant order. Workers
    are spawned, not forked: under pytest other tests' threads may hold locks."""
    context = multiprocessing.get_context("spawn")
    verdicts = []
    workers = processes or os.cpu_count() or 2
    with (
        tempfile.TemporaryDirectory(prefix="idlgen-mutants-") as base,
        context.Pool(workers, _init_worker, (include_dirs, Path(base))) as pool,
    ):
        for verdict in pool.imap_unordered(_judge_in_worker, list(mutants), chunksize=2):
            if report is not None:
                report(verdict)
            verdicts.append(verdict)
    return sorted(verdicts, key=lambda v: (v.mutant.number, v.mutant.source))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=os.environ.get("IDLGEN_WINE_IDL_DIR"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--only", type=int, help="judge just this mutant number")
    parser.add_argument("--show", action="store_true", help="print the mutant's changed lines")
    parser.add_argument("--all", action="store_true", help="print agreeing mutants too")
    args = parser.parse_args(argv)
    include_dirs = [args.corpus, args.corpus.parent]
    files = candidate_files(args.corpus)
    numbers = [args.only] if args.only is not None else range(args.count)
    mutants = [make_mutant(n, args.seed, files) for n in numbers]

    def report(verdict: Verdict) -> None:
        if verdict.category not in QUIET or args.all:
            m = verdict.mutant
            print(f"== #{m.number} {verdict.category} {m.source.name} {m.change}")
            print("   " + verdict.detail.replace("\n", "\n   "))
            if args.show:
                _show(m)
            sys.stdout.flush()

    verdicts = judge_all(mutants, include_dirs, report=report)
    print(Counter(v.category for v in verdicts), file=sys.stderr)
    return 0


def _show(mutant: Mutant) -> None:
    old = mutant.source.read_text(encoding="utf-8", errors="replace").splitlines()
    new = mutant.text.splitlines()
    import difflib

    for line in difflib.unified_diff(old, new, lineterm="", n=1):
        print("   | " + line)


if __name__ == "__main__":
    sys.exit(main())
