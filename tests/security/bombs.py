"""Hostile inputs for the compiler's limits (issue 11, items 13 to 15), as IDL text.

Each bomb is what one attack needs and no more, so the tests that feed them run fast:
a limit must trip early, before the bomb costs anything.
"""

from __future__ import annotations

from dataclasses import dataclass

UUID = "0b4c5d6e-7f80-4192-a3b4-c5d6e7f80911"


def rpc_interface(params: str) -> str:
    """A plain RPC interface whose one method takes `params`: code generation, type
    rendering and NDR descriptor building then all walk the parameter's type."""
    return f"[uuid({UUID}), version(1.0)] interface IBomb {{ void f({params}); }}\n"


def doubling_macros(levels: int) -> str:
    """`#define A1 A0 A0` ... : one use of the last expands to 2**levels tokens."""
    lines = ["#define A0 x"]
    lines += [f"#define A{i} A{i - 1} A{i - 1}" for i in range(1, levels + 1)]
    return "\n".join(lines) + f"\nconst int C = A{levels};\n"


def doubling_arguments(levels: int) -> str:
    """`D(D(D(x)))` with `#define D(a) a a`: the argument doubles at each level."""
    return "#define D(a) a a\nconst int C = " + "D(" * levels + "x" + ")" * levels + ";\n"


def if_parentheses(depth: int) -> str:
    return "#if " + "(" * depth + "1" + ")" * depth + "\n#endif\n" + rpc_interface("void")


def nested_structs(depth: int) -> str:
    body = "int x;"
    for level in range(depth):
        body = f"struct {{ {body} }} f{level};"
    return f"typedef struct {{ {body} }} T;\n" + rpc_interface("[in] T *t")


def typedef_chain(length: int) -> str:
    lines = ["typedef int T0;"]
    lines += [f"typedef T{i - 1} T{i};" for i in range(1, length)]
    return "\n".join(lines) + "\n" + rpc_interface(f"[in] T{length - 1} x")


def pointer_stars(count: int) -> str:
    return f"typedef int {'*' * count}P;\n" + rpc_interface("[in] P p")


def operator_chain(count: int) -> str:
    """`1+1+...`: a left-deep expression tree that constant evaluation recurses into."""
    return "const int C = " + "+".join(["1"] * (count + 1)) + ";\n"


def unary_chain(count: int) -> str:
    return "const int C = " + "- " * count + "1;\n"


def expression_parentheses(depth: int) -> str:
    return "const int C = " + "(" * depth + "1" + ")" * depth + ";\n"


@dataclass(frozen=True)
class Nesting:
    """One recursive path: how to build an input `depth` deep, widl's own maximum
    (measured with x86_64-w64-mingw32-widl), and the limit that guards it."""

    name: str
    build: object  # Callable[[int], str]
    widl_maximum: int
    limit: str


NESTINGS = [
    Nesting("if_parentheses", if_parentheses, 9_994, "if_nesting"),
    Nesting("nested_structs", nested_structs, 1_997, "brace_nesting"),
    Nesting("pointer_stars", pointer_stars, 4_996, "operator_chain"),
    Nesting("typedef_chain", typedef_chain, 20_000, "typedef_chain"),
    Nesting("operator_chain", operator_chain, 4_996, "operator_chain"),
    Nesting("unary_chain", unary_chain, 4_996, "operator_chain"),
    Nesting("expression_parentheses", expression_parentheses, 1_997, "brace_nesting"),
]
