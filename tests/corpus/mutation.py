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
import itertools
import multiprocessing
import os
import random
import re
import sys
import tempfile
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from differential import compare
from signatures import signature_problems
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
    changed_lines: tuple[int, int] = (0, 0)  # first and last line of the change, in `text`


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


# Words after which a `}` ends a declaration that has no `;` (`interface I { ... }`).
_DECLARATION_STARTS = frozenset(
    {"[", "}", "interface", "dispinterface", "coclass", "library", "module", "typedef"}
    | {"struct", "union", "enum", "const", "cpp_quote", "import", "importlib", "declare"}
    | {"namespace", "runtimeclass", "midl_pragma", "apicontract", "delegate"}
)


def statements(tokens: Sequence[Token]) -> list[tuple[int, int, int]]:
    """Each declaration as (scope, first, last) token indexes: the scope is the index
    of the `{` of the body it is in (-1 at the top level); attributes included."""
    found: list[tuple[int, int, int]] = []
    stack = [(-1, 0)]  # (scope, first token of the statement being read)
    for i, tok in enumerate(tokens):
        scope, first = stack[-1]
        if tok.text == "{":
            stack.append((i, i + 1))
        elif tok.text == "}" and len(stack) > 1:
            stack.pop()
            scope, first = stack[-1]
            following = tokens[i + 1].text if i + 1 < len(tokens) else "["
            if following in _DECLARATION_STARTS:
                found.append((scope, first, i))
                stack[-1] = (scope, i + 1)
        elif tok.text == ";":
            if i > first:
                found.append((scope, first, i))
            stack[-1] = (scope, i + 1)
    return found


def _swap_spans(text: str, a: tuple[int, int], b: tuple[int, int]) -> str:
    """Swap the text of two spans (a before b, not overlapping)."""
    first, second = text[a[0] : a[1]], text[b[0] : b[1]]
    return text[: a[0]] + second + text[a[1] : b[0]] + first + text[b[1] :]


def _swap_methods(rng: random.Random, text: str, tokens: list[Token]) -> tuple[str, str] | None:
    """Two neighbouring declarations with a parameter list, in one body."""
    methods = [
        s
        for s in statements(tokens)
        if s[0] >= 0 and any(tokens[k].text == "(" for k in range(s[1], s[2]))
    ]
    pairs = [(a, b) for a, b in itertools.pairwise(methods) if a[0] == b[0]]
    if not pairs:
        return None
    a, b = rng.choice(pairs)
    spans = [(tokens[x[1]].start, tokens[x[2]].end) for x in (a, b)]
    names = [_name_before_paren(tokens, x) for x in (a, b)]
    return _swap_spans(text, spans[0], spans[1]), f"swap methods {names[0]} and {names[1]}"


def _name_before_paren(tokens: Sequence[Token], statement: tuple[int, int, int]) -> str:
    for k in range(statement[1], statement[2]):
        if tokens[k].text == "(" and k > 0:
            return tokens[k - 1].text
    return "?"


def parameter_lists(tokens: Sequence[Token]) -> list[list[tuple[int, int]]]:
    """Each parameter list (a `(` after a name, holding an attribute list) as the token
    ranges [first, last] of its parameters."""
    lists = []
    for i, tok in enumerate(tokens[:-1]):
        if tok.text != "(" or not i or tokens[i - 1].kind != "name":
            continue
        if tokens[i + 1].text != "[":
            continue
        items, depth, first = [], 0, i + 1
        for j in range(i + 1, len(tokens)):
            t = tokens[j].text
            if t in "([{":
                depth += 1
            elif t in ")]}" and depth:
                depth -= 1
            elif depth == 0 and t in (",", ")"):
                items.append((first, j - 1))
                first = j + 1
                if t == ")":
                    break
        if len(items) >= 2:
            lists.append(items)
    return lists


def _swap_params(rng: random.Random, text: str, tokens: list[Token]) -> tuple[str, str] | None:
    lists = parameter_lists(tokens)
    if not lists:
        return None
    items = rng.choice(lists)
    k = rng.randrange(len(items) - 1)
    (a0, a1), (b0, b1) = items[k], items[k + 1]
    spans = (tokens[a0].start, tokens[a1].end), (tokens[b0].start, tokens[b1].end)
    return (
        _swap_spans(text, *spans),
        f"swap parameters {tokens[a1].text} and {tokens[b1].text}",
    )


_DIRECTIONS = {"in": "out", "out": "in"}


