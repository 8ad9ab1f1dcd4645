"""Line layout for generated code, matching `ruff format` so the output is stable.

ruff keeps a construct on one line when it fits in 88 columns and otherwise puts one
element per line; a trailing comma ("magic trailing comma") keeps an exploded construct
exploded. So each helper prints the one-line form when it fits and the exploded form,
with trailing commas, when it does not. Type-checker pragmas are not counted, as ruff
does not count them.
"""

from __future__ import annotations

from collections.abc import Sequence

LINE_LIMIT = 88


def def_lines(name: str, params: Sequence[str], returns: str, indent: int = 4) -> str:
    """`def name(self, params...) -> returns:` on one line or exploded."""
    pad = " " * indent
    single = f"{pad}def {name}({', '.join(['self', *params])}) -> {returns}:"
    if len(single) <= LINE_LIMIT:
        return single
    inner = "".join(f"{pad}    {p},\n" for p in ["self", *params])
    tail = f"{pad}) -> {returns}:"
    if len(tail) > LINE_LIMIT and returns.endswith("]") and "[" in returns:
        # ruff splits a subscripted annotation too long for its line inside the brackets
        generic, _, argument = returns.partition("[")
        tail = f"{pad}) -> {generic}[\n{pad}    {argument[:-1]}\n{pad}]:"
    return f"{pad}def {name}(\n{inner}{tail}"


def return_call(function: str, args: Sequence[str], pragma: str = "", indent: int = 8) -> str:
    """`return function(args...)` (plus a pragma comment) on one line or exploded; an
    argument that is itself a tuple literal is exploded too when needed."""
    pad = " " * indent
    single = f"{pad}return {function}({', '.join(args)})"
    if len(single) <= LINE_LIMIT:
        return single + pragma
    lines = [f"{pad}return {function}({pragma}"]
    for arg in args:
        lines.append(_exploded(arg, indent + 4) + ",")
    lines.append(f"{pad})")
    return "\n".join(lines)


def _exploded(arg: str, indent: int) -> str:
    pad = " " * indent
    if len(pad + arg) + 1 <= LINE_LIMIT or not (arg.startswith("(") and arg.endswith(")")):
        return pad + arg
    items = [item.strip() for item in arg[1:-1].split(",") if item.strip()]
    inner = "".join(f"{pad}    {item},\n" for item in items)
    return f"{pad}(\n{inner}{pad})"


def assign(target: str, value: str, indent: int = 0) -> str:
    """`target = value`; a value too long for the line is parenthesised the way ruff
    does it: a call keeps its name on the first line, anything else is wrapped in ()."""
    pad = " " * indent
    single = f"{pad}{target} = {value}"
    if len(single) <= LINE_LIMIT or len(f"{pad}{target} = (") > LINE_LIMIT:
        return single  # fits, or no split could make it fit: ruff leaves it alone
    if value.endswith(")") and "(" in value and not value.startswith("("):
        function, _, arguments = value.partition("(")
        return f"{pad}{target} = {function}(\n{pad}    {arguments[:-1]}\n{pad})"
    if len(f"{pad}    {value}") > LINE_LIMIT:
        return single  # parentheses would not make it fit: ruff leaves it alone
    return f"{pad}{target} = (\n{pad}    {value}\n{pad})"


def class_line(name: str, bases: Sequence[str], indent: int = 0) -> str:
    """`class name(bases):` on one line or exploded with a trailing comma."""
    pad = " " * indent
    single = f"{pad}class {name}({', '.join(bases)}):"
    if len(single) <= LINE_LIMIT:
        return single
    inner = "".join(f"{pad}    {base},\n" for base in bases)
    return f"{pad}class {name}(\n{inner}{pad}):"


def tuple_lines(head: str, literals: Sequence[str], tail: str, indent: int) -> str:
    """`head(a, b)tail` (as in `ins=("a", "b"),`), exploded one item a line when long."""
    pad = " " * indent
    body = literals[0] + "," if len(literals) == 1 else ", ".join(literals)
    single = f"{pad}{head}({body}){tail}"
    if len(single) <= LINE_LIMIT:
        return single
    inner = "".join(f"{pad}    {item},\n" for item in literals)
    return f"{pad}{head}(\n{inner}{pad}){tail}"


def field_line(name: str, annotation: str, default: str, indent: int = 4) -> str:
    """`name: annotation = default`; when too long ruff splits the default where the
    line up to it fits, and otherwise parenthesises the annotation."""
    pad = " " * indent
    single = f"{pad}{name}: {annotation} = {default}"
    if len(single) <= LINE_LIMIT:
        return single
    if len(f"{pad}{name}: {annotation} = (") <= LINE_LIMIT:
        return assign(f"{name}: {annotation}", default, indent)
    if len(f"{pad}    {annotation}") > LINE_LIMIT:
        return single
    return f"{pad}{name}: (\n{pad}    {annotation}\n{pad}) = {default}"
