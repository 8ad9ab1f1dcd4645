"""Python names and literals for text that comes from IDL.

Everything an IDL file contributes to generated Python passes through here: names
become identifiers (a keyword or builtin-shadowing name gets a trailing underscore,
as DESIGN.md section 4 says) and values become literals through `repr`, so IDL text
can never become code.

Names beginning with an underscore belong to idlgen: the module's imports (`_rt`,
`_ndr`, `_t`, `_<module>_idl`), NDR descriptors (`_ndr_<Type>`), class attributes
(`_iid_`, `_methods_`, `_wire_`, `_proxy_`, `_call_`...) and the runtime's private
slots (`_mgr`, `_ipid`). No IDL name reaches that namespace: its leading underscores
move to its end (`_ndr` is `ndr_`, `__x` is `x__`), docs/python-mapping.md.
"""

from __future__ import annotations

import builtins
import keyword
import re
from functools import lru_cache

# Names a generated module must not shadow: keywords, soft keywords, builtins, and
# the module-level names generated code itself relies on.
_RESERVED = (
    set(keyword.kwlist)
    | set(keyword.softkwlist)
    | set(dir(builtins))
    | {"annotations", "self", "cls", "_rt", "_dc", "_enum", "_t"}
)
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# The same IDL names and strings come back in every file that imports them (a corpus
# run asks for 400,000 names): the answers are kept, boundedly.
_memo = lru_cache(maxsize=1 << 16)


@_memo
def _identifier(name: str) -> str:
    """An ASCII identifier outside idlgen's underscore namespace."""
    if not _IDENTIFIER.match(name):
        name = re.sub(r"\W", "_", name, flags=re.ASCII)
        if not name or name[0].isdigit():
            name = "u_" + name
    if name.startswith("_"):
        stripped = name.lstrip("_")
        name = stripped + "_" * (len(name) - len(stripped))
        if not stripped or stripped[0].isdigit():
            name = "u" + name
    return name


@_memo
def py_name(name: str) -> str:
    """A Python identifier for an IDL name: kept verbatim unless it is reserved."""
    name = _identifier(name)
    if name in _RESERVED:
        return name + "_"
    return name


@_memo
def py_attr(name: str) -> str:
    """A name used as an attribute (a field, method or enum member): only keywords
    are hazards there, so `item.id` stays `item.id`."""
    name = _identifier(name)
    return name + "_" if keyword.iskeyword(name) else name


def py_literal(value: object) -> str:
    """A Python literal for an IDL value; `repr` escapes quotes, backslashes, newlines."""
    if isinstance(value, str):
        return str_literal(value)
    if isinstance(value, float):
        return repr(value).replace("e+", "e")  # ruff writes exponents without "+"
    if isinstance(value, bool | int | bytes) or value is None:
        return repr(value)
    raise TypeError(f"no literal for {type(value).__name__}")


@_memo
def str_literal(text: str) -> str:
    """`repr`, with the quotes ruff's formatter prefers: double unless that costs more
    escapes, so generated files are stable under `ruff format`."""
    literal = repr(text)
    if literal.startswith("'") and text.count('"') <= text.count("'"):
        body = literal[1:-1].replace("\\'", "'").replace('"', '\\"')
        return f'"{body}"'
    return literal


def comment_text(text: str) -> str:
    """Text safe inside a `#` comment: one line, printable characters only.

    Python ends a comment at `\n` or `\r`, refuses NUL, and cannot write a lone
    surrogate (a file name that is not UTF-8) to a UTF-8 file; line separators such
    as U+2028 end a line for other tools. All of them become spaces.
    """
    return " ".join(_printable(text).split())


def _printable(text: str) -> str:
    """`text` with every character that is not printable made a space."""
    if text.isprintable():  # nearly always: no walk over the characters
        return text
    return "".join(c if c.isprintable() else " " for c in text)


def docstring(text: str) -> str:
    """A one-line triple-quoted docstring whose content cannot end the string early:
    backslashes and quotes are escaped, control characters dropped."""
    flat = " ".join(_printable(text).split())
    escaped = flat.replace("\\", "\\\\").replace('"', '\\"')
    return f'"""{escaped or "-"}"""'


_TUPLE_ATTRIBUTES = {"count", "index"}


def param_name(name: str, returned: bool) -> str:
    """A parameter's Python name. One that is also returned becomes a NamedTuple field,
    which may not be `count`/`index` (tuple methods); no Python name from IDL starts
    with `_`."""
    python = py_name(name)
    if returned and python in _TUPLE_ATTRIBUTES:
        python += "_"
    return python