def _flip_direction(rng: random.Random, text: str, tokens: list[Token]) -> tuple[str, str] | None:
    """Flip `in` to `out` (or back), or drop the direction with its comma."""
    places = [
        (items, item)
        for items in attribute_lists(tokens)
        for item in items
        if item[0] == item[1] and tokens[item[0]].text in _DIRECTIONS
    ]
    if not places:
        return None
    items, (first, _) = rng.choice(places)
    tok = tokens[first]
    if rng.random() < 0.5:
        new = _DIRECTIONS[tok.text]
        return _splice(text, tok.start, tok.end, new), f"flip [{tok.text}] to [{new}]"
    return _cut_attribute(text, tokens, items, (first, first)), f"drop [{tok.text}]"


def _cut_attribute(
    text: str, tokens: Sequence[Token], items: list[tuple[int, int]], item: tuple[int, int]
) -> str:
    """The text without one attribute of a list, and a neighbouring comma with it."""
    first, last = item
    start, end = tokens[first].start, tokens[last].end
    if len(items) > 1:
        index = items.index(item)
        if index + 1 < len(items):
            end = tokens[last + 1].end
        else:
            start = tokens[first - 1].start
    return _splice(text, start, end, " ")


def _pointer(rng: random.Random, text: str, tokens: list[Token]) -> tuple[str, str] | None:
    """Drop a `*`, or add one between a type name and a declarator name."""
    stars = [t for t in tokens if t.text == "*"]
    pairs = [b for a, b in itertools.pairwise(tokens) if a.kind == "name" and b.kind == "name"]
    if stars and (not pairs or rng.random() < 0.5):
        tok = rng.choice(stars)
        return _splice(text, tok.start, tok.end, " "), "drop '*'"
    if not pairs:
        return None
    tok = rng.choice(pairs)
    return _splice(text, tok.start, tok.start, "*"), f"add '*' before {tok.text!r}"


# Names that are keywords, not types (`interface I`, `struct S`).
_NOT_TYPES = frozenset(
    {"interface", "dispinterface", "coclass", "library", "module", "typedef", "struct"}
    | {"union", "enum", "const", "import", "importlib", "cpp_quote", "unsigned", "signed"}
    | {"switch", "case", "default", "static", "extern", "namespace", "runtimeclass"}
    | {"apicontract", "delegate", "declare", "requires", "midl_pragma"}
)
_BASE_TYPES = ("long", "short", "char", "byte", "int", "hyper", "float", "double", "boolean")


def _change_type(rng: random.Random, text: str, tokens: list[Token]) -> tuple[str, str] | None:
    """A type name (a name before a declarator name or `*`) becomes another type the
    file uses, or a base type."""
    spots = [
        a
        for a, b in itertools.pairwise(tokens)
        if a.kind == "name" and a.text not in _NOT_TYPES and (b.kind == "name" or b.text == "*")
    ]
    if not spots:
        return None
    known = sorted({t.text for t in spots} | set(_BASE_TYPES))
    tok = rng.choice(spots)
    new = rng.choice(known)
    if new == tok.text:
        return None
    return _splice(text, tok.start, tok.end, new), f"type {tok.text!r} to {new!r}"


def _delete_attributes(
    rng: random.Random, text: str, tokens: list[Token]
) -> tuple[str, str] | None:
    lists = attribute_lists(tokens)
    if not lists:
        return None
    items = rng.choice(lists)
    opening, closing = items[0][0] - 1, items[-1][1] + 1
    written = text[tokens[opening].start : tokens[closing].end]
    return _splice(text, tokens[opening].start, tokens[closing].end, " "), (
        f"delete {written[:60]!r}"
    )


_WHOLE_NUMBER = re.compile(r"\d+|0[xX][0-9a-fA-F]+")


def _number_by_one(rng: random.Random, text: str, tokens: list[Token]) -> tuple[str, str] | None:
    numbers = [t for t in tokens if t.kind == "number" and _WHOLE_NUMBER.fullmatch(t.text)]
    if not numbers:
        return None
    tok = rng.choice(numbers)
    value = int(tok.text, 0) + rng.choice((-1, 1))
    if value < 0:
        return None
    new = hex(value) if tok.text[:2] in ("0x", "0X") else str(value)
    return _splice(text, tok.start, tok.end, new), f"number {tok.text} to {new}"


def _duplicate_declaration(
    rng: random.Random, text: str, tokens: list[Token]
) -> tuple[str, str] | None:
    found = statements(tokens)
    if not found:
        return None
    _, first, last = rng.choice(found)
    written = text[tokens[first].start : tokens[last].end]
    end = tokens[last].end
    return _splice(text, end, end, "\n" + written), f"duplicate {written[:60]!r}"


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
# The second round's operators: changes that keep the file well formed more often,
# so both compilers accept and the vtables and signatures must agree.
NEW_MUTATORS: dict[str, Mutator] = {
    "swap-methods": _swap_methods,
    "swap-params": _swap_params,
    "flip-direction": _flip_direction,
    "pointer": _pointer,
    "change-type": _change_type,
    "delete-attributes": _delete_attributes,
    "number-by-one": _number_by_one,
    "duplicate-declaration": _duplicate_declaration,
}
ALL_MUTATORS = {**MUTATORS, **NEW_MUTATORS}


