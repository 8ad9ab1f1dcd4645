"""The compiler's resource limits: how much input, expansion and nesting one compile takes.

No input may make the compiler run out of memory, run forever or overflow its stack;
each limit below turns such an input into an ordinary diagnostic at the place that
crossed it. The defaults sit well above anything real IDL needs (the largest file of
Wine's IDL corpus, mshtml.idl, is 1.1 MiB) and, for nesting, at or above what widl
itself accepts (measured with x86_64-w64-mingw32-widl; docs/security.md lists the
figures). Change them with `idlgen.compile(..., limits=Limits(...))` or the CLI's
`--limit NAME=VALUE`.
"""

from __future__ import annotations

from typing import NamedTuple

MiB = 1 << 20


class Limits(NamedTuple):
    """A named tuple rather than a dataclass: the command builds one on every run, one
    served from the result cache included, which then never imports `dataclasses`."""

    # bytes of one source file (the main file, an #include, an import)
    file_bytes: int = 8 * MiB
    # characters of preprocessed text one input produces, its #includes and every
    # macro expansion counted (imports are inputs of their own); mshtml.idl, the
    # largest, preprocesses to 3.4 M
    preprocessed_chars: int = 16 * MiB
    # tokens one macro use may expand to, and all uses of one input together
    macro_tokens: int = 1_000_000
    macro_tokens_total: int = 16_000_000
    # nesting of parentheses in an #if expression (widl: 9,994)
    if_nesting: int = 10_000
    # nesting of brackets after preprocessing: structs, unions, parentheses (widl
    # accepts 1,997 nested structs)
    brace_nesting: int = 2_000
    # pointer stars and operators in a row, between two of `; , { }` (widl accepts
    # 4,996 pointer levels)
    operator_chain: int = 5_000
    # typedefs naming typedefs (widl follows chains of 20,000)
    typedef_chain: int = 20_000

    def replace(self, **changes: int) -> Limits:
        return self._replace(**changes)


DEFAULT_LIMITS = Limits()


def limit_names() -> tuple[str, ...]:
    """The names `--limit` accepts: the fields, with dashes (`file-bytes`)."""
    return tuple(name.replace("_", "-") for name in Limits._fields)


def parse_limit(text: str) -> tuple[str, int]:
    """`file-bytes=16M` -> ("file_bytes", 16 MiB); ValueError with a message otherwise."""
    name, sep, value = text.partition("=")
    if not sep or name not in limit_names():
        raise ValueError(f"expected NAME=VALUE with NAME one of {', '.join(limit_names())}")
    scale = 1
    if value[-1:] in ("K", "k", "M", "m", "G", "g"):
        scale = {"k": 1 << 10, "m": MiB, "g": 1 << 30}[value[-1].lower()]
        value = value[:-1]
    if not value.isdigit() or int(value) <= 0:
        raise ValueError(f"{name}: expected a positive integer, optionally with K, M or G")
    return name.replace("-", "_"), int(value) * scale


class LimitExceeded(Exception):
    """A limit was crossed; the message says which and how to raise it."""


def exceeded(what: str, name: str, value: int) -> str:
    """The message for a crossed limit, naming the knob that raises it."""
    flag = name.replace("_", "-")
    return f"{what} exceeds the limit of {value:,} (raise it with --limit {flag}=N)"
