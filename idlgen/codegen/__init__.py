"""Python generation: the resolved model, through a view, into Jinja templates.

`generate_module` is the whole back end for Python output: build the view (all
names, literals and annotations computed in Python), render `module.py.j2`, and
tidy blank lines so the result is stable under `ruff format`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from functools import cache

import jinja2

from idlgen import model
from idlgen.codegen.layout import (
    assign,
    class_line,
    def_lines,
    field_line,
    return_call,
    tuple_lines,
)
from idlgen.codegen.names import py_literal
from idlgen.codegen.view import ViewBuilder
from idlgen.module_map import ModuleMap
from idlgen.resources import data_dir

# Four or more newlines, written with a literal prefix: `\n{4,}` gives the regex engine
# none, so it tried a match at every character (0.2 s of a corpus run, against 0.01 s).
_EXTRA_BLANK_LINES = re.compile("\n\n\n\n+")


def _pytuple(items: Iterable[object]) -> str:
    literals = [py_literal(item) for item in items]
    if len(literals) == 1:
        return f"({literals[0]},)"
    return "(" + ", ".join(literals) + ")"


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    """Compiling the templates from source is a third of a cold one-file run; Jinja's
    per-user cache (in the temp folder, checked against each template's source) keeps
    the compiled code across runs."""
    try:
        return jinja2.FileSystemBytecodeCache()
    except (OSError, RuntimeError):  # no private temp folder: compile every time
        return None


@cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(data_dir("templates"))),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
        # The templates ship with idlgen and do not change under a running compiler;
        # reloading would stat each template on every render and every include.
        auto_reload=False,
        bytecode_cache=_bytecode_cache(),
    )
    # Compiled templates read every `a.b` through `environment.getattr`, a Python
    # method that falls back to `a["b"]` and to an Undefined (a third of the calls a
    # render makes). Templates here read only attributes of the view's records, so
    # the builtin does: a misspelt attribute still fails the render, as AttributeError.
    environment.getattr = getattr  # type: ignore[method-assign, assignment]
    environment.filters["pyrepr"] = py_literal
    environment.filters["pytuple"] = _pytuple
    environment.globals.update(
        def_lines=def_lines,
        return_call=return_call,
        assign=assign,
        class_line=class_line,
        tuple_lines=tuple_lines,
        field_line=field_line,
    )
    return environment


def generate_module(
    document: model.Document, module_name: str, module_map: ModuleMap | None = None
) -> str:
    """The Python source of the module generated for `document`; `module_map` says which
    existing modules serve imported files (the rest are siblings or bundled)."""
    view = ViewBuilder(document, module_map or ModuleMap()).build(os.path.basename(document.source))
    text = _environment().get_template("module.py.j2").render(m=view, module_name=module_name)
    text = "\n".join(map(str.rstrip, text.splitlines()))
    text = _EXTRA_BLANK_LINES.sub("\n\n\n", text).strip("\n")
    return text + "\n"
