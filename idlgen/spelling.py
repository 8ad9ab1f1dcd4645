"""Printing syntax back as IDL text: types as C declarations, expressions, attributes.

The JSON document and generated comments show types and attribute arguments the way
the IDL wrote them, so this is a small pretty-printer in the spirit of pycparser's
generator. Printing is also what makes round-trip tests of the parser possible.
"""

from __future__ import annotations

from idlgen.frontend import syntax


def type_text(type_: syntax.Type) -> str:
    """A type as C would write it without a declarator name: `const WCHAR *`, `BYTE[16]`."""
    suffix = ""
    while isinstance(type_, syntax.Array):
        size = "" if type_.size is None else expr_text(type_.size)
        suffix = f"[{size}]" + suffix
        type_ = type_.element
    return _specifier_and_pointers(type_) + suffix


def _specifier_and_pointers(type_: syntax.Type) -> str:
    stars = ""
    while isinstance(type_, syntax.Pointer):
        stars = "*" + (" const" if type_.const else "") + stars
        type_ = type_.target
    base = _specifier(type_)
    return f"{base} {stars}" if stars else base


def _specifier(type_: syntax.Type) -> str:
    const = "const " if getattr(type_, "const", False) else ""
    if isinstance(type_, syntax.BaseType | syntax.NamedType):
        return const + type_.name
    if isinstance(type_, syntax.ParameterizedType):
        args = ", ".join(type_text(a) for a in type_.args)
        return f"{type_.name}<{args}>"
    if isinstance(type_, syntax.StructType):
        return const + ("struct " + type_.tag if type_.tag else "struct {...}")
    if isinstance(type_, syntax.UnionType):
        return const + ("union " + type_.tag if type_.tag else "union {...}")
    if isinstance(type_, syntax.EnumType):
        return const + ("enum " + type_.tag if type_.tag else "enum {...}")
    if isinstance(type_, syntax.FunctionType):
        params = ", ".join(type_text(p.type) for p in type_.params)
        return f"{type_text(type_.return_type)} (*)({params})"
    if isinstance(type_, syntax.SafeArrayType):
        return f"SAFEARRAY({type_text(type_.element)})"
    if isinstance(type_, syntax.Array | syntax.Pointer):
        return type_text(type_)
    raise TypeError(f"not a type: {type_!r}")


def expr_text(expr: syntax.Expr | syntax.Uuid | syntax.Type, parent_precedence: int = 0) -> str:
    """An expression (or attribute argument) as C text, parenthesised only where needed."""
    if isinstance(expr, syntax.Number):
        return expr.text
    if isinstance(expr, syntax.Name):
        return expr.name
    if isinstance(expr, syntax.String):
        return ("L" if expr.wide else "") + _quote(expr.value)
    if isinstance(expr, syntax.Char):
        return "'" + expr.value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(expr, syntax.Uuid):
        return expr.text
    if isinstance(expr, syntax.Empty):
        return ""
    if isinstance(expr, syntax.Unary):
        return expr.op + expr_text(expr.operand, 11)
    if isinstance(expr, syntax.Binary):
        precedence = syntax.BINARY_PRECEDENCE.get(expr.op, 0)
        text = (
            f"{expr_text(expr.left, precedence)} {expr.op} {expr_text(expr.right, precedence + 1)}"
        )
        return f"({text})" if precedence < parent_precedence else text
    if isinstance(expr, syntax.Conditional):
        text = (
            f"{expr_text(expr.condition, 1)} ? {expr_text(expr.then)} : {expr_text(expr.otherwise)}"
        )
        return f"({text})" if parent_precedence else text
    if isinstance(expr, syntax.Cast):
        return f"({type_text(expr.type)}){expr_text(expr.operand, 11)}"
    if isinstance(expr, syntax.SizeOf):
        return f"sizeof({type_text(expr.type)})"
    if isinstance(expr, syntax.Member):
        return expr_text(expr.operand, 12) + ("->" if expr.arrow else ".") + expr.name
    if isinstance(expr, syntax.Index):
        return f"{expr_text(expr.operand, 12)}[{expr_text(expr.index)}]"
    return type_text(expr)


def _quote(value: str) -> str:
    escaped = (
        value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    )
    return f'"{escaped}"'


def attribute_args(attribute: syntax.Attribute) -> list[str | int | float]:
    """JSON-friendly arguments: numbers stay numbers, strings their value, the rest text."""
    result: list[str | int | float] = []
    for arg in attribute.args:
        if isinstance(arg, syntax.Number | syntax.String):
            result.append(arg.value)
        elif isinstance(arg, syntax.Param):  # implicit_handle(handle_t h)
            result.append(f"{type_text(arg.type)} {arg.name or ''}".strip())
        else:
            result.append(expr_text(arg))
    return result