def make_mutant(
    number: int, seed: int, files: Sequence[Path], operators: Mapping[str, Mutator] = MUTATORS
) -> Mutant:
    """Mutant `number` of `seed`: a deterministic file, operator and place."""
    rng = random.Random(f"{seed}:{number}")
    while True:
        source = rng.choice(files)
        text = source.read_text(encoding="utf-8", errors="replace")
        tokens = tokenize(text)
        if len(tokens) < 2:
            continue
        kind = rng.choice(sorted(operators))
        done = operators[kind](rng, text, tokens)
        if done is not None and done[0] != text:
            new_text, change = done
            line = _first_changed_line(text, new_text)
            return Mutant(
                number,
                source,
                new_text,
                f"line {line}: {kind}: {change}",
                _changed_lines(text, new_text),
            )


def _first_change(old: str, new: str) -> int:
    """The offset of the first character that differs (the shorter length if one text
    begins the other)."""
    return next(
        (i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b),
        min(len(old), len(new)),
    )


def _first_changed_line(old: str, new: str) -> int:
    return _line(old, _first_change(old, new))


def _changed_lines(old: str, new: str) -> tuple[int, int]:
    """The first and last line of `new` that differ from `old` (a swap spans several)."""
    first = _first_change(old, new)
    # The common tail may not reach into the common head (a duplicate repeats text).
    same_tail = min(_first_change(old[::-1], new[::-1]), min(len(old), len(new)) - first)
    last = max(first, len(new) - same_tail - 1)
    return _line(new, first), _line(new, last)


# Verdicts that are no finding: both accept alike, both refuse (idlgen's first error
# where widl's is or on a changed line), or the corpus file itself is not one both
# compilers agree on (its mutants prove nothing).
QUIET = frozenset({"agree", "both-reject", "base-disagrees"})


@dataclass(frozen=True)
class Verdict:
    mutant: Mutant
    # "agree", "both-reject", "silent", "false-rejection", "crash", "different" or
    # "misplaced" (both reject, idlgen's first error is on another line than widl's and
    # than the change's)
    category: str
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
        vtables = parse_header_file(header)
        problems = compare(vtables, doc)  # type: ignore[arg-type]
        problems += signature_problems(vtables, doc)  # type: ignore[arg-type]
        if problems:
            return Verdict(mutant, "different", "\n".join(problems))
        return Verdict(mutant, "agree", "")
    return _placement(mutant, path.name, widl_err, message)


def _placement(mutant: Mutant, name: str, widl_err: str, message: str) -> Verdict:
    """Both reject: idlgen's first error in the mutant must be on widl's first error's
    line or on a line the mutation changed; anywhere else it sends the reader away
    from the mistake."""
    ours = _first_error_line(message, rf"(?:^|/){re.escape(name)}:(\d+):\d+: error:")
    theirs = _first_error_line(widl_err, rf"(?:^|/){re.escape(name)}:(\d+): error:")
    first, last = mutant.changed_lines
    if ours is None or theirs is None or ours == theirs or first <= ours <= last:
        return Verdict(mutant, "both-reject", "")
    widl_first = next(line for line in widl_err.splitlines() if "error" in line)
    return Verdict(
        mutant,
        "misplaced",
        f"idlgen's first error on line {ours}, widl's on line {theirs}, change on "
        f"lines {first}-{last}\nwidl: {widl_first}\nidlgen: {message.splitlines()[0]}",
    )


def _first_error_line(output: str, pattern: str) -> int | None:
    """The line of the first error in the mutated file (None if the first error is in
    another file, or there is none)."""
    for line in output.splitlines():
        if ": error:" in line or ": error " in line:
            match = re.search(pattern, line)
            return int(match.group(1)) if match else None
    return None


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
    parser.add_argument(
        "--operators",
        choices=("first", "new", "all"),
        default="first",
        help="the first round's operators (default), the second round's, or both",
    )
    parser.add_argument("--stride", type=int, default=1, help="every Nth corpus file")
    args = parser.parse_args(argv)
    include_dirs = [args.corpus, args.corpus.parent]
    files = candidate_files(args.corpus)[:: args.stride]
    operators = {"first": MUTATORS, "new": NEW_MUTATORS, "all": ALL_MUTATORS}[args.operators]
    numbers = [args.only] if args.only is not None else range(args.count)
    mutants = [make_mutant(n, args.seed, files, operators) for n in numbers]

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
